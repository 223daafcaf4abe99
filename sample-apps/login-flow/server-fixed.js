// login-flow (fixed): the same token API; logout deletes the session under its bare token,
// so the sessions Map holds only the users logged in at the moment.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const PORT = Number(process.env.PORT) || 3000;
const sessions = new Map();

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function readJson(req) {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(text || '{}'));
      } catch {
        resolve({});
      }
    });
  });
}

function tokenOf(req) {
  return (req.headers.authorization || '').replace(/^Bearer /, '');
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/health') return send(res, 200, { ok: true });
  if (req.method === 'POST' && req.url === '/login') {
    const { user } = await readJson(req);
    if (!user) return send(res, 400, { error: 'user required' });
    const token = crypto.randomUUID();
    sessions.set(token, { user, since: new Date() });
    return send(res, 200, { token });
  }
  const session = sessions.get(tokenOf(req));
  if (!session) return send(res, 401, { error: 'log in first' });
  if (req.method === 'GET' && req.url === '/me') return send(res, 200, { user: session.user });
  if (req.method === 'POST' && req.url === '/logout') {
    sessions.delete(tokenOf(req));
    return send(res, 204);
  }
  send(res, 404, { error: 'no such route' });
});

server.listen(PORT, () => console.log(`login-flow listening on port ${PORT}`));
