// listeners-fixed: the same app as ../listeners with the subscription scoped to the
// request.
//
// The fix: the config listener is removed with `bus.off` when the response closes
// (the 'close' event fires after the response is sent and also when the client goes
// away). `bus.once` would not be enough: a `once` listener is only removed when the
// event fires, and config reloads are rare, so it would pile up just the same. With
// the listener removed, the bus holds at most one handler per in-flight request.
//
// Expected verdict: clean.
'use strict';

const { EventEmitter } = require('node:events');
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;

const bus = new EventEmitter();
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
  const onConfig = (next) => {
    ctx.draft.theme = next.theme;
    ctx.draft.currency = next.currency;
  };
  bus.on('config', onConfig);
  res.on('close', () => bus.off('config', onConfig)); // <- the fix
  res.json(ctx.draft);
});

app.listen(PORT, () => {
  console.log(`listeners-fixed listening on port ${PORT}`);
});
