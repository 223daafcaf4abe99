'use strict';
const http = require('node:http');
const { EventEmitter } = require('node:events');

const shutdown = new EventEmitter();
shutdown.setMaxListeners(0);
let flushed = 0;

function render(req, res) {
  const reply = { path: req.url, ok: true };
  const body = JSON.stringify(reply);
  const onDrain = () => { flushed += 1; };
  shutdown.on('drain', onDrain);
  res.on('close', () => shutdown.off('drain', onDrain));
  res.setHeader('content-type', 'application/json');
  res.end(body);
}

// three-allocs-fixed: the twin of ../three-allocs. The `drain` listener is removed when the
// response closes, so nothing outlives the request.
//
// Expected verdict: clean.
http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    render(req, res);
  })
  .listen(Number(process.env.PORT) || 3000, () => {
    console.log(`three-allocs-fixed listening, ${flushed} flushed`);
  });
