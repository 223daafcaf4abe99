// Loaded into the app by in-process-floor.js: writes a heap snapshot when asked over IPC.
'use strict';
const fs = require('node:fs');
const v8 = require('node:v8');
process.on('message', ({ file }) => {
  v8.writeHeapSnapshot(file);
  process.send({ bytes: fs.statSync(file).size });
});
// The IPC channel must not keep the app alive on its own.
process.channel.unref();
