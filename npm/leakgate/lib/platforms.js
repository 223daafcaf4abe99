'use strict';
// The platforms leakgate's native binary is built for, one npm package each (the pattern of
// biome and oxlint: the main package lists them all as optionalDependencies, and npm installs
// only the one whose `os`, `cpu` and `libc` match the machine).
//
// `npm/pack.sh` reads this table to build the host's package; a release workflow builds the
// others with `npm/pack.sh OUT_DIR --target TRIPLE` on a machine of each kind.

/** @type {{target: string, package: string, os: string, cpu: string, libc?: string}[]} */
const PLATFORMS = [
  { target: 'x86_64-unknown-linux-gnu', package: '@leakgate/linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  { target: 'aarch64-unknown-linux-gnu', package: '@leakgate/linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  { target: 'x86_64-unknown-linux-musl', package: '@leakgate/linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  { target: 'aarch64-unknown-linux-musl', package: '@leakgate/linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  { target: 'x86_64-apple-darwin', package: '@leakgate/darwin-x64', os: 'darwin', cpu: 'x64' },
  { target: 'aarch64-apple-darwin', package: '@leakgate/darwin-arm64', os: 'darwin', cpu: 'arm64' },
];

/** The C library of this Linux machine: `glibc` or `musl` (Node's own report says which). */
function hostLibc() {
  if (process.platform !== 'linux') return undefined;
  const header = process.report && process.report.getReport().header;
  return header && header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** The platform entry for this machine, or undefined when leakgate has no build for it. */
function hostPlatform() {
  const libc = hostLibc();
  return PLATFORMS.find(
    (p) => p.os === process.platform && p.cpu === process.arch && (p.libc === undefined || p.libc === libc),
  );
}

module.exports = { PLATFORMS, hostLibc, hostPlatform };
