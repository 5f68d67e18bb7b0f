// routing.ts — attention that routes tokens: rt.routingAttention (the Routing Transformer's
// k-means clustering attention), rt.routingCentroids (its seeded k-means), and rt.routedAttention
// (a learned routing matrix W_r giving each token a probability distribution over attention
// paths, the output being the mixture).
//
// ── Clustering attention (rt.routingAttention) ────────────────────────────────────────────────
// Per query head h (centroids μ_h ∈ R^{C × headDim}, C = clusters, shared by the batch):
//   1. route: x̂ = x / max(‖x‖₂, 1e-12) for every query and key row; scores s_c(x) = μ_c·x̂
//      (one GEMM per batch entry: μ·X̂ᵀ, (C × n));
//   2. each cluster c takes its top-w queries (largest s_c(q̂_i), ties → lower position) and its
//      top-w' keys (w' = keyWindowSize, default w): a token may be in several clusters or none;
//   3. attention within each cluster (gathered rows sorted by position, one fused-kernel call per
//      cluster, every cluster of a head handed to the worker pool together):
//        o_{c,i} = Σ_{j ∈ K_c} softmax_j(scale·q_i·k_j) v_j      (raw q, k: normalization only routes)
//      causal: only keys at positions ≤ i (additive mask from positions, f32_lsh_chunk_mask);
//   4. scatter-mean: y_i = mean of o_{c,i} over the clusters c whose queries include i and in which
//      i sees at least one key; 0 for a token no cluster takes.
// Centroids: the caller's ([heads, C, headDim]) or a seeded spherical k-means over this call's
// normalized queries and keys of every batch entry (init: C distinct samples drawn by mulberry32
// from (seed, head); then `iterations` rounds of: assign each sample to argmax_c μ_c·x̂ (first
// maximum wins), μ_c ← normalize(Σ assigned x̂), an empty cluster keeps μ_c). With `emaDecay` λ,
// after routing: μ ← λ·μ + (1 − λ)·μ_new, μ_new one k-means step on this call's samples (the
// reference's Kmeans.update / ema_inplace); returned with returnCentroids.
// Identities (tested): one cluster with w = n is full attention (causal too).
// Time per head O(C·w·w'·d + n·C·d); memory O((C·w + n)·d) (+ C·w·w' floats of masks when causal).
// Differences from lucidrains/routing-transformer (KmeansAttention): the scatter-mean divides by
// the count exactly (the reference adds 1e-5 to it); a causal row that sees no key in a cluster
// is left out of the mean (the reference fills −max and averages a uniform row in); k-means runs
// on normalized samples from the start (the reference's init iterations use raw x).
// Reference: A. Roy, M. Saffar, A. Vaswani, D. Grangier, "Efficient Content-Based Sparse Attention
// with Routing Transformers" (TACL 2021) §4 (routing attention, k-means with EMA, top-w balanced
// clusters); lucidrains/routing-transformer (Kmeans, kmeans_iter, distribution, scatter_mean).
//
// ── Routing over paths (rt.routedAttention) ───────────────────────────────────────────────────
// P paths, each an attention of the library over the same q, k, v (full, window, global-local,
// segmented, LSH, Linformer, clustering). A routing matrix W_r turns token i into
//     π_i = softmax(x_i·W_r + b) ∈ Δ^P       x_i = q_i of the head (W_r: [headDim, P] or
//                                            [heads, headDim, P]), or options.router.input[b, i]
//                                            (W_r: [inputDim, P], shared by every head)
// (or the caller's `routes`), and the output is the mixture  y_i = Σ_p π_{i,p}·O^(p)_i.
// over: 'heads' routes over the heads of one path instead: π_i ∈ Δ^H from the token's
// concatenated query heads (W_r: [heads·headDim, heads]) or router.input, and
// y_i = Σ_h π_{i,h}·O_{h,i} ([batch, 1, n, valueDim]).
// A path whose weight is 0 for every token is not computed, so a one-hot route is that path alone.
// Reference: the mixture-of-experts gating of N. Shazeer et al., "Outrageously Large Neural
// Networks: The Sparsely-Gated Mixture-of-Experts Layer" (ICLR 2017) applied to attention paths,
// as in "Mixture of Attention Heads" (X. Zhang et al., EMNLP 2022) for routing over heads.

import type { AttnCall, Kernels } from '../kernels';
import { AttentionError, formatShape, formatValue } from '../runtime/index';
import {
  outputBlock, type Tensor, type TensorLike, type TensorView, viewData, viewOut, viewTensor, WasmTensor, writeOut,
} from '../tensor';
import { globalLocalAttention, type GlobalLocalOptions } from './global-local';
import { linformerAttention, type LinformerOptions } from './linformer';
import {
  assertPreparedLive, booleanOption, checkAtMost, emptyOutput, finishOutput, headPtr, mixSeed, mulberry32,
  outputIsEmpty, outputPtr, plainCall, prepare, type Prepared, requiredInteger, Scope, seedOption,
} from './long-common';
import { lshAttention, type LshOptions } from './lsh';
import { assertLive, finiteOption, integerOption, optionKeys, readOptions } from './options';
import { readPath, type PathSnapshot, PATH_TYPES } from './path-options';
import { attention, type AttentionOptions } from './sdpa';
import { segmentedAttention, type SegmentedOptions } from './segmented';
import { slidingWindowAttention, type SlidingWindowOptions } from './sliding-window';

const F32 = [Float32Array] as const;

// ── clustering attention ──────────────────────────────────────────────────────────────────────

/** Options of `rt.routingAttention`. */
export interface RoutingOptions {
  /** C: number of clusters (k-means centroids) per head, at most batch·(nq + nk) unless `centroids` are given. Required. */
  clusters: number;
  /** w: queries each cluster takes (its top-w by centroid score), 1 ≤ w ≤ n. Default ⌈n / clusters⌉. */
  windowSize?: number;
  /** Keys each cluster takes, 1 ≤ w' ≤ nk. Default w (self-attention) or ⌈nk / clusters⌉. */
  keyWindowSize?: number;
  /** Keys only at or before the query's position (self-attention: nq = nk). Default false. */
  causal?: boolean;
  /** The centroids μ: [heads, clusters, headDim]. Default: seeded k-means on this call's queries and keys. */
  centroids?: TensorLike;
  /** Seed of the k-means initialization (when no centroids are given). Default 0. */
  seed?: number;
  /** k-means rounds of the initialization. Default 10. */
  iterations?: number;
  /** EMA decay λ ∈ [0, 1]: after routing, μ ← λ·μ + (1 − λ)·(one k-means step on this call). Omitted: no update. */
  emaDecay?: number;
  /** Also return the centroids used (after the EMA update when emaDecay is given). Default false. */
  returnCentroids?: boolean;
  /** Multiplier of Q·Kᵀ. Default 1/√headDim. */
  scale?: number;
  /**
   * Write the output here: a WasmTensor (zero-copy) or a Tensor of the output shape. Read once. It
   * may be (or overlap) an input: the output is then computed into a temporary block and copied
   * into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** `rt.routingAttention` with `returnCentroids: true`. */
export interface RoutingResult {
  /** The attention output, [batch, heads, nq, valueDim]. */
  output: Tensor;
  /** The centroids [heads, clusters, headDim] to pass to the next call (EMA-updated when asked). */
  centroids: Tensor;
}

/** Options of `rt.routingCentroids`. */
export interface RoutingCentroidOptions {
  /** C: centroids per head, at most batch·(nq + nk) (the samples). Required. */
  clusters: number;
  /** Seed of the initial samples. Default 0. */
  seed?: number;
  /** k-means rounds after the initial draw. Default 10. */
  iterations?: number;
}

/** The keys of RoutingOptions. */
export const ROUTING_KEYS = optionKeys<RoutingOptions>({
  clusters: true, windowSize: true, keyWindowSize: true, causal: true, centroids: true, seed: true, iterations: true,
  emaDecay: true, returnCentroids: true, scale: true, out: true,
});
const CENTROID_KEYS = optionKeys<RoutingCentroidOptions>({ clusters: true, seed: true, iterations: true });

/** Seed of head h's k-means initialization. */
export const routingHeadSeed = (seed: number, h: number): number => mixSeed(seed, 0x524f5554, h);

/** L2-normalized rows x / max(‖x‖, 1e-12) of `rows` rows (stride d) at src into dst (stride d). */
function normalizeRows(kernels: Kernels, src: number, rows: number, d: number, dst: number): void {
  kernels.l2NormalizeRows(src, d, rows, d, dst, d);
}

/**
 * Indices of the w largest of vals[0 … n) (NaN counts as −∞; ties → lower index), in ascending
 * order, written to out[outAt …]. O(n) (quickselect for the threshold). `work`: n floats.
 */
export function topWIndices(vals: Float32Array, n: number, w: number, work: Float32Array, out: Int32Array, outAt: number): void {
  if (w >= n) {
    for (let i = 0; i < n; i++) out[outAt + i] = i;
    return;
  }
  for (let i = 0; i < n; i++) work[i] = Number.isNaN(vals[i]) ? -Infinity : vals[i];
  // k-th largest (0-based k = w − 1) by Hoare quickselect in descending order.
  const k = w - 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const a = work[lo];
    const b = work[(lo + hi) >> 1];
    const c = work[hi];
    const pivot = a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (work[i] > pivot) i++;
      while (work[j] < pivot) j--;
      if (i <= j) {
        const t = work[i];
        work[i] = work[j];
        work[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  const threshold = work[k];
  let greater = 0;
  for (let i = 0; i < n; i++) if (vals[i] > threshold) greater++;
  let ties = w - greater;
  let at = outAt;
  for (let i = 0; i < n; i++) {
    const x = Number.isNaN(vals[i]) ? -Infinity : vals[i];
    if (x > threshold) out[at++] = i;
    else if (x === threshold && ties > 0) {
      out[at++] = i;
      ties--;
    }
  }
}

/** argmax over C of each of N rows of dists (N × C); first maximum wins; NaN never wins. */
function argmaxRows(d: Float32Array, N: number, C: number, out: Int32Array): void {
  for (let i = 0; i < N; i++) {
    let best = 0;
    let bv = d[i * C];
    if (Number.isNaN(bv)) bv = -Infinity;
    for (let c = 1; c < C; c++) {
      const x = d[i * C + c];
      if (x > bv) {
        bv = x;
        best = c;
      }
    }
    out[i] = best;
  }
}

/** Samples (N × d, normalized) assigned to centroids mu (C × d): assignment written to `assign`. */
function assignSamples(kernels: Kernels, x: number, N: number, d: number, mu: number, C: number, dists: number, assign: Int32Array): void {
  kernels.gemm({ a: x, lda: d, b: mu, ldb: d, c: dists, ldc: C, bias: 0, m: N, n: C, k: d, transB: true, accumulate: false });
  argmaxRows(kernels.arena.f32(dists, N * C), N, C, assign);
}

/** One k-means update: μ_c = normalize(Σ_{assign = c} x) (float64 sums), empty clusters keep μ_c. Returns the new μ. */
function meansOf(kernels: Kernels, x: number, N: number, d: number, assign: Int32Array, mu: Float32Array, C: number): Float32Array {
  const sums = new Float64Array(C * d);
  const counts = new Int32Array(C);
  const xs = kernels.arena.f32(x, N * d);
  for (let i = 0; i < N; i++) {
    const c = assign[i];
    counts[c]++;
    const so = c * d;
    const xo = i * d;
    for (let e = 0; e < d; e++) sums[so + e] += xs[xo + e];
  }
  const out = new Float32Array(C * d);
  for (let c = 0; c < C; c++) {
    if (counts[c] === 0) {
      out.set(mu.subarray(c * d, (c + 1) * d), c * d);
      continue;
    }
    let ss = 0;
    for (let e = 0; e < d; e++) ss += sums[c * d + e] ** 2;
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let e = 0; e < d; e++) out[c * d + e] = sums[c * d + e] * inv;
  }
  return out;
}

/** Seeded spherical k-means of N normalized samples (N × d at x) into C centroids written at mu. */
/** Bound on k-means rounds: each is a pass over every sample, so 2³¹ of them would run for hours. */
const MAX_KMEANS_ITERATIONS = 10_000;

function kmeans(kernels: Kernels, x: number, N: number, d: number, C: number, seed: number, iterations: number, mu: number, dists: number): void {
  const next = mulberry32(seed);
  const perm = Int32Array.from({ length: N }, (_, i) => i);
  const picks = Math.min(C, N);
  for (let i = 0; i < picks; i++) {
    const j = i + (next() % (N - i));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const xs = kernels.arena.f32(x, N * d);
  const m = kernels.arena.f32(mu, C * d);
  for (let c = 0; c < C; c++) {
    const s = perm[c % picks];
    for (let e = 0; e < d; e++) m[c * d + e] = xs[s * d + e];
  }
  const assign = new Int32Array(N);
  for (let it = 0; it < iterations; it++) {
    assignSamples(kernels, x, N, d, mu, C, dists, assign);
    const updated = meansOf(kernels, x, N, d, assign, kernels.arena.f32(mu, C * d).slice(), C);
    kernels.arena.f32(mu, C * d).set(updated);
  }
}

interface RoutingSpec {
  C: number;
  w: number;
  kw: number;
  causal: boolean;
  seed: number;
  iterations: number;
  decay: number | undefined;
  centroids: TensorView<Float32Array> | undefined;
  returnCentroids: boolean;
}

/**
 * Caps the clusters by the k-means samples (batch·(nq + nk) query and key rows): more centroids
 * than samples cannot start distinct, and each cluster costs a routing pass over every token.
 * The caller's centroids (with headDim > 0) fix the count themselves.
 */
function checkClusters(C: number, samples: number, name: string): void {
  checkAtMost(C, samples, name, `the ${samples} query and key rows (batch·(nq + nk)) that k-means clusters`);
}

function routingSpec(kernels: Kernels, options: Partial<RoutingOptions>, qHeads: number, nq: number, nk: number, dh: number, prefix = 'options'): RoutingSpec {
  const C = requiredInteger(options.clusters, `${prefix}.clusters`, 1);
  const w = integerOption(options.windowSize, `${prefix}.windowSize`, Math.ceil(nq / C), 1);
  if (w > nq) {
    throw new AttentionError('INVALID_OPTION', `${prefix}.windowSize (w, the tokens each cluster takes) must be ≤ the sequence length n = ${nq}, got ${w}`);
  }
  const kw = integerOption(options.keyWindowSize, `${prefix}.keyWindowSize`, nq === nk ? w : Math.ceil(nk / C), 1);
  if (kw > nk) {
    throw new AttentionError('INVALID_OPTION', `${prefix}.keyWindowSize (the keys each cluster takes) must be ≤ the key length nk = ${nk}, got ${kw}`);
  }
  const causal = booleanOption(options.causal, `${prefix}.causal`, false);
  if (causal && nq !== nk) {
    throw new AttentionError('SHAPE_MISMATCH', `${prefix}.causal needs self-attention (nq = nk), got nq = ${nq} and nk = ${nk}`);
  }
  const seed = seedOption(options.seed, `${prefix}.seed`);
  const iterations = integerOption(options.iterations, `${prefix}.iterations`, 10, 0);
  if (iterations > MAX_KMEANS_ITERATIONS) {
    throw new AttentionError('INVALID_OPTION', `${prefix}.iterations (k-means rounds) must be ≤ ${MAX_KMEANS_ITERATIONS}, got ${iterations}`);
  }
  let decay: number | undefined;
  if (options.emaDecay !== undefined) {
    decay = finiteOption(options.emaDecay, `${prefix}.emaDecay`, 0);
    if (decay < 0 || decay > 1) throw new AttentionError('INVALID_OPTION', `${prefix}.emaDecay must be in [0, 1], got ${decay}`);
  }
  let centroids: TensorView<Float32Array> | undefined;
  if (options.centroids !== undefined) {
    centroids = viewTensor(options.centroids, `${prefix}.centroids`, F32, kernels.arena);
    const s = centroids.shape;
    if (s.length !== 3 || s[0] !== qHeads || s[1] !== C || s[2] !== dh) {
      throw new AttentionError('SHAPE_MISMATCH', `${prefix}.centroids must have shape [heads, clusters, headDim] = [${qHeads}, ${C}, ${dh}], got ${formatShape(s)}`);
    }
  }
  const returnCentroids = booleanOption(options.returnCentroids, `${prefix}.returnCentroids`, false);
  return { C, w, kw, causal, seed, iterations, decay, centroids, returnCentroids };
}

/** Clustering attention on a prepared call (inputs already placed); returns the centroids used (after EMA). */
function runRouting(kernels: Kernels, p: Prepared, spec: RoutingSpec, qp: number, kp: number, vp: number, op: number, scope: Scope): Float32Array {
  const { batch: B, qHeads, kvHeads, nq, nk, dh, dv } = p.dims;
  const { C, w, kw, causal } = spec;
  const arena = kernels.arena;
  const group = qHeads / kvHeads;
  const Ns = B * (nq + nk);
  const samples = scope.alloc(Ns * dh, 'normalized queries and keys');
  const dists = scope.alloc(Math.max(Ns, nq, nk) * C, 'centroid scores');
  const mu = scope.alloc(qHeads * C * dh, 'centroids');
  const qIdx = scope.alloc(C * w, 'query routes');
  const kIdx = scope.alloc(C * kw, 'key routes');
  const qc = scope.alloc(C * w * dh, 'routed queries');
  const kc = scope.alloc(C * kw * dh, 'routed keys');
  const vc = scope.alloc(C * kw * dv, 'routed values');
  const oc = scope.alloc(C * w * dv, 'cluster outputs');
  const lse = causal ? scope.alloc(C * w, 'cluster lse') : 0;
  const mask = causal ? scope.alloc(C * w * kw, 'causal masks') : 0;
  if (spec.centroids) arena.f32(mu, qHeads * C * dh).set(viewData(spec.centroids));
  const work = new Float32Array(Math.max(nq, nk));
  const qRoutes = new Int32Array(C * w);
  const kRoutes = new Int32Array(C * kw);
  const counts = new Int32Array(nq);
  const result = new Float32Array(qHeads * C * dh);
  for (let h = 0; h < qHeads; h++) {
    const kvh = Math.floor(h / group);
    const muH = mu + 4 * h * C * dh;
    // Normalized samples: queries of every batch entry, then keys.
    for (let b = 0; b < B; b++) {
      normalizeRows(kernels, headPtr(qp, b, h, qHeads, nq, dh), nq, dh, samples + 4 * b * nq * dh);
      normalizeRows(kernels, headPtr(kp, b, kvh, kvHeads, nk, dh), nk, dh, samples + 4 * (B * nq + b * nk) * dh);
    }
    if (!spec.centroids) kmeans(kernels, samples, Ns, dh, C, routingHeadSeed(spec.seed, h), spec.iterations, muH, dists);
    for (let b = 0; b < B; b++) {
      // Top-w queries and top-w' keys of each cluster, by μ_c·x̂ (rows of μ·X̂ᵀ).
      const route = (x: number, n: number, take: number, routes: Int32Array): void => {
        kernels.gemm({ a: muH, lda: dh, b: x, ldb: dh, c: dists, ldc: n, bias: 0, m: C, n, k: dh, transB: true, accumulate: false });
        const s = arena.f32(dists, C * n);
        for (let c = 0; c < C; c++) topWIndices(s.subarray(c * n, (c + 1) * n), n, take, work, routes, c * take);
      };
      route(samples + 4 * b * nq * dh, nq, w, qRoutes);
      route(samples + 4 * (B * nq + b * nk) * dh, nk, kw, kRoutes);
      arena.i32(qIdx, C * w).set(qRoutes);
      arena.i32(kIdx, C * kw).set(kRoutes);
      const qh = headPtr(qp, b, h, qHeads, nq, dh);
      const kh = headPtr(kp, b, kvh, kvHeads, nk, dh);
      const vh = headPtr(vp, b, kvh, kvHeads, nk, dv);
      kernels.gatherRows(qh, dh, qIdx, C * w, dh, qc, dh);
      kernels.gatherRows(kh, dh, kIdx, C * kw, dh, kc, dh);
      kernels.gatherRows(vh, dv, kIdx, C * kw, dv, vc, dv);
      const calls: AttnCall[] = [];
      for (let c = 0; c < C; c++) {
        if (causal) kernels.lshChunkMask(qIdx + 4 * c * w, w, kIdx + 4 * c * kw, kw, true, 0, mask + 4 * c * w * kw);
        calls.push({
          ...plainCall({
            q: qc + 4 * c * w * dh, qStride: dh, k: kc + 4 * c * kw * dh, kStride: dh, v: vc + 4 * c * kw * dv, vStride: dv,
            o: oc + 4 * c * w * dv, oStride: dv, nq: w, nk: kw, dh, dv, scale: p.scale, lse: causal ? lse + 4 * c * w : 0,
          }),
          mask: causal ? mask + 4 * c * w * kw : 0,
          maskStride: causal ? kw : 0,
        });
      }
      kernels.attnOnlineMany(calls);
      // Scatter-mean into the output rows (a row that saw no key is zero: it adds nothing, and
      // is not counted).
      const yh = headPtr(op, b, h, qHeads, nq, dv);
      arena.f32(yh, nq * dv).fill(0);
      kernels.rowsScatterAdd(yh, dv, oc, dv, qIdx, C * w, dv);
      const l = causal ? arena.f32(lse, C * w) : undefined;
      counts.fill(0);
      for (let r = 0; r < C * w; r++) if (!l || l[r] !== -Infinity) counts[qRoutes[r]]++;
      const y = arena.f32(yh, nq * dv);
      for (let i = 0; i < nq; i++) {
        if (counts[i] <= 1) continue;
        const inv = 1 / counts[i];
        for (let e = 0; e < dv; e++) y[i * dv + e] *= inv;
      }
    }
    const muNow = arena.f32(muH, C * dh).slice();
    if (spec.decay !== undefined) {
      const assign = new Int32Array(Ns);
      assignSamples(kernels, samples, Ns, dh, muH, C, dists, assign);
      const fresh = meansOf(kernels, samples, Ns, dh, assign, muNow, C);
      const lam = spec.decay;
      for (let e = 0; e < C * dh; e++) muNow[e] = lam * muNow[e] + (1 - lam) * fresh[e];
    }
    result.set(muNow, h * C * dh);
  }
  return result;
}

export function routingAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: RoutingOptions,
): Tensor | RoutingResult {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'routingAttention needs options with clusters, got undefined');
  const options = readOptions<RoutingOptions>(optionsIn, ROUTING_KEYS, 'options', 'rt.routingAttention');
  const p = prepare(kernels, qIn, kIn, vIn, options, 'routingAttention');
  const { qHeads, nq, nk, dh, dv } = p.dims;
  if (nq === 0 || nk === 0) {
    throw new AttentionError('SHAPE_MISMATCH', `routingAttention needs at least one query and one key, got nq = ${nq} and nk = ${nk}`);
  }
  const spec = routingSpec(kernels, options, qHeads, nq, nk, dh);
  assertPreparedLive(kernels, p, options.out, { 'options.centroids': spec.centroids?.resident });
  if (outputIsEmpty(p) && (!spec.returnCentroids || qHeads * spec.C * dh === 0)) {
    // Nothing to compute (no output, and no centroids or empty ones): no per-head k-means.
    const output = emptyOutput(p);
    return spec.returnCentroids ? { output, centroids: { data: new Float32Array(0), shape: [qHeads, spec.C, dh] } } : output;
  }
  if (!spec.centroids || dh === 0) checkClusters(spec.C, p.dims.batch * (nq + nk), 'options.clusters');
  const scope = new Scope(kernels.arena);
  try {
    kernels.reserveAttention(spec.kw, dh, dv);
    kernels.reserveGemm(Math.max(nq, nk, spec.C), dh);
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope, [spec.centroids]);
    const mu = runRouting(kernels, p, spec, qp, kp, vp, op, scope);
    const output = finishOutput(kernels, p, op);
    if (!spec.returnCentroids) return output;
    return { output, centroids: { data: mu, shape: [qHeads, spec.C, dh] } };
  } finally {
    scope.close();
  }
}

/** rt.routingCentroids: the seeded k-means centroids rt.routingAttention would start from, [heads, clusters, headDim]. */
export function routingCentroids(kernels: Kernels, qIn: TensorLike, kIn: TensorLike | null, optionsIn: RoutingCentroidOptions): Tensor {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'routingCentroids needs options with clusters, got undefined');
  const options = readOptions<RoutingCentroidOptions>(optionsIn, CENTROID_KEYS, 'options', 'rt.routingCentroids');
  const arena = kernels.arena;
  const q = viewTensor(qIn, 'q', F32, arena);
  const k = kIn === null || kIn === undefined ? undefined : viewTensor(kIn, 'k', F32, arena);
  if (q.shape.length !== 4) throw new AttentionError('SHAPE_MISMATCH', `q must be 4-D [batch, heads, nq, headDim], got ${formatShape(q.shape)}`);
  const [B, H, nq, dh] = q.shape;
  let kvHeads = H;
  let nk = 0;
  if (k) {
    if (k.shape.length !== 4 || k.shape[0] !== B || k.shape[3] !== dh || k.shape[1] === 0 || H % k.shape[1] !== 0) {
      throw new AttentionError('SHAPE_MISMATCH', `k must be [batch, kvHeads, nk, headDim] = [${B}, kvHeads dividing ${H}, nk, ${dh}], got ${formatShape(k.shape)}`);
    }
    kvHeads = k.shape[1];
    nk = k.shape[2];
  }
  const C = requiredInteger(options.clusters, 'options.clusters', 1);
  const seed = seedOption(options.seed, 'options.seed');
  const iterations = integerOption(options.iterations, 'options.iterations', 10, 0);
  if (iterations > MAX_KMEANS_ITERATIONS) {
    throw new AttentionError('INVALID_OPTION', `options.iterations (k-means rounds) must be ≤ ${MAX_KMEANS_ITERATIONS}, got ${iterations}`);
  }
  const Ns = B * (nq + nk);
  if (Ns === 0) throw new AttentionError('SHAPE_MISMATCH', 'routingCentroids needs at least one query or key row, got none');
  checkClusters(C, Ns, 'options.clusters');
  if (H * C * dh === 0) return { data: new Float32Array(0), shape: [H, C, dh] };
  const group = H / kvHeads;
  assertLive(kernels, { q: qIn, k: kIn });
  const scope = new Scope(arena);
  try {
    kernels.reserveGemm(C, dh);
    const qp = scope.place(q);
    const kp = k ? scope.place(k) : 0;
    const samples = scope.alloc(Ns * dh, 'normalized queries and keys');
    const dists = scope.alloc(Ns * C, 'centroid scores');
    const mu = scope.alloc(H * C * dh, 'centroids');
    for (let h = 0; h < H; h++) {
      for (let b = 0; b < B; b++) {
        normalizeRows(kernels, headPtr(qp, b, h, H, nq, dh), nq, dh, samples + 4 * b * nq * dh);
        if (k) normalizeRows(kernels, headPtr(kp, b, Math.floor(h / group), kvHeads, nk, dh), nk, dh, samples + 4 * (B * nq + b * nk) * dh);
      }
      kmeans(kernels, samples, Ns, dh, C, routingHeadSeed(seed, h), iterations, mu + 4 * h * C * dh, dists);
    }
    return { data: arena.f32(mu, H * C * dh).slice(), shape: [H, C, dh] };
  } finally {
    scope.close();
  }
}

// ── routing over paths ────────────────────────────────────────────────────────────────────────

/** One attention path of `rt.routedAttention`: a variant and its options (scale and out come from the call). */
export type AttentionPath =
  | {
    /** Full attention (rt.attention). */
    type: 'full';
    /** As rt.attention's causal. */
    causal?: boolean | 'bottom-right' | 'top-left';
    /** As rt.attention's window. */
    window?: {
      /** Keys before the aligned position. */
      left?: number;
      /** Keys after the aligned position. */
      right?: number } }
  | ({
    /** Sliding-window attention (rt.slidingWindowAttention). */
    type: 'window' } & Omit<SlidingWindowOptions, 'scale' | 'out'>)
  | ({
    /** Longformer / BigBird (rt.globalLocalAttention). */
    type: 'global-local' } & Omit<GlobalLocalOptions, 'scale' | 'out'>)
  | ({
    /** Segmented attention (rt.segmentedAttention). */
    type: 'segmented' } & Omit<SegmentedOptions, 'scale' | 'out'>)
  | ({
    /** Reformer LSH attention (rt.lshAttention; sharedQK ignores k). */
    type: 'lsh' } & Omit<LshOptions, 'scale' | 'out'>)
  | ({
    /** Linformer (rt.linformerAttention). */
    type: 'linformer' } & Omit<LinformerOptions, 'scale' | 'out'>)
  | ({
    /** Routing Transformer clustering attention (rt.routingAttention). */
    type: 'routing' } & Omit<RoutingOptions, 'scale' | 'out' | 'returnCentroids'>);

/** The routing matrix of `rt.routedAttention`: π_i = softmax(x_i·W_r + b). */
export interface Router {
  /**
   * W_r. Paths: [headDim, P] or [heads, headDim, P] (x = the head's query), or [inputDim, P] with
   * `input`. Heads: [heads·headDim, heads] (x = the token's concatenated query heads), or
   * [inputDim, heads] with `input`.
   */
  weights: TensorLike;
  /** b: [P] (or [heads, P] with per-head weights); entries may be −∞ (that route is never taken). Default 0. */
  bias?: TensorLike;
  /** x: [batch, n, inputDim], the token representations to route (shared by every head). Default: the queries. */
  input?: TensorLike;
}

/** Options of `rt.routedAttention`. */
export interface RoutedOptions {
  /** The attention paths (≥ 1; exactly 1 with over: 'heads'). */
  paths: readonly AttentionPath[];
  /** Route over the paths (default) or over the heads of the one path. */
  over?: 'paths' | 'heads';
  /** The routing matrix (required unless `routes` is given). */
  router?: Router;
  /** Explicit route weights instead of a router: [batch, heads or 1, n, P] (over heads: [batch, 1, n, heads]); finite, ≥ 0. */
  routes?: TensorLike;
  /** Also return the route probabilities. Default false. */
  returnRoutes?: boolean;
  /** Multiplier of Q·Kᵀ in every path. Default 1/√headDim. */
  scale?: number;
  /**
   * Write the output here: a WasmTensor (zero-copy) or a Tensor of the output shape. Read once. It
   * may be (or overlap) an input: the output is then computed into a temporary block and copied
   * into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** `rt.routedAttention` with `returnRoutes: true`. */
export interface RoutedResult {
  /** The mixture, [batch, heads, n, valueDim] (over heads: [batch, 1, n, valueDim]). */
  output: Tensor;
  /** π: [batch, heads, n, P] (router on the queries), or [batch, 1, n, P] (router input, or over heads). */
  routes: Tensor;
}

const ROUTED_KEYS = optionKeys<RoutedOptions>({
  paths: true, over: true, router: true, routes: true, returnRoutes: true, scale: true, out: true,
});
const ROUTER_KEYS = optionKeys<Router>({ weights: true, bias: true, input: true });

/** The WasmTensors among the paths' options (one level deep: `global.scores` too), by name. */
function pathTensors(paths: PathSnapshot[]): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  paths.forEach((path, i) => {
    for (const [key, value] of Object.entries(path)) {
      if (value instanceof WasmTensor) found[`options.paths[${i}].${key}`] = value;
      else if (typeof value === 'object' && value !== null) {
        for (const [inner, x] of Object.entries(value)) if (x instanceof WasmTensor) found[`options.paths[${i}].${key}.${inner}`] = x;
      }
    }
  });
  return found;
}

/** Runs path `path` with q, k, v resident, into the resident tensor `out`. */
function runPath(kernels: Kernels, path: PathSnapshot, i: number, q: WasmTensor, k: WasmTensor, v: WasmTensor, out: WasmTensor, scale: number): void {
  const { type, ...rest } = path;
  const opts = { ...rest, scale, out };
  try {
    switch (type) {
      case 'full':
        attention(kernels, q, k, v, { causal: path.causal as AttentionOptions['causal'], window: path.window as AttentionOptions['window'], scale, out });
        return;
      case 'window':
        slidingWindowAttention(kernels, q, k, v, opts as unknown as SlidingWindowOptions);
        return;
      case 'global-local':
        globalLocalAttention(kernels, q, k, v, opts as unknown as GlobalLocalOptions);
        return;
      case 'segmented':
        segmentedAttention(kernels, q, k, v, opts as unknown as SegmentedOptions);
        return;
      case 'lsh':
        lshAttention(kernels, q, (rest as LshOptions).sharedQK ? null : k, v, opts as unknown as LshOptions);
        return;
      case 'linformer':
        linformerAttention(kernels, q, k, v, opts as unknown as LinformerOptions);
        return;
      case 'routing':
        routingAttention(kernels, q, k, v, { ...(opts as unknown as RoutingOptions), returnCentroids: false });
        return;
      default:
        throw new AttentionError('INVALID_OPTION', `options.paths[${i}].type must be one of ${PATH_TYPES.map((t) => `'${t}'`).join(', ')}, got ${formatValue(type)}`);
    }
  } catch (e) {
    if (e instanceof AttentionError && !e.message.startsWith(`options.paths[${i}]`)) {
      throw new AttentionError(e.code, `options.paths[${i}] (${String(type)}): ${e.message}`);
    }
    throw e;
  }
}

export function routedAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  raw: RoutedOptions,
): Tensor | RoutedResult {
  if (raw === undefined) throw new AttentionError('INVALID_OPTION', 'routedAttention needs options with paths and a router, got undefined');
  const options = readOptions<RoutedOptions>(raw, ROUTED_KEYS, 'options', 'rt.routedAttention');
  const arena = kernels.arena;
  const over = options.over ?? 'paths';
  if (over !== 'paths' && over !== 'heads') throw new AttentionError('INVALID_OPTION', `options.over must be 'paths' or 'heads', got ${formatValue(over)}`);
  // Validate the shapes (and `out` against the mixture's shape, checked below) through prepare.
  const p = prepare(kernels, qIn, kIn, vIn, { scale: options.scale, out: undefined }, 'routedAttention');
  const { batch: B, qHeads: H, nq, dh, dv } = p.dims;
  const pathsIn = options.paths;
  if (!Array.isArray(pathsIn) || pathsIn.length === 0) {
    throw new AttentionError('INVALID_OPTION', `options.paths must be a non-empty array of attention paths ({ type: 'full' | 'window' | … }), got ${Array.isArray(pathsIn) ? '[]' : String(pathsIn)}`);
  }
  const paths = Array.from(pathsIn as unknown[], (path, i) => readPath(path, i, ROUTING_KEYS));
  if (over === 'heads' && paths.length !== 1) {
    throw new AttentionError('INVALID_OPTION', `options.paths must hold exactly one path when routing over heads (options.over = 'heads'), got ${paths.length}`);
  }
  const P = over === 'heads' ? H : paths.length;
  const outHeads = over === 'heads' ? 1 : H;
  const outShape = [B, outHeads, nq, dv];
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena);
  const returnRoutes = booleanOption(options.returnRoutes, 'options.returnRoutes', false);

  // Routes: explicit, or a router (W_r, bias, input) validated here.
  let routesView: TensorView<Float32Array> | undefined;
  let routeHeads = 1; // heads dimension of π (H: per-head router on the queries)
  let wView: TensorView<Float32Array> | undefined;
  let bView: TensorView<Float32Array> | undefined;
  let xView: TensorView<Float32Array> | undefined;
  let wPerHead = false;
  let inDim = 0;
  if (options.routes !== undefined) {
    if (options.router !== undefined) throw new AttentionError('INVALID_OPTION', 'options.routes and options.router exclude each other: give one, got both');
    routesView = viewTensor(options.routes, 'options.routes', F32, arena);
    const s = routesView.shape;
    const ok = s.length === 4 && s[0] === B && (s[1] === 1 || (over === 'paths' && s[1] === H)) && s[2] === nq && s[3] === P;
    if (!ok) {
      throw new AttentionError('SHAPE_MISMATCH', `options.routes must have shape [${B}, ${over === 'paths' ? `${H} or 1` : '1'}, ${nq}, ${P}] (batch, heads, n, ${over === 'paths' ? 'paths' : 'heads'}), got ${formatShape(s)}`);
    }
    routeHeads = s[1];
    const data = viewData(routesView);
    for (let i = 0; i < data.length; i++) {
      if (!(data[i] >= 0) || !Number.isFinite(data[i])) {
        throw new AttentionError('INVALID_OPTION', `options.routes must hold finite weights ≥ 0, got ${data[i]} at index ${i}`);
      }
    }
  } else {
    if (typeof options.router !== 'object' || options.router === null || Array.isArray(options.router)) {
      throw new AttentionError('INVALID_OPTION', `options.router must be { weights, bias?, input? } (or give options.routes), got ${String(options.router)}`);
    }
    const r = readOptions<Router>(options.router, ROUTER_KEYS, 'options.router', 'rt.routedAttention');
    wView = viewTensor(r.weights, 'options.router.weights', F32, arena);
    const ws = wView.shape;
    if (r.input !== undefined) {
      xView = viewTensor(r.input, 'options.router.input', F32, arena);
      const xs = xView.shape;
      if (xs.length !== 3 || xs[0] !== B || xs[1] !== nq) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.input must have shape [batch, n, inputDim] = [${B}, ${nq}, inputDim], got ${formatShape(xs)}`);
      }
      inDim = xs[2];
      if (ws.length !== 2 || ws[0] !== inDim || ws[1] !== P) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.weights (W_r) must have shape [inputDim, ${over === 'paths' ? 'paths' : 'heads'}] = [${inDim}, ${P}], got ${formatShape(ws)}`);
      }
    } else if (over === 'heads') {
      inDim = H * dh;
      if (ws.length !== 2 || ws[0] !== inDim || ws[1] !== P) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.weights (W_r) must have shape [heads·headDim, heads] = [${inDim}, ${P}] to route each token's concatenated query heads over the heads, got ${formatShape(ws)}`);
      }
    } else {
      inDim = dh;
      routeHeads = H;
      wPerHead = ws.length === 3;
      const ok = (ws.length === 2 && ws[0] === dh && ws[1] === P) || (ws.length === 3 && ws[0] === H && ws[1] === dh && ws[2] === P);
      if (!ok) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.weights (W_r) must have shape [headDim, paths] = [${dh}, ${P}] or [heads, headDim, paths] = [${H}, ${dh}, ${P}], got ${formatShape(ws)}`);
      }
    }
    const wData = viewData(wView);
    for (let i = 0; i < wData.length; i++) {
      if (!Number.isFinite(wData[i])) throw new AttentionError('INVALID_OPTION', `options.router.weights must hold finite values, got ${wData[i]} at index ${i}`);
    }
    if (r.bias !== undefined) {
      bView = viewTensor(r.bias, 'options.router.bias', F32, arena);
      const bs = bView.shape;
      const ok = (bs.length === 1 && bs[0] === P) || (wPerHead && bs.length === 2 && bs[0] === H && bs[1] === P);
      if (!ok) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.bias must have shape [${P}]${wPerHead ? ` or [${H}, ${P}]` : ''}, got ${formatShape(bs)}`);
      }
      const bData = viewData(bView);
      const rows = bs.length === 2 ? H : 1;
      for (let r0 = 0; r0 < rows; r0++) {
        let any = false;
        for (let c = 0; c < P; c++) {
          const x = bData[r0 * P + c];
          if (Number.isNaN(x) || x === Infinity) throw new AttentionError('INVALID_OPTION', `options.router.bias must hold finite values or −∞, got ${x} at index ${r0 * P + c}`);
          if (x !== -Infinity) any = true;
        }
        if (!any) throw new AttentionError('INVALID_OPTION', `options.router.bias${rows > 1 ? `[${r0}]` : ''} must leave at least one route open (not all −∞)`);
      }
    }
  }

  assertPreparedLive(kernels, p, options.out, {
    'options.routes': routesView?.resident, 'options.router.weights': wView?.resident, 'options.router.bias': bView?.resident,
    'options.router.input': xView?.resident, ...pathTensors(paths),
  });
  const routesEmpty = !returnRoutes || B * routeHeads * nq * P === 0;
  if (B * outHeads * nq * dv === 0 && routesEmpty) {
    // Nothing to compute: no path runs and no router product is taken per (batch, head).
    const output = out?.result ?? { data: new Float32Array(0), shape: outShape };
    return returnRoutes ? { output, routes: { data: new Float32Array(0), shape: [B, routeHeads, nq, P] } } : output;
  }
  const scope = new Scope(arena);
  try {
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputBlock(scope, out, B * outHeads * nq * dv, 'output', [p.q, p.k, p.v, routesView, wView, bView, xView]);
    // π: [B, routeHeads, nq, P] in the arena.
    const pi = scope.alloc(B * routeHeads * nq * P, 'routes');
    if (routesView) {
      arena.f32(pi, B * routeHeads * nq * P).set(viewData(routesView));
    } else {
      kernels.reserveGemm(P, inDim);
      const wp = scope.place(wView!);
      const bp = bView ? scope.place(bView) : 0;
      const bRow = bView && bView.shape.length === 2 ? P : 0;
      if (xView) {
        const xp = scope.place(xView);
        kernels.gemm({ a: xp, lda: inDim, b: wp, ldb: P, c: pi, ldc: P, bias: bp, m: B * nq, n: P, k: inDim, transB: false, accumulate: false });
      } else if (over === 'heads') {
        // x_i = concatenated query heads: row i of head h at q[b, h, i, :], i.e. column block h of W_r.
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            kernels.gemm({
              a: headPtr(qp, b, h, H, nq, dh), lda: dh, b: wp + 4 * h * dh * P, ldb: P, c: pi + 4 * b * nq * P, ldc: P,
              bias: h === 0 ? bp : 0, m: nq, n: P, k: dh, transB: false, accumulate: h > 0,
            });
          }
        }
      } else {
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            kernels.gemm({
              a: headPtr(qp, b, h, H, nq, dh), lda: dh, b: wp + (wPerHead ? 4 * h * dh * P : 0), ldb: P,
              c: pi + 4 * (b * H + h) * nq * P, ldc: P, bias: bp ? bp + 4 * h * bRow : 0, m: nq, n: P, k: dh, transB: false, accumulate: false,
            });
          }
        }
      }
      kernels.softmaxRows(pi, B * routeHeads * nq, P, P);
    }
    const size = B * outHeads * nq * dv;
    if (dv > 0 && nq > 0) {
      const qT = p.q.resident ?? new WasmTensor(arena, p.q.shape, qp);
      const kT = p.k!.resident ?? new WasmTensor(arena, p.k!.shape, kp);
      const vT = p.v.resident ?? new WasmTensor(arena, p.v.shape, vp);
      const pathOut = scope.alloc(B * H * nq * dv, 'path output');
      const oT = new WasmTensor(arena, [B, H, nq, dv], pathOut);
      arena.f32(op, size).fill(0);
      if (over === 'heads') {
        runPath(kernels, paths[0], 0, qT, kT, vT, oT, p.scale);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            kernels.rowsAxpy(op + 4 * b * nq * dv, dv, headPtr(pathOut, b, h, H, nq, dv), dv, 0, pi + 4 * (b * nq * P + h), P, 1, nq, dv);
          }
        }
      } else {
        for (let path = 0; path < P; path++) {
          const w0 = arena.f32(pi, B * routeHeads * nq * P);
          let used = false;
          for (let r = path; r < w0.length; r += P) {
            if (w0[r] !== 0) {
              used = true;
              break;
            }
          }
          if (!used) continue;
          runPath(kernels, paths[path], path, qT, kT, vT, oT, p.scale);
          for (let b = 0; b < B; b++) {
            for (let h = 0; h < H; h++) {
              const wh = routeHeads === 1 ? 0 : h;
              kernels.rowsAxpy(
                headPtr(op, b, h, H, nq, dv), dv, headPtr(pathOut, b, h, H, nq, dv), dv, 0,
                pi + 4 * ((b * routeHeads + wh) * nq * P + path), P, 1, nq, dv,
              );
            }
          }
        }
      }
    }
    const output = writeOut(arena, out, op, outShape);
    if (!returnRoutes) return output;
    return { output, routes: { data: arena.f32(pi, B * routeHeads * nq * P).slice(), shape: [B, routeHeads, nq, P] } };
  } finally {
    scope.close();
  }
}
