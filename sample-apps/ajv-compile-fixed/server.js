// ajv-compile-fixed: validates each request's query against a JSON Schema with ajv.
//
//   GET /items/:id?qty=N  -> validates {id, qty} and answers whether it is valid
//
// The fix: the schema is compiled once, at start-up, and the one validator is used by every
// request, so ajv holds one compiled schema whatever the load.
// Leaking twin: ../ajv-compile (a schema compiled per request).
//
// Expected verdict: clean.
'use strict';

const http = require('node:http');
const Ajv = require('ajv');

const PORT = Number(process.env.PORT) || 3000;

const ajv = new Ajv({ allErrors: true });

function itemSchema() {
  return {
    type: 'object',
    properties: {
      id: { type: 'integer', minimum: 0 },
      qty: { type: 'integer', minimum: 1, maximum: 100 },
    },
    required: ['id', 'qty'],
    additionalProperties: false,
  };
}

const validate = ajv.compile(itemSchema());

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/health') {
    res.end('ok');
    return;
  }
  const match = /^\/items\/(\d+)$/.exec(url.pathname);
  if (!match) {
    res.statusCode = 404;
    res.end();
    return;
  }
  // The one validator compiled at start-up.
  const item = { id: Number(match[1]), qty: Number(url.searchParams.get('qty') || 1) };
  const valid = validate(item);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ valid, errors: validate.errors || [] }));
});

server.listen(PORT, () => {
  console.log(`ajv-compile-fixed listening on port ${PORT}`);
});
