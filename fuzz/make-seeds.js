#!/usr/bin/env node
'use strict';
// Writes small but real-structured heap snapshots for the fuzzer's seed corpus.
//
// A real Node snapshot is ~4 MB, far too big for the fuzzer to mutate usefully. This script
// keeps the structure of a real one (its `meta`, field layouts, node and edge types, V8's own
// string escapes) and shrinks its content to a consistent miniature: a chosen set of nodes
// (the first N, plus optionally the nodes named by awkward strings), only the edges between
// them, `edge_count` per node and in the header recomputed, `to_node` offsets and `locations`
// renumbered, and a string table holding only the strings still named, copied byte for byte
// from the original (so V8's escapes survive as V8 wrote them). It also writes truncated
// prefixes of one miniature, which must be read as errors.
//
//   node fuzz/make-seeds.js [FIXTURES_DIR] [OUT_DIR]
//
// Defaults: harness/tests/fixtures and fuzz/seeds (relative to the repository root).

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const root = path.resolve(__dirname, '..');
const fixtures = path.resolve(process.argv[2] || path.join(root, 'harness/tests/fixtures'));
const outDir = path.resolve(process.argv[3] || path.join(__dirname, 'seeds'));
const MAX_SEED = 64 * 1024;

function load(file) {
  let bytes = fs.readFileSync(path.join(fixtures, file));
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes);
  // Numbers and the header come from JSON.parse; strings are taken raw (see rawStrings).
  const doc = JSON.parse(bytes.toString('utf8'));
  return { doc, strings: rawStrings(bytes) };
}

// The raw bytes of every entry of the `strings` array, quotes included, as V8 wrote them.
function rawStrings(bytes) {
  const key = Buffer.from('"strings":[');
  let i = bytes.indexOf(key);
  if (i < 0) throw new Error('no strings section');
  i += key.length;
  const out = [];
  for (;;) {
    while (' \n\r\t,'.includes(String.fromCharCode(bytes[i]))) i++;
    if (bytes[i] === 0x5d /* ] */) return out;
    if (bytes[i] !== 0x22 /* " */) throw new Error(`unexpected byte at ${i}`);
    let j = i + 1;
    while (bytes[j] !== 0x22) j += bytes[j] === 0x5c /* \ */ ? 2 : 1;
    out.push(bytes.subarray(i, j + 1));
    i = j + 1;
  }
}

// Builds the miniature over the nodes `keep` (sorted ordinals of the original).
function miniature({ doc, strings }, keep) {
  const meta = doc.snapshot.meta;
  const nw = meta.node_fields.length;
  const ew = meta.edge_fields.length;
  const nf = (name) => meta.node_fields.indexOf(name);
  const ef = (name) => meta.edge_fields.indexOf(name);
  const [nType, nName, nEdges] = [nf('type'), nf('name'), nf('edge_count')];
  const [eType, eName, eTo] = [ef('type'), ef('name_or_index'), ef('to_node')];
  const edgeTypes = meta.edge_types[eType];
  const byIndex = new Set(['element', 'hidden'].map((t) => edgeTypes.indexOf(t)));

  const newOrdinal = new Map(keep.map((old, i) => [old, i]));
  const stringMap = new Map(); // old string index -> new
  const newStrings = [];
  const str = (old) => {
    if (!stringMap.has(old)) {
      stringMap.set(old, newStrings.length);
      newStrings.push(strings[old]);
    }
    return stringMap.get(old);
  };
  // String 0 is V8's "<dummy>"; keep it first, as V8 does.
  str(0);

  // Edge ranges of the original nodes.
  const firstEdge = new Array(doc.nodes.length / nw + 1);
  firstEdge[0] = 0;
  for (let n = 0; n * nw < doc.nodes.length; n++) {
    firstEdge[n + 1] = firstEdge[n] + doc.nodes[n * nw + nEdges] * ew;
  }

  const nodes = [];
  const edges = [];
  for (const old of keep) {
    const rec = doc.nodes.slice(old * nw, old * nw + nw);
    rec[nName] = str(rec[nName]);
    let kept = 0;
    for (let e = firstEdge[old]; e < firstEdge[old + 1]; e += ew) {
      const edge = doc.edges.slice(e, e + ew);
      const target = newOrdinal.get(edge[eTo] / nw);
      if (target === undefined) continue;
      edge[eTo] = target * nw;
      if (!byIndex.has(edge[eType])) edge[eName] = str(edge[eName]);
      edges.push(edge);
      kept++;
    }
    rec[nEdges] = kept;
    nodes.push(rec);
  }

  const locations = [];
  const lf = meta.location_fields || [];
  const lw = lf.length;
  const lObject = lf.indexOf('object_index');
  for (let i = 0; lw && i < (doc.locations || []).length; i += lw) {
    const loc = doc.locations.slice(i, i + lw);
    const target = newOrdinal.get(loc[lObject] / nw);
    if (target === undefined) continue;
    loc[lObject] = target * nw;
    locations.push(loc);
  }

  const header = { ...doc.snapshot, node_count: nodes.length, edge_count: edges.length };
  // V8's own layout: one record per line, each line after the first led by a comma.
  const rows = (recs) => recs.map((r, i) => (i ? ',' : '') + r.join(',')).join('\n');
  const parts = [
    Buffer.from(
      `{"snapshot":${JSON.stringify(header)},\n` +
        `"nodes":[${rows(nodes)}],\n` +
        `"edges":[${rows(edges)}],\n` +
        `"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n` +
        `"locations":[${rows(locations)}],\n"strings":[`,
    ),
  ];
  newStrings.forEach((s, i) => parts.push(Buffer.from(i ? ',\n' : ''), s));
  parts.push(Buffer.from(']}'));
  return Buffer.concat(parts);
}

const first = (n) => Array.from({ length: n }, (_, i) => i);

// Nodes named by the strings matching `re` (strings-0's "lgmark:" strings), after the first N.
function firstPlusNamed(snap, n, re) {
  const { doc, strings } = snap;
  const nw = doc.snapshot.meta.node_fields.length;
  const nName = doc.snapshot.meta.node_fields.indexOf('name');
  const extra = [];
  for (let i = n; i * nw < doc.nodes.length; i++) {
    if (re.test(strings[doc.nodes[i * nw + nName]].toString('latin1'))) extra.push(i);
  }
  return first(n).concat(extra);
}

function write(name, bytes) {
  if (bytes.length > MAX_SEED) throw new Error(`${name} is ${bytes.length} bytes`);
  fs.writeFileSync(path.join(outDir, name), bytes);
  console.log(`${name}\t${bytes.length}`);
}

fs.mkdirSync(outDir, { recursive: true });
const clean = load('clean-0.heapsnapshot.gz');
const small = miniature(clean, first(40));
write('clean-40.heapsnapshot', small);
write('clean-400.heapsnapshot', miniature(clean, first(400)));
write('keeper-300.heapsnapshot', miniature(load('keeper-1.heapsnapshot.gz'), first(300)));
write('buffers-250.heapsnapshot', miniature(load('buffers-1.heapsnapshot.gz'), first(250)));
// Closure nodes come late; their locations only survive if their nodes are kept.
const closures = load('closures-1.heapsnapshot.gz');
const closureNodes = [];
{
  const meta = closures.doc.snapshot.meta;
  const nw = meta.node_fields.length;
  const lw = meta.location_fields.length;
  const lObject = meta.location_fields.indexOf('object_index');
  for (let i = 0; i < closures.doc.locations.length && closureNodes.length < 150; i += lw) {
    closureNodes.push(closures.doc.locations[i + lObject] / nw);
  }
}
const closureKeep = [...new Set(first(60).concat(closureNodes))].sort((a, b) => a - b);
write('closures-locations.heapsnapshot', miniature(closures, closureKeep));
const strings = load('strings-0.heapsnapshot.gz');
write('strings-awkward.heapsnapshot', miniature(strings, firstPlusNamed(strings, 30, /^"lgmark:/)));
// Truncated prefixes of the smallest miniature: inside the header, `nodes`, `edges`, `strings`.
for (const [label, at] of [
  ['header', small.indexOf('"edge_types"')],
  ['nodes', small.indexOf('"edges"') - 20],
  ['edges', small.indexOf('"trace_function_infos"') - 7],
  ['strings', small.length - 9],
]) {
  write(`clean-40.cut-${label}.heapsnapshot`, small.subarray(0, at));
}
