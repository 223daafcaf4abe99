// A main thread and a worker thread that each may keep records under a variable of the same
// name, `received`: the main thread one per MAIN_KEEP_EVERY requests, the worker one per
// KEEP_EVERY records it is posted (0: none). The tests of `leakgate compare` run it with
// different rates on two sides and expect the worker's leak to be told apart from the main
// thread's by the worker's script, not by the name of the variable.
'use strict';

const http = require('node:http');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const PORT = Number(process.env.PORT) || 3000;
const every = Number(process.env.MAIN_KEEP_EVERY || 0);

const stats = new Worker(path.join(__dirname, 'worker-stats-worker.js'), { name: 'stats' });
stats.unref();
const received = [];
let served = 0;

http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    served += 1;
    const record = { path: req.url, at: Date.now() };
    if (every > 0 && served % every === 0) received.push(record);
    stats.postMessage(record);
    res.end('noted\n');
  })
  .listen(PORT);
