// leakgate's load-script driver. It imports the spec's `load.script`, whose default export
// performs one iteration, and runs iterations when leakgate asks: one JSON command per line
// on stdin, one reply per line on stdout, marked so that the script's own output (also on
// stdout) is never mistaken for a reply.
//
//   -> {"start": 500, "count": 2000, "concurrency": 8, "max_failures": 20}
//   <- LEAKGATE-DRIVER {"done": 2000, "failed": 0, "errors": []}
//
// `done` counts the iterations that finished (or timed out); all of them have settled when
// the reply is sent, so nothing is in flight at a checkpoint. A thrown error or a rejected
// promise is a failed iteration.
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

const MARK = 'LEAKGATE-DRIVER ';
const config = JSON.parse(process.env.LEAKGATE_DRIVER || '{}');
const reply = (value) => process.stdout.write(MARK + JSON.stringify(value) + '\n');
const describe = (e) => (e && e.message ? e.message : String(e)).split('\n')[0].slice(0, 300);

process.on('unhandledRejection', (e) => {
  process.stderr.write(`load script: unhandled rejection: ${describe(e)}\n`);
});

let iteration;
try {
  const module = await import(pathToFileURL(config.script).href);
  iteration = module.default;
  if (typeof iteration !== 'function') {
    throw new Error(`its default export is ${typeof iteration}, not a function: write \`export default async function ({ url, i }) { ... }\``);
  }
} catch (e) {
  reply({ error: `cannot load ${config.script}: ${describe(e)}` });
  process.exit(1);
}
reply({ ready: true });

async function one(i) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${config.timeout_ms} ms`)), config.timeout_ms);
  });
  try {
    await Promise.race([iteration({ url: config.url, i }), timeout]);
    return null;
  } catch (e) {
    return describe(e);
  } finally {
    clearTimeout(timer);
  }
}

async function run({ start, count, concurrency, max_failures }) {
  const end = start + count;
  let next = start;
  let done = 0;
  let failed = 0;
  let stop = false;
  const errors = [];
  const worker = async () => {
    while (!stop && next < end) {
      const error = await one(next++);
      done += 1;
      if (error !== null) {
        failed += 1;
        if (errors.length < 5 && !errors.includes(error)) errors.push(error);
        if (failed > max_failures) stop = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { done, failed, errors };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  reply(await run(JSON.parse(line)));
}
process.exit(0);
