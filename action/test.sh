#!/usr/bin/env bash
# Tests the action's script (action/run.sh) the way action.yml calls it, outside GitHub:
# `action/test.sh TARBALL_DIR` installs leakgate from npm/pack.sh's tarballs and runs two
# specs, one clean and one that misses its `expect`, with GITHUB_ACTIONS=true. Checks the exit
# code (1), the step outputs, the JUnit XML and per-spec reports, the `::error` annotation on
# the failing spec and the step summary's table. Then runs a spec whose app crashes at boot with
# `args: --detailed-exit-codes` and checks that the code of an app's failure (3) comes through.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: action/test.sh TARBALL_DIR" >&2; exit 2; }
tarballs="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/specs" "$work/runner"
cat > "$work/specs/hello.yaml" <<YAML
app:
  script: $root/sample-apps/hello/server.js
load:
  requests: ["GET /"]
checkpoints: [1000, 2000, 3000]
expect: clean
YAML
cat > "$work/specs/request-log.yaml" <<YAML
app:
  script: $root/sample-apps/request-log/server.js
load:
  requests: ["GET /articles/{i}"]
checkpoints: [1000, 2000, 3000]
explain: never
expect: clean
YAML
: >"$work/summary.md"
: >"$work/outputs"

code=0
(cd "$work" && env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$work/summary.md" \
  GITHUB_OUTPUT="$work/outputs" RUNNER_TEMP="$work/runner" \
  LEAKGATE_ACTION_SOURCE="$tarballs" LEAKGATE_ACTION_SPECS="specs/hello.yaml specs/request-log.yaml" \
  LEAKGATE_ACTION_KEEP_SNAPSHOTS=never \
  "$root/action/run.sh") >"$work/stdout" 2>"$work/stderr" || code=$?

fail() { echo "action/test.sh: $*" >&2; cat "$work/stdout" "$work/stderr" >&2; exit 1; }
[ "$code" = 1 ] || fail "run.sh exited $code, expected 1"
grep -qx "exit-code=1" "$work/outputs" || fail "no exit-code=1 in GITHUB_OUTPUT"
grep -qx "report-dir=leakgate-reports" "$work/outputs" || fail "no report-dir in GITHUB_OUTPUT"
grep -q "^::error file=specs/request-log.yaml" "$work/stdout" || fail "no annotation on the failing spec"
grep -q "^::error file=specs/hello.yaml" "$work/stdout" && fail "an annotation on the clean spec"
grep -q "hello" "$work/summary.md" && grep -q "request-log" "$work/summary.md" || fail "step summary lacks a spec"
reports="$work/leakgate-reports"
for f in junit.xml hello.json request-log.json hello.svg; do
  [ -s "$reports/$f" ] || fail "no $f in the report folder"
done
grep -q 'tests="2"' "$reports/junit.xml" || fail "junit.xml does not count 2 tests"
grep -q '<failure' "$reports/junit.xml" || fail "junit.xml has no failure"

# --detailed-exit-codes passed through `args`: an app that crashes at boot exits 3, not 2.
cat > "$work/specs/crash.yaml" <<YAML
app:
  script: $root/harness/tests/apps/crash.js
load:
  requests: ["GET /"]
expect: clean
YAML
: >"$work/outputs"
code=0
(cd "$work" && env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$work/summary.md" \
  GITHUB_OUTPUT="$work/outputs" RUNNER_TEMP="$work/runner" \
  LEAKGATE_ACTION_SOURCE="$tarballs" LEAKGATE_ACTION_SPECS="specs/crash.yaml" \
  LEAKGATE_ACTION_KEEP_SNAPSHOTS=never LEAKGATE_ACTION_ARGS="--detailed-exit-codes" \
  "$root/action/run.sh") >"$work/stdout" 2>"$work/stderr" || code=$?
[ "$code" = 3 ] || fail "run.sh with --detailed-exit-codes exited $code for an app's failure, expected 3"
grep -qx "exit-code=3" "$work/outputs" || fail "no exit-code=3 in GITHUB_OUTPUT"
grep -q 'type="leakgate.error.app"' "$reports/junit.xml" || fail "junit.xml has no app error"
echo "ok: action/run.sh installs from tarballs, exits 1 with annotations, summary, JUnit and reports; 3 for an app's failure under --detailed-exit-codes"
