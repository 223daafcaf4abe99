// bounded-cache: an express item API fronted by an lru-cache with `max: 500`.
//
// `GET /items/:id` returns a computed item and caches it under its URL. The load asks
// for a different item every request, so the cache is all misses: it fills during the
// first 500 requests, then every insert evicts the least recently used entry.
//
// Why it is clean: the cache holds at most 500 entries, so memory grows only until it is
// full and is flat afterwards. A leak detector must not flag a bounded cache that
// fills up early (the warm-up covers the filling).
//
// Expected verdict: clean.
'use strict';

const express = require('express');
const { LRUCache } = require('lru-cache');

const PORT = Number(process.env.PORT) || 3000;

const cache = new LRUCache({ max: 500 });
let hits = 0;
let misses = 0;

function loadItem(id) {
  // Stand-in for a database read.
  return {
    id,
    name: `item ${id}`,
    price: (id % 97) + 0.99,
    tags: ['catalog', `shelf-${id % 13}`],
    updatedAt: new Date(1700000000000 + id * 1000).toISOString(),
  };
}

const app = express();

app.get('/health', (req, res) => {
  res.send('ok');
});

app.get('/items/:id', (req, res) => {
  const key = req.path; // e.g. /items/123
  let item = cache.get(key);
  if (item) {
    hits += 1;
  } else {
    misses += 1;
    item = loadItem(Number(req.params.id) || 0);
    cache.set(key, item);
  }
  res.json(item);
});

app.get('/cache/stats', (req, res) => {
  res.json({ size: cache.size, max: cache.max, hits, misses });
});

app.listen(PORT, () => {
  console.log(`bounded-cache listening on port ${PORT}`);
});
