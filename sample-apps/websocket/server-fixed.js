// websocket (fixed): the same chat server; a connection's state record is removed from the
// Map when its socket closes, so the Map holds the clients connected at the moment.
//
// Expected verdict: clean.
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
  socket.on('close', () => clients.delete(id));
  socket.on('message', (data) => {
    const text = data.toString();
    state.history.push({ text, at: Date.now() });
    socket.send(JSON.stringify({ from: state.nick, echo: text, online: clients.size }));
  });
});

server.listen(PORT, () => console.log(`websocket listening on port ${PORT}`));
