// buffers: a plain `http` thumbnail endpoint that keeps every rendered thumbnail.
//
// `GET /thumbnails/:id` renders a 4 KiB thumbnail into a Buffer, answers with a small
// JSON summary, and queues the Buffer in a module-level `pendingUploads` array for a
// batch upload to object storage that is never run.
//
// What leaks: `pendingUploads` keeps one 4 KiB Buffer per request. Most of that growth
// is OFF the JS heap (the Buffer's backing store is native memory); on the JS heap each
// request only adds a small Buffer/ArrayBuffer wrapper. Tools that only look at heap
// object sizes see a few hundred bytes per request; the native size is 4 KiB.
// Why: a queue with a producer and no consumer.
// Fixed twin: ../buffers-fixed (Buffers are per-request garbage only).
//
// Expected verdict: leak.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const THUMB_BYTES = 4096;

const pendingUploads = []; // filled by every request, drained by nothing

function renderThumbnail(id) {
  // Buffer.alloc of 4 KiB gets its own backing store (not the shared 8 KiB pool).
  const buf = Buffer.alloc(THUMB_BYTES, id % 251);
  buf.writeUInt32BE(id >>> 0, 0);
  return buf;
}

function checksum(buf) {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 64) sum = (sum + buf[i]) | 0;
  return sum;
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  const m = /^\/thumbnails\/(\d+)/.exec(req.url);
  if (req.method !== 'GET' || !m) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  const id = Number(m[1]);
  const thumb = renderThumbnail(id);
  pendingUploads.push({ key: `thumbs/${id}.bin`, body: thumb }); // the leak
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id, bytes: thumb.length, checksum: checksum(thumb) }));
});

server.listen(PORT, () => {
  console.log(`buffers listening on port ${PORT}`);
});
