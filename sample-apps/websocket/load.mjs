// One iteration of a chat client: connect, send a message, wait for the echo, disconnect.
// Uses the same `ws` package as the server (resolved from this folder's node_modules).
import WebSocket from 'ws';

export default async function ({ url, i }) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const echo = new Promise((resolve, reject) => {
    socket.once('message', (data) => resolve(JSON.parse(data.toString())));
    socket.once('error', reject);
  });
  socket.send(`hello ${i}`);
  const answer = await echo;
  if (answer.echo !== `hello ${i}`) throw new Error(`unexpected echo ${JSON.stringify(answer)}`);
  await new Promise((resolve) => {
    socket.once('close', resolve);
    socket.close();
  });
}
