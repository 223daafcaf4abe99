// express-body: an express app that keeps every parsed request body.
//
// `POST /events` accepts a JSON event. express.json() (body-parser) parses it, so the
// objects are allocated inside node_modules; the app then stores `req.body` in the
// module-level `recent` Map and never deletes it. The report must blame the app's own
// lines (where `recent` is declared and where it is stored into), not body-parser's.
// Fixed twin: ../express-body-fixed (the map keeps the last 100 events).
//
// Expected verdict: leak.
'use strict';

const express = require('express');

const PORT = Number(process.env.PORT) || 3000;
const recent = new Map();

const app = express();
app.use(express.json());

app.get('/health', (req, res) => {
  res.send('ok');
});

app.post('/events', (req, res) => {
  const event = req.body;
  recent.set(event.id, event);
  res.status(202).json({ accepted: event.id });
});

app.listen(PORT, () => {
  console.log(`express-body listening on port ${PORT}`);
});
