// esm-bus-fixed: the twin of ../esm-bus. The listener on `configBus` is removed when the
// response closes, so nothing outlives the request.
//
// Expected verdict: clean.
import http from 'node:http';
import { configBus } from './src/bus.mjs';

const PORT = Number(process.env.PORT) || 3000;

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.end('ok');
    return;
  }
  const ctx = { id: req.url.slice(8), theme: 'light' };
  const onReload = (next) => {
    ctx.theme = next.theme;
  };
  configBus.on('reload', onReload);
  res.on('close', () => configBus.off('reload', onReload));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(ctx));
});

server.listen(PORT, () => {
  console.log(`esm-bus-fixed listening on port ${PORT}`);
});
