// reference/routing.ts — float64 oracles of routing attention (independent of src/):
//
// referenceRoutingCentroids: seeded spherical k-means per head h over the L2-normalized rows
//   x̂ = x / max(‖x‖, 1e-12) (rounded to float32, as the library stores them: with Σ x̂ ≈ 0 the
//   normalization of a centroid would otherwise amplify the last bits) of q[b, h] (all b) then k[b, kvh] (all b): C distinct initial samples
//   by a partial Fisher–Yates shuffle of the sample indices driven by mulberry32(mixSeed(seed,
//   0x524f5554, h)) (index i swaps with i + next() mod (N − i)); centroid c = sample perm[c mod
//   min(C, N)]; then `iterations` rounds of: assign = argmax_c μ_c·x̂ (first maximum), μ_c =
//   normalize(Σ assigned x̂) (empty clusters keep μ_c).
// referenceRouting (Roy et al. 2021; lucidrains/routing-transformer KmeansAttention): with
//   centroids μ (given, or the k-means above), per (b, h): each cluster takes the top-w queries
//   by μ_c·q̂_i and the top-w' keys by μ_c·k̂_j (ties → lower index); each routed query attends
//   the cluster's keys (causal: positions ≤ its own) with scale·q·k on the raw vectors; y_i = the
//   mean over the clusters that routed i and where i saw a key; 0 when none. With emaDecay λ the
//   returned centroids are λ·μ + (1 − λ)·(one k-means step of μ on this call's samples).
// referenceRouted: π = softmax(x·W_r + b) per token (x = the head's query, or given input rows),
//   y = Σ_p π_p·O^(p) with each path's output given by the caller (their own oracles).

import { mixSeedSpec, mulberry32Spec } from './global-local';
import { attendOne, type RefKey, type RefTensor, rowOffset } from './sparse';

function normalized(x: ArrayLike<number>, off: number, d: number): Float64Array {
  let ss = 0;
  for (let e = 0; e < d; e++) ss += x[off + e] ** 2;
  const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
  return Float64Array.from({ length: d }, (_, e) => Math.fround(x[off + e] * inv));
}

const dot = (a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number => {
  let s = 0;
  for (let e = 0; e < d; e++) s += a[ao + e] * b[bo + e];
  return s;
};

/** The normalized samples of head h: queries of every batch entry, then keys. */
function samplesOf(q: RefTensor, k: RefTensor | null, h: number): Float64Array[] {
  const [B, H, nq, D] = q.shape;
  const out: Float64Array[] = [];
  for (let b = 0; b < B; b++) for (let i = 0; i < nq; i++) out.push(normalized(q.data, rowOffset(b, h, i, H, nq, D), D));
  if (k) {
    const [, Hkv, nk] = k.shape;
    const kvh = Math.floor(h / (H / Hkv));
    for (let b = 0; b < B; b++) for (let j = 0; j < nk; j++) out.push(normalized(k.data, rowOffset(b, kvh, j, Hkv, nk, D), D));
  }
  return out;
}

function kmeansStep(x: Float64Array[], mu: Float64Array[]): Float64Array[] {
  const C = mu.length;
  const d = mu[0].length;
  const sums = Array.from({ length: C }, () => new Float64Array(d));
  const counts = new Array<number>(C).fill(0);
  for (const s of x) {
    let best = 0;
    let bv = dot(s, 0, mu[0], 0, d);
    for (let c = 1; c < C; c++) {
      const v = dot(s, 0, mu[c], 0, d);
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    counts[best]++;
    for (let e = 0; e < d; e++) sums[best][e] += s[e];
  }
  return sums.map((s, c) => (counts[c] === 0 ? mu[c] : normalized(s, 0, d)));
}

export function referenceRoutingCentroids(q: RefTensor, k: RefTensor | null, o: { clusters: number; seed?: number; iterations?: number }): Float64Array[][] {
  const H = q.shape[1];
  const C = o.clusters;
  const result: Float64Array[][] = [];
  for (let h = 0; h < H; h++) {
    const x = samplesOf(q, k, h);
    const N = x.length;
    const next = mulberry32Spec(mixSeedSpec(o.seed ?? 0, 0x524f5554, h));
    const perm = Array.from({ length: N }, (_, i) => i);
    const picks = Math.min(C, N);
    for (let i = 0; i < picks; i++) {
      const j = i + (next() % (N - i));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    let mu: Float64Array[] = Array.from({ length: C }, (_, c) => Float64Array.from(x[perm[c % picks]]));
    for (let it = 0; it < (o.iterations ?? 10); it++) mu = kmeansStep(x, mu);
    result.push(mu);
  }
  return result;
}

/** Indices of the `count` largest scores (ties → lower index), ascending. */
function topW(scores: number[], count: number): number[] {
  return scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, count).map((x) => x[1]).sort((a, b) => a - b);
}

export interface ReferenceRoutingOptions {
  clusters: number;
  windowSize?: number;
  keyWindowSize?: number;
  causal?: boolean;
  /** [H][C] rows; default the k-means above */
  centroids?: Float64Array[][];
  seed?: number;
  iterations?: number;
  emaDecay?: number;
  scale?: number;
}

export function referenceRouting(q: RefTensor, k: RefTensor, v: RefTensor, o: ReferenceRoutingOptions): { output: Float64Array; centroids: Float64Array[][] } {
  const [B, H, nq, D] = q.shape;
  const [, Hkv, nk] = k.shape;
  const Dv = v.shape[3];
  const C = o.clusters;
  const w = o.windowSize ?? Math.ceil(nq / C);
  const kw = o.keyWindowSize ?? (nq === nk ? w : Math.ceil(nk / C));
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const mus = o.centroids ?? referenceRoutingCentroids(q, k, { clusters: C, seed: o.seed, iterations: o.iterations });
  const output = new Float64Array(B * H * nq * Dv);
  const centroids: Float64Array[][] = [];
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / (H / Hkv));
    const mu = mus[h];
    for (let b = 0; b < B; b++) {
      const qn = Array.from({ length: nq }, (_, i) => normalized(q.data, rowOffset(b, h, i, H, nq, D), D));
      const kn = Array.from({ length: nk }, (_, j) => normalized(k.data, rowOffset(b, kvh, j, Hkv, nk, D), D));
      const sums = Array.from({ length: nq }, () => new Float64Array(Dv));
      const counts = new Array<number>(nq).fill(0);
      for (let c = 0; c < C; c++) {
        const qs = topW(qn.map((x) => dot(x, 0, mu[c], 0, D)), w);
        const ks = topW(kn.map((x) => dot(x, 0, mu[c], 0, D)), kw);
        for (const i of qs) {
          const keys: RefKey[] = ks.filter((j) => !o.causal || j <= i).map((j) => ({
            k: k.data, kOff: rowOffset(b, kvh, j, Hkv, nk, D), v: v.data, vOff: rowOffset(b, kvh, j, Hkv, nk, Dv),
          }));
          if (keys.length === 0) continue;
          const r = attendOne(q.data, rowOffset(b, h, i, H, nq, D), keys, D, Dv, scale);
          counts[i]++;
          for (let e = 0; e < Dv; e++) sums[i][e] += r.out[e];
        }
      }
      for (let i = 0; i < nq; i++) {
        if (counts[i] === 0) continue;
        for (let e = 0; e < Dv; e++) output[rowOffset(b, h, i, H, nq, Dv) + e] = sums[i][e] / counts[i];
      }
    }
    if (o.emaDecay !== undefined) {
      const fresh = kmeansStep(samplesOf(q, k, h), mu);
      const lam = o.emaDecay;
      centroids.push(mu.map((m, c) => Float64Array.from(m, (x, e) => lam * x + (1 - lam) * fresh[c][e])));
    } else centroids.push(mu);
  }
  return { output, centroids };
}

/** softmax(x·W + b) rows: x [N, inDim] (rows), W [inDim, P], b [P]. */
export function referenceRoutes(x: ArrayLike<number>, N: number, inDim: number, W: ArrayLike<number>, P: number, bias?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(N * P);
  for (let i = 0; i < N; i++) {
    const logits = Array.from({ length: P }, (_, p) => {
      let s = bias ? bias[p] : 0;
      for (let e = 0; e < inDim; e++) s += x[i * inDim + e] * W[e * P + p];
      return s;
    });
    const max = Math.max(...logits);
    const ex = logits.map((l) => Math.exp(l - max));
    const sum = ex.reduce((a, b) => a + b, 0);
    ex.forEach((e, p) => (out[i * P + p] = e / sum));
  }
  return out;
}

/**
 * y[b, h, i] = Σ_p π[b, h', i, p]·outs[p][b, h, i] with h' = h (routeHeads = H) or 0 (routeHeads = 1).
 * outs: one [B, H, n, Dv] array per path.
 */
export function referenceRouted(outs: ArrayLike<number>[], pi: ArrayLike<number>, B: number, H: number, routeHeads: number, n: number, Dv: number, P: number): Float64Array {
  const y = new Float64Array(B * H * n * Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < P; p++) {
          const w = pi[((b * routeHeads + (routeHeads === 1 ? 0 : h)) * n + i) * P + p];
          for (let e = 0; e < Dv; e++) y[((b * H + h) * n + i) * Dv + e] += w * outs[p][((b * H + h) * n + i) * Dv + e];
        }
      }
    }
  }
  return y;
}
