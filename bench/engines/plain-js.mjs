// plain-js.mjs — attention as a plain JavaScript loop: the float32 baseline a JS developer would
// write, and the float64 reference the demo checks against. Layout [heads, seq, dim], one batch.
// Also the bench engine `plain-js` (GEMM, general attention, the BERT block) for bench/cli.mjs.

import { Skip } from '../lib/util.mjs';

function attentionLoop(q, k, v, H, N, D, causal, Store) {
  const out = new Store(H * N * D);
  const scores = new Store(N);
  const scale = 1 / Math.sqrt(D);
  for (let h = 0; h < H; h++) {
    const base = h * N * D;
    for (let i = 0; i < N; i++) {
      const last = causal ? i : N - 1;
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let dot = 0;
        for (let x = 0; x < D; x++) dot += q[base + i * D + x] * k[base + j * D + x];
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      for (let x = 0; x < D; x++) {
        let acc = 0;
        for (let j = 0; j <= last; j++) acc += scores[j] * v[base + j * D + x];
        out[base + i * D + x] = acc / sum;
      }
    }
  }
  return out;
}

/** Float32 storage: what a plain JS implementation computes. */
export function plainJsAttention(q, k, v, H, N, D, causal = false) {
  return attentionLoop(q, k, v, H, N, D, causal, Float32Array);
}

/** Float64 storage and arithmetic: the reference. */
export function float64Attention(q, k, v, H, N, D, causal = false) {
  return attentionLoop(q, k, v, H, N, D, causal, Float64Array);
}

// ── bench engine ──────────────────────────────────────────────────────────────────────────────

/** C = A·B, i-k-j loop over Float32Arrays (what a careful JS developer writes without SIMD). */
export function plainJsMatmul(a, b, M, K, N, c = new Float32Array(M * N), bias) {
  for (let i = 0; i < M; i++) {
    const row = i * N;
    if (bias) for (let j = 0; j < N; j++) c[row + j] = bias[j];
    else c.fill(0, row, row + N);
    for (let p = 0; p < K; p++) {
      const x = a[i * K + p];
      const bRow = p * N;
      for (let j = 0; j < N; j++) c[row + j] += x * b[bRow + j];
    }
  }
  return c;
}

/**
 * Attention with nq queries and nk keys per head, causal bottom-right aligned; strided layout so
 * [H, S, D] and [S, H·D] both work: element (h, s, x) is at h·hs + s·ss + x.
 */
function plainJsAttentionGeneral(q, k, v, out, { H, Nq, Nk, D, causal, qs, ks, os }) {
  const scores = new Float32Array(Nk);
  const acc = new Float32Array(D);
  const scale = 1 / Math.sqrt(D);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < Nq; i++) {
      const last = causal ? Math.min(Nk - 1, i + Nk - Nq) : Nk - 1;
      const qo = h * qs.h + i * qs.s;
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        const ko = h * ks.h + j * ks.s;
        let dot = 0;
        for (let x = 0; x < D; x++) dot += q[qo + x] * k[ko + x];
        const s = (scores[j] = dot * scale);
        if (s > max) max = s;
      }
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j <= last; j++) {
        const p = Math.exp(scores[j] - max);
        sum += p;
        const vo = h * ks.h + j * ks.s;
        for (let x = 0; x < D; x++) acc[x] += p * v[vo + x];
      }
      const oo = h * os.h + i * os.s;
      for (let x = 0; x < D; x++) out[oo + x] = acc[x] / sum;
    }
  }
  return out;
}

// Plain JS runs at roughly 0.5–1 GFLOP/s (0.46 on G1 on the reference machine); a run estimated above the limit is skipped.
const ASSUMED_GFLOPS = 0.5;

export function engines() {
  return [{
    id: 'plain-js',
    family: 'plain-js',
    short: 'js',
    label: 'plain JavaScript loops (Float32Array)',
    threads: 1,
    kinds: ['gemm', 'sdpa', 'bert'],
    supports(w) {
      return Boolean(w.setup?.['plain-js']) || this.kinds.includes(w.kind);
    },
    async prepare(w, ctx) {
      if (w.setup?.['plain-js']) return w.setup['plain-js'](this, ctx);
      const flops = w.flops ?? w.work;
      const estimateMs = flops / ASSUMED_GFLOPS / 1e6;
      const limitMs = ctx.quick ? 1500 : 5000;
      if (estimateMs > limitMs) {
        throw new Skip(`too slow: one run ≈ ${(estimateMs / 1000).toFixed(0)} s at ~${ASSUMED_GFLOPS} GFLOP/s (limit ${limitMs / 1000} s${ctx.quick ? ' in --quick' : ''})`);
      }
      let run;
      let out;
      if (w.kind === 'gemm') {
        const { M, K, N } = w.params;
        const { a, b } = w.inputs();
        out = new Float32Array(M * N);
        run = () => plainJsMatmul(a, b, M, K, N, out);
      } else if (w.kind === 'sdpa') {
        const { H, Nq, Nk, D, causal } = w.params;
        const { q, k, v } = w.inputs();
        out = new Float32Array(H * Nq * D);
        const strides = { qs: { h: Nq * D, s: D }, ks: { h: Nk * D, s: D }, os: { h: Nq * D, s: D } };
        run = () => plainJsAttentionGeneral(q, k, v, out, { H, Nq, Nk, D, causal, ...strides });
      } else if (w.kind === 'bert') {
        const { N, d, H, D } = w.params;
        const t = w.inputs();
        const [q, k, v, a] = [0, 1, 2, 3].map(() => new Float32Array(N * d));
        out = new Float32Array(N * d);
        const st = { h: D, s: d }; // [S, H·D]: no transposes needed with strides
        run = () => {
          plainJsMatmul(t.x, t.wq, N, d, d, q, t.bq);
          plainJsMatmul(t.x, t.wk, N, d, d, k, t.bk);
          plainJsMatmul(t.x, t.wv, N, d, d, v, t.bv);
          plainJsAttentionGeneral(q, k, v, a, { H, Nq: N, Nk: N, D, causal: false, qs: st, ks: st, os: st });
          plainJsMatmul(a, t.wo, N, d, d, out, t.bo);
        };
      } else {
        throw new Error(`plain-js: unsupported workload kind ${w.kind}`);
      }
      return { run, check: () => w.error(out), dispose() {} };
    },
  }];
}
