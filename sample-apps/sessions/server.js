// sessions: express + express-session with the default MemoryStore and
// `saveUninitialized: true`.
//
// What leaks: one session per visitor that never comes back. With
// `saveUninitialized: true` every request that arrives without a session cookie gets a
// brand-new session which is saved to the store even though nothing was put in it.
// The default MemoryStore keeps sessions in a plain object and, with the default cookie
// (no maxAge), they never expire, so clients that do not send cookies back (load
// balancers, health checkers, crawlers, API clients) add one stored session per request.
// Why: MemoryStore is documented as not meant for production; combined with
// saveUninitialized it turns anonymous traffic into retained memory.
// Fixed twin: ../sessions-fixed (`saveUninitialized: false`, sessions only at login).
//
// Expected verdict: leak.
'use strict';

const express = require('express');
const session = require('express-session');

const PORT = Number(process.env.PORT) || 3000;

const app = express();

// Registered before the session middleware: readiness probes get no session.
app.get('/health', (req, res) => {
  res.send('ok');
});

app.use(
  session({
    secret: 'leakgate-sample-secret',
    resave: false,
    saveUninitialized: true, // <- stores a session for every new visitor
    // store: default MemoryStore
  }),
);

app.get('/', (req, res) => {
  req.session.views = (req.session.views || 0) + 1;
  res.json({ views: req.session.views });
});

app.post('/login', express.json(), (req, res) => {
  req.session.user = String((req.body && req.body.user) || 'anonymous');
  res.json({ user: req.session.user });
});

app.listen(PORT, () => {
  console.log(`sessions listening on port ${PORT}`);
});
