// typescript: a TypeScript service run without a build step, as `node --import tsx
// src/server.ts`. Prices are looked up in a typed catalogue and quotes are computed per
// request; nothing outlives a request except a fixed-size table of the last 50 quotes.
//
// Expected verdict: clean.
import http from 'node:http';
import { quote, type Quote } from './quotes.ts';

const recent: Quote[] = [];

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') {
    res.end('ok');
    return;
  }
  const sku = Number(url.pathname.split('/').pop()) || 0;
  const q = quote(sku, Number(url.searchParams.get('qty') ?? 1));
  recent.push(q);
  if (recent.length > 50) recent.shift();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(q));
});

const port: number = Number(process.env.PORT) || 3000;
server.listen(port, () => console.log(`typescript listening on port ${port}`));
