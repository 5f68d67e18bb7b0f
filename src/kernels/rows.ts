// rows.ts — the row family (assembly/rows.ts): kernels over n rows of d floats that several variants
// share — gather, norms, mean, transpose, L2 normalization, gathered/weighted multiply-add,
// scatter-add, bias-and-scale. Row strides are in elements; every method takes one call record.

import type { KernelAccess, Kernels } from './instance';

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

/** The row kernels of one instance; see the file header. */
export class RowKernels {
  constructor(private readonly access: KernelAccess) {}

  /** dst[r] = src[idx[r]] (idx: n i32). */
  gather(call: RowsInOut & { idx: number }): void {
    this.access.exports.f32_rows_gather(call.src, call.srcStride, call.idx, call.n, call.d, call.dst, call.dstStride);
  }

  /** out[r] = ‖src_r‖₂ (n f32). */
  norm(call: RowsIn & { out: number }): void {
    this.access.exports.f32_rows_norm(call.src, call.srcStride, call.n, call.d, call.out);
  }

  /** out (d f32) = the mean of the n rows. */
  mean(call: RowsIn & { out: number }): void {
    this.access.exports.f32_rows_mean(call.src, call.srcStride, call.n, call.d, call.out);
  }

  /** dst (d rows of n) = the transpose of src (n rows of d). */
  transpose(call: RowsInOut): void {
    this.access.exports.f32_rows_transpose(call.src, call.srcStride, call.n, call.d, call.dst, call.dstStride);
  }

  /** dst_r = src_r / max(‖src_r‖₂, 1e-12) (in place when dst = src). */
  l2Normalize(call: RowsInOut): void {
    this.access.exports.f32_rows_l2_normalize(call.src, call.srcStride, call.n, call.d, call.dst, call.dstStride);
  }

  /**
   * dst_r += a_r·src_{s_r} for r < n: s_r = idx[r] (i32 at idx) or r when idx is 0; a_r =
   * c·w[r·wStride] (f32 at w) or c when w is 0; rows with a_r = 0 are skipped.
   */
  axpy(call: RowsInOut & { idx: number; w: number; wStride: number; c: number }): void {
    this.access.exports.f32_rows_axpy(call.dst, call.dstStride, call.src, call.srcStride, call.idx, call.w, call.wStride, call.c, call.n, call.d);
  }

  /** dst_{idx[r]} += src_r for r < n (idx: n i32; repeats accumulate). */
  scatterAdd(call: RowsInOut & { idx: number }): void {
    this.access.exports.f32_rows_scatter_add(call.dst, call.dstStride, call.src, call.srcStride, call.idx, call.n, call.d);
  }

  /** dst_r = scale·(src_r + bias) (bias: d f32; in place when dst = src). */
  biasScale(call: RowsInOut & { bias: number; scale: number }): void {
    this.access.exports.f32_rows_bias_scale(call.src, call.srcStride, call.n, call.d, call.bias, call.scale, call.dst, call.dstStride);
  }
}

const make = (access: KernelAccess) => new RowKernels(access);

/** The row kernels of `kernels`' instance (made on first use). */
export function rowKernels(kernels: Kernels): RowKernels {
  return kernels.family(make);
}
