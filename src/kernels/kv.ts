// kv.ts — typed wrappers of the low-precision KV-cache kernels (assembly/kv-rows.ts,
// assembly/attention-kv.ts): converting f32 rows to and from the cache's f16kv / q8kv rows (through
// the KV_CONVERT_* block, written into the instance's shared block), and
// the fused attention over cache rows read in place (one call at a time, or as a pool job like
// f32 attention). Reached through `kvKernels(kernels)` (a family of Kernels, so the core entry
// does not carry it); pointers are byte addresses in the arena.

import { exportedConstant, F32_BYTES, f32Bytes, JOB_F16KV_ATTENTION, JOB_Q8KV_ATTENTION, type KernelExports } from '../runtime/index';
import { type AttentionKernels, type AttnCall, attentionKernelsOf } from './attention';
import type { KernelAccess, Kernels } from './instance';
import { type Layout, ParamWriter, readLayout } from './params';

/** Row formats of a low-precision KV cache (assembly/kv-rows.ts). */
export type KvRowFormat = 'f16kv' | 'q8kv';

type Fn = (...args: number[]) => number;

/**
 * Bytes of one cached row of d elements: f16kv 2·d, q8kv d (codes), each rounded up to a multiple
 * of 4 and followed by a 4-byte trailer (the ±∞/NaN flag, the f32 scale); f32 4·d.
 */
export function kvRowBytes(format: KvRowFormat | 'f32', d: number): number {
  if (format === 'f32') return f32Bytes(d);
  const codes = (format === 'f16kv' ? 2 : 1) * d; // bytes of halves or int8 codes
  return f32Bytes(Math.ceil(codes / F32_BYTES) + 1); // rounded up to whole words, then the trailer word
}

const CONVERT_FIELDS = ['SRC', 'SRC_STRIDE', 'DST', 'DST_STRIDE', 'ROWS', 'D', 'MEAN'];

/** Rows of f32 into cache rows (KvKernels.fromF32). */
export interface KvFromF32Call {
  format: KvRowFormat;
  src: number;
  /** f32 row stride, in elements */
  srcStride: number;
  rows: number;
  d: number;
  dst: number;
  /** cache row stride, in bytes */
  dstBytes: number;
  /** address of the d f32 values q8kv rows are quantized around (0 or absent: none) */
  mean?: number;
}

/** Cache rows into rows of f32 (KvKernels.toF32). */
export interface KvToF32Call {
  format: KvRowFormat;
  src: number;
  /** cache row stride, in bytes */
  srcBytes: number;
  rows: number;
  d: number;
  dst: number;
  /** f32 row stride, in elements */
  dstStride: number;
  /** address of the d f32 values added back to q8kv rows (0 or absent: none) */
  mean?: number;
}

/** Attention calls (multiply-adds) from which the pool takes part, as for f32 attention. */
const MIN_POOL_FLOPS = 1 << 21;

/** The KV-cache kernels of one instance; see the file header. */
export class KvKernels {
  private readonly exports: KernelExports;
  private readonly access: KernelAccess;
  private readonly attention: AttentionKernels;
  private readonly writer: ParamWriter;
  private readonly meanOffset: number;
  /** The KV_CONVERT_* block layout of the row converters (written into the instance's shared block). */
  private readonly convertLayout: Layout;
  /** This family's attention parameter block. */
  private readonly params: number;

  constructor(access: KernelAccess) {
    this.access = access;
    this.exports = access.exports;
    this.attention = attentionKernelsOf(access);
    this.writer = new ParamWriter(access.arena);
    this.meanOffset = exportedConstant(this.exports, 'ATTN_KV_MEAN');
    this.convertLayout = readLayout(this.exports, 'KV_CONVERT', CONVERT_FIELDS);
    this.params = access.arena.alloc(this.attention.layout.PARAMS_BYTES);
  }

  private fn(name: string): Fn {
    return this.exports[name] as Fn;
  }

  /**
   * `rows` f32 rows of `d` values at `src` (row stride `srcStride` elements) → cache rows at `dst`
   * (row stride `dstBytes`); q8kv rows are quantized around `mean` (d f32; 0 = none), f16kv ignores it.
   */
  fromF32(call: KvFromF32Call): void {
    this.convert(`f32_${call.format}_convert`, call.src, call.srcStride, call.rows, call.d, call.dst, call.dstBytes, call.mean ?? 0);
  }

  /** `rows` cache rows at `src` (row stride `srcBytes`) → f32 rows of `d` values at `dst` (row stride `dstStride` elements), `mean` added back (q8kv). */
  toF32(call: KvToF32Call): void {
    this.convert(`${call.format}_f32_convert`, call.src, call.srcBytes, call.rows, call.d, call.dst, call.dstStride, call.mean ?? 0);
  }

  /** Writes the KV_CONVERT_* block into the shared block and runs the converter `name`. */
  private convert(name: string, src: number, srcStride: number, rows: number, d: number, dst: number, dstStride: number, mean: number): void {
    const L = this.convertLayout;
    const params = this.access.params;
    this.writer.at(params)
      .int(L.SRC, src).int(L.SRC_STRIDE, srcStride).int(L.DST, dst).int(L.DST_STRIDE, dstStride)
      .int(L.ROWS, rows).int(L.D, d).int(L.MEAN, mean);
    this.fn(name)(params);
  }

  /**
   * Attention calls whose K and V are cache rows of `format` (strides in 4-byte words; disjoint
   * outputs): on the worker pool when there is one and the work is worth it, else in turn.
   * `meanOf(call)`: the address of the keys' mean μ of the call's head (q8kv; 0 = none).
   */
  attnMany(format: KvRowFormat, calls: AttnCall[], meanOf: (call: AttnCall) => number): void {
    const name = `${format}_attn_online`;
    let flops = 0;
    let wsBytes = 0;
    for (const c of calls) {
      flops += c.nq * c.nk * (c.dh + c.dv);
      wsBytes = Math.max(wsBytes, this.attention.workspaceBytes(c.nk, c.dh, c.dv));
    }
    if (this.access.threads() < 2 || calls.length < 2 || flops < MIN_POOL_FLOPS) {
      const kernel = this.fn(name);
      for (const c of calls) {
        const ws = this.access.scratch(this.attention.workspaceBytes(c.nk, c.dh, c.dv));
        this.write(c, this.params, ws, meanOf(c));
        kernel(this.params);
      }
      return;
    }
    this.access.runJob({
      kind: format === 'f16kv' ? JOB_F16KV_ATTENTION : JOB_Q8KV_ATTENTION, count: calls.length, stride: this.attention.layout.PARAMS_BYTES,
      wsOffset: this.attention.layout.WORKSPACE, wsBytes, mainParams: this.params, write: (block, i) => this.write(calls[i], block, 0, meanOf(calls[i])),
    });
  }

  /** An attention parameter block for `call` at `at`, with the keys' mean in ATTN_KV_MEAN. */
  private write(call: AttnCall, at: number, ws: number, mean: number): void {
    this.attention.write(call, at, ws);
    this.writer.at(at).int(this.meanOffset, mean);
  }
}

const make = (access: KernelAccess) => new KvKernels(access);

/** The KV-cache kernels of `kernels`' instance (made on first use). */
export function kvKernels(kernels: Kernels): KvKernels {
  return kernels.family(make);
}
