// rows.ts — the row family (assembly/rows.ts): kernels over n rows of d floats that several variants
// share — gather, norms, mean, transpose, L2 normalization, gathered/weighted multiply-add,
// scatter-add, bias-and-scale — each through the ROWS_* parameter block (written into the
// instance's shared block). Row strides are in elements; every method takes one call record.

import type { KernelAccess, Kernels } from './instance';
import { type Layout, ParamWriter, readLayout } from './params';

/** n rows of d floats at `src` with row stride `srcStride`. */
export interface RowsIn {
  src: number;
  srcStride: number;
  n: number;
  d: number;
}

/** The same, written to `dst` with row stride `dstStride` (dst = src: in place where allowed). */
export interface RowsInOut extends RowsIn {
  dst: number;
  dstStride: number;
}

const FIELDS = ['SRC', 'SRC_STRIDE', 'DST', 'DST_STRIDE', 'N', 'D', 'IDX', 'OUT', 'W', 'W_STRIDE', 'C', 'BIAS', 'SCALE'];

/** The row kernels of one instance; see the file header. */
export class RowKernels {
  private readonly layout: Layout;
  private readonly writer: ParamWriter;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'ROWS', FIELDS);
    this.writer = new ParamWriter(access.arena);
  }

  /** dst[r] = src[idx[r]] (idx: n i32). */
  gather(call: RowsInOut & { idx: number }): void {
    const L = this.layout;
    this.rowsInOut(call).int(L.IDX, call.idx);
    this.access.exports.f32_rows_gather(this.access.params);
  }

  /** out[r] = ‖src_r‖₂ (n f32). */
  norm(call: RowsIn & { out: number }): void {
    this.rowsIn(call).int(this.layout.OUT, call.out);
    this.access.exports.f32_rows_norm(this.access.params);
  }

  /** out (d f32) = the mean of the n rows. */
  mean(call: RowsIn & { out: number }): void {
    this.rowsIn(call).int(this.layout.OUT, call.out);
    this.access.exports.f32_rows_mean(this.access.params);
  }

  /** dst (d rows of n) = the transpose of src (n rows of d). */
  transpose(call: RowsInOut): void {
    this.rowsInOut(call);
    this.access.exports.f32_rows_transpose(this.access.params);
  }

  /** dst_r = src_r / max(‖src_r‖₂, 1e-12) (in place when dst = src). */
  l2Normalize(call: RowsInOut): void {
    this.rowsInOut(call);
    this.access.exports.f32_rows_l2_normalize(this.access.params);
  }

  /**
   * dst_r += a_r·src_{s_r} for r < n: s_r = idx[r] (i32 at idx) or r when idx is 0; a_r =
   * c·w[r·wStride] (f32 at w) or c when w is 0; rows with a_r = 0 are skipped.
   */
  axpy(call: RowsInOut & { idx: number; w: number; wStride: number; c: number }): void {
    const L = this.layout;
    this.rowsInOut(call).int(L.IDX, call.idx).int(L.W, call.w).int(L.W_STRIDE, call.wStride).float(L.C, call.c);
    this.access.exports.f32_rows_axpy(this.access.params);
  }

  /** dst_{idx[r]} += src_r for r < n (idx: n i32; repeats accumulate). */
  scatterAdd(call: RowsInOut & { idx: number }): void {
    this.rowsInOut(call).int(this.layout.IDX, call.idx);
    this.access.exports.f32_rows_scatter_add(this.access.params);
  }

  /** dst_r = scale·(src_r + bias) (bias: d f32; in place when dst = src). */
  biasScale(call: RowsInOut & { bias: number; scale: number }): void {
    const L = this.layout;
    this.rowsInOut(call).int(L.BIAS, call.bias).float(L.SCALE, call.scale);
    this.access.exports.f32_rows_bias_scale(this.access.params);
  }

  /** Starts the block: src, srcStride, n, d (the fields every kernel reads). */
  private rowsIn(call: RowsIn): ParamWriter {
    const L = this.layout;
    return this.writer.at(this.access.params).int(L.SRC, call.src).int(L.SRC_STRIDE, call.srcStride).int(L.N, call.n).int(L.D, call.d);
  }

  /** The same and dst, dstStride. */
  private rowsInOut(call: RowsInOut): ParamWriter {
    const L = this.layout;
    return this.rowsIn(call).int(L.DST, call.dst).int(L.DST_STRIDE, call.dstStride);
  }
}

const make = (access: KernelAccess) => new RowKernels(access);

/** The row kernels of `kernels`' instance (made on first use). */
export function rowKernels(kernels: Kernels): RowKernels {
  return kernels.family(make);
}
