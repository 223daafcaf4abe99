// npm-start (fixed): the same service, started with `npm run start:fixed`; its audit trail
// keeps the last 100 requests only (src/audit.js), so nothing grows per request.
//
// Expected verdict: clean.
import express from 'express';
import { recordBounded as record } from './audit.js';

const app = express();
app.get('/health', (_req, res) => res.send('ok'));
app.get('/items/:id', (req, res) => {
  record(req);
  res.json({ id: req.params.id });
});

const port = Number(process.env.PORT) || 3000;
app.listen(port, () => console.log(`npm-start listening on port ${port}`));
