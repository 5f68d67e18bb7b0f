// S-TXL — Transformer-XL attention with recurrent memory: a 4096-token sequence fed
// in 8 segments of 512 with memoryLength 512 (each segment attends to 1024 keys: its memory and
// itself, causal), 12 heads of 64, relative positions with u, v and W_r (dModel 768, sinusoidal
// [sin | cos] encodings), batch 1. One timed run = reset + the 8 segments (out: resident).
// Inputs seeded uniform [−1, 1); u, v uniform [−0.1, 0.1); W_r uniform [−1, 1)/√768.
// The check evaluates sampled rows of the last segment (heads 0 and 7) in float64 from the
// definition: score = ((q + u)·k_j + (q + v)·W_r R_{p−j}) / 8 over the 1024 visible keys.

import { seededRandom } from '../engines/timing.mjs';

const H = 12;
const D = 64;
const N = 4096;
const SEG = 512;
const M = 512;
const DM = 768;

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

let cached;
function inputs() {
  if (!cached) {
    const random = seededRandom(0x6001);
    const make = (n, s = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * s);
    cached = { q: make(H * N * D), k: make(H * N * D), v: make(H * N * D), u: make(H * D, 0.1), vb: make(H * D, 0.1), wr: make(H * D * DM, 1 / Math.sqrt(DM)) };
  }
  return cached;
}

/** Rows [a, b) of every head of a [1, H, N, D] array. */
function rows(a, s0, s1) {
  const out = new Float32Array(H * (s1 - s0) * D);
  for (let h = 0; h < H; h++) out.set(a.subarray((h * N + s0) * D, (h * N + s1) * D), h * (s1 - s0) * D);
  return out;
}

function expectedRows(x, h, wanted) {
  const scale = 1 / Math.sqrt(D);
  const s0 = N - SEG;
  // r_δ = W_r[h] · R_δ for δ = 0 … SEG + M − 1
  const half = DM / 2;
  const r = [];
  for (let d = 0; d < SEG + M; d++) {
    const pe = new Float64Array(DM);
    for (let c = 0; c < half; c++) {
      const f = 1 / 10000 ** ((2 * c) / DM);
      pe[c] = Math.sin(d * f);
      pe[half + c] = Math.cos(d * f);
    }
    const rd = new Float64Array(D);
    for (let e = 0; e < D; e++) {
      let acc = 0;
      const w = (h * D + e) * DM;
      for (let c = 0; c < DM; c++) acc += x.wr[w + c] * pe[c];
      rd[e] = acc;
    }
    r.push(rd);
  }
  return wanted.map((i) => {
    const p = s0 + i;
    const q = x.q.subarray((h * N + p) * D, (h * N + p + 1) * D);
    const s = [];
    for (let j = s0 - M; j <= p; j++) {
      let ac = 0;
      let bd = 0;
      for (let e = 0; e < D; e++) {
        ac += (q[e] + x.u[h * D + e]) * x.k[(h * N + j) * D + e];
        bd += (q[e] + x.vb[h * D + e]) * r[p - j][e];
      }
      s.push(scale * (ac + bd));
    }
    const m = Math.max(...s);
    const pr = s.map((z) => Math.exp(z - m));
    const sum = pr.reduce((a, b) => a + b, 0);
    const out = new Float64Array(D);
    pr.forEach((w, t) => {
      const j = s0 - M + t;
      for (let e = 0; e < D; e++) out[e] += (w / sum) * x.v[(h * N + j) * D + e];
    });
    return { i, out };
  });
}

export default {
  id: 'S-TXL-4k',
  order: 710,
  title: `Transformer-XL recurrent memory, N=${N} in segments of ${SEG}, memory ${M}, 12 heads, head size 64`,
  unit: 'ms',
  work: 0,
  workText: `rt.recurrentMemoryAttention({ memoryLength: ${M}, positionWeights: W_r [768, ${DM}], rWBias, rRBias }): reset, then forward() on 8 segments of ${SEG} tokens (1024 keys each)`,
  setup: {
    'wasm-attention': async (engine) => {
      const { createRuntime, createRuntimeSync } = await loadLib();
      const rt = engine.threads > 1 ? await createRuntime({ isa: engine.isa, threads: engine.threads }) : createRuntimeSync({ isa: engine.isa });
      const x = inputs();
      const segs = [];
      for (let s = 0; s < N / SEG; s++) {
        segs.push(['q', 'k', 'v'].map((n) => rt.tensor([1, H, SEG, D], rows(x[n], s * SEG, (s + 1) * SEG))));
      }
      const o = rt.tensor([1, H, SEG, D]);
      const mem = rt.recurrentMemoryAttention({
        heads: H, headDim: D, memoryLength: M, positionWeights: { data: x.wr, shape: [H * D, DM] },
        rWBias: { data: x.u, shape: [H, D] }, rRBias: { data: x.vb, shape: [H, D] },
      });
      const run = () => {
        mem.reset();
        for (const [q, k, v] of segs) mem.forward(q, k, v, { out: o });
      };
      return {
        run,
        check: () => {
          run();
          const got = o.data;
          let max = 0;
          for (const h of [0, 7]) {
            for (const { i, out } of expectedRows(x, h, [0, 1, 63, 64, 255, 256, 510, 511])) {
              for (let e = 0; e < D; e++) {
                const err = Math.abs(got[(h * SEG + i) * D + e] - out[e]);
                if (!(err <= max)) max = Number.isNaN(err) ? Infinity : err;
              }
            }
          }
          return max;
        },
        memoryBytes: () => rt.memoryBytes,
        dispose: () => {
          mem.dispose();
          rt.dispose();
        },
      };
    },
  },
};
