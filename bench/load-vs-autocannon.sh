#!/usr/bin/env bash
# Throughput of leakgate's built-in load generator next to autocannon's, against the same
# hello-world Node server, same concurrency and request count.
#
#   bench/load-vs-autocannon.sh [REQUESTS] [CONCURRENCY]
#
# autocannon is installed from the npm registry into a temporary directory. Extra cargo
# arguments (e.g. --config overrides) can be given in LEAKGATE_CARGO_ARGS.
set -euo pipefail

REQUESTS=${1:-50000}
CONCURRENCY=${2:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
SERVER_PID=
read -r -a CARGO_ARGS <<<"${LEAKGATE_CARGO_ARGS:-}"

cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "load-vs-autocannon: failed at line $LINENO" >&2' ERR

cat >"$WORK/hello.js" <<'JS'
const http = require('http');
const server = http.createServer((q, s) => s.end('hello'));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
JS

echo "building the load generator (release)..." >&2
(cd "$ROOT" && cargo build "${CARGO_ARGS[@]}" --quiet --release --example loadgen)

echo "installing autocannon..." >&2
(cd "$WORK" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund autocannon >/dev/null)

start_server() {
    node "$WORK/hello.js" >"$WORK/port" &
    SERVER_PID=$!
    for _ in $(seq 200); do
        grep -q . "$WORK/port" 2>/dev/null && break
        sleep 0.05
    done
    PORT=$(head -n1 "$WORK/port")
    [[ -n $PORT ]] || { echo "server did not start" >&2; exit 1; }
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# A fresh server for each generator, so neither inherits the other's JIT warm-up.
start_server
LEAKGATE_LINE=$(cd "$ROOT" && cargo run "${CARGO_ARGS[@]}" --quiet --release --example loadgen -- \
    --addr "127.0.0.1:$PORT" --requests "$REQUESTS" --concurrency "$CONCURRENCY")
LEAKGATE_RPS=$(sed -n 's/.*requests\/s: \([0-9.]*\).*/\1/p' <<<"$LEAKGATE_LINE")
stop_server

start_server
# With -a, autocannon only notices the end at its next sample tick (every second by default),
# which rounds its duration up to whole seconds; -L 10 samples every 10 ms instead.
(cd "$WORK" && npx --yes autocannon --json -L 10 -c "$CONCURRENCY" -a "$REQUESTS" \
    "http://127.0.0.1:$PORT" >"$WORK/autocannon.json" 2>/dev/null)
AUTOCANNON_RPS=$(node -e '
const r = require(process.argv[1]);
const total = r.requests.total, secs = r.duration;
console.log((total / secs).toFixed(0), total, r.non2xx, r.errors, secs);
' "$WORK/autocannon.json")
stop_server

read -r AC_RPS AC_TOTAL AC_NON2XX AC_ERRORS AC_SECS <<<"$AUTOCANNON_RPS"
echo "leakgate:   $LEAKGATE_LINE"
echo "autocannon: requests: $AC_TOTAL  non-2xx: $AC_NON2XX  errors: $AC_ERRORS  elapsed: ${AC_SECS}s  requests/s: $AC_RPS"
printf '\n%-12s %12s\n' generator requests/s
printf '%-12s %12.0f\n' leakgate "$LEAKGATE_RPS" autocannon "$AC_RPS"
