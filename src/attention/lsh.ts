// lsh.ts — rt.lshAttention: Reformer's locality-sensitive-hashing attention, and its building
// blocks rt.lshRotations / rt.lshHash.
//
// Per batch entry b (valid length len = keyLengths[b], default n; tokens ≥ len are padding: not
// hashed, never attended, output zero) and head h, for each hashing round r:
//   1. hash: y = x·R_r with random rotations R of shape (d, rounds, buckets/2) (per head, from the
//      seed, or the caller's), bucket = argmax([y, −y]) — Y = X·R on the GEMM kernel, the argmax
//      in i32_lsh_buckets. Queries are hashed; keys too when not shared (same rotations).
//   2. sort: a stable counting sort (i32_counting_sort) orders the tokens by (bucket, position).
//   3. chunks: the sorted order is cut into chunks of `chunkLength`; chunk c attends to itself and
//      to the previous chunk c − 1 (chunk 0 to the last one: wrap-around, as trax's look_adjacent;
//      a single chunk attends only to itself). Sorted Q, K, V are gathered once per round with the
//      last chunk prepended, so every chunk's keys are one contiguous run of rows: one fused-kernel
//      call per chunk (all chunks of a round go to the worker pool together when there is one).
//      Masks come from the tokens' positions (f32_lsh_chunk_mask): causal removes keys at later
//      positions; shared-QK adds −1e5 to a token's own key, so it attends to itself only when
//      nothing else is available (trax's mask_self_attention).
//   4. unsort, and merge the rounds exactly by log-sum-exp: with each round's output o_r and row
//      log-sum-exp ℓ_r, o = Σ_r o_r·exp(ℓ_r − logsumexp_r ℓ_r) (f32_attn_merge, pairwise).
// Shared QK: keys are the length-normalized queries, k_j = q_j / √(mean(q_j²) + 1e-6) (trax's
// length_normalized), and the scores scale·q·k with scale = 1/√d by default — exactly trax's
// k / √d. Differences from trax, by design: chunks never span hashing rounds (trax sorts all
// rounds as one sequence, so the first chunk of a round looks back into the previous round's last
// chunk; here each round's first chunk wraps to its own last chunk, the paper's P_i^(r)); a row
// that sees no key (possible only when causal and not shared) is zero with lse −∞ (trax: −1e9
// fills); lengths need not be a multiple of the chunk length (the last chunk is shorter, as if
// padded with masked tokens); padding tokens are removed instead of hashed into an extra bucket.
// Time per head and round: O(n·d·buckets/2) hashing + O(n) sorting + O(n·2·chunk·d) attention.
// Memory O(n·(d + chunk)).
// Reference: N. Kitaev, Ł. Kaiser, A. Levskaya, "Reformer: The Efficient Transformer" (ICLR 2020)
// §3; trax/layers/research/efficient_attention.py (hash_vecs, look_adjacent, mask_self_attention,
// attend, LSHSelfAttention.forward_unbatched).

import type { AttnCall } from '../kernels/attention';
import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { gemmKernels } from '../kernels/gemm';
import { lshKernels } from '../kernels/lsh';
import { randomKernels } from '../kernels/random';
import { rowKernels } from '../kernels/rows';
import { AttentionError, f32At, f32Bytes, formatShape, formatValue, wordIndex } from '../runtime/index';
import { checkElementCount, type Tensor, type TensorLike, type TensorView, viewTensor, type WasmTensor } from '../tensor';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, headPtr, mixSeed, outputIsEmpty, outputPtr, prepare, Scope,
} from './long-common';
import { headAt, rowAt } from './head-layout';
import { observeUnits } from './heads-observer';
import {
  assertLive, booleanOption, checkAtMost, integerOption, lengthsOption, optionKeys, readOptions, seedOption,
} from './options';

/** Options of `rt.lshAttention`. */
export interface LshOptions {
  /**
   * Hash buckets: 1 (every token in one bucket), an even number, or a factorization [b1, b2, …]
   * of even numbers (trax: Σ bᵢ/2 rotation columns instead of Π bᵢ/2, bucket = Σ idᵢ·Π_{j<i} bⱼ).
   * Default as trax: 2·max(1, ⌊n / chunkLength⌋), factorized in two when above 128. At most
   * max(2·n, 128) buckets in all.
   */
  buckets?: number | readonly number[];
  /** Hashing rounds, merged by log-sum-exp (at most 64). Default 1. */
  rounds?: number;
  /** Tokens per chunk of the sorted order. Default 64. */
  chunkLength?: number;
  /** Keys are the length-normalized queries (pass k = null); self-attention is penalized by −1e5. Default false. */
  sharedQK?: boolean;
  /** Keys at later positions are masked. Default false. */
  causal?: boolean;
  /** Seed of the random rotations (per head: see rt.lshRotations). Default 0. */
  seed?: number;
  /** The caller's rotations: [headDim, rounds, Σ bᵢ/2] for every head, or [heads, headDim, rounds, Σ bᵢ/2]. */
  rotations?: TensorLike;
  /** Valid tokens per batch entry; the rest are padding (not hashed, not attended, output 0). */
  keyLengths?: ArrayLike<number>;
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

/** Options of `rt.lshRotations`. */
export interface LshRotationOptions {
  /** Head size of the vectors to hash. */
  headDim: number;
  /** An even number or a factorization (see LshOptions.buckets): the last dimension is Σ bᵢ/2. */
  buckets: number | readonly number[];
  /** Hashing rounds. Default 1. */
  rounds?: number;
  /** Seed of the random rotations (as rt.lshAttention's `seed`). Default 0. */
  seed?: number;
  /** Number of heads (rotations differ per head). Default 1. */
  heads?: number;
}

/** Options of `rt.lshHash`. */
export interface LshHashOptions {
  /** 1, an even number or a factorization (at most max(2·n, 128) buckets); required unless `rotations` fixes it. */
  buckets?: number | readonly number[];
  /** Hashing rounds (at most 64). Default 1. */
  rounds?: number;
  /** Seed of the random rotations (as rt.lshAttention's `seed`). Default 0. */
  seed?: number;
  /** The caller's rotations, as LshOptions.rotations. */
  rotations?: TensorLike;
  /** Valid tokens per batch entry; positions past it get bucket −1. */
  keyLengths?: ArrayLike<number>;
}

/** Bucket ids [batch, heads, rounds, n] (−1 at padding positions). */
export interface LshBuckets {
  /** The bucket ids, row-major. */
  data: Int32Array;
  /** [batch, heads, rounds, n]. */
  shape: number[];
}

/** Penalty on a token's own key with shared QK (trax mask_self_attention). */
export const LSH_SELF_PENALTY = -1e5;

/** Seed of head h's rotations. */
export const lshHeadSeed = (seed: number, h: number): number => mixSeed(seed, 0x4c5348, h);

/** Validated bucket count: the product, and the factors' halves (empty for one bucket). */
interface BucketSpec {
  buckets: number;
  halves: number[];
}

const MAX_BUCKETS = 1 << 24;

function bucketsOption(value: unknown, name: string): BucketSpec {
  const factors = Array.isArray(value) ? value : [value];
  if (factors.length === 0) throw new AttentionError('INVALID_OPTION', `${name} must be a number or a non-empty list of even numbers, got []`);
  let product = 1;
  const halves: number[] = [];
  for (let f = 0; f < factors.length; f++) {
    const b = factors[f];
    const what = Array.isArray(value) ? `${name}[${f}]` : name;
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 1) {
      throw new AttentionError('INVALID_OPTION', `${what} must be 1 or an even number (argmax over [xR, −xR] gives 2·(buckets/2) buckets), got ${String(b)}`);
    }
    if (b === 1 && !Array.isArray(value)) return { buckets: 1, halves: [] };
    if (b % 2 !== 0) {
      throw new AttentionError('INVALID_OPTION', `${what} must be ${Array.isArray(value) ? 'an even number' : '1 or an even number'} (argmax over [xR, −xR] gives 2·(buckets/2) buckets), got ${b}`);
    }
    product *= b;
    halves.push(b / 2);
  }
  if (product > MAX_BUCKETS) throw new AttentionError('INVALID_OPTION', `${name} must give at most 2^24 buckets in all, got ${product}`);
  return { buckets: product, halves };
}

/** Hashing rounds a call may ask for: each repeats the whole hash, sort and attention pass. */
const MAX_ROUNDS = 64;

/**
 * Caps what the hashing options may cost relative to the n tokens hashed: at most MAX_ROUNDS
 * rounds, and at most max(2n, 128) buckets (each round sorts over every bucket and rotates into
 * half as many columns; the default is 2·⌊n / chunkLength⌋ ≤ 2n).
 */
function checkHashWork(plan: HashPlan, n: number): void {
  checkAtMost(plan.rounds, MAX_ROUNDS, 'options.rounds', 'each round repeats the whole hashing pass');
  checkAtMost(plan.buckets, Math.max(2 * n, 128), 'options.buckets', `max(2·n, 128) buckets for n = ${n} tokens`);
}

/** trax's default for n tokens and chunk length L: 2·max(1, ⌊n/L⌋), factorized in two above 128. */
export function defaultBuckets(n: number, L: number): number | number[] {
  const nb = 2 * Math.max(1, Math.floor(n / L));
  if (nb <= 128) return nb;
  const div = 2 ** Math.ceil(Math.log2(Math.sqrt(nb)));
  return [div, 2 * Math.floor(nb / (2 * div))];
}

/** Validated hashing parameters. */
interface HashPlan extends BucketSpec {
  rounds: number;
  /** Σ halves: rotation columns per round */
  width: number;
  /** the caller's rotations (placed later), or undefined for seeded ones */
  view: TensorView<Float32Array> | undefined;
  perHead: boolean;
  seed: number;
}

function hashPlan(
  kernels: Kernels,
  o: { buckets?: unknown; rounds?: unknown; seed?: unknown; rotations?: unknown },
  dh: number,
  heads: number,
  defaults: number | number[],
): HashPlan {
  const seed = seedOption(o.seed, 'options.seed');
  if (o.rotations === undefined) {
    const spec = bucketsOption(o.buckets ?? defaults, 'options.buckets');
    const rounds = integerOption(o.rounds, 'options.rounds', 1, 1);
    return { ...spec, rounds, width: spec.halves.reduce((a, b) => a + b, 0), view: undefined, perHead: false, seed };
  }
  const view = viewTensor(o.rotations, 'options.rotations', [Float32Array] as const, kernels.arena);
  const s = view.shape;
  const perHead = s.length === 4;
  const [d, rounds, width] = perHead ? s.slice(1) : s;
  if ((s.length !== 3 && s.length !== 4) || d !== dh || (perHead && s[0] !== heads) || width < 1) {
    throw new AttentionError('SHAPE_MISMATCH', `options.rotations must have shape [${dh}, rounds, buckets/2] or [${heads}, ${dh}, rounds, buckets/2] with buckets/2 ≥ 1, got ${formatShape(s)}`);
  }
  const spec = o.buckets === undefined ? bucketsOption(2 * width, 'options.buckets') : bucketsOption(o.buckets, 'options.buckets');
  const need = spec.halves.reduce((a, b) => a + b, 0);
  if (need !== width) {
    throw new AttentionError('INVALID_OPTION', `options.buckets (${formatValue(o.buckets)}) needs ${need} rotation columns (Σ buckets/2), but options.rotations has ${width} (last dimension): buckets must be 2 × ${width} or a factorization with Σ bᵢ/2 = ${width}`);
  }
  if (o.rounds !== undefined && integerOption(o.rounds, 'options.rounds', 1, 1) !== rounds) {
    throw new AttentionError('INVALID_OPTION', `options.rounds (${String(o.rounds)}) must equal the rounds dimension of options.rotations (${rounds})`);
  }
  return { ...spec, rounds, width, view, perHead, seed };
}

/**
 * Rotations of every head in Wasm memory: (heads, d, rounds·width) at the returned pointer (head
 * stride 0 when the caller's rotations are shared by all heads). Allocated in `scope`.
 */
function placeRotations(kernels: Kernels, scope: Scope, plan: HashPlan, dh: number, heads: number): { ptr: number; headStride: number } {
  const W = plan.rounds * plan.width;
  if (plan.buckets === 1) return { ptr: 0, headStride: 0 };
  if (plan.view) return { ptr: scope.place(plan.view), headStride: plan.perHead ? dh * W : 0 };
  const ptr = scope.alloc(heads * dh * W, 'rotations');
  for (let h = 0; h < heads; h++) randomKernels(kernels).normal({ seed: lshHeadSeed(plan.seed, h), n: dh * W, scale: 1, out: f32At(ptr, h * dh * W) });
  return { ptr, headStride: dh * W };
}

/** rt.lshRotations: the seeded rotations, [heads, headDim, rounds, buckets/2]. */
const ROTATION_KEYS = optionKeys<LshRotationOptions>({ headDim: true, buckets: true, rounds: true, seed: true, heads: true });
const HASH_KEYS = optionKeys<LshHashOptions>({ buckets: true, rounds: true, seed: true, rotations: true, keyLengths: true });

/** The keys of LshOptions. */
export const LSH_KEYS = optionKeys<LshOptions>({
  buckets: true, rounds: true, chunkLength: true, sharedQK: true, causal: true, seed: true, rotations: true,
  keyLengths: true, layout: true, scale: true, out: true,
});

export function lshRotations(kernels: Kernels, optionsIn: LshRotationOptions): Tensor {
  const options = readOptions<LshRotationOptions>(optionsIn, ROTATION_KEYS, 'options', 'rt.lshRotations');
  const dh = integerOption(options.headDim, 'options.headDim', -1, 1);
  if (dh < 0) throw new AttentionError('INVALID_OPTION', 'options.headDim is required (an integer ≥ 1), got undefined');
  if (options.buckets === undefined) throw new AttentionError('INVALID_OPTION', 'options.buckets is required (an even number ≥ 2, or a factorization), got undefined');
  const spec = bucketsOption(options.buckets, 'options.buckets');
  if (spec.buckets === 1) throw new AttentionError('INVALID_OPTION', 'options.buckets must be an even number ≥ 2 for rotations (1 bucket needs none), got 1');
  const rounds = integerOption(options.rounds, 'options.rounds', 1, 1);
  const heads = integerOption(options.heads, 'options.heads', 1, 1);
  const seed = seedOption(options.seed, 'options.seed');
  const width = spec.halves.reduce((a, b) => a + b, 0);
  const W = rounds * width;
  const size = heads * dh * W;
  assertLive(kernels);
  const ptr = kernels.arena.alloc(f32Bytes(size));
  try {
    for (let h = 0; h < heads; h++) randomKernels(kernels).normal({ seed: lshHeadSeed(seed, h), n: dh * W, scale: 1, out: f32At(ptr, h * dh * W) });
    return { data: kernels.arena.f32(ptr, size).slice(), shape: [heads, dh, rounds, width] };
  } finally {
    kernels.arena.release(ptr);
  }
}

/**
 * Hashes `len` rows of x (dh values each, row stride ldx) into bucket ids (rounds, len) at `out`.
 * y: len·rounds·width floats of scratch; halves: the plan's halves as i32 in Wasm memory.
 */
function hashRows(kernels: Kernels, x: number, ldx: number, len: number, dh: number, rot: number, plan: HashPlan, y: number, halves: number, out: number): void {
  if (len === 0) return;
  if (plan.buckets === 1) {
    kernels.arena.i32(out, plan.rounds * len).fill(0);
    return;
  }
  const W = plan.rounds * plan.width;
  gemmKernels(kernels).run({ a: x, lda: ldx, b: rot, ldb: W, c: y, ldc: W, bias: 0, m: len, n: W, k: dh, transB: false, accumulate: false });
  lshKernels(kernels).buckets({ y, ldy: W, n: len, rounds: plan.rounds, halves, nf: plan.halves.length, out });
}

/** The plan's halves as i32 in Wasm memory (scope block). */
function placeHalves(kernels: Kernels, scope: Scope, plan: HashPlan): number {
  const ptr = scope.alloc(Math.max(1, plan.halves.length), 'bucket factors');
  kernels.arena.i32(ptr, plan.halves.length).set(plan.halves);
  return ptr;
}

/** rt.lshHash: bucket ids of every token, [batch, heads, rounds, n] (−1 past keyLengths). */
export function lshHash(kernels: Kernels, xIn: TensorLike, optionsIn: LshHashOptions): LshBuckets {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'lshHash needs options with buckets, got undefined');
  const options = readOptions<LshHashOptions>(optionsIn, HASH_KEYS, 'options', 'rt.lshHash');
  const xv = viewTensor(xIn, 'x', [Float32Array] as const, kernels.arena);
  if (xv.shape.length !== 4) throw new AttentionError('SHAPE_MISMATCH', `x must be 4-D [batch, heads, n, headDim], got ${formatShape(xv.shape)}`);
  const [batch, heads, n, dh] = xv.shape;
  if (options.buckets === undefined && options.rotations === undefined) {
    throw new AttentionError('INVALID_OPTION', 'options.buckets is required (1 or an even number), got undefined');
  }
  const plan = hashPlan(kernels, options, dh, heads, 2);
  checkHashWork(plan, n);
  const keyLengths = options.keyLengths === undefined ? undefined : lengthsOption(options.keyLengths, 'options.keyLengths', batch, n);
  checkElementCount(batch * heads * plan.rounds * n, 'bucket ids');
  assertLive(kernels, { x: xIn, 'options.rotations': plan.view?.resident });
  const out = new Int32Array(batch * heads * plan.rounds * n).fill(-1);
  if (out.length === 0) return { data: out, shape: [batch, heads, plan.rounds, n] };
  const keyLens = keyLengths ?? new Array<number>(batch).fill(n);
  if (dh === 0) {
    // No coordinates: every rotation is 0 and argmax takes the first maximum, bucket 0 (the
    // tensors are empty while the ids are not: no kernel call per head).
    const rows = heads * plan.rounds; // rows of n ids per batch entry
    for (let b = 0; b < batch; b++) {
      if (keyLens[b] === n) out.fill(0, b * rows * n, (b + 1) * rows * n);
      else for (let row = b * rows; row < (b + 1) * rows; row++) out.fill(0, row * n, row * n + keyLens[b]);
    }
    return { data: out, shape: [batch, heads, plan.rounds, n] };
  }
  const scope = new Scope(kernels.arena);
  try {
    gemmKernels(kernels).reserve(Math.max(1, plan.rounds * plan.width), dh);
    const xp = scope.place(xv);
    const rot = placeRotations(kernels, scope, plan, dh, heads);
    const halves = placeHalves(kernels, scope, plan);
    const y = scope.alloc(n * plan.rounds * plan.width, 'rotated');
    const ids = scope.alloc(plan.rounds * n, 'buckets');
    for (let b = 0; b < batch; b++) {
      const len = keyLens[b];
      for (let h = 0; h < heads; h++) {
        hashRows(kernels, headPtr(xp, b, h, heads, n, dh), dh, len, dh, f32At(rot.ptr, h * rot.headStride), plan, y, halves, ids);
        const got = kernels.arena.i32(ids, plan.rounds * len);
        for (let r = 0; r < plan.rounds; r++) {
          out.set(got.subarray(r * len, (r + 1) * len), ((b * heads + h) * plan.rounds + r) * n);
        }
      }
    }
    return { data: out, shape: [batch, heads, plan.rounds, n] };
  } finally {
    scope.close();
  }
}

export function lshAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike | null,
  vIn: TensorLike,
  options: LshOptions = {},
): Tensor {
  const o = readOptions<LshOptions>(options, LSH_KEYS, 'options', 'rt.lshAttention');
  const shared = booleanOption(o.sharedQK, 'options.sharedQK', false);
  if (shared && kIn !== null && kIn !== undefined) {
    throw new AttentionError('INVALID_ARGUMENT', 'k must be null when options.sharedQK is true (the keys are the length-normalized queries), got a tensor');
  }
  if (!shared && (kIn === null || kIn === undefined)) {
    throw new AttentionError('INVALID_ARGUMENT', `k must be a tensor { data, shape } (or set options.sharedQK: true to use the queries as keys), got ${String(kIn)}`);
  }
  const p = prepare(kernels, qIn, shared ? null : kIn, vIn, o, 'lshAttention', true);
  const { batch, qHeads, kvHeads, nq, nk, dh, dv } = p.dims;
  if (nq !== nk) {
    throw new AttentionError('SHAPE_MISMATCH', `lshAttention is self-attention: q and ${shared ? 'v' : 'k'} must have the same sequence length, got nq = ${nq} and nk = ${nk}`);
  }
  if (shared && kvHeads !== qHeads) {
    throw new AttentionError('SHAPE_MISMATCH', `with options.sharedQK, v must have q's heads (${qHeads}), got ${kvHeads}`);
  }
  const n = nq;
  const L = integerOption(o.chunkLength, 'options.chunkLength', 64, 1);
  const causal = booleanOption(o.causal, 'options.causal', false);
  const plan = hashPlan(kernels, o, dh, qHeads, defaultBuckets(n, L));
  checkHashWork(plan, n);
  const keyLengths = o.keyLengths === undefined ? undefined : lengthsOption(o.keyLengths, 'options.keyLengths', batch, n);
  const W = plan.rounds * plan.width;
  const nb = plan.buckets;
  const needMask = causal || shared;
  assertPreparedLive(kernels, p, o.out, { 'options.rotations': plan.view?.resident });

  if (outputIsEmpty(p)) return emptyOutput(p);
  const keyLens = keyLengths ?? new Array<number>(batch).fill(n);
  const scope = new Scope(kernels.arena);
  try {
    attentionKernels(kernels).reserve(2 * Math.min(L, n), dh, dv); // a chunk and the one before it: never more than 2n keys
    gemmKernels(kernels).reserve(Math.max(W, 1), dh);
    const qp = scope.place(p.q);
    const kp = shared ? 0 : scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope, [plan.view]);
    if (n === 0 || dv === 0) return finishOutput(kernels, p, op);
    // Heads in the call's layout; qst, kst, vst, ost: elements between consecutive positions.
    const [Lq, Lk, Lv, Lo] = [headLayoutOf(p, qp, qHeads, n, dh), headLayoutOf(p, kp, kvHeads, n, dh), headLayoutOf(p, vp, kvHeads, n, dv), headLayoutOf(p, op, qHeads, n, dv)];
    const [qst, kst, vst, ost] = [Lq.rowStride, Lk.rowStride, Lv.rowStride, Lo.rowStride];
    // Padding rows (past keyLengths[b]) are zeros (written through the cached whole-memory view).
    const mem = kernels.arena.wordViews().f32;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < qHeads; h++) {
        for (let r = keyLens[b]; r < n; r++) mem.fill(0, wordIndex(rowAt(Lo, b, h, r)), wordIndex(rowAt(Lo, b, h, r)) + dv);
      }
    }
    const rot = placeRotations(kernels, scope, plan, dh, qHeads);
    const halves = placeHalves(kernels, scope, plan);
    const Lmax = Math.min(L, n);
    const y = nb > 1 ? scope.alloc(n * W, 'rotated') : 0;
    const bq = scope.alloc(plan.rounds * n, 'query buckets');
    const bk = shared ? bq : scope.alloc(plan.rounds * n, 'key buckets');
    const counts = scope.alloc(nb + 1, 'bucket counts');
    const permQ = scope.alloc(n, 'order');
    const invQ = scope.alloc(n, 'inverse order');
    const permK = shared ? permQ : scope.alloc(n, 'key order');
    const invK = shared ? invQ : scope.alloc(n, 'key inverse order');
    const ext = scope.alloc(n + Lmax, 'key positions');
    const qs = scope.alloc(n * dh, 'sorted queries');
    const ks = scope.alloc((n + Lmax) * dh, 'sorted keys');
    const vs = scope.alloc((n + Lmax) * dv, 'sorted values');
    const kn = shared ? scope.alloc(n * dh, 'normalized keys') : 0;
    const os = scope.alloc(n * dv, 'sorted output');
    const lseS = scope.alloc(n, 'lse');
    const lseAcc = scope.alloc(n, 'lse');
    const tmpO = plan.rounds > 1 ? scope.alloc(n * dv, 'round output') : 0;
    const tmpL = plan.rounds > 1 ? scope.alloc(n, 'round lse') : 0;
    const masks = needMask ? scope.alloc(n * 2 * Lmax, 'chunk masks') : 0;
    const group = qHeads / kvHeads;

    const tick = observeUnits(batch * qHeads);
    for (let b = 0; b < batch; b++) {
      const len = keyLens[b];
      if (len === 0) continue;
      const nChunks = Math.ceil(len / L);
      const lastLen = len - (nChunks - 1) * L;
      const pre = nChunks > 1 ? lastLen : 0; // the last chunk, prepended to the sorted keys
      for (let h = 0; h < qHeads; h++) {
        tick?.(b * qHeads + h);
        const kvh = Math.floor(h / group);
        const qh = headAt(Lq, b, h);
        const kh = shared ? 0 : headAt(Lk, b, kvh);
        const vh = headAt(Lv, b, kvh);
        const oh = headAt(Lo, b, h);
        const rh = f32At(rot.ptr, h * rot.headStride);
        hashRows(kernels, qh, qst, len, dh, rh, plan, y, halves, bq);
        if (!shared) hashRows(kernels, kh, kst, len, dh, rh, plan, y, halves, bk);
        if (shared) lshKernels(kernels).normalize({ src: qh, srcStride: qst, n: len, d: dh, dst: kn, dstStride: dh });
        const [keySrc, keyStride] = shared ? [kn, dh] : [kh, kst];
        for (let r = 0; r < plan.rounds; r++) {
          lshKernels(kernels).countingSort({ keys: f32At(bq, r * len), n: len, nb, counts, perm: permQ, inv: invQ });
          if (!shared) lshKernels(kernels).countingSort({ keys: f32At(bk, r * len), n: len, nb, counts, perm: permK, inv: invK });
          // Key positions with the last chunk prepended: ext = [permK[len − pre .. len), permK[0 .. len)].
          const e = kernels.arena.i32(ext, pre + len);
          const pk = kernels.arena.i32(permK, len);
          e.set(pk.subarray(len - pre, len), 0);
          e.set(pk, pre);
          rowKernels(kernels).gather({ src: qh, srcStride: qst, idx: permQ, n: len, d: dh, dst: qs, dstStride: dh });
          rowKernels(kernels).gather({ src: keySrc, srcStride: keyStride, idx: ext, n: pre + len, d: dh, dst: ks, dstStride: dh });
          rowKernels(kernels).gather({ src: vh, srcStride: vst, idx: ext, n: pre + len, d: dv, dst: vs, dstStride: dv });
          const calls: AttnCall[] = [];
          let maskAt = masks;
          for (let c = 0; c < nChunks; c++) {
            const q0 = c * L;
            const rows = Math.min(L, len - q0);
            const prev = nChunks === 1 ? 0 : c === 0 ? lastLen : L;
            const k0 = pre + q0 - prev; // first key row (ext coordinates)
            const keys = prev + rows;
            let mask = 0;
            if (needMask) {
              mask = maskAt;
              lshKernels(kernels).chunkMask({ qpos: f32At(permQ, q0), nq: rows, kpos: f32At(ext, k0), nk: keys, causal, selfPenalty: shared ? LSH_SELF_PENALTY : 0, out: mask });
              maskAt += f32Bytes(rows * keys);
            }
            calls.push({
              q: f32At(qs, q0 * dh), qStride: dh, k: f32At(ks, k0 * dh), kStride: dh, v: f32At(vs, k0 * dv), vStride: dv,
              o: f32At(os, q0 * dv), oStride: dv, nq: rows, nk: keys, dh, dv, scale: p.scale, softcap: 0,
              mask, maskStride: keys, offset: 0, left: -1, right: -1, keyLen: keys, rel: 0, relStride: 0, relMax: 0,
              lse: f32At(lseS, q0),
            });
          }
          attentionKernels(kernels).onlineMany(calls);
          // Unsort (row i of the round's result is sorted row inv[i]) and merge the rounds.
          if (r === 0) {
            rowKernels(kernels).gather({ src: os, srcStride: dv, idx: invQ, n: len, d: dv, dst: oh, dstStride: ost });
            rowKernels(kernels).gather({ src: lseS, srcStride: 1, idx: invQ, n: len, d: 1, dst: lseAcc, dstStride: 1 });
          } else {
            rowKernels(kernels).gather({ src: os, srcStride: dv, idx: invQ, n: len, d: dv, dst: tmpO, dstStride: dv });
            rowKernels(kernels).gather({ src: lseS, srcStride: 1, idx: invQ, n: len, d: 1, dst: tmpL, dstStride: 1 });
            attentionKernels(kernels).merge({ acc: oh, accStride: ost, lseAcc, part: tmpO, partStride: dv, lsePart: tmpL, rows: len, dv });
          }
        }
      }
    }
    return finishOutput(kernels, p, op);
  } finally {
    scope.close();
  }
}
