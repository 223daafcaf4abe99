// A leak inside an app that allocates a lot per request: each request builds ~300 KB of
// short-lived objects, compiles a small function (V8 keeps its code, bytecode and shapes) and
// keeps ten `Entry` objects. So much allocation makes leakgate sample more coarsely, and the
// compiled code's survivors are samples of sizes that read like an `Entry`'s.
'use strict';

const http = require('node:http');

class Entry {
  constructor(id, slot, fn) {
    this.id = id;
    this.slot = slot;
    this.fn = fn;
  }
}

const kept = [];

function handle(i) {
  let sum = 0;
  for (let k = 0; k < 6000; k++) {
    const temp = { k, label: `item-${k}` };
    sum += temp.label.length;
  }
  const fn = new Function('a', `return a + ${i};`);
  for (let slot = 0; slot < 10; slot++) {
    kept.push(new Entry(i, slot, fn));
  }
  return sum + fn(kept.length);
}

let served = 0;
http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    res.end(String(handle(served++)));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
