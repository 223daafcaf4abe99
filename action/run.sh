#!/usr/bin/env bash
# The script of leakgate's GitHub Action (action.yml): install leakgate, run the specs, write
# the step's outputs, exit with leakgate's code. Reads its inputs from LEAKGATE_ACTION_*
# variables, so it also runs outside Actions (`.ci/run` tests it that way).
#
#   LEAKGATE_ACTION_SPECS           spec files or folders, space-separated (default: specs)
#   LEAKGATE_ACTION_SOURCE          npm (default) | build | a folder of npm/pack.sh tarballs
#   LEAKGATE_ACTION_VERSION         the npm version for source npm (default: latest)
#   LEAKGATE_ACTION_REPORT_DIR      the report folder (default: leakgate-reports)
#   LEAKGATE_ACTION_KEEP_SNAPSHOTS  never | on-failure (default) | always
#   LEAKGATE_ACTION_ARGS            extra `leakgate run` arguments, space-separated
#
# Annotations and the step summary come from leakgate itself (GITHUB_ACTIONS=true,
# GITHUB_STEP_SUMMARY); GITHUB_OUTPUT receives `exit-code` and `report-dir`.
set -euo pipefail

action_root="$(cd "$(dirname "$0")/.." && pwd)"
read -r -a specs <<<"${LEAKGATE_ACTION_SPECS:-specs}"
read -r -a extra <<<"${LEAKGATE_ACTION_ARGS:-}"
source="${LEAKGATE_ACTION_SOURCE:-npm}"
version="${LEAKGATE_ACTION_VERSION:-latest}"
report_dir="${LEAKGATE_ACTION_REPORT_DIR:-leakgate-reports}"
keep="${LEAKGATE_ACTION_KEEP_SNAPSHOTS:-on-failure}"
[ ${#specs[@]} -gt 0 ] || specs=(specs)

install_dir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/leakgate-action.XXXXXX")"
npm_install() {
  npm install --prefix "$install_dir" --no-audit --no-fund --loglevel=error "$@" >&2
}
case "$source" in
  npm)
    echo "::group::Install leakgate@$version from npm"
    npm_install "leakgate@$version"
    bin="$install_dir/node_modules/.bin/leakgate"
    ;;
  build)
    echo "::group::Build leakgate from $action_root"
    cargo build --release --locked --manifest-path "$action_root/Cargo.toml" -p leakgate >&2
    bin="$action_root/target/release/leakgate"
    ;;
  *)
    echo "::group::Install leakgate from the tarballs in $source"
    shopt -s nullglob
    tarballs=("$source"/leakgate-*.tgz)
    shopt -u nullglob
    if [ ${#tarballs[@]} -eq 0 ]; then
      echo "::error title=leakgate action::source is not npm, build or a folder of leakgate-*.tgz tarballs: $source"
      exit 2
    fi
    # --offline: the packages of other platforms are skipped, nothing is fetched.
    npm_install --offline "${tarballs[@]}"
    bin="$install_dir/node_modules/.bin/leakgate"
    ;;
esac
"$bin" --version
echo "::endgroup::"

mkdir -p "$report_dir"
code=0
"$bin" run "${specs[@]}" --report-dir "$report_dir" --keep-snapshots "$keep" \
  --artifacts "$report_dir/artifacts" "${extra[@]}" || code=$?
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit-code=$code"
    echo "report-dir=$report_dir"
  } >>"$GITHUB_OUTPUT"
fi
exit "$code"
