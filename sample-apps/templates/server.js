// templates: heavy server-side rendering with ejs. Each request renders a page of 50 rows
// through a compiled template (ejs caches the compiled function by file name, so the cache
// is filled once, during the warm-up) and a partial included per row. Every request makes
// thousands of short-lived strings and objects; none outlives the response.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');
const path = require('node:path');
const ejs = require('ejs');

const PORT = Number(process.env.PORT) || 3000;
const PAGE = path.join(__dirname, 'views', 'page.ejs');

function rows(seed) {
  const out = [];
  for (let i = 0; i < 50; i++) {
    out.push({ id: seed * 50 + i, name: `item ${seed}-${i}`, price: ((seed + i) % 997) / 10, tags: ['a', 'b', String(i % 7)] });
  }
  return out;
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  const seed = Number(req.url.split('/').pop()) || 0;
  ejs.renderFile(PAGE, { title: `Page ${seed}`, rows: rows(seed) }, { cache: true }, (err, html) => {
    if (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
});

server.listen(PORT, () => {
  console.log(`templates listening on port ${PORT}`);
});
