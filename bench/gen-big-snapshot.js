'use strict';
// Builds a large heap of small objects and writes one heap snapshot.
//
//   node --max-old-space-size=12000 bench/gen-big-snapshot.js SIZE_MB OUT
//
// The heap is a mix of plain objects with several properties, many distinct
// strings, closures with contexts, Maps with entries, arrays and a few
// Buffers. The number of units is scaled linearly from SIZE_MB using
// BYTES_PER_UNIT, measured on Node 20 (one unit ~= 6.9 nodes, ~22 edges and
// ~600 bytes of the written snapshot; 300 MB ~= 3.6 M nodes, 11.6 M edges).
const fs = require('fs');
const v8 = require('v8');

// A bare Node 20 process already writes a ~4 MB snapshot.
const BASE_MB = 4;
// Bytes per unit grow slowly with size (longer ids and node indices).
const BYTES_PER_UNIT = Number(process.env.BYTES_PER_UNIT || 0);

const sizeMb = Number(process.argv[2]);
const out = process.argv[3];
if (!(sizeMb > 0) || !out) {
  console.error('usage: node --max-old-space-size=12000 gen-big-snapshot.js SIZE_MB OUT');
  process.exit(2);
}

const bytesPerUnit = BYTES_PER_UNIT || 587 + 0.02 * sizeMb;
const units = Math.max(1000, Math.round((Math.max(sizeMb - BASE_MB, 1) * 1048576) / bytesPerUnit));
const KINDS = [];
for (let k = 0; k < 64; k++) KINDS.push('kind-' + k);

const WORDS = [
  'session-cache-entry-for-tenant-request',
  'pending-upstream-connection-descriptor',
  'serialized-response-body-fragment-ref',
  'template-render-context-with-locals',
  'rate-limiter-bucket-for-client-address',
  'websocket-subscription-topic-listener',
  'database-row-projection-with-columns',
  'feature-flag-evaluation-result-record',
];

class Item {
  constructor(i, prev) {
    this.id = i;
    // join() yields one flat, distinct string per item.
    this.name = ['item', i, ((i * 7919) % 1000003).toString(36), WORDS[i % WORDS.length]].join('-');
    this.kind = KINDS[i % KINDS.length];
    this.score = i + 0.25;
    this.prev = prev;
    this.flags = [i & 1, i & 2, i & 4];
  }
}

function makeClosure(i, item) {
  const label = 'c' + i;
  return function onEvent(x) {
    return item.id + x + label.length;
  };
}

const roots = [];
let chunk = [];
let prev = null;
for (let i = 0; i < units; i++) {
  const item = new Item(i, (i & 15) === 0 ? null : prev);
  chunk.push(item);
  prev = item;
  if (i % 3 === 0) {
    chunk.push({ ref: item, meta: { created: i, owner: KINDS[(i >> 3) % KINDS.length] } });
  }
  if (i % 4 === 0) chunk.push(makeClosure(i, item));
  if (i % 40 === 0) {
    const m = new Map();
    for (let q = 0; q < 8; q++) m.set('m' + i + ':' + q, { q, v: item });
    chunk.push(m);
  }
  if (i % 5000 === 0) chunk.push(Buffer.alloc(1024 + (i % 7) * 512));
  if (chunk.length >= 65536) {
    roots.push(chunk);
    chunk = [];
  }
}
roots.push(chunk);
globalThis.bigHeap = roots;

const t0 = Date.now();
v8.writeHeapSnapshot(out);
const secs = (Date.now() - t0) / 1000;

// node_count and edge_count are in the first line of the file.
const fd = fs.openSync(out, 'r');
const head = Buffer.alloc(4096);
fs.readSync(fd, head, 0, head.length, 0);
fs.closeSync(fd);
const h = head.toString('latin1');
const nodeCount = /"node_count":(\d+)/.exec(h);
const edgeCount = /"edge_count":(\d+)/.exec(h);
const bytes = fs.statSync(out).size;
console.log(
  `${out}: ${(bytes / 1048576).toFixed(1)} MB, units ${units}, ` +
    `nodes ${nodeCount ? nodeCount[1] : '?'}, edges ${edgeCount ? edgeCount[1] : '?'}, ` +
    `written in ${secs.toFixed(1)} s (${(bytes / units).toFixed(0)} bytes/unit)`,
);
