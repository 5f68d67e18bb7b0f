// gemm-tester.ts — GemmTester: one f32_gemm call on guarded, strided buffers against a float64
// reference the spec supplies, in the spirit of XNNPACK's GemmMicrokernelTester:
//   new GemmTester().m(5).n(9).k(7).transB(1).bias(true).accumulate(false).pads(1, 3, 4).test(tally, rng, ref)
// Checks: every element within the tolerance (|C − C₆₄| ≤ atol + rtol·(|C₀| + |bias| + Σ|a·b|));
// C's padding and guards never written; A, B and bias bit-identical afterwards; the workspace
// (f32_gemm_workspace_bytes) not overrun; with accumulate off, C starts as NaN garbage that must
// not leak. Values uniform in [−1, 1) from the spec's Rng.

import {
  f32_gemm, f32_gemm_workspace_bytes,
  GEMM_A, GEMM_LDA, GEMM_B, GEMM_LDB, GEMM_C, GEMM_LDC, GEMM_BIAS, GEMM_M, GEMM_N, GEMM_K,
  GEMM_TRANS_B, GEMM_ACCUMULATE, GEMM_WORKSPACE, GEMM_PARAMS_BYTES,
} from '../gemm';
import { Guarded, Rng, GARBAGE, fillMatrix, fillMatrixBits, at, matrix, paddingDamage, paramBlock, workspace } from './helpers';
import { Tally } from './tester';

/**
 * The float64 result of the product the tester describes, from its f32 inputs: ref[i·n + j] and
 * the magnitude mag[i·n + j] its error scales with. c holds the initial C (read it only when
 * accumulating); bias is 0 when there is none.
 */
export type GemmReference = (t: GemmTester, a: usize, b: usize, bias: usize, c: usize, ref: StaticArray<f64>, mag: StaticArray<f64>) => void;

export class GemmTester {
  m_: i32 = 1;
  n_: i32 = 1;
  k_: i32 = 1;
  transB_: i32 = 0;
  bias_: bool = false;
  accumulate_: bool = false;
  padA: i32 = 0;
  padB: i32 = 0;
  padC: i32 = 0;
  atol: f64 = 1e-5;
  rtol: f64 = 1e-5;

  m(x: i32): GemmTester { this.m_ = x; return this; }
  n(x: i32): GemmTester { this.n_ = x; return this; }
  k(x: i32): GemmTester { this.k_ = x; return this; }
  transB(x: i32): GemmTester { this.transB_ = x; return this; }
  bias(x: bool): GemmTester { this.bias_ = x; return this; }
  accumulate(x: bool): GemmTester { this.accumulate_ = x; return this; }
  /** Row padding of A, B and C in elements. */
  pads(a: i32, b: i32, c: i32): GemmTester { this.padA = a; this.padB = b; this.padC = c; return this; }
  tolerance(atol: f64, rtol: f64): GemmTester { this.atol = atol; this.rtol = rtol; return this; }

  get lda(): i32 { return this.k_ + this.padA; }
  get ldb(): i32 { return (this.transB_ ? this.k_ : this.n_) + this.padB; }
  get ldc(): i32 { return this.n_ + this.padC; }

  describe(): string {
    return 'm=' + this.m_.toString() + ' n=' + this.n_.toString() + ' k=' + this.k_.toString() + ' transB=' +
      this.transB_.toString() + ' bias=' + (this.bias_ ? '1' : '0') + ' acc=' + (this.accumulate_ ? '1' : '0') +
      ' lda=' + this.lda.toString() + ' ldb=' + this.ldb.toString() + ' ldc=' + this.ldc.toString();
  }

  /** Runs one product and records it in `tally`. */
  test(tally: Tally, rng: Rng, reference: GemmReference): void {
    tally.begin();
    const m = this.m_, n = this.n_, k = this.k_, transB = this.transB_;
    const lda = this.lda, ldb = this.ldb, ldc = this.ldc;
    const bRows = transB ? n : k;
    const bCols = transB ? k : n;
    const A = matrix(m, k, lda);
    const B = matrix(bRows, bCols, ldb);
    const C = matrix(m, n, ldc);
    const bias = new Guarded(<usize>max(n, 1) << 2);
    const wsBytes = f32_gemm_workspace_bytes(n, k);
    const ws = workspace(wsBytes);
    const params = paramBlock(GEMM_PARAMS_BYTES);

    fillMatrix(A.ptr, m, k, lda, rng, -1, 1);
    fillMatrix(B.ptr, bRows, bCols, ldb, rng, -1, 1);
    if (this.accumulate_) fillMatrix(C.ptr, m, n, ldc, rng, -1, 1);
    else fillMatrixBits(C.ptr, m, n, ldc, GARBAGE);
    if (this.bias_) fillMatrix(bias.ptr, 1, n, n, rng, -1, 1);

    const ref = new StaticArray<f64>(max(m * n, 1));
    const mag = new StaticArray<f64>(max(m * n, 1));
    reference(this, A.ptr, B.ptr, this.bias_ ? bias.ptr : 0, C.ptr, ref, mag);
    const hashA = A.hash();
    const hashB = B.hash();
    const hashBias = bias.hash();

    const P = params.ptr;
    store<u32>(P + GEMM_A, <u32>A.ptr);
    store<i32>(P + GEMM_LDA, lda);
    store<u32>(P + GEMM_B, <u32>B.ptr);
    store<i32>(P + GEMM_LDB, ldb);
    store<u32>(P + GEMM_C, <u32>C.ptr);
    store<i32>(P + GEMM_LDC, ldc);
    store<u32>(P + GEMM_BIAS, this.bias_ ? <u32>bias.ptr : 0);
    store<i32>(P + GEMM_M, m);
    store<i32>(P + GEMM_N, n);
    store<i32>(P + GEMM_K, k);
    store<i32>(P + GEMM_TRANS_B, transB);
    store<i32>(P + GEMM_ACCUMULATE, this.accumulate_ ? 1 : 0);
    store<u32>(P + GEMM_WORKSPACE, <u32>ws.ptr);
    f32_gemm(P);

    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        tally.close(<f64>load<f32>(at(C.ptr, ldc, i, j)), unchecked(ref[i * n + j]), this.atol, this.rtol, unchecked(mag[i * n + j]), i, j);
      }
    }
    const what = this.describe();
    tally.endCase(what);
    const padHits = paddingDamage(C, m, n, ldc);
    if (padHits > 0) tally.fail(what + ': ' + padHits.toString() + ' words of C padding/guard written');
    if (A.hash() != hashA || B.hash() != hashB || bias.hash() != hashBias) tally.fail(what + ': an input was modified');
    if (ws.guardDamage() > 0) tally.fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
    if (params.guardDamage() > 0) tally.fail(what + ': parameter block guard written');

    A.free();
    B.free();
    C.free();
    bias.free();
    ws.free();
    params.free();
  }
}
