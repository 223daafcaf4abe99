// small-leaks: leaks that add no new object per request, or only one every few hundred
// requests, each with its bounded twin. `SHAPE` picks what a request keeps; `FIXED=1` picks
// the bounded variant of the same code. Plain `http`, no dependencies.
//
// | SHAPE       | leak (FIXED unset)                                        | twin (FIXED=1)                         |
// |-------------|-----------------------------------------------------------|----------------------------------------|
// | latencies   | `latencies.push(Date.now() - t0)`: a small integer stored | a ring buffer of the last 1000         |
// |             | inline in the array's backing store, ~8 B a request       |                                        |
// | ids         | `seen.set(Number(id), 1)` and `users.add(id)`: numbers in | a Map and a Set bounded to 1000 entries |
// |             | a Map's and a Set's hash tables, no object per entry      | (oldest deleted first)                 |
// | samples     | a Float64Array of timings, re-allocated 1.5x when full:   | a Float64Array ring of 4096 slots      |
// |             | 8 B a request off the JS heap                             |                                        |
// | text        | a module-level string appended to per request, ~13 B     | the last 4 KB of it                    |
// | rare-object | one small object kept per 500 requests                    | the last one                           |
// | rare-string | one 2 KB string kept per 2000 requests                    | the last one                           |
//
// Expected verdict: leak without FIXED, clean with FIXED=1.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const SHAPE = process.env.SHAPE || 'latencies';
const FIXED = process.env.FIXED === '1';
const BOUND = 1000;

let requests = 0;

// latencies
const latencies = FIXED ? new Array(BOUND).fill(0) : [];
let nextLatency = 0;
function keepLatency(ms) {
  if (FIXED) {
    latencies[nextLatency] = ms;
    nextLatency = (nextLatency + 1) % BOUND;
  } else {
    latencies.push(ms);
  }
}

// ids
const seen = new Map();
const users = new Set();
function keepId(id) {
  seen.set(Number(id), 1);
  users.add(id);
  if (FIXED) {
    while (seen.size > BOUND) seen.delete(seen.keys().next().value);
    while (users.size > BOUND) users.delete(users.values().next().value);
  }
}

// samples
let samples = new Float64Array(FIXED ? 4096 : 64);
let sampleCount = 0;
function keepSample(value) {
  if (FIXED) {
    samples[sampleCount % samples.length] = value;
    sampleCount += 1;
    return;
  }
  if (sampleCount === samples.length) {
    const bigger = new Float64Array(Math.ceil(samples.length * 1.5));
    bigger.set(samples);
    samples = bigger;
  }
  samples[sampleCount] = value;
  sampleCount += 1;
}

// text
let text = '';
function keepText(line) {
  text += line;
  if (FIXED && text.length > 4096) text = text.slice(-4096);
}

// rare-object and rare-string
const rare = [];
function keepRare(value, bound) {
  rare.push(value);
  if (FIXED && rare.length > bound) rare.shift();
}

function handle(url) {
  const t0 = Date.now();
  requests += 1;
  const id = url.split('/').pop() || '0';
  switch (SHAPE) {
    case 'latencies':
      keepLatency((Date.now() - t0 + requests) % 97);
      break;
    case 'ids':
      keepId(id);
      break;
    case 'samples':
      keepSample((Date.now() - t0) + requests / 7);
      break;
    case 'text':
      keepText(`GET ${id} ${requests % 10}\n`);
      break;
    case 'rare-object':
      if (requests % 500 === 0) keepRare({ at: requests, id }, 1);
      break;
    case 'rare-string':
      if (requests % 2000 === 0) keepRare(`${id}:`.padEnd(2048, 'x'), 1);
      break;
    default:
      throw new Error(`unknown SHAPE ${SHAPE}`);
  }
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  handle(req.url);
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`kept by ${SHAPE}\n`);
});

server.listen(PORT, () => {
  console.log(`small-leaks (${SHAPE}${FIXED ? ', fixed' : ''}) listening on port ${PORT}`);
});
