// demo.mjs — the main job (`npm run demo`): multi-head scaled dot-product attention on a
// BERT-base-sized input (12 heads, 512 tokens, head size 64), checked against a float64
// reference, timed against a plain-JavaScript loop and onnxruntime-web (wasm, one thread) in
// the same process. Run with `--experimental-wasm-relaxed-simd` on Node 20 to include the
// relaxed-SIMD build (npm run demo does).
//
//   node --experimental-wasm-relaxed-simd bench/demo.mjs [--heads 12] [--tokens 512] [--head-size 64] [--causal]

import { parseArgs } from 'node:util';
import { createRuntimeSync, isaSupported } from '../dist/index.js';
import { ortWebAttentionSession } from './engines/ort-web.mjs';
import { float64Attention, plainJsAttention } from './engines/plain-js.mjs';
import { median, seededRandom, timeIt } from './engines/timing.mjs';

const { values: args } = parseArgs({
  options: {
    heads: { type: 'string', default: '12' },
    tokens: { type: 'string', default: '512' },
    'head-size': { type: 'string', default: '64' },
    causal: { type: 'boolean', default: false },
    'skip-ort': { type: 'boolean', default: false },
  },
});
const H = Number(args.heads);
const N = Number(args.tokens);
const D = Number(args['head-size']);
const causal = args.causal;
const shape = [1, H, N, D];
const size = H * N * D;
// 4·N²·D per head (Q·Kᵀ and P·V, a multiply and an add each); causal does about half.
const flops = 4 * H * N * N * D * (causal ? 0.5 : 1);
const gflops = (ms) => (flops / ms / 1e6).toFixed(1);

const random = seededRandom(42);
const q = Float32Array.from({ length: size }, () => random() * 2 - 1);
const k = Float32Array.from({ length: size }, () => random() * 2 - 1);
const v = Float32Array.from({ length: size }, () => random() * 2 - 1);

console.log(`wasm-attention demo: multi-head attention, ${H} heads × ${N} tokens × head size ${D}${causal ? ', causal' : ''}`);
console.log(`work: ${(flops / 1e9).toFixed(2)} GFLOP per call\n`);

const reference = float64Attention(q, k, v, H, N, D, causal);
const rows = [];

for (const isa of ['simd128', 'relaxed']) {
  if (!isaSupported(isa)) {
    console.log(`(${isa}: not supported by this engine${isa === 'relaxed' ? ' — run node with --experimental-wasm-relaxed-simd' : ''})`);
    continue;
  }
  const rt = createRuntimeSync({ isa });
  const qt = rt.tensor(shape, q);
  const kt = rt.tensor(shape, k);
  const vt = rt.tensor(shape, v);
  const out = rt.tensor(shape);
  const run = () => rt.attention(qt, kt, vt, { out, causal });
  const ms = timeIt(run, { warmup: 8, runs: 21 });
  let maxErr = 0;
  const got = out.data;
  for (let i = 0; i < size; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - reference[i]));
  rows.push({ engine: `wasm-attention (${isa}, fused)`, ms, err: maxErr });
  rt.dispose();
}

if (!args['skip-ort']) {
  try {
    const ort = await ortWebAttentionSession(shape, causal);
    const times = [];
    for (let i = 0; i < 3; i++) await ort.run(q, k, v);
    let y;
    for (let i = 0; i < 9; i++) {
      const t = performance.now();
      y = await ort.run(q, k, v);
      times.push(performance.now() - t);
    }
    let maxErr = 0;
    for (let i = 0; i < size; i++) maxErr = Math.max(maxErr, Math.abs(y[i] - reference[i]));
    rows.push({ engine: 'onnxruntime-web (wasm, 1 thread)', ms: median(times), err: maxErr });
  } catch (e) {
    console.log(`(onnxruntime-web unavailable: ${e.message})`);
  }
}

{
  const times = [];
  let y;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    y = plainJsAttention(q, k, v, H, N, D, causal);
    times.push(performance.now() - t);
  }
  let maxErr = 0;
  for (let i = 0; i < size; i++) maxErr = Math.max(maxErr, Math.abs(y[i] - reference[i]));
  rows.push({ engine: 'plain JavaScript loop', ms: median(times), err: maxErr });
}

const pad = (s, n) => String(s).padEnd(n);
console.log(pad('engine', 36) + pad('median ms', 12) + pad('GFLOP/s', 10) + 'max |error| vs float64');
for (const r of rows) console.log(pad(r.engine, 36) + pad(r.ms.toFixed(2), 12) + pad(gflops(r.ms), 10) + r.err.toExponential(2));
const best = rows.filter((r) => r.engine.startsWith('wasm-attention')).sort((a, b) => a.ms - b.ms)[0];
const ortRow = rows.find((r) => r.engine.startsWith('onnxruntime-web'));
const jsRow = rows.find((r) => r.engine.startsWith('plain'));
console.log('');
if (best && ortRow) console.log(`fastest wasm-attention build is ${(ortRow.ms / best.ms).toFixed(2)}× onnxruntime-web`);
if (best && jsRow) console.log(`fastest wasm-attention build is ${(jsRow.ms / best.ms).toFixed(1)}× the plain JavaScript loop`);
const worst = Math.max(...rows.filter((r) => r.engine.startsWith('wasm-attention')).map((r) => r.err));
if (!(worst < 1e-5)) {
  console.error(`error ${worst} exceeds 1e-5: FAILED`);
  process.exit(1);
}
console.log(`max |error| of wasm-attention vs the float64 reference: ${worst.toExponential(2)} (≤ 1e-5: OK)`);
