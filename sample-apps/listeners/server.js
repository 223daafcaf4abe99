// listeners: an express app whose requests subscribe to a long-lived EventEmitter.
//
// Each `GET /render/:id` wants to notice a configuration reload that happens while it
// is being rendered, so it subscribes with `bus.on('config', ...)`. The handler is a
// closure over the request's render context (id, headers, a small draft object).
//
// What leaks: the listener is never removed. The module-level `bus` keeps every
// handler, and each handler keeps its request's context alive: one closure + context
// per request, forever. `bus.setMaxListeners(0)` was added to silence Node's
// "MaxListenersExceededWarning", which was the warning about exactly this leak.
// Why: a subscription's lifetime must be bounded by the thing that needs it.
// Fixed twin: ../listeners-fixed (the listener is removed when the response closes).
//
// Expected verdict: leak.
'use strict';

const { EventEmitter } = require('node:events');
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;

// Process-wide config bus, emitted when the config file is reloaded.
const bus = new EventEmitter();
bus.setMaxListeners(0); // "fixes" the MaxListenersExceededWarning
let config = { theme: 'light', currency: 'EUR' };

const app = express();

app.get('/health', (req, res) => {
  res.send('ok');
});

app.post('/admin/reload', (req, res) => {
  config = { ...config, reloadedAt: Date.now() };
  bus.emit('config', config);
  res.json({ listeners: bus.listenerCount('config') });
});

app.get('/render/:id', (req, res) => {
  const ctx = {
    id: req.params.id,
    userAgent: req.get('user-agent') || '',
    draft: { title: `Item ${req.params.id}`, theme: config.theme, currency: config.currency },
  };
  // Re-theme the draft if the config changes mid-render. Never removed: the leak.
  bus.on('config', (next) => {
    ctx.draft.theme = next.theme;
    ctx.draft.currency = next.currency;
  });
  res.json(ctx.draft);
});

app.listen(PORT, () => {
  console.log(`listeners listening on port ${PORT}`);
});
