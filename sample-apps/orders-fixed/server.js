// orders-fixed: the same API as ../orders-post-only with a bounded order store.
//
// The fix: recent orders are kept in an lru-cache with `max: 100` instead of a plain
// Map. Once 100 orders are held, each new order evicts the least recently used one,
// so the store stops growing (a real service would write orders to a database and
// cache only the hot ones).
//
// Expected verdict: clean.
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const { LRUCache } = require('lru-cache');

const PORT = Number(process.env.PORT) || 3000;

const orders = new LRUCache({ max: 100 }); // <- the fix: bounded

const app = express();
app.use(express.json());

app.get('/health', (req, res) => {
  res.send('ok');
});

app.get('/items/:id', (req, res) => {
  const id = Number(req.params.id);
  res.json({ id, name: `item ${id}`, price: (id % 97) + 0.99, inStock: id % 5 !== 0 });
});

app.post('/orders', (req, res) => {
  const body = req.body || {};
  const qty = Number(body.qty) || 1;
  const order = {
    id: crypto.randomUUID(),
    sku: String(body.sku || body.order || 'unknown'),
    qty,
    tenant: req.get('x-tenant') || 'default',
    status: 'received',
    createdAt: new Date().toISOString(),
    request: { ...body },
  };
  orders.set(order.id, order);
  res.status(201).json({ id: order.id, status: order.status });
});

app.get('/orders/:id', (req, res) => {
  const order = orders.get(req.params.id);
  if (!order) {
    res.status(404).json({ error: 'not found' });
    return;
  }
  res.json(order);
});

app.listen(PORT, () => {
  console.log(`orders-fixed listening on port ${PORT}`);
});
