// catalogue: a clean service with a large heap. At startup it builds a product catalogue
// of about 100 MB on the JS heap (175 000 products, each an object with its own name,
// SKU, description and tag list, plus an index by category), the way a service loads a
// price list or a feature store into memory. Requests only read it: `GET /products/:n`
// renders one product, `GET /categories/:n` the cheapest products of one category.
// Nothing outlives a request, so the heap stays flat: the point of this app is its size,
// which makes every heap snapshot large (about 150 MB) and slow to take.
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT) || 3000;
const PRODUCTS = Number(process.env.CATALOGUE_PRODUCTS) || 175000;
const CATEGORIES = 500;
const TAGS = ['new', 'sale', 'eco', 'gift', 'bulk', 'import', 'local', 'premium'];
const WORDS = ['steel', 'oak', 'linen', 'glass', 'copper', 'wool', 'cedar', 'slate',
  'cotton', 'brass', 'maple', 'stone', 'silk', 'clay', 'bamboo', 'leather'];

// A small deterministic generator (mulberry32), so every boot builds the same catalogue.
let seed = 42;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];

function describe(n) {
  const words = ['A'];
  for (let i = 0; i < 40; i++) words.push(pick(WORDS));
  words.push(`ships from store ${n % 97}.`);
  return words.join(' ');
}

function buildCatalogue() {
  const products = new Array(PRODUCTS);
  const byCategory = Array.from({ length: CATEGORIES }, () => []);
  for (let n = 0; n < PRODUCTS; n++) {
    const category = n % CATEGORIES;
    const product = {
      id: n,
      // `join` makes flat strings, as text read from a file or a database would be.
      sku: ['SKU', n.toString(36).toUpperCase().padStart(6, '0')].join('-'),
      name: [pick(WORDS), pick(WORDS), pick(WORDS), 'no.', n].join(' '),
      description: describe(n),
      price: Math.round(random() * 100000) / 100,
      stock: Math.floor(random() * 500),
      category,
      tags: [pick(TAGS), pick(TAGS), pick(TAGS)],
    };
    products[n] = product;
    byCategory[category].push(product);
  }
  for (const list of byCategory) list.sort((a, b) => a.price - b.price);
  return { products, byCategory };
}

const catalogue = buildCatalogue();

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  let m = /^\/products\/(\d+)$/.exec(req.url);
  if (m) {
    const p = catalogue.products[Number(m[1]) % PRODUCTS];
    send(res, 200, { sku: p.sku, name: p.name, price: p.price, stock: p.stock, tags: p.tags });
    return;
  }
  m = /^\/categories\/(\d+)$/.exec(req.url);
  if (m) {
    const list = catalogue.byCategory[Number(m[1]) % CATEGORIES];
    send(res, 200, list.slice(0, 10).map((p) => ({ sku: p.sku, price: p.price })));
    return;
  }
  send(res, 404, { error: 'not found' });
});

server.listen(PORT, () => {
  console.log(`catalogue of ${PRODUCTS} products listening on port ${PORT}`);
});
