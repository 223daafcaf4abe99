// express-body-fixed: the twin of ../express-body. `recent` keeps the last 100 events: the
// oldest is deleted when a new one arrives (a Map iterates in insertion order).
//
// Expected verdict: clean.
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
  if (recent.size > 100) {
    recent.delete(recent.keys().next().value);
  }
  res.status(202).json({ accepted: event.id });
});

app.listen(PORT, () => {
  console.log(`express-body-fixed listening on port ${PORT}`);
});
