#!/usr/bin/env bash
# Benchmarks `leakgate summary` against a plain `JSON.parse` in Node on large
# heap snapshots.
#
#   bench/run.sh [--big] [--dominators] [--no-build] [--runs N]
#
#   --big       also benchmark the ~740 MB snapshot (Node cannot parse it)
#   --dominators  also time the full analysis (`leakgate summary --top-retainers 10`:
#               dominator tree, retained sizes, shortest paths) against memlab's full
#               load (`bench/memlab-load.js`, once per file; needs memlab installed, see
#               that file; skipped when it is not)
#   --no-build  do not run `cargo build --release` first
#   --runs N    runs per measurement, best wall time is kept (default 3)
#
# Snapshots are generated once into bench/out/ (git-ignored) by
# gen-big-snapshot.js. Each measurement is a whole process timed with
# /usr/bin/time (wall seconds, peak RSS). Results are printed as a Markdown
# table and written to bench/out/results.md.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/out"
mkdir -p "$out"

big=0
dominators=0
build=1
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --big) big=1 ;;
    --dominators) dominators=1 ;;
    --no-build) build=0 ;;
    --runs) shift; runs="$1" ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "error: $TIME (GNU time) is required" >&2
  exit 1
fi

bin="$root/target/release/leakgate"
if [ "$build" = 1 ]; then
  echo "building release binary..." >&2
  if ! (cd "$root" && cargo build --release >&2); then
    echo "warning: cargo build --release failed; leakgate runs will be skipped" >&2
    bin=""
  fi
fi
if [ -n "$bin" ] && [ ! -x "$bin" ]; then
  echo "warning: $bin not found; leakgate runs will be skipped" >&2
  bin=""
fi

gen_snapshot() { # SIZE_MB FILE
  if [ ! -s "$2" ]; then
    echo "generating $2 (~$1 MB)..." >&2
    node --max-old-space-size=14000 "$here/gen-big-snapshot.js" "$1" "$2.tmp" >&2 || exit 1
    mv "$2.tmp" "$2"
  fi
}

files=("$out/300mb.heapsnapshot")
gen_snapshot 300 "$out/300mb.heapsnapshot"
if [ "$big" = 1 ]; then
  files+=("$out/740mb.heapsnapshot")
  gen_snapshot 740 "$out/740mb.heapsnapshot"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# measure NAME CMD... -> sets M_STATUS (ok|fails), M_WALL, M_RSS_MB, M_MSG
measure() {
  local name="$1"; shift
  local best="" best_rss="" i wall rss rc
  M_STATUS=ok M_WALL="" M_RSS_MB="" M_MSG=""
  for ((i = 1; i <= runs; i++)); do
    "$TIME" -f '%e %M' -o "$tmp/time" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    rc=$?
    if [ "$rc" -ne 0 ]; then
      M_STATUS=fails
      M_MSG="$(grep -m1 -E 'Error|error|Cannot' "$tmp/stderr" | sed 's/^ *//' | cut -c1-160)"
      [ -n "$M_MSG" ] || M_MSG="exit status $rc"
      read -r wall rss < <(grep -E '^[0-9.]+ [0-9]+$' "$tmp/time" | tail -n1)
      M_WALL="${wall:-?}"
      M_RSS_MB="$(awk -v k="${rss:-0}" 'BEGIN { printf "%.0f", k / 1024 }')"
      echo "  $name: fails after ${M_WALL} s: $M_MSG" >&2
      return
    fi
    read -r wall rss < <(grep -E '^[0-9.]+ [0-9]+$' "$tmp/time" | tail -n1)
    echo "  $name run $i: ${wall} s, $((rss / 1024)) MB" >&2
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best="$wall"
      best_rss="$rss"
    fi
  done
  M_WALL="$best"
  M_RSS_MB="$(awk -v k="$best_rss" 'BEGIN { printf "%.0f", k / 1024 }')"
}

rows=()
dom_rows=()
for f in "${files[@]}"; do
  size_mb="$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.0f", b / 1048576 }')"
  base="$(basename "$f")"
  echo "$base ($size_mb MB)" >&2

  lg_status=skipped lg_wall="" lg_rss="" lg_msg="binary missing"
  if [ -n "$bin" ]; then
    measure leakgate "$bin" summary "$f" --json /dev/null
    lg_status="$M_STATUS" lg_wall="$M_WALL" lg_rss="$M_RSS_MB" lg_msg="$M_MSG"
  fi

  measure node node --max-old-space-size=16000 \
    -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f"
  node_status="$M_STATUS" node_wall="$M_WALL" node_rss="$M_RSS_MB" node_msg="$M_MSG"

  speedup="n/a"
  if [ "$lg_status" = ok ] && [ "$node_status" = ok ]; then
    speedup="$(awk -v n="$node_wall" -v l="$lg_wall" 'BEGIN { if (l > 0) printf "%.1fx", n / l; else print "n/a" }')"
  elif [ "$lg_status" = ok ] && [ "$node_status" = fails ]; then
    speedup="node fails"
  fi

  if [ "$dominators" = 1 ]; then
    if [ -n "$bin" ]; then
      measure "leakgate dominators" "$bin" summary "$f" --top-retainers 10 --json /dev/null
      dom_rows+=("| $base | $size_mb | leakgate summary --top-retainers 10 | $M_WALL | $M_RSS_MB |")
    fi
    memlab_dir="${MEMLAB_DIR:-/tmp/memlab-bench/node_modules}"
    if [ -d "$memlab_dir/@memlab/heap-analysis" ]; then
      saved_runs="$runs"; runs=1
      measure memlab node --max-old-space-size=20000 "$here/memlab-load.js" "$f"
      runs="$saved_runs"
      dom_rows+=("| $base | $size_mb | memlab getFullHeapFromFile | $M_WALL | $M_RSS_MB |")
    else
      dom_rows+=("| $base | $size_mb | memlab getFullHeapFromFile | not installed | |")
    fi
  fi

  case "$lg_status" in
    ok) rows+=("| $base | $size_mb | leakgate summary | $lg_wall | $lg_rss | $speedup |") ;;
    fails) rows+=("| $base | $size_mb | leakgate summary | fails after $lg_wall s: ${lg_msg//|/\\|} | $lg_rss | |") ;;
    *) rows+=("| $base | $size_mb | leakgate summary | skipped ($lg_msg) | | |") ;;
  esac
  case "$node_status" in
    ok) rows+=("| $base | $size_mb | node JSON.parse | $node_wall | $node_rss | 1.0x |") ;;
    *) rows+=("| $base | $size_mb | node JSON.parse | fails after $node_wall s: ${node_msg//|/\\|} | $node_rss | |") ;;
  esac
done

{
  echo "# leakgate benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) cores, node $(node --version), best of $runs runs"
  echo
  echo "| file | size MB | tool | wall s | peak RSS MB | speedup vs node |"
  echo "|---|---:|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  if [ "${#dom_rows[@]}" -gt 0 ]; then
    echo
    echo "Full analysis (dominators, retained sizes, shortest paths); memlab once per file:"
    echo
    echo "| file | size MB | tool | wall s | peak RSS MB |"
    echo "|---|---:|---|---:|---:|"
    printf '%s\n' "${dom_rows[@]}"
  fi
} | tee "$out/results.md"
