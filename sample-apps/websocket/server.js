// websocket: a small chat server on `ws`. Each connection gets a state record (its socket, a
// nickname and its message history) in a module-level Map, so that messages can be relayed
// by nickname. The record is added on `connection` and never removed: a client that
// disconnects leaves its closed socket, its history and everything they hold in the Map.
//
// Expected verdict: leak (one connection state per iteration of load.mjs).
'use strict';

const http = require('node:http');
const { WebSocketServer } = require('ws');

const PORT = Number(process.env.PORT) || 3000;
const clients = new Map();
let next = 0;

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'ok' : 'not found');
});

const wss = new WebSocketServer({ server });
wss.on('connection', (socket) => {
  const id = ++next;
  const state = { socket, nick: `guest-${id}`, history: [] };
  clients.set(id, state);
  socket.on('message', (data) => {
    const text = data.toString();
    state.history.push({ text, at: Date.now() });
    socket.send(JSON.stringify({ from: state.nick, echo: text, online: clients.size }));
  });
});

server.listen(PORT, () => console.log(`websocket listening on port ${PORT}`));
