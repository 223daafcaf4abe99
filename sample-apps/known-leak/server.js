// known-leak: a price lookup with a known, accepted leak, and optionally a second one.
//
// What leaks: `priceCache`, a module-level Map that memoises a quote per item and never
// evicts. Every CACHE_EVERY-th item (env, default 10; 0 turns the cache off) adds one entry:
// an Object with a label string. The team knows it (a bounded cache is planned), so the
// specs allow it by fingerprint (`assert.allow: [{holder: priceCache}]`).
// With AUDIT=1 a second, new leak appears: `auditTrail`, a module-level array that keeps
// `{path, at: new Date()}` for every request and is never trimmed.
// Fixed twin: the same app with CACHE_EVERY=0 and AUDIT unset (specs/known-leak-fixed.yaml).
//
// Expected verdicts: see specs/allowed-leak*.yaml and specs/known-leak-fixed.yaml.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const CACHE_EVERY = process.env.CACHE_EVERY === undefined ? 10 : Number(process.env.CACHE_EVERY);
const AUDIT = process.env.AUDIT === '1';

// Module-level: live as long as the process.
const priceCache = new Map();
const auditTrail = [];

function quote(id) {
  const cents = (id * 7919) % 10000;
  return { id, cents, label: `item ${id}: ${(cents / 100).toFixed(2)} EUR` };
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  const id = Number(req.url.split('/').pop()) || 0;
  let price = priceCache.get(id);
  if (price === undefined) {
    price = quote(id);
    if (CACHE_EVERY > 0 && id % CACHE_EVERY === 0) {
      priceCache.set(id, price);
    }
  }
  if (AUDIT) {
    auditTrail.push({ path: req.url, at: new Date() });
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ cents: price.cents }));
});

server.listen(PORT, () => {
  console.log(`known-leak listening on port ${PORT}`);
});
