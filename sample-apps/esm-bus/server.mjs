// esm-bus: an ES module app whose requests subscribe to a bus exported by another module.
//
// `GET /render/:id` re-themes its response if the configuration is reloaded mid-render, by
// subscribing to `configBus` (src/bus.mjs). What leaks: the listener is never removed, so
// the module binding `configBus` keeps one closure and its render context per request.
// Fixed twin: ../esm-bus-fixed (the listener is removed when the response closes).
//
// Expected verdict: leak.
import http from 'node:http';
import { configBus } from './src/bus.mjs';

const PORT = Number(process.env.PORT) || 3000;

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.end('ok');
    return;
  }
  const ctx = { id: req.url.slice(8), theme: 'light' };
  configBus.on('reload', (next) => {
    ctx.theme = next.theme;
  });
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(ctx));
});

server.listen(PORT, () => {
  console.log(`esm-bus listening on port ${PORT}`);
});
