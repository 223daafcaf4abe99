'use strict';
// Where the native `leakgate` binary is: `LEAKGATE_BINARY` when set, else the platform package
// npm installed beside this one.

const fs = require('node:fs');
const path = require('node:path');
const { hostPlatform, hostLibc } = require('./platforms');

class BinaryNotFound extends Error {}

/** The absolute path of the leakgate binary; throws BinaryNotFound with what to do. */
function binaryPath() {
  const override = process.env.LEAKGATE_BINARY;
  if (override) {
    const file = path.resolve(override);
    if (!fs.existsSync(file)) {
      throw new BinaryNotFound(`LEAKGATE_BINARY=${override}: no such file`);
    }
    return file;
  }
  const platform = hostPlatform();
  if (!platform) {
    const libc = hostLibc();
    throw new BinaryNotFound(
      `leakgate has no prebuilt binary for ${process.platform}-${process.arch}${libc ? ` (${libc})` : ''}; ` +
        'build it with `cargo install leakgate` and set LEAKGATE_BINARY to the installed binary',
    );
  }
  let manifest;
  try {
    manifest = require.resolve(`${platform.package}/package.json`);
  } catch {
    throw new BinaryNotFound(
      `the package ${platform.package} is not installed (npm installs it with leakgate unless ` +
        'optional dependencies are turned off: run `npm install` without --omit=optional or ' +
        '--no-optional), or set LEAKGATE_BINARY to a leakgate binary',
    );
  }
  return path.join(path.dirname(manifest), 'bin', 'leakgate');
}

module.exports = { binaryPath, BinaryNotFound };
