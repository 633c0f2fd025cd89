#!/usr/bin/env bash
# Serves the shipped configuration's health and metrics (`cargo xtask serve`), fetches the
# live /metrics output and has `promtool check metrics` check it: any complaint fails.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
cargo xtask serve --bind 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -f "$log"' EXIT

url=""
for _ in $(seq 1 600); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; echo "ci: xtask serve exited" >&2; exit 1; }
    sleep 0.5
done
[ -n "$url" ] || { cat "$log" >&2; echo "ci: xtask serve did not start" >&2; exit 1; }

fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"; }
fetch "$url/health" >/dev/null
metrics=$(fetch "$url/metrics")
echo "$metrics" | grep -Eq '^dbm_health_status\{database="app"\} [012]$' \
    || { echo "$metrics" >&2; echo "ci: /metrics lacks the app's health gauge" >&2; exit 1; }
complaints=$(echo "$metrics" | promtool check metrics 2>&1) || {
    echo "$complaints" >&2; echo "ci: promtool check metrics failed" >&2; exit 1; }
if [ -n "$complaints" ]; then
    echo "$complaints" >&2; echo "ci: promtool complained about /metrics" >&2; exit 1
fi
echo "ci: live /metrics from $url passed promtool check metrics ($(echo "$metrics" | grep -c '^# TYPE') families)" >&2

kill -TERM $pid
wait $pid
grep -q '^stopped$' "$log" || { cat "$log" >&2; echo "ci: xtask serve did not stop cleanly" >&2; exit 1; }
trap - EXIT
rm -f "$log"
