// kv-storage.ts — where a KV cache's rows live and how they get there: the key and value blocks
// in Wasm memory in the cache's element type, row writes (copies for f32, conversions for f16 and
// int8), reads back to f32, the beam-search gather, and the layouts the fused kernels read.
//
// Layout: keys [batch, heads, slots, ·] and values [batch, heads, slots, ·], one row per slot,
// rows of a head contiguous. A row is headDim (valueDim) values:
//   • 'f32'  — 4·d bytes, float32;
//   • 'f16'  — assembly/kv-rows.ts's f16kv row: d IEEE halves, padding to 4 bytes, a u32 flag
//              (the row holds ±∞ or NaN);
//   • 'int8' — kv-rows.ts's q8kv row: d int8 codes, padding to 4 bytes, the row's f32 scale
//              (max|x| / 127, one per token for keys and for values). Keys are quantized around a
//              per-channel mean μ of their (batch, head): the mean of the keys of the first write
//              after creation or reset (non-finite means → 0), kept until the cache is emptied, so
//              channels with a large common offset do not set every key's scale
//              (assembly/attention-kv.ts measures why).
// Every row is a whole number of 4-byte words, so a head is described by a HeadLayout whose
// strides count 4-byte words (for f32, elements), as the f32 kernel's strides do; the f16/int8
// kernels (attention-kv.ts) read the rows in place through it.

import type { AttnCall } from '../kernels/attention';
import type { Kernels } from '../kernels/instance';
import { rowKernels } from '../kernels/rows';
import { kvKernels, type KvRowFormat, kvRowBytes } from '../kernels/kv';
import type { HeadLayout } from '../attention/run-heads';
import { AttentionError, f32At, f32Bytes, wordIndex } from '../runtime/index';
import { checkElementCount, type Scope } from '../tensor';

/** Element type of a KV cache's rows: float32, IEEE half, or int8 with one f32 scale per row (token). */
export type KVCacheDtype = 'f32' | 'f16' | 'int8';

const FORMATS: Record<KVCacheDtype, KvRowFormat | 'f32'> = { f32: 'f32', f16: 'f16kv', int8: 'q8kv' };

/** options.dtype, checked: 'f32' when undefined. */
export function kvDtype(value: unknown, name: string): KVCacheDtype {
  if (value === undefined) return 'f32';
  if (value === 'f32' || value === 'f16' || value === 'int8') return value;
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  throw new AttentionError('INVALID_OPTION', `${name} must be 'f32', 'f16' or 'int8', got ${shown}`);
}

/** The sizes a storage is made for. */
export interface KVDims {
  batch: number;
  heads: number;
  headDim: number;
  valueDim: number;
  /** slots per (batch, head) */
  capacity: number;
}

/** A run of slots: rows [slot, slot + count) of every (batch, head), in time order from `time`. */
export interface SlotRun {
  slot: number;
  count: number;
  time: number;
}

/** The key and value rows of a KV cache; see the file header. */
export class KVStorage {
  readonly dtype: KVCacheDtype;
  /** Bytes of one key row and of one value row. */
  readonly kRowBytes: number;
  readonly vRowBytes: number;
  private readonly format: KvRowFormat | 'f32';
  private readonly dims: KVDims;
  private readonly arena: Kernels['arena'];
  private kPtr: number;
  private vPtr: number;
  /** int8: the keys' mean μ [batch, heads, headDim] f32 (0 for other types) and whether it is set. */
  private meanPtr = 0;
  private meanSet = false;

  constructor(arena: Kernels['arena'], dims: KVDims, dtype: KVCacheDtype) {
    this.arena = arena;
    this.dims = dims;
    this.dtype = dtype;
    this.format = FORMATS[dtype];
    this.kRowBytes = kvRowBytes(this.format, dims.headDim);
    this.vRowBytes = kvRowBytes(this.format, dims.valueDim);
    const rows = dims.batch * dims.heads * dims.capacity;
    checkElementCount((rows * this.kRowBytes) / 4, 'kvCache keys');
    checkElementCount((rows * this.vRowBytes) / 4, 'kvCache values');
    this.kPtr = arena.alloc(rows * this.kRowBytes);
    this.vPtr = 0;
    try {
      this.vPtr = arena.alloc(rows * this.vRowBytes);
      if (dtype === 'int8') this.meanPtr = arena.alloc(this.meanBytes());
    } catch (e) {
      arena.release(this.kPtr);
      if (this.vPtr) arena.release(this.vPtr);
      throw e;
    }
  }

  private meanBytes(): number {
    return this.dtype === 'int8' ? f32Bytes(this.dims.batch * this.dims.heads * this.dims.headDim) : 0;
  }

  /** Bytes the key and value blocks take (scales, flags and the keys' mean included). */
  get bytes(): number {
    const rows = this.dims.batch * this.dims.heads * this.dims.capacity;
    return rows * (this.kRowBytes + this.vRowBytes) + this.meanBytes();
  }

  /** The keys' mean of head (b, h) (int8), else 0. */
  private meanAt(head: number): number {
    return this.meanPtr && f32At(this.meanPtr, head * this.dims.headDim);
  }

  /** int8: sets the keys' mean from new rows [t0, n) of kNew, once (until forgetMean). */
  private ensureMean(kernels: Kernels, kNew: HeadLayout, n: number, t0: number): void {
    if (!this.meanPtr || this.meanSet || n <= t0) return;
    const { batch, heads, headDim: d } = this.dims;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const from = f32At(kNew.ptr, (b * kNew.batchStride + h * kNew.headStride + t0 * kNew.rowStride));
        rowKernels(kernels).mean({ src: from, srcStride: kNew.rowStride, n: n - t0, d, out: this.meanAt(b * heads + h) });
      }
    }
    const mean = this.arena.f32(this.meanPtr, batch * heads * d);
    for (let i = 0; i < mean.length; i++) if (!Number.isFinite(mean[i])) mean[i] = 0;
    this.meanSet = true;
  }

  /** The cache was emptied (reset, truncated to 0): the next write sets the keys' mean again. */
  forgetMean(): void {
    this.meanSet = false;
  }

  /** The cache's keys (or values) from `slot` on, as the kernels read them. */
  layout(keys: boolean, slot = 0): HeadLayout {
    const rowBytes = keys ? this.kRowBytes : this.vRowBytes;
    const row = rowBytes / 4;
    return { ptr: (keys ? this.kPtr : this.vPtr) + slot * rowBytes, batchStride: this.dims.heads * this.dims.capacity * row, headStride: this.dims.capacity * row, rowStride: row };
  }

  /**
   * The kernel runner of a plan over rows of this storage's type: undefined for f32 (the f32
   * kernel), else the f16/int8 kernels of attention-kv.ts. `block`: where the plan's key rows
   * start (head 0, row 0) and rows per head, which tell a call's head (for the keys' mean).
   */
  runner(kernels: Kernels, block: { ptr: number; rowsPerHead: number }): ((calls: AttnCall[]) => void) | undefined {
    const format = this.format;
    if (format === 'f32') return undefined;
    const headBytes = block.rowsPerHead * this.kRowBytes;
    return (calls) => kvKernels(kernels).attnMany(format, calls, (call) => this.meanAt(Math.floor((call.k - block.ptr) / headBytes)));
  }

  /** Where the cache's key rows start and rows per head (for runner). */
  get block(): { ptr: number; rowsPerHead: number } {
    return { ptr: this.kPtr, rowsPerHead: this.dims.capacity };
  }

  /**
   * f32 rows (rows, d), row stride srcStride elements → rows of this type at dst (row stride
   * dstBytes); `head` ≥ 0: key rows of that (batch, head), quantized around its mean (int8).
   */
  private store(kernels: Kernels, src: number, srcStride: number, rows: number, d: number, dst: number, dstBytes: number, head: number): void {
    if (this.format === 'f32') {
      const mem = this.arena.f32(0, wordIndex(this.arena.byteLength));
      for (let r = 0; r < rows; r++) mem.copyWithin(wordIndex(dst + r * dstBytes), wordIndex(src) + r * srcStride, wordIndex(src) + r * srcStride + d);
    } else {
      kvKernels(kernels).fromF32({ format: this.format, src, srcStride, rows, d, dst, dstBytes, mean: head >= 0 ? this.meanAt(head) : 0 });
    }
  }

  /**
   * Writes new rows t ∈ [t0, n) of (kNew, vNew) (f32, strided) into slots (first + t) mod capacity,
   * one kernel call (or copy) per run of consecutive slots.
   */
  write(kernels: Kernels, kNew: HeadLayout, vNew: HeadLayout, n: number, t0: number, first: number): void {
    const { batch, heads, capacity } = this.dims;
    this.ensureMean(kernels, kNew, n, t0);
    for (const [src, keys] of [[kNew, true], [vNew, false]] as const) {
      const d = keys ? this.dims.headDim : this.dims.valueDim;
      const dst = this.layout(keys);
      const rowBytes = keys ? this.kRowBytes : this.vRowBytes;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          for (let t = t0; t < n;) {
            const slot = (first + t) % capacity;
            const run = Math.min(n - t, capacity - slot);
            const from = f32At(src.ptr, (b * src.batchStride + h * src.headStride + t * src.rowStride));
            const to = f32At(dst.ptr, (b * dst.batchStride + h * dst.headStride)) + slot * rowBytes;
            this.store(kernels, from, src.rowStride, run, d, to, rowBytes, keys ? b * heads + h : -1);
            t += run;
          }
        }
      }
    }
  }

  /**
   * n new f32 rows of (kNew, vNew) converted into this type in blocks of `scope` ([batch, heads, n]
   * rows each), so the kernels read them like cached rows; f32 storage returns them as they are.
   */
  converted(kernels: Kernels, scope: Scope, kNew: HeadLayout, vNew: HeadLayout, n: number): { k: HeadLayout; v: HeadLayout } {
    if (this.format === 'f32') return { k: kNew, v: vNew };
    const { batch, heads } = this.dims;
    this.ensureMean(kernels, kNew, n, Math.max(0, n - this.dims.capacity));
    const block = (src: HeadLayout, keys: boolean): HeadLayout => {
      const d = keys ? this.dims.headDim : this.dims.valueDim;
      const rowBytes = keys ? this.kRowBytes : this.vRowBytes;
      const ptr = scope.alloc(Math.max(1, (batch * heads * n * rowBytes) / 4), keys ? 'kvCache keys' : 'kvCache values');
      const row = rowBytes / 4;
      const out = { ptr, batchStride: heads * n * row, headStride: n * row, rowStride: row };
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const from = f32At(src.ptr, (b * src.batchStride + h * src.headStride));
          this.store(kernels, from, src.rowStride, n, d, f32At(ptr, (b * out.batchStride + h * out.headStride)), rowBytes, keys ? b * heads + h : -1);
        }
      }
      return out;
    };
    return { k: block(kNew, true), v: block(vNew, false) };
  }

  /**
   * count rows of every (batch, head) of `rows` (keys of this type, a layout from layout() or
   * converted()) as float32 rows in a block of `scope`: what the weights kernel reads.
   */
  keysF32(kernels: Kernels, scope: Scope, rows: HeadLayout, count: number): HeadLayout {
    if (this.format === 'f32') return rows;
    const { batch, heads, headDim: d } = this.dims;
    const ptr = scope.alloc(Math.max(1, batch * heads * count * d), 'kvCache keys');
    const out = { ptr, batchStride: heads * count * d, headStride: count * d, rowStride: d };
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const from = f32At(rows.ptr, (b * rows.batchStride + h * rows.headStride));
        kvKernels(kernels).toF32({
          format: this.format, src: from, srcBytes: f32Bytes(rows.rowStride), rows: count, d,
          dst: f32At(ptr, (b * out.batchStride + h * out.headStride)), dstStride: d, mean: this.meanAt(b * heads + h),
        });
      }
    }
    return out;
  }

  /** The rows of `runs` in time order as float32 [batch, heads, length, d] (keys or values). */
  read(kernels: Kernels, scope: Scope, keys: boolean, runs: SlotRun[], length: number): Float32Array {
    const { batch, heads } = this.dims;
    const d = keys ? this.dims.headDim : this.dims.valueDim;
    const rowBytes = keys ? this.kRowBytes : this.vRowBytes;
    const out = new Float32Array(batch * heads * length * d);
    const src = this.layout(keys);
    const tmp = this.format === 'f32' || length === 0 ? 0 : scope.alloc(length * d, 'kvCache read');
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const head = f32At(src.ptr, (b * src.batchStride + h * src.headStride));
        for (const s of runs) {
          const from = head + s.slot * rowBytes;
          if (this.format !== 'f32') {
            kvKernels(kernels).toF32({ format: this.format, src: from, srcBytes: rowBytes, rows: s.count, d, dst: tmp, dstStride: d, mean: keys ? this.meanAt(b * heads + h) : 0 });
            out.set(this.arena.f32(tmp, s.count * d), ((b * heads + h) * length + s.time) * d);
          } else {
            out.set(this.arena.f32(from, s.count * d), ((b * heads + h) * length + s.time) * d);
          }
        }
      }
    }
    return out;
  }

  /**
   * Beam search: batch entry b takes the first `live` slots of entry indices[b] (already checked),
   * keys, values and the keys' mean alike; the other slots are left as they are.
   */
  reorder(idx: number[], live: number): void {
    const { batch, heads, capacity, headDim } = this.dims;
    const blocks: Array<[number, number, number]> = [[this.kPtr, capacity * this.kRowBytes, live * this.kRowBytes], [this.vPtr, capacity * this.vRowBytes, live * this.vRowBytes]];
    if (this.meanPtr) blocks.push([this.meanPtr, f32Bytes(headDim), f32Bytes(headDim)]);
    for (const [ptr, headBytes, liveBytes] of blocks) {
      const entry = heads * headBytes;
      // Save the sources that get overwritten before they are read, then gather.
      const saved = new Map<number, Uint8Array>();
      const mem = () => this.arena.u8(ptr, batch * entry);
      for (let b = 0; b < batch; b++) {
        const s = idx[b];
        if (s !== b && idx[s] !== s && !saved.has(s)) saved.set(s, mem().slice(s * entry, (s + 1) * entry));
      }
      const view = mem();
      for (let b = 0; b < batch; b++) {
        const s = idx[b];
        if (s === b) continue;
        for (let h = 0; h < heads; h++) {
          const off = h * headBytes;
          const src = saved.get(s);
          if (src) view.set(src.subarray(off, off + liveBytes), b * entry + off);
          else view.copyWithin(b * entry + off, s * entry + off, s * entry + off + liveBytes);
        }
      }
    }
  }

  /** Frees both blocks. */
  release(): void {
    this.arena.release(this.kPtr);
    this.arena.release(this.vPtr);
    if (this.meanPtr) this.arena.release(this.meanPtr);
    this.kPtr = 0;
    this.vPtr = 0;
    this.meanPtr = 0;
  }
}
