#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a test role that has to
# log in with its password, then prints the URL to export as DBM_TEST_POSTGRES_URL.
# Idempotent: works on a machine where the Debian cluster is installed but stopped
# (default password auth) and on one where it already runs (with trust auth, say).
set -euo pipefail

HOST=127.0.0.1
PORT=5432
ROLE=dbm_test
PASSWORD=dbm-test-Pw7

if ! pg_isready -q -h "$HOST" -p "$PORT"; then
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    echo "postgres: starting cluster $version/main" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do
        pg_isready -q -h "$HOST" -p "$PORT" && break
        sleep 1
    done
    pg_isready -h "$HOST" -p "$PORT" >&2
fi

# Administrative statements go over the local socket as the postgres OS user (peer or
# trust auth, whichever the cluster has).
admin() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"
    else
        psql -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U postgres "$@"
    fi
}

admin -d postgres -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
END \$\$;" >&2

# A second role whose password needs percent-encoding in URLs (@ : / % and a space).
admin -d postgres -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dbm_test_special') THEN
        CREATE ROLE dbm_test_special LOGIN PASSWORD 'p@ss:w/rd% x';
    ELSE
        ALTER ROLE dbm_test_special LOGIN PASSWORD 'p@ss:w/rd% x';
    END IF;
END \$\$;" >&2

# The test role must authenticate with its password even where the server trusts
# everyone, so the wrong-password test means something: put a scram rule for it first.
hba=$(admin -d postgres -Atc 'SHOW hba_file')
for role in "$ROLE" dbm_test_special; do
    rule="host all $role $HOST/32 scram-sha-256"
    if [ -w "$hba" ] && ! grep -qxF "$rule" "$hba"; then
        sed -i "1i $rule" "$hba"
        admin -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
        echo "postgres: added '$rule' to $hba" >&2
    fi
done

echo "postgres://$ROLE:$PASSWORD@$HOST:$PORT/postgres"
