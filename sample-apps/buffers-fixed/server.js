// buffers-fixed: the same thumbnail endpoint as ../buffers without the queue.
//
// The fix: the rendered thumbnail is handed straight to the (simulated) uploader,
// which checksums it and returns; nothing keeps a reference to the Buffer after the
// response is sent. Each request still allocates 4 KiB of native memory, but it is
// per-request garbage, freed when the Buffer is collected.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const THUMB_BYTES = 4096;

function renderThumbnail(id) {
  const buf = Buffer.alloc(THUMB_BYTES, id % 251);
  buf.writeUInt32BE(id >>> 0, 0);
  return buf;
}

function checksum(buf) {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 64) sum = (sum + buf[i]) | 0;
  return sum;
}

// Stand-in for an object-storage client: consumes the body and keeps nothing.
function upload(key, body) {
  return { key, etag: checksum(body) };
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
  const { etag } = upload(`thumbs/${id}.bin`, thumb); // <- the fix: no queue
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id, bytes: thumb.length, checksum: etag }));
});

server.listen(PORT, () => {
  console.log(`buffers-fixed listening on port ${PORT}`);
});
