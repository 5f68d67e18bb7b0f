// mha-linear.ts — the layer's projections: y = a·W + bias for a stored weight block (weights.ts),
// f32 through the GEMM kernel (row blocks across threads; pre-packed panels when they fit, the
// matrix-vector path for decode-sized products, split over columns across threads) or low
// precision through quantizedProduct.

import { CHUNKS_PER_THREAD, type Kernels, TILE_ROWS } from '../kernels/instance';
import { gemmKernels } from '../kernels/gemm';
import { decodeColumnSlice } from '../ops/matmul';
import { quantizedProduct } from '../ops/quantized-matmul';
import type { StoredMatrix } from './weights';
import { f32At } from '../runtime/index';

/** y[m, n] = a[m, k]·W[k, n] + bias through the GEMM kernel (row blocks across threads). */
export function linear(
  kernels: Kernels, a: number, lda: number, m: number, k: number, w: StoredMatrix, n: number, bias: number, c: number, ldc: number,
): void {
  if (m === 0 || n === 0) return;
  if (w.quantized) {
    // Low precision: the projections of the block in turn, each into its columns of c.
    for (let col = 0, i = 0; col < n; col += w.quantized[i++].n) {
      const q = w.quantized[i];
      quantizedProduct(kernels, q, { a, lda, w: q.parts.w, c: f32At(c, col), ldc, bias: bias ? f32At(bias, col) : 0, m, n: q.n, k });
    }
    return;
  }
  const rowsPerCall = kernels.threads > 1 ? Math.max(64, Math.ceil(m / (CHUNKS_PER_THREAD * kernels.threads) / TILE_ROWS) * TILE_ROWS) : m;
  // Pre-packed panels when they cover exactly these columns; decode-sized products (m < 4) take
  // the kernel's matrix-vector path, which reads the plain layout in place.
  const packed = w.packed && w.packed.n === n && m >= 4 ? w.packed : undefined;
  const calls = [];
  for (let r0 = 0; r0 < m; r0 += rowsPerCall) {
    const rows = Math.min(rowsPerCall, m - r0);
    // A decode step (m < 4) is split over the weight's columns instead (decodeColumnSlice).
    const width = packed ? n : decodeColumnSlice(kernels.threads, rows, n, k);
    for (let n0 = 0; n0 < n; n0 += width) {
      calls.push({
        a: f32At(a, r0 * lda), lda, b: packed ? packed.ptr : f32At(w.ptr, n0), ldb: w.ld, c: f32At(c, (r0 * ldc + n0)), ldc,
        bias: bias && f32At(bias, n0), m: rows, n: Math.min(width, n - n0), k, transB: false, accumulate: false, bPacked: !!packed,
      });
    }
  }
  gemmKernels(kernels).runMany(calls);
}
