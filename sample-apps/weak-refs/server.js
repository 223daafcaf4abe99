// weak-refs: per-request metadata kept in a WeakMap keyed by the request object, and a
// FinalizationRegistry told about every response body. Both hold their entries weakly: when a
// request is done, its WeakMap entry and its registration go with it (the registry's cleanup
// callback runs after GC and only counts). A module-level WeakRef to the last body is kept too.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;

const meta = new WeakMap();
let finalized = 0;
const registry = new FinalizationRegistry(() => {
  finalized += 1;
});
let lastBody = null;

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  meta.set(req, { started: Date.now(), url: req.url, trace: [req.method, req.url] });
  const body = { url: req.url, at: meta.get(req).started, finalized };
  registry.register(body, req.url);
  lastBody = new WeakRef(body);
  const text = JSON.stringify(body) + (lastBody.deref() ? '\n' : '');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(text);
});

server.listen(PORT, () => {
  console.log(`weak-refs listening on port ${PORT}`);
});
