// request-log-fixed: the same in-memory access log as ../request-log, made bounded.
//
// The fix: the log is a fixed-size ring buffer holding only the last 100 entries. New
// entries overwrite the oldest slot, so after 100 requests the memory it holds stops
// growing; older entries become garbage.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const LOG_SIZE = 100;

const accessLog = new Array(LOG_SIZE);
let next = 0; // slot the next entry goes into
let total = 0; // requests seen so far

function record(entry) {
  accessLog[next] = entry;
  next = (next + 1) % LOG_SIZE;
  total += 1;
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  record({ url: req.url, date: new Date() });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ logged: total, kept: Math.min(total, LOG_SIZE) }));
});

server.listen(PORT, () => {
  console.log(`request-log-fixed listening on port ${PORT}`);
});
