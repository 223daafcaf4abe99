// npm-start: an express service laid out as many are: package.json at the root, the code in
// `src/`, started with `npm start` (which runs `node src/server.js`). The node process that
// serves is a grandchild of the shell leakgate starts (sh → npm → sh → node). Every request
// is appended to an audit trail that is never trimmed (src/audit.js).
//
// Expected verdict: leak (one Object and one Date per request).
import express from 'express';
import { record } from './audit.js';

const app = express();
app.get('/health', (_req, res) => res.send('ok'));
app.get('/items/:id', (req, res) => {
  record(req);
  res.json({ id: req.params.id });
});

const port = Number(process.env.PORT) || 3000;
app.listen(port, () => console.log(`npm-start listening on port ${port}`));
