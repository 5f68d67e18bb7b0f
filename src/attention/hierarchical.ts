// hierarchical.ts — rt.hierarchicalAttention: attention over a hierarchy of levels (tokens →
// segments → … → document), each level's outputs aggregated by a function G into the next
// level's inputs.
//
// Structure (self-attention over n tokens). The caller gives L ≥ 1 partitions, `levels`:
// levels[ℓ] cuts the n_ℓ units of level ℓ into n_{ℓ+1} contiguous, non-empty, non-overlapping
// groups that cover every unit (n_0 = n tokens; a group of level ℓ is a unit of level ℓ + 1).
// Level ℓ has inputs X^ℓ and outputs O^ℓ (n_ℓ rows each, per batch entry and query head):
//   level 0       O⁰_i = Σ_{j ∈ g(i)} softmax_j(s·q_i·k_j) v_j            (q, k, v as given)
//   level 1 … L   O^ℓ_i = Σ_{j ∈ g(i)} softmax_j(s'·x_i·x_j) x_j,  x = X^ℓ (queries = keys = values)
// where g(i) is the group of unit i in levels[ℓ] for ℓ < L, and every unit of the top level L
// (the document level: one group). Between levels:
//   X^{ℓ+1}_g = G_ℓ({O^ℓ_i : i ∈ group g of levels[ℓ]})
// and the document vector is D = G_L({O^L_i : all i}). G is, per step,
//   'mean'   the mean of the rows;
//   'max'    the coordinate-wise maximum;
//   { query: w }  attention pooling with a learned query: Σ_i softmax_i(s_p·w·O_i) O_i
//            (w: [valueDim] or [heads, valueDim]; s_p default 1/√valueDim).
// Token-level output (a_ℓ(t) = the level-ℓ unit containing token t, a_0(t) = t):
//   y_t = Σ_{ℓ=0}^{L} c_ℓ · O^ℓ_{a_ℓ(t)}      c = `combine`: 'mean' (default, c_ℓ = 1/(L+1)),
//                                             'sum' (c_ℓ = 1) or explicit weights.
// Composition: one fused-kernel call per group (Q, K and V read in place through the layout's row
// strides, all groups of a level handed to the worker pool together), f32_rows_mean for means, a one-query kernel call per
// group for attention pooling; max pooling and the combination are O(n·d) loops. Time
// O(Σ_ℓ Σ_g |g|²·d), memory O(n·d). Not causal (aggregation mixes a group's future tokens).
// References: Z. Yang, D. Yang, C. Dyer, X. He, A. Smola, E. Hovy, "Hierarchical Attention Networks
// for Document Classification" (NAACL 2016) — word → sentence → document with attention pooling by
// a learned context vector; X. Zhang, F. Wei, M. Zhou, "HIBERT" (ACL 2019) — sentence encoder then
// document encoder over sentence vectors; Z. Lin et al., "A Structured Self-attentive Sentence
// Embedding" (ICLR 2017) — attention pooling.

import type { AttnCall } from '../kernels/attention';
import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { rowKernels } from '../kernels/rows';
import { AttentionError, f32At, f32Bytes, formatShape, formatValue } from '../runtime/index';
import { type Tensor, type TensorLike, type TensorView, viewTensor, type WasmTensor } from '../tensor';
import { bhsdLayout, headAt, type HeadLayout, layoutOf, rowAt, shapeIn } from './head-layout';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, outputIsEmpty, outputPtr, plainCall, prepare, type Prepared, Scope,
} from './long-common';
import { observeUnits } from './heads-observer';
import { checkAtMost, finiteOption, optionKeys, readOptions } from './options';

/**
 * How a level's outputs are pooled into one vector per group: 'mean', 'max' (per coordinate), or
 * attention pooling with a learned query `w` ([valueDim] or [heads, valueDim]):
 * Σ_i softmax_i(scale·w·o_i)·o_i, scale default 1/√valueDim.
 */
export type HierarchicalAggregate = 'mean' | 'max' | {
  /** The learned query: [valueDim] shared by all heads, or [heads, valueDim]. */
  query: TensorLike;
  /** Multiplier of w·o. Default 1/√valueDim. */
  scale?: number };

/**
 * A partition of a level's units into contiguous groups: a group size g (groups of g units, the
 * last one shorter), boundaries [0, b₁, …, n_ℓ] (strictly increasing), or [start, end) pairs in
 * order that neither overlap nor leave gaps.
 */
export type HierarchicalLevel = number | ArrayLike<number> | ReadonlyArray<readonly [number, number]>;

/** Options of `rt.hierarchicalAttention`. */
export interface HierarchicalOptions {
  /**
   * The structure, bottom up: levels[0] groups the tokens into segments, levels[1] groups the
   * segments, …; the top level attends over all its units (the document). At least one level,
   * at most ⌈log2 n⌉ + 1 for n tokens.
   */
  levels: readonly HierarchicalLevel[];
  /** G: one for every step, or one per step (levels.length + 1 entries; the last pools the document). Default 'mean'. */
  aggregate?: HierarchicalAggregate | readonly HierarchicalAggregate[];
  /** Weights c_ℓ of the token-level output y_t = Σ_ℓ c_ℓ·O^ℓ(a_ℓ(t)): 'mean' (default), 'sum' or levels.length + 1 numbers. */
  combine?: 'mean' | 'sum' | ArrayLike<number>;
  /** Multiplier of q·k at the token level. Default 1/√headDim. */
  scale?: number;
  /** Multiplier of x·x at the upper levels. Default 1/√valueDim. */
  levelScale?: number;
  /**
   * `'bhsd'` (default): q, k, v, the output and every level's outputs are [batch, heads, seq, dim];
   * `'bshd'`: [batch, seq, heads, dim] (PyTorch batch_first, flash-attn), q, k, v read in place
   * through strides.
   */
  layout?: 'bhsd' | 'bshd';
  /**
   * Write the token-level output here: a WasmTensor (zero-copy) or a Tensor of the output shape.
   * Read once. It may be (or overlap) an input: the output is then computed into a temporary block
   * and copied into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** Result of `rt.hierarchicalAttention` (shapes in the call's layout: [batch, seq, heads, dim] with 'bshd'). */
export interface HierarchicalResult {
  /** Token-level output y, [batch, heads, n, valueDim]. */
  output: Tensor;
  /** O^ℓ for ℓ = 0 … L: [batch, heads, n_ℓ, valueDim] (levels[0] is the token level, before combination). */
  levels: Tensor[];
  /** The document vector D = G_L(O^L): [batch, heads, 1, valueDim] ([batch, 1, heads, valueDim] with 'bshd', the same values). */
  document: Tensor;
}

/** Groups of a partition into groups of `size` units (validated), without building its boundaries. */
function groupCount(size: number, units: number, name: string): number {
  if (!Number.isInteger(size) || size < 1) {
    throw new AttentionError('INVALID_OPTION', `${name} must be a group size ≥ 1, boundaries or [start, end) pairs, got ${String(size)}`);
  }
  return Math.ceil(units / size);
}

/** Group boundaries (n_groups + 1 entries, 0 … units) of one partition, validated. */
export function levelBounds(spec: unknown, units: number, name: string): Int32Array {
  if (typeof spec === 'number') {
    const groups = groupCount(spec, units, name);
    return Int32Array.from({ length: groups + 1 }, (_, g) => Math.min(g * spec, units));
  }
  const isList = Array.isArray(spec) || (ArrayBuffer.isView(spec) && !(spec instanceof DataView));
  if (!isList) {
    throw new AttentionError('INVALID_OPTION', `${name} must be a group size, boundaries [0, …, ${units}] or [start, end) pairs, got ${String(spec)}`);
  }
  const list = spec as ArrayLike<unknown>;
  if (list.length > 0 && Array.isArray(list[0])) {
    // [start, end) pairs
    const out = new Int32Array(list.length + 1);
    let prevEnd = 0;
    for (let s = 0; s < list.length; s++) {
      const pair = list[s];
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((x) => Number.isInteger(x))) {
        throw new AttentionError('INVALID_OPTION', `${name}[${s}] must be a [start, end) pair of integers, got ${formatValue(pair)}`);
      }
      const [a, b] = pair as [number, number];
      if (b <= a) throw new AttentionError('INVALID_OPTION', `${name}[${s}] = [${a}, ${b}) is empty: segments need start < end`);
      if (a < prevEnd) {
        throw new AttentionError('INVALID_OPTION', `${name}[${s}] = [${a}, ${b}) overlaps the previous segment${s > 0 ? ` [${String((list[s - 1] as number[])[0])}, ${prevEnd})` : ''}: segments must not overlap (expected start ${prevEnd})`);
      }
      if (a > prevEnd) {
        throw new AttentionError('INVALID_OPTION', `${name}[${s}] = [${a}, ${b}) leaves units ${prevEnd} … ${a - 1} in no segment: segments must cover every unit (expected start ${prevEnd})`);
      }
      out[s] = a;
      prevEnd = b;
    }
    if (prevEnd !== units) {
      throw new AttentionError('INVALID_OPTION', `${name} must cover units 0 … ${units - 1} (${units} at this level), but its last segment ends at ${prevEnd}`);
    }
    out[list.length] = units;
    return out;
  }
  // boundaries
  const b = Array.from(list, (x) => x as number);
  if (b.length < 2 || b.some((x) => typeof x !== 'number' || !Number.isInteger(x))) {
    throw new AttentionError('INVALID_OPTION', `${name} must hold integer boundaries [0, …, ${units}] (at least two), got ${formatValue(b)}`);
  }
  if (b[0] !== 0) throw new AttentionError('INVALID_OPTION', `${name} boundaries must start at 0, got ${b[0]}`);
  if (b[b.length - 1] !== units) {
    throw new AttentionError('INVALID_OPTION', `${name} boundaries must end at the number of units of this level (${units}), got ${b[b.length - 1]}`);
  }
  for (let s = 1; s < b.length; s++) {
    if (b[s] <= b[s - 1]) {
      throw new AttentionError('INVALID_OPTION', `${name} boundaries must be strictly increasing (segments neither overlap nor are empty), got ${b[s - 1]} then ${b[s]} at index ${s}`);
    }
  }
  return Int32Array.from(b);
}

const POOL_KEYS = optionKeys<{ query: unknown; scale?: unknown }>({ query: true, scale: true });

/** The keys of HierarchicalOptions. */
export const HIERARCHICAL_KEYS = optionKeys<HierarchicalOptions>({
  levels: true, aggregate: true, combine: true, scale: true, levelScale: true, layout: true, out: true,
});

/** A validated aggregation step. */
type Aggregate = { kind: 'mean' } | { kind: 'max' } | { kind: 'pool'; view: TensorView<Float32Array>; perHead: boolean; scale: number };

function aggregateSpec(kernels: Kernels, spec: unknown, name: string, heads: number, dv: number): Aggregate {
  if (spec === 'mean') return { kind: 'mean' };
  if (spec === 'max') return { kind: 'max' };
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
    const s = readOptions<{ query: unknown; scale?: unknown }>(spec, POOL_KEYS, name, 'rt.hierarchicalAttention');
    const view = viewTensor(s.query, `${name}.query`, [Float32Array] as const, kernels.arena);
    const shape = view.shape;
    const shared = shape.length === 1 && shape[0] === dv;
    const perHead = shape.length === 2 && shape[0] === heads && shape[1] === dv;
    if (!shared && !perHead) {
      throw new AttentionError('SHAPE_MISMATCH', `${name}.query must have shape [${dv}] or [${heads}, ${dv}] (valueDim, or heads × valueDim), got ${formatShape(shape)}`);
    }
    const scale = finiteOption(s.scale, `${name}.scale`, dv > 0 ? 1 / Math.sqrt(dv) : 1);
    return { kind: 'pool', view, perHead, scale };
  }
  throw new AttentionError('INVALID_OPTION', `${name} must be 'mean', 'max' or { query }, got ${typeof spec === 'string' ? formatValue(spec) : String(spec)}`);
}

/** Max pooling of `rows` rows (`stride` elements apart) into dst. */
function maxRows(kernels: Kernels, src: number, stride: number, rows: number, dv: number, dst: number): void {
  const s = kernels.arena.f32(src, (rows - 1) * stride + dv);
  const d = kernels.arena.f32(dst, dv);
  for (let x = 0; x < dv; x++) d[x] = s[x];
  for (let r = 1; r < rows; r++) {
    const o = r * stride;
    for (let x = 0; x < dv; x++) {
      const val = s[o + x];
      if (val > d[x] || Number.isNaN(val)) d[x] = val;
    }
  }
}

/** The result of a call without batch entries, heads or value columns: every level empty. */
function emptyHierarchy(p: Prepared, sizes: number[]): HierarchicalResult {
  const { batch, qHeads, dv } = p.dims;
  const empty = (units: number): Tensor => ({ data: new Float32Array(0), shape: shapeIn(p.layout, batch, qHeads, units, dv) });
  return { output: emptyOutput(p), levels: sizes.map(empty), document: empty(1) };
}

export function hierarchicalAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: HierarchicalOptions,
): HierarchicalResult {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'hierarchicalAttention needs options with levels, got undefined');
  const options = readOptions<HierarchicalOptions>(optionsIn, HIERARCHICAL_KEYS, 'options', 'rt.hierarchicalAttention');
  const p = prepare(kernels, qIn, kIn, vIn, options, 'hierarchicalAttention');
  const { batch, qHeads, kvHeads, nq, nk, dh, dv } = p.dims;
  if (nq !== nk) {
    throw new AttentionError('SHAPE_MISMATCH', `hierarchicalAttention is self-attention: q and k must have the same sequence length, got nq = ${nq} and nk = ${nk}`);
  }
  const n = nq;
  if (n === 0) throw new AttentionError('SHAPE_MISMATCH', 'hierarchicalAttention needs at least one token, got a sequence length of 0');
  const levelsIn = options.levels;
  if (!Array.isArray(levelsIn) || levelsIn.length === 0) {
    throw new AttentionError('INVALID_OPTION', `options.levels must be a non-empty array of partitions (levels[0] groups the tokens into segments), got ${Array.isArray(levelsIn) ? '[]' : String(levelsIn)}`);
  }
  const L = levelsIn.length;
  // Every level is a pass over all units of the level below (and their JavaScript tables):
  // a useful hierarchy halves the units per level, so more levels than that only repeat work.
  checkAtMost(L, Math.ceil(Math.log2(n)) + 1, 'options.levels.length', `⌈log2 n⌉ + 1 levels for n = ${n} tokens`);
  const empty = outputIsEmpty(p);
  const bounds: Int32Array[] = [];
  const sizes = [n];
  for (let l = 0; l < L; l++) {
    const spec = levelsIn[l];
    if (empty && typeof spec === 'number') {
      // Nothing is computed: count the groups (the boundary table of n units could be huge).
      sizes.push(groupCount(spec, sizes[l], `options.levels[${l}]`));
      continue;
    }
    const b = levelBounds(spec, sizes[l], `options.levels[${l}]`);
    bounds.push(b);
    sizes.push(b.length - 1);
  }
  const aggIn = options.aggregate ?? 'mean';
  let aggs: Aggregate[];
  if (Array.isArray(aggIn)) {
    if (aggIn.length !== L + 1) {
      throw new AttentionError('INVALID_OPTION', `options.aggregate must be one aggregation or one per step (levels.length + 1 = ${L + 1}, the last pools the document), got ${aggIn.length}`);
    }
    aggs = aggIn.map((a, i) => aggregateSpec(kernels, a, `options.aggregate[${i}]`, qHeads, dv));
  } else {
    const one = aggregateSpec(kernels, aggIn, 'options.aggregate', qHeads, dv);
    aggs = new Array<Aggregate>(L + 1).fill(one);
  }
  let weights: number[];
  const c = options.combine ?? 'mean';
  if (c === 'mean') weights = new Array<number>(L + 1).fill(1 / (L + 1));
  else if (c === 'sum') weights = new Array<number>(L + 1).fill(1);
  else if ((Array.isArray(c) || ArrayBuffer.isView(c)) && typeof c !== 'string') {
    weights = Array.from(c as ArrayLike<number>);
    if (weights.length !== L + 1 || weights.some((w) => typeof w !== 'number' || !Number.isFinite(w))) {
      throw new AttentionError('INVALID_OPTION', `options.combine must be 'mean', 'sum' or ${L + 1} finite weights (one per level), got ${formatValue(weights)}`);
    }
  } else {
    throw new AttentionError('INVALID_OPTION', `options.combine must be 'mean', 'sum' or ${L + 1} finite weights (one per level), got ${formatValue(c)}`);
  }
  const levelScale = finiteOption(options.levelScale, 'options.levelScale', dv > 0 ? 1 / Math.sqrt(dv) : 1);
  if (empty) return emptyHierarchy(p, sizes);

  // Ancestors: anc[ℓ][t] = the level-ℓ unit containing token t.
  const anc: Int32Array[] = [Int32Array.from({ length: n }, (_, t) => t)];
  for (let l = 0; l < L; l++) {
    const parent = new Int32Array(sizes[l]);
    const b = bounds[l];
    for (let g = 0; g + 1 < b.length; g++) parent.fill(g, b[g], b[g + 1]);
    anc.push(anc[l].map((u) => parent[u]));
  }
  const maxGroup = (b: Int32Array): number => {
    let m = 0;
    for (let g = 0; g + 1 < b.length; g++) m = Math.max(m, b[g + 1] - b[g]);
    return m;
  };

  const pools: Record<string, unknown> = {};
  aggs.forEach((a, i) => {
    if (a.kind === 'pool') pools[`options.aggregate[${i}].query`] = a.view.resident;
  });
  assertPreparedLive(kernels, p, options.out, pools);
  const scope = new Scope(kernels.arena);
  try {
    attentionKernels(kernels).reserve(maxGroup(bounds[0]), dh, dv);
    let upper = sizes[L];
    for (let l = 1; l < L; l++) upper = Math.max(upper, maxGroup(bounds[l]));
    attentionKernels(kernels).reserve(Math.max(upper, ...bounds.map(maxGroup)), dv, dv);
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope, aggs.map((a) => (a.kind === 'pool' ? a.view : undefined)));
    const bh = batch * qHeads;
    // O^ℓ blocks [B, H, n_ℓ, dv] in the call's layout (returned as they are), X^ℓ (ℓ ≥ 1) in bhsd;
    // the document [B, H, 1, dv] (the same bytes in either layout).
    const O = sizes.map((s, l) => scope.alloc(bh * s * dv, `level ${l} output`));
    const X = sizes.map((s, l) => (l === 0 ? 0 : scope.alloc(bh * s * dv, `level ${l} input`)));
    const doc = scope.alloc(bh * dv, 'document');
    const queries = aggs.map((a) => (a.kind === 'pool' ? scope.place(a.view) : 0));
    const group = qHeads / kvHeads;
    // Heads of q, k, v and the output in the call's layout, read in place through their row strides.
    const [Lq, Lk, Lv, Lo] = [headLayoutOf(p, qp, qHeads, n, dh), headLayoutOf(p, kp, kvHeads, n, dh), headLayoutOf(p, vp, kvHeads, n, dv), headLayoutOf(p, op, qHeads, n, dv)];
    const LO = sizes.map((s, l) => layoutOf(p.layout, O[l], qHeads, s, dv));
    const LX = sizes.map((s, l) => bhsdLayout(X[l], qHeads, s, dv));

    const aggregate = (step: number, src: HeadLayout, rows: Int32Array, dst: HeadLayout): void => {
      // Pools each group [rows[g], rows[g + 1]) of every (b, h) head of src into row g of dst.
      const a = aggs[step];
      const groups = rows.length - 1;
      const ss = src.rowStride;
      const calls: AttnCall[] = [];
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < qHeads; h++) {
          for (let g = 0; g < groups; g++) {
            const from = rowAt(src, b, h, rows[g]);
            const count = rows[g + 1] - rows[g];
            const to = rowAt(dst, b, h, g);
            if (a.kind === 'mean') rowKernels(kernels).mean({ src: from, srcStride: ss, n: count, d: dv, out: to });
            else if (a.kind === 'max') maxRows(kernels, from, ss, count, dv, to);
            else {
              calls.push(plainCall({
                q: queries[step] + (a.perHead ? f32Bytes(h * dv) : 0), qStride: dv, k: from, kStride: ss, v: from, vStride: ss,
                o: to, oStride: dst.rowStride, nq: 1, nk: count, dh: dv, dv, scale: a.scale,
              }));
            }
          }
        }
      }
      if (calls.length) attentionKernels(kernels).onlineMany(calls);
    };

    // Units: (level, batch, head); with an observer (the proxy's worker) each unit's calls run
    // on their own after its tick (the pooling between levels counts with the level above).
    const tick = observeUnits((L + 1) * bh);
    const runUnit = (calls: AttnCall[], unit: number): void => {
      tick!(unit);
      attentionKernels(kernels).onlineMany(calls.splice(0));
    };
    if (dv > 0) {
      // Level 0: tokens attend within their segment.
      const calls: AttnCall[] = [];
      const b0 = bounds[0];
      const [qs, ks, vs, os] = [Lq.rowStride, Lk.rowStride, Lv.rowStride, LO[0].rowStride];
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < qHeads; h++) {
          const kvh = Math.floor(h / group);
          const [qh, kh, vh, oh] = [headAt(Lq, b, h), headAt(Lk, b, kvh), headAt(Lv, b, kvh), headAt(LO[0], b, h)];
          for (let g = 0; g + 1 < b0.length; g++) {
            const s0 = b0[g];
            const len = b0[g + 1] - s0;
            calls.push(plainCall({
              q: f32At(qh, s0 * qs), qStride: qs, k: f32At(kh, s0 * ks), kStride: ks, v: f32At(vh, s0 * vs), vStride: vs,
              o: f32At(oh, s0 * os), oStride: os, nq: len, nk: len, dh, dv, scale: p.scale,
            }));
          }
          if (tick) runUnit(calls, b * qHeads + h);
        }
      }
      attentionKernels(kernels).onlineMany(calls);
      // Levels 1 … L: aggregate the level below, then attend within groups (top level: all units).
      for (let l = 1; l <= L; l++) {
        aggregate(l - 1, LO[l - 1], bounds[l - 1], LX[l]);
        const groups = l < L ? bounds[l] : Int32Array.of(0, sizes[l]);
        const lc: AttnCall[] = [];
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < qHeads; h++) {
            for (let g = 0; g + 1 < groups.length; g++) {
              const s0 = groups[g];
              const len = groups[g + 1] - s0;
              const x = rowAt(LX[l], b, h, s0);
              lc.push(plainCall({
                q: x, qStride: dv, k: x, kStride: dv, v: x, vStride: dv,
                o: rowAt(LO[l], b, h, s0), oStride: LO[l].rowStride, nq: len, nk: len, dh: dv, dv, scale: levelScale,
              }));
            }
            if (tick) runUnit(lc, (l * batch + b) * qHeads + h);
          }
        }
        attentionKernels(kernels).onlineMany(lc);
      }
      aggregate(L, LO[L], Int32Array.of(0, sizes[L]), layoutOf(p.layout, doc, qHeads, 1, dv));
      // Token-level combination y_t = Σ_ℓ c_ℓ·O^ℓ(a_ℓ(t)): one gathered multiply-add per level and head.
      kernels.arena.f32(op, bh * n * dv).fill(0);
      const ancPtr = scope.alloc(L * n, 'ancestors');
      for (let l = 1; l <= L; l++) kernels.arena.i32(f32At(ancPtr, (l - 1) * n), n).set(anc[l]);
      for (let l = 0; l <= L; l++) {
        if (weights[l] === 0) continue;
        const idx = l === 0 ? 0 : f32At(ancPtr, (l - 1) * n);
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < qHeads; h++) {
            rowKernels(kernels).axpy({ dst: headAt(Lo, b, h), dstStride: Lo.rowStride, src: headAt(LO[l], b, h), srcStride: LO[l].rowStride, idx, w: 0, wStride: 0, c: weights[l], n, d: dv });
          }
        }
      }
    }
    const output = finishOutput(kernels, p, op);
    const levels = sizes.map((s, l) => ({ data: kernels.arena.f32(O[l], bh * s * dv).slice(), shape: shapeIn(p.layout, batch, qHeads, s, dv) }));
    const document = { data: kernels.arena.f32(doc, bh * dv).slice(), shape: shapeIn(p.layout, batch, qHeads, 1, dv) };
    return { output, levels, document };
  } finally {
    scope.close();
  }
}
