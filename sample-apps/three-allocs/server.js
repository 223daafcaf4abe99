'use strict';
const http = require('node:http');
const { EventEmitter } = require('node:events');

const shutdown = new EventEmitter();
shutdown.setMaxListeners(0);
let flushed = 0;

function render(req, res) {
  const reply = { path: req.url, ok: true };
  const body = JSON.stringify(reply);
  shutdown.on('drain', () => { flushed += 1; });
  res.setHeader('content-type', 'application/json');
  res.end(body);
}

// three-allocs: a handler with three allocating statements, of which only one leaks.
//
// `render` builds a reply object (line 10), serialises it (line 11) and subscribes to a
// process-wide `drain` event (line 12). The reply and its JSON are garbage once the response
// is sent; the listener closure is never removed, so `shutdown` keeps one per request. The
// closure captures nothing of the request: the leak is exactly one `(closure)` per request,
// and the report should name line 12, not the function's line 9.
// Fixed twin: ../three-allocs-fixed (the listener is removed when the response closes).
//
// Expected verdict: leak.
http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    render(req, res);
  })
  .listen(Number(process.env.PORT) || 3000, () => {
    console.log(`three-allocs listening, ${flushed} flushed`);
  });
