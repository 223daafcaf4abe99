#!/usr/bin/env bash
# The npm packages as a Node team gets them: `npm/test/smoke.sh TARBALL_DIR` installs the
# tarballs `npm/pack.sh TARBALL_DIR` wrote into a fresh temporary Node project, with only
# node, npm and npx on PATH (no Rust toolchain), then checks that
#   - `npx leakgate run` passes leakgate's exit code through: 0 clean, 1 an unmet `expect`,
#     2 a spec that does not parse (also under `--detailed-exit-codes`, and 4 there when the
#     binary is missing);
#   - `node --test` with `leakgate/node-test` makes one test per spec, and a failing spec's
#     test carries leakgate's report.
# The apps are two sample apps (a hello world and a leaking request log), copied in.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: npm/test/smoke.sh TARBALL_DIR" >&2; exit 2; }
tarballs="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/../.." && pwd)"
project="$(mktemp -d)"
trap 'rm -rf "$project"' EXIT

# A PATH with node, npm and npx alone (and sh, which npx runs bins with).
mkdir "$project/.bin"
for tool in node npm npx; do ln -s "$(command -v "$tool")" "$project/.bin/$tool"; done
ln -s "$(command -v sh)" "$project/.bin/sh"
bare() { (cd "$project/app" && env PATH="$project/.bin" "$@"); }

mkdir -p "$project/app/apps/hello" "$project/app/apps/request-log" "$project/app/specs" "$project/app/test"
cp "$root/sample-apps/hello/server.js" "$project/app/apps/hello/"
cp "$root/sample-apps/request-log/server.js" "$project/app/apps/request-log/"
cat > "$project/app/package.json" <<'JSON'
{"name": "leakgate-smoke", "version": "1.0.0", "private": true}
JSON
cat > "$project/app/specs/hello.yaml" <<'YAML'
app:
  script: ../apps/hello/server.js
load:
  requests: ["GET /"]
checkpoints: [1000, 2000, 3000]
expect: clean
YAML
cat > "$project/app/specs/request-log.yaml" <<'YAML'
# Leaks one entry per request, but expects clean: this spec fails.
app:
  script: ../apps/request-log/server.js
load:
  requests: ["GET /articles/{i}"]
checkpoints: [1000, 2000, 3000]
explain: never
expect: clean
YAML
mkdir "$project/app/broken"
printf 'app:\n  scrpt: server.js\n' > "$project/app/broken/typo.yaml"

echo "-- npm install (offline, from the tarballs; no cargo on PATH)"
if bare sh -c 'command -v cargo || command -v rustc'; then
  echo "smoke.sh: a Rust toolchain is still on PATH" >&2; exit 1
fi
# --offline: the other platforms' optional packages are skipped, nothing is fetched.
bare npm install --offline --no-audit --no-fund --loglevel=error "$tarballs"/leakgate-*.tgz >/dev/null
test -x "$project/app/node_modules/.bin/leakgate"

expect_exit() {
  local want="$1"; shift
  local got=0
  bare "$@" >"$project/out" 2>"$project/err" || got=$?
  if [ "$got" != "$want" ]; then
    echo "smoke.sh: \`$*\` exited $got, expected $want" >&2
    cat "$project/out" "$project/err" >&2
    exit 1
  fi
  echo "ok: \`$*\` exited $got"
}

echo "-- npx leakgate"
expect_exit 0 npx --no-install leakgate --version
expect_exit 0 npx --no-install leakgate run specs/hello.yaml
expect_exit 1 npx --no-install leakgate run specs/request-log.yaml
grep -q "verdict" "$project/err" || grep -qi "leak" "$project/err"
expect_exit 2 npx --no-install leakgate run broken/typo.yaml
grep -q "typo.yaml:2:3: unknown key \`scrpt\`" "$project/err"
expect_exit 2 npx --no-install leakgate run --detailed-exit-codes broken/typo.yaml
expect_exit 2 LEAKGATE_BINARY=/nonexistent npx --no-install leakgate --version
grep -q "LEAKGATE_BINARY=/nonexistent: no such file" "$project/err"
expect_exit 4 LEAKGATE_BINARY=/nonexistent npx --no-install leakgate run --detailed-exit-codes specs/hello.yaml

echo "-- npx leakgate init, then run what it wrote"
printf '{"name": "hello", "scripts": {"start": "node server.js"}}\n' > "$project/app/apps/hello/package.json"
expect_exit 0 npx --no-install leakgate init apps/hello
grep -q "apps/hello/specs/hello.yaml" "$project/err"
grep -q "reads process.env.PORT" "$project/err"
expect_exit 0 npx --no-install leakgate run apps/hello/specs/hello.yaml
expect_exit 2 npx --no-install leakgate init apps/hello
grep -q "exists already" "$project/err"

echo "-- node --test with leakgate/node-test"
cat > "$project/app/test/leaks.test.js" <<'JS'
const path = require('node:path');
const { leakSuite } = require('leakgate/node-test');
leakSuite(path.join(__dirname, '../specs'));
JS
expect_exit 1 node --test --test-reporter=tap test/
out="$project/out"
grep -q "^    ok 1 - hello" "$out"
grep -q "^    not ok 2 - request-log" "$out"
grep -q "the spec did not meet its \`expect\`" "$out"
grep -q "expected clean, found leak" "$out"
grep -q "accessLog (closure variable)" "$out"
grep -q "^# tests 2" "$out"
grep -q "^# pass 1" "$out"
echo "ok: one test per spec, the failing one with its report"
