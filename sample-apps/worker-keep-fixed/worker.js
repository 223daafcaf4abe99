// The statistics worker of worker-keep-fixed: the last 100 records, in a ring buffer.
'use strict';

const { parentPort } = require('node:worker_threads');

const RING = 100;
const recent = new Array(RING);
let next = 0;

parentPort.on('message', (record) => {
  recent[next] = record;
  next = (next + 1) % RING;
});
