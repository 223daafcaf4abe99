// worker-keep: a leak in a worker thread. The main thread answers every request and posts
// a small record of it ({path, at}) to a `worker_threads` Worker that keeps statistics; the
// worker pushes every record it receives onto an array it never trims. The main thread
// keeps nothing, so a measurement of the main isolate alone sees a clean app: the growth
// (one Object and its path string per request) is on the worker's own heap.
//
// Expected verdict: leak, on the worker (./worker.js); the main thread is clean.
'use strict';

const http = require('node:http');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const PORT = Number(process.env.PORT) || 3000;

const stats = new Worker(path.join(__dirname, 'worker.js'), { name: 'stats' });
stats.unref();

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  stats.postMessage({ path: req.url, at: Date.now() });
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('noted\n');
});

server.listen(PORT, () => {
  console.log(`worker-keep listening on port ${PORT}`);
});
