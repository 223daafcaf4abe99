#!/usr/bin/env node
'use strict';
// `npx leakgate ...`: runs the native binary with the same arguments and exits with its code.
// Signals sent to this process (Ctrl-C, a CI timeout's SIGTERM) are passed on, so leakgate
// stops its apps; when leakgate dies of a signal, this process dies of the same one.

const { spawn } = require('node:child_process');
const { binaryPath, BinaryNotFound } = require('../lib/binary');

let binary;
try {
  binary = binaryPath();
} catch (e) {
  if (!(e instanceof BinaryNotFound)) throw e;
  process.stderr.write(`leakgate: ${e.message}\n`);
  process.exit(2);
}

const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const signal of forwarded) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (e) => {
  process.stderr.write(`leakgate: cannot run ${binary}: ${e.message}\n`);
  process.exit(2);
});
child.on('exit', (code, signal) => {
  if (signal) {
    for (const s of forwarded) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code);
});
