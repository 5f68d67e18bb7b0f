// routing.ts — the Routing Transformer's clustering attention: rt.routingAttention (k-means
// clustering attention) and rt.routingCentroids (its seeded k-means). Routing over attention
// paths (rt.routedAttention) is routed.ts.
//
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

import type { AttnCall } from '../kernels/attention';
import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { gemmKernels } from '../kernels/gemm';
import { lshKernels } from '../kernels/lsh';
import { rowKernels } from '../kernels/rows';
import { AttentionError, f32At, formatShape } from '../runtime/index';
import { type Tensor, type TensorLike, type TensorView, viewData, viewTensor, WasmTensor } from '../tensor';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, headPtr, mixSeed, mulberry32, outputIsEmpty, outputPtr, plainCall, prepare, type Prepared, Scope,
} from './long-common';
import { headAt } from './head-layout';
import { observeUnits } from './heads-observer';
import {
  assertLive, booleanOption, checkAtMost, finiteOption, integerOption, optionKeys, readOptions, requiredInteger, seedOption,
} from './options';

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
  /**
   * `'bhsd'` (default): q, k, v and the output are [batch, heads, seq, dim]; `'bshd'`: [batch,
   * seq, heads, dim] (PyTorch batch_first, flash-attn), read in place through strides.
   */
  layout?: 'bhsd' | 'bshd';
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
  emaDecay: true, returnCentroids: true, layout: true, scale: true, out: true,
});
const CENTROID_KEYS = optionKeys<RoutingCentroidOptions>({ clusters: true, seed: true, iterations: true });

/** Seed of head h's k-means initialization. */
export const routingHeadSeed = (seed: number, h: number): number => mixSeed(seed, 0x524f5554, h);

/** L2-normalized rows x / max(‖x‖, 1e-12) of `rows` rows of d (row stride srcStride) at src into dst (stride d). */
function normalizeRows(kernels: Kernels, src: number, srcStride: number, rows: number, d: number, dst: number): void {
  rowKernels(kernels).l2Normalize({ src, srcStride, n: rows, d, dst, dstStride: d });
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
  gemmKernels(kernels).run({ a: x, lda: d, b: mu, ldb: d, c: dists, ldc: C, bias: 0, m: N, n: C, k: d, transB: true, accumulate: false });
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
  // Heads in the call's layout; qst, kst, vst, ost: elements between consecutive positions.
  const [Lq, Lk, Lv, Lo] = [headLayoutOf(p, qp, qHeads, nq, dh), headLayoutOf(p, kp, kvHeads, nk, dh), headLayoutOf(p, vp, kvHeads, nk, dv), headLayoutOf(p, op, qHeads, nq, dv)];
  const [qst, kst, vst, ost] = [Lq.rowStride, Lk.rowStride, Lv.rowStride, Lo.rowStride];
  // Units: (head, batch entry) in the loops' order; a head's k-means counts with its first entry.
  const tick = observeUnits(qHeads * B);
  for (let h = 0; h < qHeads; h++) {
    tick?.(h * B);
    const kvh = Math.floor(h / group);
    const muH = f32At(mu, h * C * dh);
    // Normalized samples: queries of every batch entry, then keys.
    for (let b = 0; b < B; b++) {
      normalizeRows(kernels, headAt(Lq, b, h), qst, nq, dh, f32At(samples, b * nq * dh));
      normalizeRows(kernels, headAt(Lk, b, kvh), kst, nk, dh, f32At(samples, (B * nq + b * nk) * dh));
    }
    if (!spec.centroids) kmeans(kernels, samples, Ns, dh, C, routingHeadSeed(spec.seed, h), spec.iterations, muH, dists);
    for (let b = 0; b < B; b++) {
      if (b > 0) tick?.(h * B + b);
      // Top-w queries and top-w' keys of each cluster, by μ_c·x̂ (rows of μ·X̂ᵀ).
      const route = (x: number, n: number, take: number, routes: Int32Array): void => {
        gemmKernels(kernels).run({ a: muH, lda: dh, b: x, ldb: dh, c: dists, ldc: n, bias: 0, m: C, n, k: dh, transB: true, accumulate: false });
        const s = arena.f32(dists, C * n);
        for (let c = 0; c < C; c++) topWIndices(s.subarray(c * n, (c + 1) * n), n, take, work, routes, c * take);
      };
      route(f32At(samples, b * nq * dh), nq, w, qRoutes);
      route(f32At(samples, (B * nq + b * nk) * dh), nk, kw, kRoutes);
      arena.i32(qIdx, C * w).set(qRoutes);
      arena.i32(kIdx, C * kw).set(kRoutes);
      rowKernels(kernels).gather({ src: headAt(Lq, b, h), srcStride: qst, idx: qIdx, n: C * w, d: dh, dst: qc, dstStride: dh });
      rowKernels(kernels).gather({ src: headAt(Lk, b, kvh), srcStride: kst, idx: kIdx, n: C * kw, d: dh, dst: kc, dstStride: dh });
      rowKernels(kernels).gather({ src: headAt(Lv, b, kvh), srcStride: vst, idx: kIdx, n: C * kw, d: dv, dst: vc, dstStride: dv });
      const calls: AttnCall[] = [];
      for (let c = 0; c < C; c++) {
        if (causal) lshKernels(kernels).chunkMask({ qpos: f32At(qIdx, c * w), nq: w, kpos: f32At(kIdx, c * kw), nk: kw, causal: true, selfPenalty: 0, out: f32At(mask, c * w * kw) });
        calls.push({
          ...plainCall({
            q: f32At(qc, c * w * dh), qStride: dh, k: f32At(kc, c * kw * dh), kStride: dh, v: f32At(vc, c * kw * dv), vStride: dv,
            o: f32At(oc, c * w * dv), oStride: dv, nq: w, nk: kw, dh, dv, scale: p.scale, lse: causal ? f32At(lse, c * w) : 0,
          }),
          mask: causal ? f32At(mask, c * w * kw) : 0,
          maskStride: causal ? kw : 0,
        });
      }
      attentionKernels(kernels).onlineMany(calls);
      // Scatter-mean into the output rows (a row that saw no key is zero: it adds nothing, and
      // is not counted).
      const yh = headAt(Lo, b, h);
      const rowsView = (): Float32Array => arena.f32(yh, nq > 0 ? (nq - 1) * ost + dv : 0); // the head's rows (and, in bshd, the other heads' between them)
      const zero = rowsView();
      for (let i = 0; i < nq; i++) zero.fill(0, i * ost, i * ost + dv);
      rowKernels(kernels).scatterAdd({ dst: yh, dstStride: ost, src: oc, srcStride: dv, idx: qIdx, n: C * w, d: dv });
      const l = causal ? arena.f32(lse, C * w) : undefined;
      counts.fill(0);
      for (let r = 0; r < C * w; r++) if (!l || l[r] !== -Infinity) counts[qRoutes[r]]++;
      const y = rowsView();
      for (let i = 0; i < nq; i++) {
        if (counts[i] <= 1) continue;
        const inv = 1 / counts[i];
        for (let e = 0; e < dv; e++) y[i * ost + e] *= inv;
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
    attentionKernels(kernels).reserve(spec.kw, dh, dv);
    gemmKernels(kernels).reserve(Math.max(nq, nk, spec.C), dh);
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
    gemmKernels(kernels).reserve(C, dh);
    const qp = scope.place(q);
    const kp = k ? scope.place(k) : 0;
    const samples = scope.alloc(Ns * dh, 'normalized queries and keys');
    const dists = scope.alloc(Ns * C, 'centroid scores');
    const mu = scope.alloc(H * C * dh, 'centroids');
    for (let h = 0; h < H; h++) {
      for (let b = 0; b < B; b++) {
        normalizeRows(kernels, headPtr(qp, b, h, H, nq, dh), dh, nq, dh, f32At(samples, b * nq * dh));
        if (k) normalizeRows(kernels, headPtr(kp, b, Math.floor(h / group), kvHeads, nk, dh), dh, nk, dh, f32At(samples, (B * nq + b * nk) * dh));
      }
      kmeans(kernels, samples, Ns, dh, C, routingHeadSeed(seed, h), iterations, f32At(mu, h * C * dh), dists);
    }
    return { data: arena.f32(mu, H * C * dh).slice(), shape: [H, C, dh] };
  } finally {
    scope.close();
  }
}
