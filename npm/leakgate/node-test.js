'use strict';
// `leakgate/node-test`: every leakgate spec in a folder as a `node:test` test.
//
//   // test/leaks.test.js
//   const { leakSuite } = require('leakgate/node-test');
//   leakSuite(require('node:path').join(__dirname, '../specs'));
//
// `node --test` then runs one test per spec, named by the spec (its `name:` or its file's
// stem), several at once. Each test runs `leakgate run SPEC` and passes when the spec meets its
// `expect`; otherwise it fails with leakgate's report of the spec as the failure message.
// The environment is passed on, so LEAKGATE_KEEP_SNAPSHOTS, LEAKGATE_ARTIFACTS and, under
// GitHub Actions, the annotations and the step summary work as they do for `leakgate run`.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { describe, it } = require('node:test');
const { binaryPath } = require('./lib/binary');

/** Spec files under `dir` (or `dir` itself when it is a file), sorted, as leakgate finds them. */
function findSpecs(dir, depth = 0) {
  if (fs.statSync(dir).isFile()) return [dir];
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth < 16) found.push(...findSpecs(file, depth + 1));
    } else if (/\.ya?ml$/.test(entry.name)) {
      found.push(file);
    }
  }
  return found.sort();
}

/** The spec's `name:` (a top-level key), or its file's stem. */
function specName(file) {
  const text = fs.readFileSync(file, 'utf8');
  const match = /^name:[ \t]*(['"]?)([^'"#\r\n]*?)\1[ \t]*(?:#.*)?$/m.exec(text);
  const name = match && match[2].trim();
  return name || path.basename(file).replace(/\.ya?ml$/, '');
}

/**
 * Runs `leakgate run file` and resolves with its exit code, stdout and stderr. Aborting
 * `signal` (node:test does when a test is cancelled) stops leakgate, which stops the app.
 */
function runLeakgate(binary, args, signal) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, signal: sig, stdout, stderr }));
  });
}

/**
 * One `node:test` test per spec under `dir` (a folder of `*.yaml` specs, searched like
 * `leakgate run DIR`, or one spec file).
 *
 * @param {string} dir
 * @param {{concurrency?: number, args?: string[], name?: string}} [options]
 *   `concurrency`: specs run at once (default: the number of CPUs);
 *   `args`: extra `leakgate run` arguments (e.g. `['--keep-snapshots', 'on-failure']`);
 *   `name`: the suite's name (default `leakgate specs in DIR`).
 */
function leakSuite(dir, options = {}) {
  const root = path.resolve(dir);
  const specs = findSpecs(root);
  if (specs.length === 0) throw new Error(`leakSuite: no *.yaml spec files under ${root}`);
  const concurrency = options.concurrency || os.availableParallelism();
  const extra = options.args || [];
  const suite = options.name || `leakgate specs in ${path.relative(process.cwd(), root) || '.'}`;
  describe(suite, { concurrency }, () => {
    for (const file of specs) {
      it(specName(file), async (t) => {
        const run = await runLeakgate(binaryPath(), ['run', file, ...extra], t.signal);
        // Workflow commands (GitHub annotations) go where the runner reads them.
        if (run.stdout.includes('::')) process.stdout.write(run.stdout.replace(/^(?!::).*\n?/gm, ''));
        if (run.code === 0) return;
        const why =
          run.code === 1
            ? 'the spec did not meet its `expect`'
            : run.signal
              ? `leakgate was stopped by ${run.signal}`
              : `leakgate could not run the spec (exit code ${run.code})`;
        throw new Error(`${path.relative(process.cwd(), file)}: ${why}\n${run.stderr.trimEnd()}`);
      });
    }
  });
}

module.exports = { leakSuite, findSpecs, specName };
