// metrics-fixed: the same app as ../metrics with bounded label cardinality.
//
// The fix: the `path` label is the matched route template (`req.route.path`, e.g.
// `/items/:id`), not the raw URL; unmatched requests are labelled `<unmatched>`. The
// number of label sets is bounded by the number of routes x methods x status codes,
// so the registry stops growing after the first few requests.
//
// Expected verdict: clean.
'use strict';

const express = require('express');
const client = require('prom-client');

const PORT = Number(process.env.PORT) || 3000;

const register = new client.Registry();

const httpRequests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests served',
  labelNames: ['method', 'route', 'status'],
  registers: [register],
});

const httpDuration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency',
  labelNames: ['method', 'route'],
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

// Metrics middleware: the route is only known once routing is done, so the labels
// are computed when the response finishes.
app.use((req, res, next) => {
  const end = httpDuration.startTimer();
  res.on('finish', () => {
    const route = req.route ? req.baseUrl + req.route.path : '<unmatched>';
    httpRequests.inc({ method: req.method, route, status: res.statusCode });
    end({ method: req.method, route });
  });
  next();
});

app.get('/items/:id', (req, res) => {
  const id = Number(req.params.id);
  res.json({ id, name: `item ${id}`, price: (id % 97) + 0.99 });
});

app.listen(PORT, () => {
  console.log(`metrics-fixed listening on port ${PORT}`);
});
