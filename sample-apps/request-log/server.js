// request-log: the classic leak. A tiny `http` server that keeps an "access log" in
// memory: every request pushes `{ url, date }` into a module-level array so that the
// count can be reported back.
//
// What leaks: the `accessLog` array. It is never trimmed, so each request retains one
// entry object, its URL string and a Date for the life of the process.
// Why: an in-memory log without a bound is a cache without eviction.
// Fixed twin: ../request-log-fixed (ring buffer of the last 100 entries).
//
// Expected verdict: leak.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;

// Module-level: lives as long as the process.
const accessLog = [];

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  accessLog.push({ url: req.url, date: new Date() });
  res.writeHead(200, { 'content-type': 'application/json' });
  // Only the length goes out: the response stays small however big the log gets.
  res.end(JSON.stringify({ logged: accessLog.length }));
});

server.listen(PORT, () => {
  console.log(`request-log listening on port ${PORT}`);
});
