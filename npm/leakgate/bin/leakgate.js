#!/usr/bin/env node
'use strict';
// `npx leakgate ...`: runs the native binary with the same arguments and exits with its code.
// Signals sent to this process (Ctrl-C, a CI timeout's SIGTERM) are passed on, so leakgate
// stops its apps; when leakgate dies of a signal, this process dies of the same one.

const { spawn } = require('node:child_process');
const { binaryPath, BinaryNotFound } = require('../lib/binary');

// No binary to run is the machine's problem: under `--detailed-exit-codes` it exits 4
// (environment), as leakgate itself would; otherwise 2, like every "could not run".
const couldNotRun = process.argv.includes('--detailed-exit-codes') ? 4 : 2;

let binary;
try {
  binary = binaryPath();
} catch (e) {
  if (!(e instanceof BinaryNotFound)) throw e;
  process.stderr.write(`leakgate: ${e.message}\n`);
  process.exit(couldNotRun);
}

const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const signal of forwarded) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (e) => {
  process.stderr.write(`leakgate: cannot run ${binary}: ${e.message}\n`);
  process.exit(couldNotRun);
});
child.on('exit', (code, signal) => {
  if (signal) {
    for (const s of forwarded) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code);
});
