#!/usr/bin/env bash
# Times the checkpoints of a large heap: `leakgate run specs/catalogue.yaml` (a clean app
# with a ~100 MB heap, 4 snapshots of ~150 MB) against the in-process floor, the same app,
# load and checkpoints with the snapshots written by `v8.writeHeapSnapshot` in the app
# (bench/in-process-floor.js). Whole processes, timed in turn with /usr/bin/time.
#
#   bench/catalogue.sh [--runs N] [--no-build]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs=3
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) shift; runs="$1" ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$build" = 1 ]; then (cd "$root" && cargo build --release >&2); fi
bin="$root/target/release/leakgate"
app="$root/sample-apps/catalogue/server.js"

for ((i = 1; i <= runs; i++)); do
  /usr/bin/time -f "leakgate run: %e s wall, %U s user, %M KB peak" \
    "$bin" run "$root/specs/catalogue.yaml" >/dev/null
  /usr/bin/time -f "in-process floor: %e s wall, %U s user, %M KB peak" \
    node "$here/in-process-floor.js" "$app" "GET /products/{i}" "GET /categories/{i}"
done
