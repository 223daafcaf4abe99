// rare-leak: an express price-quote endpoint whose error path leaks, and only rarely.
//
// `GET /quote/:sku` looks up a price. One SKU in 50 (sku % 50 === 0) has no list price:
// the lookup throws, the handler catches the error, answers 200 with a fallback price
// and "keeps the failure for debugging" by pushing the error, its formatted stack and
// the request context into a module-level `failures` array.
//
// What leaks: `failures` is never trimmed. Every 50th request retains an Error, its
// stack string, a copy of the request headers, a Date and two small objects (about
// 1-2 KiB together). The happy path retains nothing, so the average growth is only a
// few tens of bytes per request: too little to see in `process.memoryUsage()`, but one
// new retained PriceMissingError per 50 requests in a heap snapshot diff.
// Note: the stack is read (formatted) before the error is stored. An Error whose stack
// was never read keeps its raw captured frames, which here would also keep each failed
// request's IncomingMessage and ServerResponse alive (several KiB per failure).
// Why: error paths are rarely load-tested, and "keep it for debugging" lists are
// rarely bounded.
//
// Expected verdict: leak.
'use strict';

const express = require('express');

const PORT = Number(process.env.PORT) || 3000;

const failures = []; // never trimmed: the leak

class PriceMissingError extends Error {
  constructor(sku) {
    super(`no list price for sku ${sku}`);
    this.name = 'PriceMissingError';
    this.sku = sku;
  }
}

function listPrice(sku) {
  if (sku % 50 === 0) throw new PriceMissingError(sku);
  return 10 + (sku % 89) * 0.5;
}

const app = express();

app.get('/health', (req, res) => {
  res.send('ok');
});

app.get('/quote/:sku', (req, res) => {
  const sku = Number(req.params.sku) || 0;
  let price;
  let source = 'list';
  try {
    price = listPrice(sku);
  } catch (err) {
    failures.push({
      err,
      stack: err.stack, // formatted now, while it is still meaningful
      context: { sku, url: req.originalUrl, headers: { ...req.headers }, at: new Date() },
    });
    price = 9.99;
    source = 'fallback';
  }
  res.json({ sku, price, source });
});

app.get('/debug/failures', (req, res) => {
  res.json({ count: failures.length, last: failures.length ? failures[failures.length - 1].err.message : null });
});

app.listen(PORT, () => {
  console.log(`rare-leak listening on port ${PORT}`);
});
