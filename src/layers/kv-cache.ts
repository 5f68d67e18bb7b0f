// kv-cache.ts — a key/value cache resident in Wasm memory, one per attention layer.
//
// Storage: keys [batch, heads, slots, headDim] and values [batch, heads, slots, valueDim], each
// head's rows contiguous, so the fused kernel reads a head in place (row stride = headDim).
//   • Linear cache (no window): slots = maxLength; token t of the sequence sits in slot t. A step
//     writes the n new keys/values into slots [len, len + n), then runs ONE kernel call per
//     (batch, head) over slots [0, len + n), bottom-right aligned (query i at position len + i).
//     Appending past maxLength throws before anything is written.
//   • Ring buffer (window W): slots = W; position p sits in slot p mod W and the cache keeps the
//     last W tokens. Query position p sees keys p − W < j ≤ p (a sliding window of W keys, itself
//     included). The kept keys form at most two contiguous runs of slots (oldest first); a step
//     runs the kernel on each run and on the n new keys (read where the projection left them),
//     each over a disjoint key set, with the window and causal ranges aligned to absolute
//     positions, and merges the partial results exactly by their log-sum-exp
//     (f32_attn_merge: o = Σ_s e^{lse_s − L}·o_s, L = log Σ_s e^{lse_s}). Only then are the new
//     keys written into their slots, so no key a query still needs is overwritten first.
// Decoding (fewer than 4 new tokens) takes the kernel's row path, which reads K and V in place;
// the cache is never copied.
//   • Element type (options.dtype, kv-storage.ts): 'f32', 'f16' (IEEE half rows) or 'int8' (codes
//     with one f32 scale per token, for keys and values). New rows are converted once, when they
//     are written; the f16/int8 kernels (assembly/attention-kv.ts) read them in place, converting
//     inside the decode loop or while packing prefill tiles. A ring buffer's new tokens are
//     converted before they are attended too, so every key a query sees has the cache's type.
// Relative biases (ALiBi, T5, Shaw) index distances between absolute positions, so they are exact
// across runs and steps. reorder() gathers batch entries for beam
// search (only the live slots move).

import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import type { HeadLayout } from '../attention/run-heads';
import { AttentionError, formatShape } from '../runtime/index';
import {
  asNumber, checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, type TensorView, viewOut, viewTensor,
  type WasmTensor, writeOut,
} from '../tensor';
import { checkMasks, composeMask } from './masks';
import type { MaskData } from '../attention/mask';
import { assertLive, booleanOption, optionKeys, readOptions } from '../attention/options';
import { kvDtype, type KVCacheDtype, KVStorage, type SlotRun } from './kv-storage';
import { attendCache, type CacheAttentionCall } from './kv-run';

export type { KVCacheDtype } from './kv-storage';

/** Options of `rt.kvCache`. */
export interface KVCacheOptions {
  /** Key/value heads (the layer's numKvHeads). */
  heads: number;
  /** Size of one key head. */
  headDim: number;
  /** Most tokens the cache holds. */
  maxLength: number;
  /** Keep only the last `window` tokens (≤ maxLength) in a ring buffer: sliding-window attention that never fills. */
  window?: number;
  /** Sequences decoded together (beams). Default 1. */
  batch?: number;
  /** Size of one value head. Default headDim. */
  valueDim?: number;
  /**
   * Element type of the cached rows: 'f32' (default), 'f16' (IEEE half: half the bytes) or 'int8'
   * (int8 codes with one f32 scale per token for keys and for values: about a quarter of the
   * bytes). Read in place by the fused kernels; see docs/low-precision.md for the accuracy of each.
   */
  dtype?: KVCacheDtype;
}

/** Options of `cache.step` and `cache.attend`. */
export interface KVCacheAttentionOptions {
  /** Multiplier of q·k. Default 1/√headDim. */
  scale?: number;
  /** softcap·tanh(s/softcap) before masks and biases. Default 0 = none. */
  softcap?: number;
  /** New tokens see only earlier positions and themselves (bottom-right aligned). Default true for step. */
  causal?: boolean;
  /** Broadcast to [batch, qHeads, nq, keys], keys in time order (the cached ones, then the new ones); 1 = attend or additive. */
  mask?: TensorLike<MaskData>;
  /** [batch, keys] in time order, PyTorch polarity: true = ignore the key (or additive float). */
  keyPaddingMask?: TensorLike<MaskData>;
  /** Also return the probabilities [batch, qHeads, nq, keys]. */
  returnWeights?: boolean;
  /**
   * Write the output [batch, qHeads, nq, valueDim] here: a WasmTensor (zero-copy) or a Tensor. Read
   * once. It may be (or overlap) an input: the output is then computed into a temporary block and
   * copied into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

const F32 = [Float32Array] as const;
const CACHE_KEYS = optionKeys<KVCacheOptions>({ heads: true, headDim: true, maxLength: true, window: true, batch: true, valueDim: true, dtype: true });
const ATTEND_KEYS = optionKeys<KVCacheAttentionOptions>({
  scale: true, softcap: true, causal: true, mask: true, keyPaddingMask: true, returnWeights: true, out: true,
});

function positiveInt(value: unknown, name: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 30) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

/** A key/value cache in Wasm memory; see the file header. Create with `rt.kvCache(options)`. */
export class KVCache {
  /** Key/value heads. */
  readonly heads: number;
  /** Key head size. */
  readonly headDim: number;
  /** Value head size. */
  readonly valueDim: number;
  /** Most tokens the cache holds (options.maxLength). */
  readonly maxLength: number;
  /** ring-buffer window, or undefined for a linear cache */
  readonly window: number | undefined;
  /** Batch entries. */
  readonly batch: number;
  /** slots per (batch, head): window ?? maxLength */
  readonly capacity: number;
  /** Element type of the cached rows (options.dtype). */
  readonly dtype: KVCacheDtype;
  private readonly kernelsOf: () => Kernels;
  private readonly arena: Kernels['arena'];
  private readonly storage: KVStorage;
  private count = 0;
  private disposed = false;

  /** @internal use rt.kvCache */
  constructor(kernelsOf: () => Kernels, optionsIn: KVCacheOptions) {
    if (optionsIn === undefined) {
      throw new AttentionError('INVALID_OPTION', 'kvCache options must be { heads, headDim, maxLength, window?, batch?, valueDim?, dtype? }, got undefined');
    }
    const options = readOptions<KVCacheOptions>(optionsIn, CACHE_KEYS, 'options', 'rt.kvCache');
    this.heads = positiveInt(options.heads, 'options.heads');
    this.headDim = positiveInt(options.headDim, 'options.headDim');
    this.valueDim = options.valueDim === undefined ? this.headDim : positiveInt(options.valueDim, 'options.valueDim');
    this.maxLength = positiveInt(options.maxLength, 'options.maxLength');
    this.batch = options.batch === undefined ? 1 : positiveInt(options.batch, 'options.batch');
    if (options.window !== undefined) {
      const w = positiveInt(options.window, 'options.window');
      if (w > this.maxLength) {
        throw new AttentionError('INVALID_OPTION', `options.window (${w}) must be ≤ options.maxLength (${this.maxLength})`);
      }
      this.window = w;
    }
    this.capacity = this.window ?? this.maxLength;
    this.dtype = kvDtype(options.dtype, 'options.dtype');
    const kernels = kernelsOf();
    kernels.assertLive();
    this.kernelsOf = kernelsOf;
    this.arena = kernels.arena;
    this.storage = new KVStorage(this.arena, { batch: this.batch, heads: this.heads, headDim: this.headDim, valueDim: this.valueDim, capacity: this.capacity }, this.dtype);
  }

  /** Bytes of Wasm memory the cached keys and values take (with int8, their scales; with f16, the rows' flags). */
  get bytes(): number {
    return this.storage.bytes;
  }

  /** Tokens currently held (≤ capacity). Throws DISPOSED once the cache or its runtime was disposed. */
  get length(): number {
    this.kernels();
    return Math.min(this.count, this.capacity);
  }

  /**
   * Tokens appended since the last reset: the absolute position of the next token (RoPE offset).
   * Throws DISPOSED once the cache or its runtime was disposed.
   */
  get position(): number {
    this.kernels();
    return this.count;
  }

  /** @internal */
  kernels(): Kernels {
    if (this.disposed) throw new AttentionError('DISPOSED', 'this kvCache was disposed');
    return this.kernelsOf();
  }

  /** @internal keys visible to a step that appends n tokens (in time order). */
  keyCount(n: number): number {
    return this.length + n;
  }

  /** @internal absolute position of the oldest key a step sees. */
  firstKeyPosition(): number {
    return this.count - this.length;
  }

  /** @internal throws unless n more tokens fit. */
  checkRoom(n: number, name: string): void {
    if (this.window === undefined && this.count + n > this.capacity) {
      throw new AttentionError(
        'CACHE_FULL',
        `${name}: the kvCache is full: it holds ${this.count} of maxLength ${this.maxLength} tokens and ${n} more do not fit; ` +
          'reset() it, create it with a larger maxLength, or with a window for a ring buffer',
      );
    }
  }

  /**
   * @internal throws unless the cache still holds what it held at `position` (its position then):
   * the caller's code (a getter of an option) must not append to, reset or truncate it mid-call.
   */
  checkUnchanged(position: number, name: string): void {
    if (this.count !== position) {
      throw new AttentionError('INVALID_ARGUMENT', `${name}: the kvCache was changed (append, step, reset or truncate) by the caller's code during the call`);
    }
  }

  /** Runs of kept slots, oldest first: { slot, count, position, time }. */
  private segments(): Array<SlotRun & { position: number }> {
    const kept = this.length;
    if (kept === 0) return [];
    if (this.window === undefined) return [{ slot: 0, count: kept, position: 0, time: 0 }];
    const first = this.count - kept;
    const s0 = first % this.capacity;
    const c0 = Math.min(kept, this.capacity - s0);
    const out = [{ slot: s0, count: c0, position: first, time: 0 }];
    if (kept > c0) out.push({ slot: 0, count: kept - c0, position: first + c0, time: c0 });
    return out;
  }

  /** Writes new rows t ∈ [t0, n) of (kNew, vNew) into their slots (converted to the cache's type). */
  private write(kernels: Kernels, kNew: HeadLayout, vNew: HeadLayout, n: number): void {
    if (n === 0) return;
    const t0 = this.window === undefined ? 0 : Math.max(0, n - this.capacity);
    this.storage.write(kernels, kNew, vNew, n, t0, this.count);
  }

  /** @internal attention of the call's queries over the cache (plus n new tokens, appended). */
  run(kernels: Kernels, scope: Scope, call: CacheAttentionCall): void {
    // A linear cache writes the new rows first and attends to all of them; a ring buffer attends
    // to its kept runs and the new rows apart (kv-run.ts), then overwrites the oldest slots.
    const linear = this.window === undefined;
    if (linear && call.n > 0) this.write(kernels, call.kNew!, call.vNew!, call.n);
    attendCache(kernels, scope, call, {
      heads: this.heads, headDim: this.headDim, valueDim: this.valueDim, window: this.window, position: this.count,
      length: this.length, runs: this.segments(), storage: this.storage,
    });
    if (!linear && call.n > 0) this.write(kernels, call.kNew!, call.vNew!, call.n);
    this.count += call.n;
  }

  private checkQuery(q: TensorView, name: string): { qHeads: number; nq: number } {
    if (q.shape.length !== 4 || q.shape[0] !== this.batch || q.shape[3] !== this.headDim || q.shape[1] % this.heads !== 0 || q.shape[1] === 0) {
      throw new AttentionError('SHAPE_MISMATCH', `${name} must be [batch = ${this.batch}, qHeads (a multiple of ${this.heads}), nq, headDim = ${this.headDim}], got ${formatShape(q.shape)}`);
    }
    return { qHeads: q.shape[1], nq: q.shape[2] };
  }

  private checkNew(k: TensorView, v: TensorView, n: number | undefined): number {
    const nk = k.shape[2];
    if (k.shape.length !== 4 || k.shape[0] !== this.batch || k.shape[1] !== this.heads || k.shape[3] !== this.headDim || (n !== undefined && nk !== n)) {
      throw new AttentionError('SHAPE_MISMATCH', `k must be [batch = ${this.batch}, heads = ${this.heads}, ${n ?? 'n'}, headDim = ${this.headDim}], got ${formatShape(k.shape)}`);
    }
    if (v.shape.length !== 4 || v.shape[0] !== this.batch || v.shape[1] !== this.heads || v.shape[2] !== nk || v.shape[3] !== this.valueDim) {
      throw new AttentionError('SHAPE_MISMATCH', `v must be [batch = ${this.batch}, heads = ${this.heads}, ${nk}, valueDim = ${this.valueDim}], got ${formatShape(v.shape)}`);
    }
    return nk;
  }

  /** Appends keys [batch, heads, n, headDim] and values [batch, heads, n, valueDim] (copied in). */
  append(kIn: TensorLike, vIn: TensorLike): void {
    const kernels = this.kernels();
    const position = this.count;
    const k = viewTensor(kIn, 'k', F32, this.arena);
    const v = viewTensor(vIn, 'v', F32, this.arena);
    const n = this.checkNew(k, v, undefined);
    this.checkRoom(n, 'kvCache.append');
    // The tensors' getters have run: the cache, its runtime and resident inputs must still be alive and unchanged.
    this.kernels();
    assertLive(kernels, { k: kIn, v: vIn });
    this.checkUnchanged(position, 'kvCache.append');
    const scope = new Scope(kernels.arena);
    try {
      const kp = scope.place(k);
      const vp = scope.place(v);
      this.appendFrom(
        { ptr: kp, batchStride: this.heads * n * this.headDim, headStride: n * this.headDim, rowStride: this.headDim },
        { ptr: vp, batchStride: this.heads * n * this.valueDim, headStride: n * this.valueDim, rowStride: this.valueDim },
        n,
      );
    } finally {
      scope.close();
    }
  }

  /** @internal appends n tokens read from strided layouts (room checked by the caller). */
  appendFrom(kNew: HeadLayout, vNew: HeadLayout, n: number): void {
    this.write(this.kernels(), kNew, vNew, n);
    this.count += n;
  }

  /**
   * One decoding step: appends k, v ([batch, heads, n, ·]) and returns the attention of q
   * ([batch, qHeads, n, headDim]) over every key it may see, [batch, qHeads, n, valueDim].
   */
  step(q: TensorLike, k: TensorLike, v: TensorLike, options: KVCacheAttentionOptions & { returnWeights: true }): {
    /** The attention output. */
    output: Tensor;
    /** The attention probabilities over the visible cached keys. */
    weights: Tensor };
  step(q: TensorLike, k: TensorLike, v: TensorLike, options?: KVCacheAttentionOptions): Tensor;
  step(q: TensorLike, k: TensorLike, v: TensorLike, options: KVCacheAttentionOptions = {}): Tensor | { output: Tensor; weights: Tensor } {
    return this.kernels().operation(() => this.attention('kvCache.step', q, { k, v }, options, true));
  }

  /** Attention of q ([batch, qHeads, nq, headDim]) over the cached keys, without appending (e.g. cross-attention memory). */
  attend(q: TensorLike, options: KVCacheAttentionOptions & { returnWeights: true }): {
    /** The attention output. */
    output: Tensor;
    /** The attention probabilities over the cached keys. */
    weights: Tensor };
  attend(q: TensorLike, options?: KVCacheAttentionOptions): Tensor;
  attend(q: TensorLike, options: KVCacheAttentionOptions = {}): Tensor | { output: Tensor; weights: Tensor } {
    return this.kernels().operation(() => this.attention('kvCache.attend', q, undefined, options, false));
  }

  private attention(
    name: string, qIn: TensorLike, kv: { k: TensorLike; v: TensorLike } | undefined, optionsIn: KVCacheAttentionOptions, causalDefault: boolean,
  ): Tensor | { output: Tensor; weights: Tensor } {
    const kernels = this.kernels();
    const position = this.count;
    const options = readOptions<KVCacheAttentionOptions>(optionsIn, ATTEND_KEYS, 'options', name);
    const q = viewTensor(qIn, 'q', F32, this.arena);
    const { qHeads, nq } = this.checkQuery(q, 'q');
    let kView: TensorView | undefined;
    let vView: TensorView | undefined;
    let n = 0;
    if (kv) {
      kView = viewTensor(kv.k, 'k', F32, this.arena);
      vView = viewTensor(kv.v, 'v', F32, this.arena);
      n = this.checkNew(kView, vView, nq);
      this.checkRoom(n, name);
    }
    const scale = options.scale ?? 1 / Math.sqrt(this.headDim);
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new AttentionError('INVALID_OPTION', `options.scale must be a finite number, got ${String(options.scale)}`);
    const softcap = options.softcap ?? 0;
    if (typeof softcap !== 'number' || !Number.isFinite(softcap) || softcap < 0) throw new AttentionError('INVALID_OPTION', `options.softcap must be a number ≥ 0, got ${String(options.softcap)}`);
    const causal = options.causal ?? causalDefault;
    if (typeof causal !== 'boolean') throw new AttentionError('INVALID_OPTION', `options.causal must be a boolean, got ${String(options.causal)}`);
    const wantWeights = booleanOption(options.returnWeights, 'options.returnWeights', false);
    const total = this.keyCount(n);
    const B = this.batch;
    checkElementCount(B * qHeads * nq * this.valueDim, 'output');
    if (wantWeights) checkElementCount(B * qHeads * nq * total, 'weights');
    const masks = checkMasks({ mask: options.mask, keyPaddingMask: options.keyPaddingMask }, { batch: B, heads: qHeads, q: nq, k: total }, this.arena);
    const outShape = [B, qHeads, nq, this.valueDim];
    const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, this.arena);
    if (nq === 0) {
      // No query rows (qHeads may claim any count): nothing appended, empty results at once.
      const output = out?.result ?? { data: new Float32Array(0), shape: outShape };
      return wantWeights ? { output, weights: { data: new Float32Array(0), shape: [B, qHeads, 0, total] } } : output;
    }
    const scope = new Scope(this.arena);
    try {
      // The caller's getters have run: the cache, its runtime and every resident tensor must still be alive.
      this.kernels();
      assertLive(kernels, { q: qIn, k: kv?.k, v: kv?.v, 'options.mask': options.mask, 'options.keyPaddingMask': options.keyPaddingMask, 'options.out': options.out });
      this.checkUnchanged(position, name);
      attentionKernels(kernels).reserve(Math.max(total, 1), this.headDim, this.valueDim);
      const qp = scope.place(q);
      const kp = kView ? scope.place(kView) : 0;
      const vp = vView ? scope.place(vView) : 0;
      const mask = composeMask(scope, masks);
      const size = B * qHeads * nq * this.valueDim;
      const op = outputBlock(scope, out, Math.max(1, size), 'output', [q, kView, vView]);
      const wp = wantWeights ? scope.alloc(Math.max(1, B * qHeads * nq * total), 'weights') : 0;
      this.run(kernels, scope, {
        batch: B, qHeads, nq,
        q: { ptr: qp, batchStride: qHeads * nq * this.headDim, headStride: nq * this.headDim, rowStride: this.headDim },
        o: { ptr: op, batchStride: qHeads * nq * this.valueDim, headStride: nq * this.valueDim, rowStride: this.valueDim },
        n,
        kNew: kView ? { ptr: kp, batchStride: this.heads * n * this.headDim, headStride: n * this.headDim, rowStride: this.headDim } : undefined,
        vNew: vView ? { ptr: vp, batchStride: this.heads * n * this.valueDim, headStride: n * this.valueDim, rowStride: this.valueDim } : undefined,
        scale, softcap, causal, mask, weights: wantWeights ? wp : undefined,
      });
      const output = writeOut(this.arena, out, op, outShape);
      if (!wantWeights) return output;
      return { output, weights: { data: this.arena.f32(wp, B * qHeads * nq * total).slice(), shape: [B, qHeads, nq, total] } };
    } finally {
      scope.close();
    }
  }

  /** The cached keys in time order (oldest first), a copy: [batch, heads, length, headDim]. */
  keys(): Tensor {
    return this.read(true);
  }

  /** The cached values in time order, a copy: [batch, heads, length, valueDim]. */
  values(): Tensor {
    return this.read(false);
  }

  private read(keys: boolean): Tensor {
    const kernels = this.kernels();
    const L = this.length;
    const scope = new Scope(this.arena);
    try {
      const data = this.storage.read(kernels, scope, keys, this.segments(), L);
      return { data, shape: [this.batch, this.heads, L, keys ? this.headDim : this.valueDim] };
    } finally {
      scope.close();
    }
  }

  /**
   * Keeps the first `length` tokens and forgets the rest (rolls back a speculative step). A ring
   * buffer can only roll back while it has not wrapped (older tokens were overwritten).
   */
  truncate(length: number): void {
    this.kernels();
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > this.count) {
      throw new AttentionError('INVALID_ARGUMENT', `length must be an integer in [0, ${this.count}] (the tokens appended), got ${String(length)}`);
    }
    if (this.window !== undefined && this.count > this.capacity && length < this.count) {
      throw new AttentionError('INVALID_ARGUMENT', `cannot truncate a ring-buffer kvCache that has wrapped (position ${this.count} > window ${this.capacity}): the older tokens were overwritten`);
    }
    this.count = length;
    if (length === 0) this.storage.forgetMean();
  }

  /** Forgets every token (the memory stays reserved). */
  reset(): void {
    this.kernels();
    this.count = 0;
    this.storage.forgetMean();
  }

  /**
   * Beam search: batch entry b takes the cached tokens of entry indices[b] (indices may repeat).
   * Only live slots move.
   */
  reorder(indices: ArrayLike<number>): void {
    this.kernels();
    const isArrayLike = Array.isArray(indices) || (ArrayBuffer.isView(indices) && !(indices instanceof DataView));
    if (!isArrayLike) throw new AttentionError('INVALID_ARGUMENT', `indices must be an array of ${this.batch} batch indices, got ${String(indices)}`);
    const idx = Array.from(indices as ArrayLike<number | bigint>, asNumber);
    if (idx.length !== this.batch) {
      throw new AttentionError('SHAPE_MISMATCH', `indices must hold one source entry per batch entry (${this.batch}), got ${idx.length}`);
    }
    idx.forEach((s, b) => {
      if (!Number.isInteger(s) || s < 0 || s >= this.batch) {
        throw new AttentionError('INVALID_ARGUMENT', `indices[${b}] must be an integer in [0, ${this.batch}), got ${String(s)}`);
      }
    });
    const live = this.length; // (after reading indices, whose getters may have disposed the cache: throws then)
    if (live > 0) this.storage.reorder(idx, live);
  }

  /** True once dispose() ran. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the cache's memory. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
