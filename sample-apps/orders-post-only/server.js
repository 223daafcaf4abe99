// orders-post-only: a small express JSON API with a catalogue read and an order write.
//
//   GET  /items/:id  -> computed item, nothing kept (clean)
//   POST /orders     -> creates an order and returns its id
//
// What leaks: only the POST path. Each order is stored in a module-level Map keyed by
// a fresh order id "so it can be looked up later" (GET /orders/:id), and nothing ever
// deletes from it. One order object (with its copied body and timestamps) is retained
// per POST; the GET requests interleaved with the POSTs retain nothing, so the growth
// is per POST request, i.e. half the requests of the mixed load.
// Why: a Map used as a database has no eviction.
// Fixed twin: ../orders-fixed (orders kept in a bounded LRU of 100).
//
// Expected verdict: leak.
'use strict';

const crypto = require('node:crypto');
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;

const orders = new Map(); // orderId -> order, never evicted

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
  console.log(`orders-post-only listening on port ${PORT}`);
});
