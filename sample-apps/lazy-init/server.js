// lazy-init: an express report endpoint with a big lazily built lookup table and a lot
// of per-request garbage.
//
// The first `GET /report` builds a 20 000-entry rate table (one object per product
// code) and keeps it for the life of the process; later requests reuse it. Every
// request also creates about 1 000 short-lived candidate objects, scores them and keeps
// only the best 3 for the response.
//
// Why it is clean: the table is a one-off, built during the warm-up, and does not grow
// afterwards; the per-request objects are garbage as soon as the response is sent. A
// leak detector must not mistake a one-time allocation, or high allocation churn, for
// growth per request.
//
// Expected verdict: clean.
'use strict';

const express = require('express');

const PORT = Number(process.env.PORT) || 3000;
const TABLE_SIZE = 20_000;
const CANDIDATES = 1_000;
const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south'];

let rateTable = null; // built on first use

function getRateTable() {
  if (rateTable === null) {
    const table = new Map();
    for (let code = 0; code < TABLE_SIZE; code++) {
      table.set(code, {
        code,
        name: `product-${code}`,
        region: REGIONS[code % REGIONS.length],
        rate: 1 + ((code * 7919) % 1000) / 1000,
      });
    }
    rateTable = table;
  }
  return rateTable;
}

const app = express();

app.get('/health', (req, res) => {
  res.send('ok');
});

app.get('/report', (req, res) => {
  const table = getRateTable();
  const seed = Number(req.query.code) || 0;
  // ~1000 temporary objects per request, all dropped after the response.
  const candidates = [];
  for (let k = 0; k < CANDIDATES; k++) {
    const row = table.get((seed * 31 + k * 17) % TABLE_SIZE);
    candidates.push({ code: row.code, region: row.region, score: row.rate * ((seed + k) % 10) });
  }
  // Keep the 3 best (a linear pass: cheaper than sorting all candidates).
  const top = [];
  for (const c of candidates) {
    if (top.length < 3 || c.score > top[top.length - 1].score) {
      top.push(c);
      top.sort((a, b) => b.score - a.score);
      if (top.length > 3) top.pop();
    }
  }
  res.json({ seed, tableSize: table.size, top });
});

app.listen(PORT, () => {
  console.log(`lazy-init listening on port ${PORT}`);
});
