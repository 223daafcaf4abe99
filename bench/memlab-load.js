#!/usr/bin/env node
// Reference figure for the benchmark: how long memlab takes to fully load a
// V8 heap snapshot. Calls getFullHeapFromFile() from @memlab/heap-analysis,
// which parses the file and then runs preparePathFinder (shortest paths,
// dominators, retained sizes). Prints the node count, the load time, and
// the largest retainedSize (non-zero means the load computed retained sizes).
//
// memlab is not a dependency of this repo. Install it outside the repo:
//   mkdir -p /tmp/memlab-bench && cd /tmp/memlab-bench && npm init -y &&
//   PUPPETEER_SKIP_DOWNLOAD=1 npm install @memlab/heap-analysis @memlab/core
// Set MEMLAB_DIR to a different node_modules if needed
// (default /tmp/memlab-bench/node_modules).
//
// Usage (from the repo root):
//   /usr/bin/time -f '%e s %M KB' node --max-old-space-size=20000 \
//     bench/memlab-load.js bench/out/300mb.heapsnapshot
'use strict';
const path = require('path');

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/memlab-load.js FILE.heapsnapshot');
  process.exit(2);
}
const dir = process.env.MEMLAB_DIR || '/tmp/memlab-bench/node_modules';
const {getFullHeapFromFile} = require(
  require.resolve('@memlab/heap-analysis', {paths: [dir]}));

(async () => {
  const t0 = process.hrtime.bigint();
  const heap = await getFullHeapFromFile(path.resolve(file));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  let maxRetained = 0;
  heap.nodes.forEach(n => {
    if (n.retainedSize > maxRetained) maxRetained = n.retainedSize;
  });
  console.log(`nodes: ${heap.nodes.length}`);
  console.log(`load: ${secs.toFixed(2)} s`);
  console.log(`max retainedSize: ${maxRetained} (retained sizes ` +
    `${maxRetained > 0 ? 'computed' : 'NOT computed'} by the load)`);
})().catch(e => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
