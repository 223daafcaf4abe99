// worker-keep-fixed: the fixed twin of worker-keep. The main thread answers every request
// and posts the same small record ({path, at}) to a `worker_threads` Worker; the worker now
// keeps only the last 100 records in a ring buffer, so its heap stops growing once the ring
// is full.
//
// Expected verdict: clean, on the main thread and on the worker.
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
  console.log(`worker-keep-fixed listening on port ${PORT}`);
});
