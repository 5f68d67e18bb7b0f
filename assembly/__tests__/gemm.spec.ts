// gemm.spec.ts — f32_gemm (assembly/gemm.ts) against a float64 triple loop, SIMD128 build.
//
// Shapes:  every (M, N, K) in {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65}³ (all 2197 triples, so
//          every row tail m % 4, column tail n % 8 and depth appears in M, N and K), for each of the
//          8 variants transB ∈ {0, 1} × bias on/off × accumulate on/off; plus K > KC = 256
//          (K = 257, 300, 513: two and three packed-B blocks), N > NC = 512 (N = 520, 1030: two and
//          three column slices), K = 0 and M = 0 / N = 0.
// Strides: lda ≥ k, ldb ≥ (transB ? k : n), ldc ≥ n with row padding cycling through 0, 1, 3, 4, 7
//          elements (different for A, B and C); padding and the 64-byte guards on both sides of every
//          buffer are filled with a NaN sentinel. Checks: C's padding and guards still hold the
//          sentinel (never written); A, B and bias are bit-identical afterwards (guards included);
//          the workspace (f32_gemm_workspace_bytes, filled with a third NaN pattern so that
//          workspace bytes copied into C's padding show up) is not exceeded; with accumulate off the
//          logical C starts as NaN garbage, which must not leak (it must not be read).
// Values:  A, B, bias, initial C uniform in [−1, 1), fixed-seed xorshift32.
// Tolerance: |C − C₆₄| ≤ 1e-5 · (1 + |C₀| + |bias| + Σₚ |a·b|) per element, C₆₄ the float64 result
//          of the same f32 inputs. (The a-priori bound is k·2⁻²⁴·Σ|a·b|, ≤ 1e-5·Σ|a·b| for k ≤ 167;
//          the measured worst ratio err / (1 + Σ…) is logged per test; measured ≤ 2.6e-7.)

import {
  f32_gemm, f32_gemm_workspace_bytes,
  GEMM_A, GEMM_LDA, GEMM_B, GEMM_LDB, GEMM_C, GEMM_LDC, GEMM_BIAS, GEMM_M, GEMM_N, GEMM_K,
  GEMM_TRANS_B, GEMM_ACCUMULATE, GEMM_WORKSPACE, GEMM_PARAMS_BYTES,
} from '../gemm';
import {
  Guarded, Rng, GARBAGE, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock,
  report, workspace,
} from './helpers';

const SIZES: StaticArray<i32> = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65];
const PADS: StaticArray<i32> = [0, 1, 3, 4, 7];
const TOL: f64 = 1e-5;

/** Totals of one test; reset by `begin`. */
let cases = 0;
let failures = 0;
let worstRatio: f64 = 0;
let firstFailure = '';

function begin(): void {
  cases = 0;
  failures = 0;
  worstRatio = 0;
  firstFailure = '';
}

function fail(what: string): void {
  if (failures == 0) firstFailure = what;
  failures++;
}

function finish(name: string): void {
  report(
    name + ': ' + cases.toString() + ' products, worst err/(1+Σ|ab|+…) = ' + worstRatio.toString() +
    (failures > 0 ? '; ' + failures.toString() + ' failures, first: ' + firstFailure : ''),
  );
  expect(failures).toBe(0, keep(name + ': ' + firstFailure));
}

function describeCase(m: i32, n: i32, k: i32, transB: i32, bias: bool, acc: bool, lda: i32, ldb: i32, ldc: i32): string {
  return 'm=' + m.toString() + ' n=' + n.toString() + ' k=' + k.toString() + ' transB=' + transB.toString() +
    ' bias=' + (bias ? '1' : '0') + ' acc=' + (acc ? '1' : '0') + ' lda=' + lda.toString() +
    ' ldb=' + ldb.toString() + ' ldc=' + ldc.toString();
}

/** One product; records failures in the module totals. */
function runCase(
  m: i32, n: i32, k: i32, transB: i32, withBias: bool, acc: bool,
  padA: i32, padB: i32, padC: i32, rng: Rng,
): void {
  cases++;
  const lda = k + padA;
  const bRows = transB ? n : k;
  const bCols = transB ? k : n;
  const ldb = bCols + padB;
  const ldc = n + padC;
  const A = matrix(m, k, lda);
  const B = matrix(bRows, bCols, ldb);
  const C = matrix(m, n, ldc);
  const bias = new Guarded(<usize>max(n, 1) << 2);
  const wsBytes = f32_gemm_workspace_bytes(n, k);
  const ws = workspace(wsBytes);
  const params = paramBlock(GEMM_PARAMS_BYTES);

  fillMatrix(A.ptr, m, k, lda, rng, -1, 1);
  fillMatrix(B.ptr, bRows, bCols, ldb, rng, -1, 1);
  if (acc) fillMatrix(C.ptr, m, n, ldc, rng, -1, 1);
  else fillMatrixBits(C.ptr, m, n, ldc, GARBAGE);
  if (withBias) fillMatrix(bias.ptr, 1, n, n, rng, -1, 1);

  // float64 reference and magnitude from the f32 inputs
  const ref = new StaticArray<f64>(max(m * n, 1));
  const mag = new StaticArray<f64>(max(m * n, 1));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s: f64 = 0;
      let g: f64 = 0;
      if (acc) {
        const c0 = <f64>load<f32>(at(C.ptr, ldc, i, j));
        s += c0;
        g += Math.abs(c0);
      }
      if (withBias) {
        const bj = <f64>load<f32>(bias.ptr + (<usize>j << 2));
        s += bj;
        g += Math.abs(bj);
      }
      for (let p = 0; p < k; p++) {
        const a = <f64>load<f32>(at(A.ptr, lda, i, p));
        const b = <f64>load<f32>(transB ? at(B.ptr, ldb, j, p) : at(B.ptr, ldb, p, j));
        s += a * b;
        g += Math.abs(a * b);
      }
      unchecked(ref[i * n + j] = s);
      unchecked(mag[i * n + j] = g);
    }
  }
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
  store<u32>(P + GEMM_BIAS, withBias ? <u32>bias.ptr : 0);
  store<i32>(P + GEMM_M, m);
  store<i32>(P + GEMM_N, n);
  store<i32>(P + GEMM_K, k);
  store<i32>(P + GEMM_TRANS_B, transB);
  store<i32>(P + GEMM_ACCUMULATE, acc ? 1 : 0);
  store<u32>(P + GEMM_WORKSPACE, <u32>ws.ptr);
  f32_gemm(P);

  let bad = 0;
  let firstBad = '';
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const got = <f64>load<f32>(at(C.ptr, ldc, i, j));
      const r = unchecked(ref[i * n + j]);
      const ratio = Math.abs(got - r) / (1 + unchecked(mag[i * n + j]));
      if (ratio <= TOL) {
        if (ratio > worstRatio) worstRatio = ratio;
      } else {
        if (bad == 0) {
          firstBad = ' C[' + i.toString() + ',' + j.toString() + '] = ' + got.toString() + ', f64 ' + r.toString();
        }
        bad++;
      }
    }
  }
  const what = describeCase(m, n, k, transB, withBias, acc, lda, ldb, ldc);
  if (bad > 0) fail(what + ': ' + bad.toString() + ' elements off,' + firstBad);
  const padHits = paddingDamage(C, m, n, ldc);
  if (padHits > 0) fail(what + ': ' + padHits.toString() + ' words of C padding/guard written');
  if (A.hash() != hashA || B.hash() != hashB || bias.hash() != hashBias) fail(what + ': an input was modified');
  if (ws.guardDamage() > 0) fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
  if (params.guardDamage() > 0) fail(what + ': parameter block guard written');

  A.free();
  B.free();
  C.free();
  bias.free();
  ws.free();
  params.free();
}

function variantName(transB: i32, bias: bool, acc: bool): string {
  return 'transB=' + transB.toString() + ' bias=' + (bias ? '1' : '0') + ' acc=' + (acc ? '1' : '0');
}

/** Which variant the next sweep test runs (tests run in registration order; AS has no closures). */
let variantCounter = 0;

describe('f32_gemm, every (M, N, K) in the tail-size sweep', () => {
  for (let v = 0; v < 8; v++) {
    const transB = v & 1;
    const withBias = (v & 2) != 0;
    const acc = (v & 4) != 0;
    it(keep(variantName(transB, withBias, acc)), () => {
      begin();
      const vv = variantCounter++;
      const tB = vv & 1;
      const bi = (vv & 2) != 0;
      const ac = (vv & 4) != 0;
      const rng = new Rng(0x1234567 + <u32>vv * 7919);
      let t = 0;
      for (let a = 0; a < SIZES.length; a++) {
        for (let b = 0; b < SIZES.length; b++) {
          for (let c = 0; c < SIZES.length; c++) {
            runCase(
              SIZES[a], SIZES[b], SIZES[c], tB, bi, ac,
              PADS[t % 5], PADS[(t / 5 + 2) % 5], PADS[(t / 25 + 1) % 5], rng,
            );
            t++;
          }
        }
      }
      finish(variantName(tB, bi, ac));
    });
  }
});


/** (M, N, K) across the KC = 256 depth blocks and the NC = 512 column slices. */
const BIG: StaticArray<i32> = [
  5, 9, 300,
  4, 8, 513,
  3, 17, 513,
  65, 33, 300,
  4, 12, 257,
  9, 520, 5,
  4, 520, 64,
  7, 520, 300,
  1, 520, 513,
  2, 1030, 9,
  17, 1030, 257,
];

describe('f32_gemm across packing blocks (K > 256, N > 512)', () => {
  it('all variants', () => {
    begin();
    const rng = new Rng(0xbeef);
    let t = 0;
    for (let s = 0; s < BIG.length; s += 3) {
      for (let v = 0; v < 8; v++) {
        runCase(
          BIG[s], BIG[s + 1], BIG[s + 2], v & 1, (v & 2) != 0, (v & 4) != 0,
          PADS[(t + 1) % 5], PADS[(t + 3) % 5], PADS[(t + 4) % 5], rng,
        );
        t++;
      }
    }
    finish('K > KC, N > NC');
  });
});

describe('f32_gemm degenerate sizes', () => {
  it('K = 0 gives C = [C +] [bias], M = 0 or N = 0 touches nothing', () => {
    begin();
    const rng = new Rng(77);
    for (let v = 0; v < 8; v++) {
      runCase(5, 9, 0, v & 1, (v & 2) != 0, (v & 4) != 0, 0, 1, 3, rng);
      runCase(0, 9, 7, v & 1, (v & 2) != 0, (v & 4) != 0, 1, 1, 1, rng);
      runCase(5, 0, 7, v & 1, (v & 2) != 0, (v & 4) != 0, 1, 1, 1, rng);
    }
    finish('degenerate');
  });
});
