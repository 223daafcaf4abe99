// A worker thread that starts late: the first is there from boot, a second one starts at the
// 1000th request (after the default 500-request warm-up), and the first exits at the 3000th.
// Neither leaks, and neither is snapshotted at every checkpoint, so neither is judged.
'use strict';

const http = require('node:http');
const { Worker } = require('node:worker_threads');

const PORT = Number(process.env.PORT) || 3000;
const body = "require('node:worker_threads').parentPort.on('message', () => {});";

let early = new Worker(body, { eval: true, name: 'early' });
let late = null;
let served = 0;

http
  .createServer((req, res) => {
    served += 1;
    if (served === 1000) late = new Worker(body, { eval: true, name: 'late' });
    if (served === 3000 && early) {
      early.terminate();
      early = null;
    }
    if (early) early.postMessage(served);
    if (late) late.postMessage(served);
    res.end('ok');
  })
  .listen(PORT);
