// global-local.ts — rt.globalLocalAttention: Longformer's sliding window plus global tokens, with
// global tokens chosen per call (fixed indices, importance scores, or the top-k by query/key norm)
// and optional BigBird random key blocks. Self-attention: q, k and v share the sequence length n.
//
// Semantics for batch b, head h, with G = the sorted global indices of (b, h):
//   a global query row g ∈ G sees every key (causal: every key j ≤ g);
//   any other row i sees   window(i) ∪ G ∪ R(block of i)        (causal: keys j ≤ i only)
// where window(i) is rt.slidingWindowAttention's (left, right, dilation) and R the keys of the
// random blocks drawn for i's query block. Each key is counted once.
// Composition (all on the fused kernel, exact to float32 rounding):
//   1. local pass: the window through the kernel's key ranges (dilation through strided rows),
//      with an additive row that is −∞ at global positions, so a global key inside a window is
//      not counted here; writes O and its per-row log-sum-exp L.
//   2. global keys: K[G], V[G] gathered (g rows), all queries against them (causal: rows between
//      consecutive global positions see a prefix of G, one call per run of rows); merged into
//      (O, L) exactly by f32_attn_merge: O ← (O·e^L + O_g·e^{L_g}) / (e^L + e^{L_g}).
//   3. random blocks (BigBird): per query block of `blockSize` rows, `blocks` key blocks drawn
//      without replacement from those outside the union of the block's windows (causal: wholly
//      before it), gathered, masked at global positions, attended and merged like 2.
//   4. global rows: overwritten by attention over every key (one call for all of them; causal:
//      one single-row call each, reading K and V in place).
// Time O(n·(w + g + blocks·blockSize)·d + g·n·d); memory O(n·d).
// Random blocks come from mulberry32 seeded by (seed, head, query block): integer arithmetic
// only, so every engine draws the same blocks; the same blocks are used for every batch entry.
// Reference: I. Beltagy, M. Peters, A. Cohan, "Longformer" (2020) §3.1 (window, dilation,
// symmetric global attention); M. Zaheer et al., "Big Bird: Transformers for Longer Sequences"
// (NeurIPS 2020) §2 (random blocks, block-sparse implementation, Appendix D).

import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { rowKernels } from '../kernels/rows';
import { AttentionError, f32At, formatShape, formatValue } from '../runtime/index';
import { asNumber, type Tensor, type TensorLike, viewData, viewTensor, type WasmTensor } from '../tensor';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, mixSeed, mulberry32, outputIsEmpty, outputPtr, plainCall, prepare, Scope,
} from './long-common';
import { headAt } from './head-layout';
import { observeUnits } from './heads-observer';
import { integerOption, optionKeys, readOptions, seedOption } from './options';
import { runWindowHead, windowSpec } from './sliding-window';

/**
 * Which tokens are global, chosen per call:
 * - `number[]`: the same indices for every batch entry and head;
 * - `{ indices: number[][] }`: one list per batch entry (shared by its heads);
 * - `{ count, scores }`: the `count` highest scores, `scores` of shape [batch, n] (per batch
 *   entry) or [batch, heads, n] (per head); ties go to the lower index;
 * - `{ count, by: 'query-norm' | 'key-norm' }`: the `count` tokens with the largest ‖q_i‖ (per
 *   head) or ‖k_i‖ (per kv head).
 */
export type GlobalTokens =
  | readonly number[]
  | {
    /** One list of global token indices per batch entry. */
    indices: ReadonlyArray<readonly number[]> }
  | {
    /** How many tokens are global. */
    count: number;
    /** Scores [batch, n] or [batch, heads, n]: the `count` highest are global. */
    scores: TensorLike }
  | {
    /** How many tokens are global. */
    count: number;
    /** The `count` tokens with the largest query norm (per head) or key norm (per kv head). */
    by: 'query-norm' | 'key-norm' };

/** Options of `rt.globalLocalAttention`. */
export interface GlobalLocalOptions {
  /** Local window: `w` keys on each side, or `{ left, right }` (missing side = 0). Required. */
  window: number | {
    /** Keys before the query's position (missing: 0). */
    left?: number;
    /** Keys after the query's position (missing: 0). */
    right?: number };
  /** Stride between a row's window keys. Default 1. */
  dilation?: number;
  /** Causal: every row (global ones too) sees only keys at or before its position. */
  causal?: boolean;
  /** Global tokens (attend to everything and are attended by everything). Default none. */
  global?: GlobalTokens;
  /** BigBird random attention: `blocks` random key blocks of `blockSize` keys per query block. */
  random?: {
    /** Keys per block (also the query block size). */
    blockSize: number;
    /** Random key blocks per query block. */
    blocks: number;
    /** Seed of the block choice. Default 0. */
    seed?: number };
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

/** Validates a list of global indices: integers in [0, n), no repeats. Returns it sorted. */
function indexList(list: unknown, name: string, n: number): Int32Array {
  if (!Array.isArray(list) && !(ArrayBuffer.isView(list) && !(list instanceof DataView))) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an array of token indices, got ${String(list)}`);
  }
  const values = Array.from(list as ArrayLike<number>, asNumber);
  const out = Int32Array.from(values);
  for (let t = 0; t < values.length; t++) {
    const x = values[t];
    if (!Number.isInteger(x) || x < 0 || x >= n) {
      throw new AttentionError('INVALID_OPTION', `${name}[${t}] must be an integer token index in [0, ${n}), got ${x}`);
    }
  }
  out.sort();
  for (let t = 1; t < out.length; t++) {
    if (out[t] === out[t - 1]) throw new AttentionError('INVALID_OPTION', `${name} lists token ${out[t]} twice`);
  }
  return out;
}

/** The `count` best indices of scores[0..n) (higher first; ties → lower index; NaN lowest), sorted by index. */
export function topK(scores: ArrayLike<number>, n: number, count: number): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const heap = new Int32Array(count); // min-heap: the worst kept index on top
  const val = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  const worse = (a: number, b: number): boolean => val(a) < val(b) || (val(a) === val(b) && a > b);
  let size = 0;
  const siftDown = (at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let m = at;
      if (l < size && worse(heap[l], heap[m])) m = l;
      if (r < size && worse(heap[r], heap[m])) m = r;
      if (m === at) return;
      const t = heap[m];
      heap[m] = heap[at];
      heap[at] = t;
      at = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (size < count) {
      let at = size++;
      heap[at] = i;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(heap[at], heap[parent])) break;
        const t = heap[parent];
        heap[parent] = heap[at];
        heap[at] = t;
        at = parent;
      }
    } else if (count > 0 && worse(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort();
}

type GlobalSource =
  | { kind: 'none' }
  | { kind: 'fixed'; lists: Int32Array[] } // per batch entry, or one list shared by every entry
  | { kind: 'scores'; count: number; data: Float32Array; perHead: boolean }
  | { kind: 'norm'; count: number; by: 'query-norm' | 'key-norm' };

interface GlobalSpec {
  indices?: unknown;
  count?: unknown;
  scores?: unknown;
  by?: unknown;
}
const GLOBAL_KEYS = optionKeys<GlobalSpec>({ indices: true, count: true, scores: true, by: true });
const RANDOM_KEYS = optionKeys<NonNullable<GlobalLocalOptions['random']>>({ blockSize: true, blocks: true, seed: true });

/** The keys of GlobalLocalOptions. */
export const GLOBAL_LOCAL_KEYS = optionKeys<GlobalLocalOptions>({
  window: true, dilation: true, causal: true, global: true, random: true, layout: true, scale: true, out: true,
});

function globalSource(spec: unknown, batch: number, heads: number, n: number, kernels: Kernels): GlobalSource {
  if (spec === undefined) return { kind: 'none' };
  if (Array.isArray(spec) || ArrayBuffer.isView(spec)) {
    const list = indexList(spec, 'options.global', n);
    return { kind: 'fixed', lists: [list] };
  }
  if (typeof spec !== 'object' || spec === null) {
    throw new AttentionError('INVALID_OPTION', `options.global must be an index array, { indices }, { count, scores } or { count, by }, got ${String(spec)}`);
  }
  const s = readOptions<GlobalSpec>(spec, GLOBAL_KEYS, 'options.global', 'rt.globalLocalAttention');
  if (s.indices !== undefined) {
    if (!Array.isArray(s.indices) || s.indices.length !== batch) {
      throw new AttentionError('INVALID_OPTION', `options.global.indices must hold one index list per batch entry (${batch}), got ${Array.isArray(s.indices) ? `${s.indices.length} lists` : String(s.indices)}`);
    }
    return { kind: 'fixed', lists: s.indices.map((l, b) => indexList(l, `options.global.indices[${b}]`, n)) };
  }
  const count = integerOption(s.count, 'options.global.count', -1, 0);
  if (count < 0) throw new AttentionError('INVALID_OPTION', 'options.global needs `indices`, or `count` with `scores` or `by`; got neither indices nor count');
  if (count > n) throw new AttentionError('INVALID_OPTION', `options.global.count must be ≤ the sequence length ${n}, got ${count}`);
  if (s.scores !== undefined) {
    const view = viewTensor(s.scores, 'options.global.scores', [Float32Array] as const, kernels.arena);
    const shape = view.shape;
    const perBatch = shape.length === 2 && shape[0] === batch && shape[1] === n;
    const perHead = shape.length === 3 && shape[0] === batch && shape[1] === heads && shape[2] === n;
    if (!perBatch && !perHead) {
      throw new AttentionError('SHAPE_MISMATCH', `options.global.scores must have shape [${batch}, ${n}] or [${batch}, ${heads}, ${n}], got ${formatShape(shape)}`);
    }
    const data = viewData(view).slice();
    return { kind: 'scores', count, data, perHead };
  }
  if (s.by !== undefined) {
    if (s.by !== 'query-norm' && s.by !== 'key-norm') {
      throw new AttentionError('INVALID_OPTION', `options.global.by must be 'query-norm' or 'key-norm', got ${formatValue(s.by)}`);
    }
    return { kind: 'norm', count, by: s.by };
  }
  throw new AttentionError('INVALID_OPTION', 'options.global with `count` needs `scores` or `by`');
}

export function globalLocalAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: GlobalLocalOptions,
): Tensor {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'globalLocalAttention needs options with a window, got undefined');
  const options = readOptions<GlobalLocalOptions>(optionsIn, GLOBAL_LOCAL_KEYS, 'options', 'rt.globalLocalAttention');
  const p = prepare(kernels, qIn, kIn, vIn, options, 'globalLocalAttention');
  const { batch, qHeads, kvHeads, nq, nk, dh, dv } = p.dims;
  if (nq !== nk) {
    throw new AttentionError('SHAPE_MISMATCH', `globalLocalAttention is self-attention: q and k must have the same sequence length, got nq = ${nq} and nk = ${nk}`);
  }
  const n = nq;
  if (options.causal !== undefined && typeof options.causal !== 'boolean') {
    throw new AttentionError('INVALID_OPTION', `options.causal must be true or false, got ${formatValue(options.causal)}`);
  }
  const spec = windowSpec(options.window, options.dilation, options.causal, n, n, 'options', 'rt.globalLocalAttention');
  const source = globalSource(options.global, batch, qHeads, n, kernels);
  let random: { blockSize: number; blocks: number; seed: number } | undefined;
  if (options.random !== undefined) {
    const r = readOptions<NonNullable<GlobalLocalOptions['random']>>(options.random, RANDOM_KEYS, 'options.random', 'rt.globalLocalAttention');
    const blockSize = integerOption(r.blockSize, 'options.random.blockSize', 0, 1);
    if (r.blockSize === undefined) throw new AttentionError('INVALID_OPTION', 'options.random.blockSize is required (an integer ≥ 1), got undefined');
    const blocks = integerOption(r.blocks, 'options.random.blocks', 0, 0);
    if (r.blocks === undefined) throw new AttentionError('INVALID_OPTION', 'options.random.blocks is required (an integer ≥ 0), got undefined');
    random = { blockSize, blocks, seed: seedOption(r.seed, 'options.random.seed') };
    if (blocks === 0) random = undefined;
  }
  const maxGlobal = source.kind === 'none' ? 0
    : source.kind === 'fixed' ? source.lists.reduce((m, l) => Math.max(m, l.length), 0)
      : source.count;
  const d = spec.dilation;
  assertPreparedLive(kernels, p, options.out);

  if (outputIsEmpty(p)) return emptyOutput(p);
  const scope = new Scope(kernels.arena);
  try {
    attentionKernels(kernels).reserve(n, dh, dv);
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope);
    const lseA = scope.alloc(n, 'lse');
    const lseB = scope.alloc(n, 'lse');
    const tmp = scope.alloc(n * dv, 'partial output');
    const gm = maxGlobal > 0 ? scope.alloc(n, 'global mask') : 0;
    const maskScratch = d > 1 ? scope.alloc(Math.ceil(n / d), 'mask scratch') : 0;
    const lseScratch = d > 1 ? scope.alloc(Math.ceil(n / d), 'lse scratch') : 0;
    const norms = source.kind === 'norm' ? scope.alloc(n, 'norms') : 0;
    // A query block takes at most every key block and a key block holds at most n keys, whatever
    // blocks and blockSize ask for: the scratch is bounded by the sequence.
    const randKeys = random ? Math.min(random.blocks, Math.ceil(n / random.blockSize)) * Math.min(random.blockSize, n) : 0;
    const idx = scope.alloc(Math.max(maxGlobal, randKeys, 1), 'indices');
    const kg = maxGlobal > 0 ? scope.alloc(maxGlobal * dh, 'global keys') : 0;
    const vg = maxGlobal > 0 ? scope.alloc(maxGlobal * dv, 'global values') : 0;
    const og = maxGlobal > 0 && !spec.causal ? scope.alloc(maxGlobal * dv, 'global rows') : 0;
    const kr = random ? scope.alloc(randKeys * dh, 'random keys') : 0;
    const vr = random ? scope.alloc(randKeys * dv, 'random values') : 0;
    const mr = random && maxGlobal > 0 ? scope.alloc(randKeys, 'random mask') : 0;
    const lseR = random ? scope.alloc(Math.min(random.blockSize, n), 'lse') : 0;
    const group = qHeads / kvHeads;
    // Heads in the call's layout; qs, kst, vst, os: elements between consecutive positions.
    const [Lq, Lk, Lv, Lo] = [headLayoutOf(p, qp, qHeads, n, dh), headLayoutOf(p, kp, kvHeads, n, dh), headLayoutOf(p, vp, kvHeads, n, dv), headLayoutOf(p, op, qHeads, n, dv)];
    const [qs, kst, vst, os] = [Lq.rowStride, Lk.rowStride, Lv.rowStride, Lo.rowStride];

    const tick = observeUnits(batch * qHeads);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < qHeads; h++) {
        tick?.(b * qHeads + h);
        const kvh = Math.floor(h / group);
        const [qh, kh, vh, oh] = [headAt(Lq, b, h), headAt(Lk, b, kvh), headAt(Lv, b, kvh), headAt(Lo, b, h)];

        // Global tokens of this (b, h).
        let G: Int32Array;
        if (source.kind === 'none') G = new Int32Array(0);
        else if (source.kind === 'fixed') G = source.lists[Math.min(b, source.lists.length - 1)];
        else if (source.kind === 'scores') {
          const at = source.perHead ? (b * qHeads + h) * n : b * n;
          G = topK(source.data.subarray(at, at + n), n, source.count);
        } else {
          const [src, srcStride] = source.by === 'query-norm' ? [qh, qs] : [kh, kst];
          rowKernels(kernels).norm({ src, srcStride, n, d: dh, out: norms });
          G = topK(kernels.arena.f32(norms, n), n, source.count);
        }
        const g = G.length;
        if (g > 0) {
          const m = kernels.arena.f32(gm, n);
          m.fill(0);
          for (let t = 0; t < g; t++) m[G[t]] = -Infinity;
        }

        // 1. Local window, global keys masked out.
        runWindowHead(kernels, {
          q: qh, qStride: qs, k: kh, kStride: kst, v: vh, vStride: vst, o: oh, oStride: os,
          nq: n, nk: n, dh, dv, scale: p.scale, keyLen: n, offset: 0,
          left: spec.left, right: spec.right, dilation: d,
          mask: g > 0 ? gm : 0, lse: lseA, maskScratch, lseScratch,
        });

        // 2. Global keys, merged exactly.
        if (g > 0) {
          kernels.arena.i32(idx, g).set(G);
          rowKernels(kernels).gather({ src: kh, srcStride: kst, idx, n: g, d: dh, dst: kg, dstStride: dh });
          rowKernels(kernels).gather({ src: vh, srcStride: vst, idx, n: g, d: dv, dst: vg, dstStride: dv });
          const call = plainCall({ q: qh, qStride: qs, k: kg, kStride: dh, v: vg, vStride: dv, o: tmp, oStride: dv, nq: n, nk: g, dh, dv, scale: p.scale, lse: lseB });
          if (!spec.causal) attentionKernels(kernels).online(call);
          else {
            // Rows in [G[t−1], G[t]) see the first t global keys.
            const first = G[0];
            kernels.arena.f32(lseB, n).fill(-Infinity, 0, first);
            for (let t = 1; t <= g; t++) {
              const r0 = G[t - 1];
              const r1 = t < g ? G[t] : n;
              if (r1 <= r0) continue;
              attentionKernels(kernels).online({ ...call, q: f32At(qh, r0 * qs), o: f32At(tmp, r0 * dv), nq: r1 - r0, keyLen: t, lse: f32At(lseB, r0) });
            }
          }
          attentionKernels(kernels).merge({ acc: oh, accStride: os, lseAcc: lseA, part: tmp, partStride: dv, lsePart: lseB, rows: n, dv });
        }

        // 3. BigBird random key blocks, merged exactly.
        if (random) {
          const bs = random.blockSize;
          const blocksN = Math.ceil(n / bs);
          const reachL = spec.left * d;
          const reachR = spec.causal ? 0 : spec.right * d;
          // Candidates, ascending: key blocks wholly before the union of the block's windows,
          // [0, A), and (not causal) wholly after it, [B, blocksN). Drawn by a partial
          // Fisher–Yates shuffle over that virtual list (only the touched entries are stored),
          // so the cost per query block is O(blocks), not O(n / blockSize).
          const picked = new Map<number, number>();
          for (let qb = 0; qb < blocksN; qb++) {
            const q0 = qb * bs;
            const q1 = Math.min(q0 + bs, n);
            const lo = q0 - reachL; // forbidden key interval: every row's window
            const hi = q1 - 1 + reachR;
            const A = Math.max(0, Math.floor(lo / bs));
            const B = Math.min(blocksN, Math.floor(hi / bs) + 1);
            const count = A + (spec.causal ? 0 : blocksN - B);
            const take = Math.min(random.blocks, count);
            if (take === 0) continue;
            const at = (i: number): number => picked.get(i) ?? (i < A ? i : B + (i - A));
            picked.clear();
            const next = mulberry32(mixSeed(random.seed, h, qb));
            for (let t = 0; t < take; t++) {
              const pick = t + (next() % (count - t));
              const x = at(t);
              picked.set(t, at(pick));
              picked.set(pick, x);
            }
            const candidates = Array.from({ length: take }, (_, t) => at(t));
            const chosen = candidates.sort((x, y) => x - y);
            const ids = kernels.arena.i32(idx, randKeys);
            let nkR = 0;
            for (const kb of chosen) for (let j = kb * bs; j < Math.min(kb * bs + bs, n); j++) ids[nkR++] = j;
            rowKernels(kernels).gather({ src: kh, srcStride: kst, idx, n: nkR, d: dh, dst: kr, dstStride: dh });
            rowKernels(kernels).gather({ src: vh, srcStride: vst, idx, n: nkR, d: dv, dst: vr, dstStride: dv });
            if (g > 0) rowKernels(kernels).gather({ src: gm, srcStride: 1, idx, n: nkR, d: 1, dst: mr, dstStride: 1 });
            attentionKernels(kernels).online({
              ...plainCall({ q: f32At(qh, q0 * qs), qStride: qs, k: kr, kStride: dh, v: vr, vStride: dv, o: tmp, oStride: dv, nq: q1 - q0, nk: nkR, dh, dv, scale: p.scale, lse: lseR }),
              mask: g > 0 ? mr : 0,
            });
            attentionKernels(kernels).merge({ acc: f32At(oh, q0 * os), accStride: os, lseAcc: f32At(lseA, q0), part: tmp, partStride: dv, lsePart: lseR, rows: q1 - q0, dv });
          }
        }

        // 4. Global rows attend to every key (causal: every earlier key).
        if (g > 0) {
          if (!spec.causal) {
            kernels.arena.i32(idx, g).set(G);
            rowKernels(kernels).gather({ src: qh, srcStride: qs, idx, n: g, d: dh, dst: kg, dstStride: dh }); // kg now holds Q[G]
            attentionKernels(kernels).online(plainCall({ q: kg, qStride: dh, k: kh, kStride: kst, v: vh, vStride: vst, o: og, oStride: dv, nq: g, nk: n, dh, dv, scale: p.scale }));
            const dst = kernels.arena.f32(oh, (n - 1) * os + dv);
            const src = kernels.arena.f32(og, g * dv);
            for (let t = 0; t < g; t++) dst.set(src.subarray(t * dv, (t + 1) * dv), G[t] * os);
          } else {
            for (let t = 0; t < g; t++) {
              const r = G[t];
              attentionKernels(kernels).online({
                ...plainCall({ q: f32At(qh, r * qs), qStride: qs, k: kh, kStride: kst, v: vh, vStride: vst, o: f32At(oh, r * os), oStride: os, nq: 1, nk: n, dh, dv, scale: p.scale }),
                offset: r, right: 0,
              });
            }
          }
        }
      }
    }
    return finishOutput(kernels, p, op);
  } finally {
    scope.close();
  }
}
