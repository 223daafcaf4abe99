// The statistics worker of worker-keep: every record posted to it is kept forever.
'use strict';

const { parentPort } = require('node:worker_threads');

const received = [];

parentPort.on('message', (record) => {
  received.push(record);
});
