// The in-process floor for a spec's checkpoints: boots an app, drives the same requests a
// leakgate spec does (keep-alive connections, one request in flight each, `{i}` replaced by
// the request's global index), and at each checkpoint has the app write a heap snapshot
// itself with `v8.writeHeapSnapshot` (no inspector, no WebSocket). A spec run can be no
// cheaper than this unless it takes fewer or smaller snapshots.
//
//   node bench/in-process-floor.js APP.js [--warmup 500] [--checkpoints 2000,4000,6000]
//        [--concurrency 8] [--out DIR] "GET /products/{i}" "GET /categories/{i}" ...
//
// Snapshots go to a fresh private folder (deleted at the end unless --out is given).
'use strict';

const { fork } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opts = { warmup: 500, checkpoints: [2000, 4000, 6000], concurrency: 8, out: null };
const templates = [];
let script = null;
for (let a = 0; a < args.length; a++) {
  const arg = args[a];
  if (arg === '--warmup') opts.warmup = Number(args[++a]);
  else if (arg === '--checkpoints') opts.checkpoints = args[++a].split(',').map(Number);
  else if (arg === '--concurrency') opts.concurrency = Number(args[++a]);
  else if (arg === '--out') opts.out = args[++a];
  else if (!script) script = path.resolve(arg);
  else templates.push(arg);
}
if (!script || templates.length === 0) {
  console.error('usage: node bench/in-process-floor.js APP.js [options] "GET /path/{i}" ...');
  process.exit(2);
}

const dir = opts.out || fs.mkdtempSync(path.join(os.tmpdir(), 'floor-'));
fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
const port = 20000 + (process.pid % 20000);
const preload = path.join(__dirname, 'in-process-floor-preload.js');
const app = fork(script, [], {
  cwd: path.dirname(script),
  env: { ...process.env, PORT: String(port) },
  execArgv: ['--require', preload],
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});
app.on('exit', (code, signal) => {
  if (!finished) {
    console.error(`the app exited early (code ${code}, signal ${signal})`);
    process.exit(1);
  }
});
let finished = false;

// A fresh agent per phase: the app closes connections left idle during a long snapshot.
let agent = null;
let next = 0;

function request(i) {
  const [method, pathTemplate] = templates[i % templates.length].split(' ');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: pathTemplate.replaceAll('{i}', String(i)), agent },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function drive(count) {
  if (agent) agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const end = next + count;
  const worker = async () => {
    while (next < end) await request(next++);
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
}

let asked = 0;
function snapshot(k) {
  return new Promise((resolve) => {
    app.once('message', resolve);
    asked++;
    app.send({ file: path.join(dir, `checkpoint-${k}.heapsnapshot`) });
  });
}

async function ready() {
  for (;;) {
    try {
      await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/health' }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject);
      });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

(async () => {
  const started = Date.now();
  await ready();
  await drive(opts.warmup);
  const points = [0, ...opts.checkpoints];
  let done = 0;
  for (let k = 0; k < points.length; k++) {
    await drive(points[k] - done);
    done = points[k];
    const t = Date.now();
    const reply = await snapshot(k);
    console.error(`checkpoint ${k}: ${reply.bytes} bytes in ${Date.now() - t} ms`);
  }
  finished = true;
  agent.destroy();
  app.kill();
  if (!opts.out) fs.rmSync(dir, { recursive: true, force: true });
  console.error(`${asked} snapshots, ${Date.now() - started} ms in all`);
})().catch((e) => {
  console.error(e);
  app.kill();
  process.exit(1);
});
