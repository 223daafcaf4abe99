// hello: the baseline. A plain `http` hello world with no dependencies and no state
// that outlives a request. Every response is built, sent and dropped, so the heap
// stays flat however many requests arrive.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello world\n');
});

server.listen(PORT, () => {
  console.log(`hello listening on port ${PORT}`);
});
