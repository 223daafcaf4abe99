// metrics: express + prom-client, with an HTTP request Counter and a latency Histogram
// labelled by the raw request path.
//
// What leaks: prom-client keeps one entry per distinct label set for the life of the
// registry. Labelling with `req.path` means `/items/1`, `/items/2`, ... are all
// different label sets: every distinct URL adds a counter entry plus a histogram
// entry with its full bucket array. This is the "unbounded label cardinality" mistake.
// Why: labels must come from a small, fixed set of values.
// Fixed twin: ../metrics-fixed (labels by route template `/items/:id`).
//
// Expected verdict: leak.
'use strict';

const express = require('express');
const client = require('prom-client');

const PORT = Number(process.env.PORT) || 3000;

const register = new client.Registry();

const httpRequests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests served',
  labelNames: ['method', 'path', 'status'],
  registers: [register],
});

const httpDuration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency',
  labelNames: ['method', 'path'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  registers: [register],
});

const app = express();

app.get('/health', (req, res) => {
  res.send('ok');
});

app.get('/metrics', async (req, res) => {
  res.set('content-type', register.contentType);
  res.send(await register.metrics());
});

// Metrics middleware: labels by the raw path (the bug).
app.use((req, res, next) => {
  const end = httpDuration.startTimer({ method: req.method, path: req.path });
  res.on('finish', () => {
    httpRequests.inc({ method: req.method, path: req.path, status: res.statusCode });
    end();
  });
  next();
});

app.get('/items/:id', (req, res) => {
  const id = Number(req.params.id);
  res.json({ id, name: `item ${id}`, price: (id % 97) + 0.99 });
});

app.listen(PORT, () => {
  console.log(`metrics listening on port ${PORT}`);
});
