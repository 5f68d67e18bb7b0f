// kinds.mjs — constructors for the standard workload kinds. A workload file calls one of these
// with its sizes; engines dispatch on `kind` (gemm, sdpa, bert) or on the workload's own
// `setup[family]` functions (peak, cold start, sizes).
//
// Every kernel workload provides:
//   inputs()     deterministic float32 inputs (seeded), created once and shared by all engines
//   error(out)   max |out − float64 reference| over a sample of output elements (the reference
//                is computed once, in float64 from the same float32 inputs)
// Outputs are compared in one canonical layout per kind:
//   gemm  C [M, N];   sdpa  O [1, H, Nq, D];   bert  Y [1, N, d]

import { seededRandom } from '../engines/timing.mjs';

function uniform(n, random, scale = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (random() * 2 - 1) * scale;
  return a;
}

/** Evenly spaced sample of `count` indices in [0, n), always with the first and the last. */
export function sampleIndices(n, count) {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out = new Set([0, n - 1]);
  for (let i = 1; out.size < count; i++) out.add(Math.round((i * (n - 1)) / (count - 1)) % n);
  return [...out].sort((a, b) => a - b);
}

function lazy(make) {
  let v;
  return () => (v ??= make());
}

function makeError(reference) {
  return (out) => {
    const { idx, values } = reference();
    let max = 0;
    for (let i = 0; i < idx.length; i++) {
      const e = Math.abs(out[idx[i]] - values[i]);
      if (!(e <= max)) max = Number.isNaN(e) ? Infinity : e;
    }
    return max;
  };
}

/** C[M,N] = A[M,K]·B[K,N]. Work 2·M·N·K flops. */
export function gemm({ id, title, M, K, N, seed = 1, ...rest }) {
  const inputs = lazy(() => {
    const random = seededRandom(seed);
    return { a: uniform(M * K, random), b: uniform(K * N, random) };
  });
  const reference = lazy(() => {
    const { a, b } = inputs();
    const rows = sampleIndices(M, 16);
    const idx = new Int32Array(rows.length * N);
    const values = new Float64Array(rows.length * N);
    const acc = new Float64Array(N);
    rows.forEach((i, r) => {
      acc.fill(0);
      for (let p = 0; p < K; p++) {
        const x = a[i * K + p];
        const row = p * N;
        for (let j = 0; j < N; j++) acc[j] += x * b[row + j];
      }
      for (let j = 0; j < N; j++) {
        idx[r * N + j] = i * N + j;
        values[r * N + j] = acc[j];
      }
    });
    return { idx, values };
  });
  return {
    id, title, kind: 'gemm', unit: 'GFLOP/s', work: 2 * M * N * K,
    workText: `${((2 * M * N * K) / 1e9).toFixed(3)} GFLOP per call (2·M·N·K)`,
    params: { M, K, N }, inputs, reference, error: makeError(reference), ...rest,
  };
}

/**
 * Float64 attention for one query row of one head: keys [0, last] (inclusive). Returns D values.
 */
function attentionRow(q, k, v, qOff, kBase, D, first, last, scale) {
  const n = last - first + 1;
  const s = new Float64Array(n);
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const kr = kBase + (first + j) * D;
    let dot = 0;
    for (let x = 0; x < D; x++) dot += q[qOff + x] * k[kr + x];
    s[j] = dot * scale;
    if (s[j] > max) max = s[j];
  }
  let sum = 0;
  for (let j = 0; j < n; j++) sum += (s[j] = Math.exp(s[j] - max));
  const out = new Float64Array(D);
  for (let j = 0; j < n; j++) {
    const vr = kBase + (first + j) * D;
    const p = s[j] / sum;
    for (let x = 0; x < D; x++) out[x] += p * v[vr + x];
  }
  return out;
}

/**
 * Scaled dot-product attention, batch 1: Q [1,H,Nq,D], K/V [1,H,Nk,D], scale 1/√D. Causal is
 * bottom-right aligned (query i sees keys j ≤ i + Nk − Nq), which is top-left when Nq = Nk.
 * Work 4·H·Nq·Nk·D flops, half of that when causal (the masked half is not work).
 */
export function sdpa({ id, title, H, Nq, Nk = Nq, D, causal = false, seed = 2, unit = 'GFLOP/s', ...rest }) {
  const flops = 4 * H * Nq * Nk * D * (causal ? 0.5 : 1);
  const kvBytes = 2 * H * Nk * D * 4;
  const inputs = lazy(() => {
    const random = seededRandom(seed);
    return { q: uniform(H * Nq * D, random), k: uniform(H * Nk * D, random), v: uniform(H * Nk * D, random) };
  });
  const reference = lazy(() => {
    const { q, k, v } = inputs();
    const rows = sampleIndices(Nq, 24);
    const idx = [];
    const values = [];
    for (let h = 0; h < H; h++) {
      for (const i of rows) {
        const last = causal ? Math.min(Nk - 1, i + Nk - Nq) : Nk - 1;
        const o = attentionRow(q, k, v, (h * Nq + i) * D, h * Nk * D, D, 0, last, 1 / Math.sqrt(D));
        for (let x = 0; x < D; x++) {
          idx.push((h * Nq + i) * D + x);
          values.push(o[x]);
        }
      }
    }
    return { idx: Int32Array.from(idx), values: Float64Array.from(values) };
  });
  const work = unit === 'GB/s' ? kvBytes : flops;
  const workText = unit === 'GB/s'
    ? `${(kvBytes / 1e6).toFixed(2)} MB of K and V read per call (2·H·Nk·D·4 bytes); ${(flops / 1e6).toFixed(1)} MFLOP`
    : `${(flops / 1e9).toFixed(3)} GFLOP per call (4·H·Nq·Nk·D${causal ? ', halved for causal' : ''})`;
  return {
    id, title, kind: 'sdpa', unit, work, flops, workText,
    params: { H, Nq, Nk, D, causal }, inputs, reference, error: makeError(reference), ...rest,
  };
}

/**
 * BERT-base attention block, batch 1: x [1,N,d]; Q/K/V = x·W + b (W [d,d], stored packed as
 * Wqkv [d, 3d] = [Wq | Wk | Wv] with bqkv [3d]); H heads of size d/H, scale 1/√(d/H), no mask;
 * heads concatenated; Y = A·Wo + bo. Work 2·N·d·3d + 4·N²·d + 2·N·d·d flops (biases not counted).
 */
export function bert({ id, title, N, d, H, seed = 3, ...rest }) {
  const D = d / H;
  const work = 2 * N * d * 3 * d + 4 * N * N * d + 2 * N * d * d;
  const inputs = lazy(() => {
    const random = seededRandom(seed);
    const ws = Math.sqrt(3 / d); // unit-variance projections of unit-variance x
    const x = uniform(N * d, random, Math.sqrt(3));
    const wqkv = uniform(d * 3 * d, random, ws);
    const bqkv = uniform(3 * d, random, 0.1);
    const wo = uniform(d * d, random, ws);
    const bo = uniform(d, random, 0.1);
    // Unpacked copies for engines that want separate matrices.
    const split = (part) => {
      const w = new Float32Array(d * d);
      for (let r = 0; r < d; r++) w.set(wqkv.subarray(r * 3 * d + part * d, r * 3 * d + (part + 1) * d), r * d);
      return w;
    };
    return {
      x, wqkv, bqkv, wo, bo,
      wq: split(0), wk: split(1), wv: split(2),
      bq: bqkv.slice(0, d), bk: bqkv.slice(d, 2 * d), bv: bqkv.slice(2 * d),
    };
  });
  const reference = lazy(() => {
    const t = inputs();
    // K and V in full (every query needs them), Q and the output only for sampled rows.
    const proj = (row, part) => {
      const out = new Float64Array(d);
      for (let j = 0; j < d; j++) out[j] = t.bqkv[part * d + j];
      for (let p = 0; p < d; p++) {
        const xv = t.x[row * d + p];
        const base = p * 3 * d + part * d;
        for (let j = 0; j < d; j++) out[j] += xv * t.wqkv[base + j];
      }
      return out;
    };
    // K/V as [H, N, D] float64 arrays.
    const k = new Float64Array(N * d);
    const v = new Float64Array(N * d);
    for (let r = 0; r < N; r++) {
      const kr = proj(r, 1);
      const vr = proj(r, 2);
      for (let h = 0; h < H; h++) {
        for (let x = 0; x < D; x++) {
          k[(h * N + r) * D + x] = kr[h * D + x];
          v[(h * N + r) * D + x] = vr[h * D + x];
        }
      }
    }
    const rows = sampleIndices(N, 12);
    const idx = [];
    const values = [];
    for (const i of rows) {
      const q = proj(i, 0);
      const a = new Float64Array(d);
      for (let h = 0; h < H; h++) {
        const o = attentionRow(q, k, v, h * D, h * N * D, D, 0, N - 1, 1 / Math.sqrt(D));
        a.set(o, h * D);
      }
      for (let j = 0; j < d; j++) {
        let y = t.bo[j];
        for (let p = 0; p < d; p++) y += a[p] * t.wo[p * d + j];
        idx.push(i * d + j);
        values.push(y);
      }
    }
    return { idx: Int32Array.from(idx), values: Float64Array.from(values) };
  });
  return {
    id, title, kind: 'bert', unit: 'GFLOP/s', work,
    workText: `${(work / 1e9).toFixed(3)} GFLOP per call (QKV and output projections + attention)`,
    params: { N, d, H, D }, inputs, reference, error: makeError(reference), ...rest,
  };
}
