// ajv-compile: validates each request's query against a JSON Schema with ajv.
//
//   GET /items/:id?qty=N  -> validates {id, qty} and answers whether it is valid
//
// What leaks: the schema object is built inside the handler, so every request hands ajv a
// new schema and calls `ajv.compile` on it. Ajv caches compiled schemas by the schema
// object itself (its `_cache` Map) and keeps them for the instance's life, so each request
// leaves a compiled validator (its generated source, scope values and schema environment),
// several KB a request, held by the module-level `ajv` instance.
// Why: `compile` looks like a pure function; its cache is an implementation detail.
// Fixed twin: ../ajv-compile-fixed (the validator is compiled once, at start-up).
//
// Expected verdict: leak.
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
  const validate = ajv.compile(itemSchema()); // a new schema, compiled and cached, per request
  const item = { id: Number(match[1]), qty: Number(url.searchParams.get('qty') || 1) };
  const valid = validate(item);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ valid, errors: validate.errors || [] }));
});

server.listen(PORT, () => {
  console.log(`ajv-compile listening on port ${PORT}`);
});
