#!/usr/bin/env bash
# Installs the independent TDS clients the TDS test server is checked against, if missing:
# FreeTDS `tsql` (Debian freetds-bin) and python-tds (PyPI). Works where they already are.
set -euo pipefail

if ! command -v tsql >/dev/null 2>&1; then
    echo "ci: installing freetds-bin" >&2
    apt-get update -qq && apt-get install -y -qq freetds-bin >/dev/null
fi

if ! python3 -c 'import pytds' >/dev/null 2>&1; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        echo "ci: installing python3-pip" >&2
        apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
    fi
    echo "ci: installing python-tds" >&2
    # Debian's system Python refuses pip installs unless told (PEP 668).
    python3 -m pip install -q python-tds \
        || python3 -m pip install -q --break-system-packages python-tds
fi

tsql -C >/dev/null
python3 -c 'import pytds'
