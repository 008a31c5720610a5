// Runs copilot.js in Node (V8, real ES modules) for the Go cross-check and benchmark
// (internal/edge/node_test.go). Usage: node copilot_node.mjs <path to copilot.js> < job.json
//
// job.json: {"cases": [{"name", "kvs": {key: value}, "fail": bool, "event": {...}}],
//            "bench": [{"name", "kvs", "event"}], "iterations": N}
// Prints {"results": [{"name", "result"}], "bench": [{"name", "nsPerRequest", "iterations"}]}.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';

const copilotURL = pathToFileURL(process.argv[2]).href;
register('./copilot_hooks.mjs', import.meta.url, { data: { copilotURL } });

const job = JSON.parse(readFileSync(0, 'utf8'));
globalThis.__cvsKVS = { items: {}, fail: false };
const { handler } = await import(copilotURL);

const results = [];
for (const c of job.cases) {
  globalThis.__cvsKVS.items = c.kvs || {};
  globalThis.__cvsKVS.fail = !!c.fail;
  let result;
  try {
    result = await handler(c.event);
  } catch (e) {
    result = { error: String(e) };
  }
  results.push({ name: c.name, result });
}

const bench = [];
for (const b of job.bench || []) {
  globalThis.__cvsKVS.items = b.kvs || {};
  globalThis.__cvsKVS.fail = false;
  const n = job.iterations;
  for (let i = 0; i < Math.min(n, 2000); i++) {
    await handler(b.event); // warm up the JIT
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await handler(b.event);
  }
  const ns = Number(process.hrtime.bigint() - start);
  bench.push({ name: b.name, nsPerRequest: ns / n, iterations: n });
}

process.stdout.write(JSON.stringify({ results, bench }));
