// soak-threads.mjs — fresh threaded runtimes, first call, under load (`npm run soak:threads`).
//
// For each thread count, creates `--runs` fresh runtimes (createRuntime({ threads })), makes ONE
// attention call on each (q [1,4,256,64], k/v [1,2,300,64], causal: GQA, row-chunked tasks) and
// compares it bit for bit with a one-thread runtime. A child process spins on another core the
// whole time (`--no-load` turns it off), since the bugs this catches are races that show up when
// the machine is busy. Every other runtime also grows its memory between starting its pool and
// the first call (`--grow every|never|alternate`, default alternate). Prints mismatches, failed
// calls (thrown errors) per thread count and exits 1 if any. On the 2-core machine, before the
// pool's fix: 25, 8 and 3 of 400 first calls mismatched with 2, 3 and 4 threads.
//
//   node --experimental-wasm-relaxed-simd scripts/soak-threads.mjs [--runs 400] [--threads 2,3,4]
//        [--no-load] [--grow alternate|every|never] [--dist dist/index.js]

import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '400' },
    threads: { type: 'string', default: '2,3,4' },
    'no-load': { type: 'boolean', default: false },
    grow: { type: 'string', default: 'alternate' },
    dist: { type: 'string', default: 'dist/index.js' },
  },
});
const runs = Number(args.runs);
const threadCounts = args.threads.split(',').map(Number);
if (!['alternate', 'every', 'never'].includes(args.grow)) throw new Error(`--grow must be alternate, every or never, got ${args.grow}`);
const { createRuntime, createRuntimeSync } = await import(pathToFileURL(resolve(args.dist)).href);

/** mulberry32 in [-2, 2). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 4 - 2;
  };
}
const next = rng(20240601);
const tensor = (shape) => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next), shape });
const q = tensor([1, 4, 256, 64]);
const k = tensor([1, 2, 300, 64]);
const v = tensor([1, 2, 300, 64]);
const one = createRuntimeSync();
const want = one.attention(q, k, v, { causal: true }).data;
one.dispose();

/** Indices of differing floats, compared as bits (so -0 vs 0 and NaN payloads count). */
function differing(got) {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

// The load: a child spinning in 50 ms slices that exits by itself once this process is gone.
const SPIN = `const parent = Number(process.argv[1]);
for (;;) {
  const slice = Date.now() + 50;
  while (Date.now() < slice) {}
  try { process.kill(parent, 0); } catch { process.exit(0); }
}`;
const load = args['no-load'] ? undefined : spawn(process.execPath, ['-e', SPIN, String(process.pid)], { stdio: 'ignore' });

const summary = [];
try {
  for (const threads of threadCounts) {
    let mismatched = 0;
    let failed = 0;
    let wrongFloats = 0;
    const started = performance.now();
    for (let r = 0; r < runs; r++) {
      const rt = await createRuntime({ threads });
      try {
        if (rt.threads !== threads) throw new Error(`asked for ${threads} threads, got ${rt.threads}`);
        const grow = args.grow === 'every' || (args.grow === 'alternate' && r % 2 === 1);
        // Growing after the workers started: their first view of memory predates the growth.
        const ballast = grow ? rt.tensor([(8 << 20) / 4]) : undefined;
        let out;
        try {
          out = rt.attention(q, k, v, { causal: true }).data;
        } catch (error) {
          failed++;
          console.log(`  threads ${threads} run ${r}: threw ${error.code ?? ''} ${error.message}`);
        }
        if (out) {
          const n = differing(out);
          if (n) {
            mismatched++;
            wrongFloats += n;
            console.log(`  threads ${threads} run ${r}${grow ? ' (grown)' : ''}: ${n} of ${out.length} floats differ`);
          }
        }
        ballast?.dispose();
      } finally {
        rt.dispose();
      }
    }
    const seconds = (performance.now() - started) / 1000;
    summary.push({ threads, runs, mismatched, failed, wrongFloats, seconds: +seconds.toFixed(1) });
    console.log(`threads ${threads}: ${mismatched} of ${runs} first calls mismatched, ${failed} threw (${seconds.toFixed(1)} s)`);
  }
} finally {
  load?.kill();
}
console.table(summary);
process.exitCode = summary.some((s) => s.mismatched || s.failed) ? 1 : 0;
