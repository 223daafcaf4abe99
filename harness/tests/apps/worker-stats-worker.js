// The worker of worker-stats.js: keeps one record per KEEP_EVERY it is posted (0: none).
'use strict';

const { parentPort } = require('node:worker_threads');

const every = Number(process.env.KEEP_EVERY || 0);
const received = [];
let seen = 0;

parentPort.on('message', (record) => {
  seen += 1;
  if (every > 0 && seen % every === 0) received.push(record);
});
