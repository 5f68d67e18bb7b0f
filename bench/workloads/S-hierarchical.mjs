// S-HIER — hierarchical attention at N = 4096, 12 heads of 64, batch 1: tokens →
// segments of 64 tokens → sections of 8 segments → document; G = mean (tokens → segments) and
// attention pooling with a learned query per head (segments → sections, sections → document);
// token output = mean of the three levels. Time (median ms) and peak Wasm memory.
// Inputs are seeded uniform [−1, 1) Wasm-resident tensors, the token output `out:` resident.
// The check evaluates heads 0 and 7 completely in float64 (every level, from the definition in
// src/attention/hierarchical.ts) and reports the largest |error| of the token output.

import { seededRandom } from '../engines/timing.mjs';

const H = 12;
const D = 64;
const N = 4096;
const SEG = 64;
const SEC = 8;

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

let cached;
function inputs() {
  if (!cached) {
    const random = seededRandom(0x6000);
    const make = (n) => Float32Array.from({ length: n }, () => random() * 2 - 1);
    cached = { q: make(H * N * D), k: make(H * N * D), v: make(H * N * D), w: make(H * D) };
  }
  return cached;
}

const options = (t) => ({ levels: [SEG, SEC], aggregate: ['mean', { query: t.w }, { query: t.w }], combine: 'mean', out: t.o });

/** Softmax attention of query x over rows (each { k, v } arrays of D), float64. */
function attend(x, keys, scale) {
  const s = keys.map(({ k }) => {
    let d = 0;
    for (let e = 0; e < D; e++) d += x[e] * k[e];
    return scale * d;
  });
  const m = Math.max(...s);
  const p = s.map((z) => Math.exp(z - m));
  const sum = p.reduce((a, b) => a + b, 0);
  const out = new Float64Array(D);
  keys.forEach(({ v }, j) => {
    for (let e = 0; e < D; e++) out[e] += (p[j] / sum) * v[e];
  });
  return out;
}

function expectedHead(x, h) {
  const scale = 1 / Math.sqrt(D);
  const row = (a, i) => a.subarray((h * N + i) * D, (h * N + i + 1) * D);
  const w = x.w.subarray(h * D, (h + 1) * D);
  const O0 = [];
  for (let i = 0; i < N; i++) {
    const s0 = Math.floor(i / SEG) * SEG;
    const keys = [];
    for (let j = s0; j < s0 + SEG; j++) keys.push({ k: row(x.k, j), v: row(x.v, j) });
    O0.push(attend(row(x.q, i), keys, scale));
  }
  const mean = (rows) => {
    const m = new Float64Array(D);
    for (const r of rows) for (let e = 0; e < D; e++) m[e] += r[e] / rows.length;
    return m;
  };
  const pool = (rows) => attend(w, rows.map((r) => ({ k: r, v: r })), scale);
  const within = (X, g) => X.map((xi, i) => {
    const a = Math.floor(i / g) * g;
    return attend(xi, X.slice(a, Math.min(a + g, X.length)).map((r) => ({ k: r, v: r })), scale);
  });
  const X1 = [];
  for (let s = 0; s < N / SEG; s++) X1.push(mean(O0.slice(s * SEG, (s + 1) * SEG)));
  const O1 = within(X1, SEC);
  const X2 = [];
  for (let s = 0; s < O1.length / SEC; s++) X2.push(pool(O1.slice(s * SEC, (s + 1) * SEC)));
  const O2 = within(X2, X2.length);
  return O0.map((o0, t) => {
    const y = new Float64Array(D);
    const o1 = O1[Math.floor(t / SEG)];
    const o2 = O2[Math.floor(t / SEG / SEC)];
    for (let e = 0; e < D; e++) y[e] = (o0[e] + o1[e] + o2[e]) / 3;
    return y;
  });
}

export default {
  id: 'S-HIER-4k',
  order: 700,
  title: `hierarchical attention, N=${N}, 12 heads, head size 64`,
  unit: 'ms',
  work: 0,
  workText: `rt.hierarchicalAttention: segments of ${SEG} tokens, sections of ${SEC} segments, document; G = mean, then learned-query pooling; token output = mean of the 3 levels`,
  setup: {
    'wasm-attention': async (engine) => {
      const { createRuntime, createRuntimeSync } = await loadLib();
      const rt = engine.threads > 1 ? await createRuntime({ isa: engine.isa, threads: engine.threads }) : createRuntimeSync({ isa: engine.isa });
      const x = inputs();
      const t = {
        q: rt.tensor([1, H, N, D], x.q), k: rt.tensor([1, H, N, D], x.k), v: rt.tensor([1, H, N, D], x.v),
        w: rt.tensor([H, D], x.w), o: rt.tensor([1, H, N, D]),
      };
      return {
        run: () => rt.hierarchicalAttention(t.q, t.k, t.v, options(t)),
        check: () => {
          rt.hierarchicalAttention(t.q, t.k, t.v, options(t));
          const got = t.o.data;
          let max = 0;
          for (const h of [0, 7]) {
            expectedHead(x, h).forEach((want, i) => {
              for (let e = 0; e < D; e++) {
                const err = Math.abs(got[(h * N + i) * D + e] - want[e]);
                if (!(err <= max)) max = Number.isNaN(err) ? Infinity : err;
              }
            });
          }
          return max;
        },
        memoryBytes: () => rt.memoryBytes,
        dispose: () => rt.dispose(),
      };
    },
  },
};
