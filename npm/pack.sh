#!/usr/bin/env bash
# Builds leakgate's npm packages: `npm/pack.sh OUT_DIR [--target TRIPLE]`.
#
# Writes into OUT_DIR the main package (`leakgate-VERSION.tgz`: the `leakgate` bin shim and
# `leakgate/node-test`) and the platform package holding the native binary, built with
# `cargo build --release`: for this machine, or for TRIPLE (one of the targets listed in
# npm/leakgate/lib/platforms.js, for a release workflow that builds each on its own runner).
# Prints the tarballs' paths, one a line.
set -euo pipefail

usage() { echo "usage: npm/pack.sh OUT_DIR [--target TRIPLE]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out="$1"; shift
target=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) [ $# -ge 2 ] || usage; target="$2"; shift 2 ;;
    *) usage ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/harness/Cargo.toml" | head -1)"
[ -n "$version" ] || { echo "pack.sh: no version in harness/Cargo.toml" >&2; exit 1; }

# The platform this build is for, from the table the shim itself uses.
platform="$(node -e '
  const { PLATFORMS, hostPlatform } = require(process.argv[1]);
  const version = process.argv[2];
  const target = process.argv[3];
  const main = require(process.argv[4]);
  const wrong = [main.version, ...Object.values(main.optionalDependencies)].filter((v) => v !== version);
  if (wrong.length) {
    console.error(`pack.sh: npm/leakgate/package.json must use version ${version} (harness/Cargo.toml) throughout, not ${wrong.join(", ")}`);
    process.exit(1);
  }
  const missing = PLATFORMS.filter((p) => !(p.package in main.optionalDependencies));
  if (missing.length) {
    console.error(`pack.sh: optionalDependencies lack ${missing.map((p) => p.package).join(", ")}`);
    process.exit(1);
  }
  const p = target ? PLATFORMS.find((p) => p.target === target) : hostPlatform();
  if (!p) {
    console.error(`pack.sh: no npm platform for ${target || process.platform + "-" + process.arch}; targets: ${PLATFORMS.map((p) => p.target).join(", ")}`);
    process.exit(1);
  }
  console.log(JSON.stringify(p));
' "$root/npm/leakgate/lib/platforms.js" "$version" "$target" "$root/npm/leakgate/package.json")"

if [ -n "$target" ]; then
  cargo build --release --locked -p leakgate --manifest-path "$root/Cargo.toml" --target "$target" >&2
  binary="$root/target/$target/release/leakgate"
else
  cargo build --release --locked -p leakgate --manifest-path "$root/Cargo.toml" >&2
  binary="$root/target/release/leakgate"
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# The platform package: package.json with os/cpu/libc, and the binary.
mkdir -p "$stage/platform/bin"
cp "$binary" "$stage/platform/bin/leakgate"
chmod 755 "$stage/platform/bin/leakgate"
cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$stage/platform/"
node -e '
  const p = JSON.parse(process.argv[1]);
  const pkg = {
    name: p.package,
    version: process.argv[2],
    description: `The leakgate binary for ${p.os}-${p.cpu}${p.libc ? ` (${p.libc})` : ""}; installed by the leakgate package.`,
    license: "MIT OR Apache-2.0",
    os: [p.os],
    cpu: [p.cpu],
    ...(p.libc ? { libc: [p.libc] } : {}),
    files: ["bin/", "LICENSE-MIT", "LICENSE-APACHE"],
  };
  require("fs").writeFileSync(process.argv[3], JSON.stringify(pkg, null, 2) + "\n");
' "$platform" "$version" "$stage/platform/package.json"
printf '# %s\n\nThe native `leakgate` binary, installed by the [`leakgate`](https://www.npmjs.com/package/leakgate) package on matching machines. Do not depend on it directly.\n' \
  "$(node -p 'JSON.parse(process.argv[1]).package' "$platform")" > "$stage/platform/README.md"

# The main package, as it is in the repository plus the license files.
cp -R "$root/npm/leakgate" "$stage/main"
cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$stage/main/"

for dir in "$stage/main" "$stage/platform"; do
  (cd "$dir" && npm pack --silent --pack-destination "$out" | sed "s|^|$out/|")
done
