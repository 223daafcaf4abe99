// not-found: routes that answer 404 and 401 by design. A catalogue of ten items answers
// `GET /items/:id` with 200 for ids 1-10 and 404 for every other id; `GET /admin` without
// credentials answers 401. The spec says which statuses each request expects (`status:`),
// so these answers are the behaviour under test, not failures. Nothing outlives a request.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const catalogue = new Map(
  Array.from({ length: 10 }, (_, k) => [String(k + 1), { id: k + 1, name: `item ${k + 1}` }]),
);

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/health') return send(res, 200, { ok: true });
  const item = url.pathname.match(/^\/items\/([^/]+)$/);
  if (item) {
    const found = catalogue.get(item[1]);
    return found ? send(res, 200, found) : send(res, 404, { error: `no item ${item[1]}` });
  }
  if (url.pathname === '/admin') {
    res.setHeader('www-authenticate', 'Bearer');
    return send(res, 401, { error: 'credentials required' });
  }
  send(res, 404, { error: 'no such route' });
});

server.listen(PORT, () => {
  console.log(`not-found listening on port ${PORT}`);
});
