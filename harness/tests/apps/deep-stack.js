// A leak allocated 100 frames deep: each request recurses through `descend` and keeps a
// record at the bottom. The sampling heap profile of such stacks nests about 200 levels of
// JSON, deeper than serde_json parses by default.
'use strict';

const http = require('node:http');

const kept = [];

function descend(depth, url) {
  if (depth === 0) {
    return keep(url);
  }
  return descend(depth - 1, url) + 1;
}

function keep(url) {
  kept.push({ url, at: new Date() });
  return kept.length;
}

http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    res.end(String(descend(100, req.url)));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
