#!/usr/bin/env bash
# What explaining a leak costs: each sample leak spec against its fixed twin, and a clean spec
# with the in-run allocation sampling against the same spec with `explain: never`.
# Whole-process wall times of `leakgate run`, one spec at a time, RUNS runs each (default 3),
# median printed. Usage: bench/explain.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --quiet
bin=target/release/leakgate
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall() { # spec file -> median wall seconds
  for _ in $(seq "$runs"); do
    /usr/bin/time -f %e -o "$tmp/t" "$bin" run "$1" >/dev/null 2>&1 || true
    cat "$tmp/t"
  done | median
}

printf '%-18s %10s %10s %7s\n' spec leak_s fixed_s ratio
total_leak=0; total_fixed=0
for pair in request-log:request-log-fixed sessions:sessions-fixed metrics:metrics-fixed \
            listeners:listeners-fixed orders-post-only:orders-fixed buffers:buffers-fixed \
            timers:timers-fixed; do
  leak=${pair%%:*}; fixed=${pair##*:}
  a=$(wall "specs/$leak.yaml"); b=$(wall "specs/$fixed.yaml")
  total_leak=$(echo "$total_leak + $a" | bc); total_fixed=$(echo "$total_fixed + $b" | bc)
  printf '%-18s %10s %10s %7.2f\n' "$leak" "$a" "$b" "$(echo "$a / $b" | bc -l)"
done
printf '%-18s %10s %10s %7.2f\n' all "$total_leak" "$total_fixed" "$(echo "$total_leak / $total_fixed" | bc -l)"

# The sampling profiler's cost on a clean spec.
sed "s#\.\./sample-apps#$PWD/sample-apps#" specs/hello.yaml > "$tmp/hello-never.yaml"
echo "explain: never" >> "$tmp/hello-never.yaml"
a=$(wall specs/hello.yaml); b=$(wall "$tmp/hello-never.yaml")
printf '%-18s %10s %10s %7.2f   (sampling on vs explain: never)\n' hello "$a" "$b" "$(echo "$a / $b" | bc -l)"

# A library leak that makes every request expensive (slow specs, so only on request):
# AJV=1 bench/explain.sh [RUNS]
if [ "${AJV:-0}" = 1 ]; then
  a=$(wall specs/ajv-compile.yaml); b=$(wall specs/ajv-compile-fixed.yaml)
  printf '%-18s %10s %10s %7.2f\n' ajv-compile "$a" "$b" "$(echo "$a / $b" | bc -l)"
fi
