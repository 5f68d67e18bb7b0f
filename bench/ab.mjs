// ab.mjs — two checkouts of this repository, one process: the same bench workloads from each tree
// (each workload file imports its own tree's dist/index.js), interleaved sample by sample, so a
// loaded machine slows both alike. For a change that could move speed without a full `npm run
// bench` (about an hour): build both trees, then
//
//   node --experimental-wasm-relaxed-simd bench/ab.mjs <other checkout> <workload id> [...]
//
// e.g. `git worktree add ../base <commit> && (cd ../base && npm ci && npm run build)`, then
// `node --experimental-wasm-relaxed-simd bench/ab.mjs ../base L-LSH-4k S-HIER-4k`. Prints a
// Markdown table of median ms per tree (relaxed build, one thread) and their ratio. Workloads
// without a wasm-attention setup are listed as such.

import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [baseArg, ...ids] = process.argv.slice(2);
if (!baseArg || ids.length === 0) {
  console.error('usage: node --experimental-wasm-relaxed-simd bench/ab.mjs <other checkout> <workload id> [...]');
  process.exit(2);
}
const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const base = resolve(baseArg);
const SAMPLES = 11;
const engine = { id: 'wasm-attention/relaxed/1t', family: 'wasm-attention', isa: 'relaxed', threads: 1 };
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

/** The workloads of `root`'s bench/workloads/ with the requested ids. */
async function workloads(root) {
  const found = new Map();
  const dir = resolve(root, 'bench', 'workloads');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.mjs'))) {
    const mod = await import(pathToFileURL(resolve(dir, file)).href);
    for (const w of [mod.default].flat()) if (w && ids.includes(w.id)) found.set(w.id, w);
  }
  return found;
}

const [theirs, ours] = [await workloads(base), await workloads(here)];
console.log(`| workload | ${baseArg}, ms | this tree, ms | this / ${baseArg} |\n|---|---:|---:|---:|`);
for (const id of ids) {
  const setups = [theirs.get(id)?.setup?.['wasm-attention'], ours.get(id)?.setup?.['wasm-attention']];
  if (!setups[0] || !setups[1]) {
    console.log(`| ${id} | (no wasm-attention setup in ${setups[0] ? 'this tree' : baseArg}) | | |`);
    continue;
  }
  const runs = [await setups[0](engine, { quick: false }), await setups[1](engine, { quick: false })];
  for (let i = 0; i < 2; i++) for (const r of runs) await r.run();
  const ms = [[], []];
  for (let i = 0; i < SAMPLES; i++) {
    for (const side of i % 2 ? [0, 1] : [1, 0]) {
      const t0 = performance.now();
      await runs[side].run();
      ms[side].push(performance.now() - t0);
    }
  }
  const [a, b] = ms.map(median);
  console.log(`| ${id} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} |`);
  for (const r of runs) r.dispose?.();
}
