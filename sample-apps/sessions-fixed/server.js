// sessions-fixed: the same app as ../sessions with sessions created only when needed.
//
// The fix: `saveUninitialized: false`, and the home page no longer writes to the
// session. A session is only modified, and therefore only saved to the MemoryStore,
// at `POST /login`. Anonymous visitors (the load sends no cookies) get a throw-away
// `req.session` object that is never stored and no Set-Cookie header, so the store
// stays empty however many of them arrive.
//
// Expected verdict: clean.
'use strict';

const express = require('express');
const session = require('express-session');

const PORT = Number(process.env.PORT) || 3000;

const app = express();

app.get('/health', (req, res) => {
  res.send('ok');
});

app.use(
  session({
    secret: 'leakgate-sample-secret',
    resave: false,
    saveUninitialized: false, // <- the fix: no store entry for untouched sessions
  }),
);

app.get('/', (req, res) => {
  // Read-only use of the session: anonymous visitors are not stored.
  res.json({ user: req.session.user || null });
});

app.post('/login', express.json(), (req, res) => {
  req.session.user = String((req.body && req.body.user) || 'anonymous');
  res.json({ user: req.session.user });
});

app.listen(PORT, () => {
  console.log(`sessions-fixed listening on port ${PORT}`);
});
