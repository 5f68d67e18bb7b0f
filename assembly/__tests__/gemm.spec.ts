// gemm.spec.ts — f32_gemm (assembly/gemm.ts) against a float64 triple loop, SIMD128 build, through
// GemmTester (gemm-tester.ts: buffers, strides, guards, checks).
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
// Packing: f32_gemm_pack_b through its GemmPackParams block (GEMM_PACK_*), n ∈ {1, 7, 8, 9, 17},
//          k ∈ {1, 5, 256, 257, 300} (one and two KC blocks), B and Bᵀ with padded strides: the
//          panels hold B exactly at the documented layout (KC-deep blocks of (⌈n/8⌉, kc, 8), zero
//          columns past n), nothing is written past f32_gemm_packed_b_bytes, B and the block are
//          unchanged.
// Values:  A, B, bias, initial C uniform in [−1, 1), fixed-seed xorshift32.
// Tolerance: |C − C₆₄| ≤ 1e-5 · (1 + |C₀| + |bias| + Σₚ |a·b|) per element, C₆₄ the float64 result
//          of the same f32 inputs. (The a-priori bound is k·2⁻²⁴·Σ|a·b|, ≤ 1e-5·Σ|a·b| for k ≤ 167;
//          the measured worst ratio err / (1 + Σ…) is logged per test; measured ≤ 2.6e-7.)

import {
  f32_gemm_pack_b, f32_gemm_packed_b_bytes, GEMM_PACK_B, GEMM_PACK_LDB, GEMM_PACK_TRANS_B, GEMM_PACK_N, GEMM_PACK_K,
  GEMM_PACK_DST, GEMM_PACK_PARAMS_BYTES,
} from '../gemm';
import { GemmTester } from './gemm-tester';
import { Guarded, Rng, at, fillMatrix, keep, matrix, paramBlock } from './helpers';
import { Tally } from './tester';

const SIZES: StaticArray<i32> = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65];
const PADS: StaticArray<i32> = [0, 1, 3, 4, 7];

/** Float64 C₀ + bias + A·B (or A·Bᵀ) of the tester's f32 inputs, and Σ of the terms' magnitudes. */
function reference(t: GemmTester, a: usize, b: usize, bias: usize, c: usize, ref: StaticArray<f64>, mag: StaticArray<f64>): void {
  const m = t.m_, n = t.n_, k = t.k_;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s: f64 = 0;
      let g: f64 = 0;
      if (t.accumulate_) {
        const c0 = <f64>load<f32>(at(c, t.ldc, i, j));
        s += c0;
        g += Math.abs(c0);
      }
      if (bias) {
        const bj = <f64>load<f32>(bias + (<usize>j << 2));
        s += bj;
        g += Math.abs(bj);
      }
      for (let p = 0; p < k; p++) {
        const av = <f64>load<f32>(at(a, t.lda, i, p));
        const bv = <f64>load<f32>(t.transB_ ? at(b, t.ldb, j, p) : at(b, t.ldb, p, j));
        s += av * bv;
        g += Math.abs(av * bv);
      }
      unchecked(ref[i * n + j] = s);
      unchecked(mag[i * n + j] = g);
    }
  }
}

/** One product of variant v (bit 0 transB, bit 1 bias, bit 2 accumulate). */
function runCase(tally: Tally, m: i32, n: i32, k: i32, v: i32, padA: i32, padB: i32, padC: i32, rng: Rng): void {
  new GemmTester().m(m).n(n).k(k).transB(v & 1).bias((v & 2) != 0).accumulate((v & 4) != 0)
    .pads(padA, padB, padC).test(tally, rng, reference);
}

function variantName(v: i32): string {
  return 'transB=' + (v & 1).toString() + ' bias=' + ((v >> 1) & 1).toString() + ' acc=' + ((v >> 2) & 1).toString();
}

/** Which variant the next sweep test runs (tests run in registration order; AS has no closures). */
let variantCounter = 0;

describe('f32_gemm, every (M, N, K) in the tail-size sweep', () => {
  for (let v = 0; v < 8; v++) {
    it(keep(variantName(v)), () => {
      const vv = variantCounter++;
      const tally = new Tally(variantName(vv));
      const rng = new Rng(0x1234567 + <u32>vv * 7919);
      let t = 0;
      for (let a = 0; a < SIZES.length; a++) {
        for (let b = 0; b < SIZES.length; b++) {
          for (let c = 0; c < SIZES.length; c++) {
            runCase(tally, SIZES[a], SIZES[b], SIZES[c], vv, PADS[t % 5], PADS[(t / 5 + 2) % 5], PADS[(t / 25 + 1) % 5], rng);
            t++;
          }
        }
      }
      tally.finish();
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
    const tally = new Tally('K > KC, N > NC');
    const rng = new Rng(0xbeef);
    let t = 0;
    for (let s = 0; s < BIG.length; s += 3) {
      for (let v = 0; v < 8; v++) {
        runCase(tally, BIG[s], BIG[s + 1], BIG[s + 2], v, PADS[(t + 1) % 5], PADS[(t + 3) % 5], PADS[(t + 4) % 5], rng);
        t++;
      }
    }
    tally.finish();
  });
});

describe('f32_gemm degenerate sizes', () => {
  it('K = 0 gives C = [C +] [bias], M = 0 or N = 0 touches nothing', () => {
    const tally = new Tally('degenerate');
    const rng = new Rng(77);
    for (let v = 0; v < 8; v++) {
      runCase(tally, 5, 9, 0, v, 0, 1, 3, rng);
      runCase(tally, 0, 9, 7, v, 1, 1, 1, rng);
      runCase(tally, 5, 0, 7, v, 1, 1, 1, rng);
    }
    tally.finish();
  });
});

const PACK_N: StaticArray<i32> = [1, 7, 8, 9, 17];
const PACK_K: StaticArray<i32> = [1, 5, 256, 257, 300];
const KC: i32 = 256;

/** One f32_gemm_pack_b call through a guarded GemmPackParams block, checked against B's layout. */
function packCase(tally: Tally, n: i32, k: i32, transB: i32, pad: i32, rng: Rng): void {
  tally.begin();
  const rows = transB ? n : k;
  const cols = transB ? k : n;
  const ldb = cols + pad;
  const B = matrix(rows, cols, ldb);
  fillMatrix(B.ptr, rows, cols, ldb, rng, -1, 1);
  const hb = B.hash();
  const bytes = f32_gemm_packed_b_bytes(n, k);
  const dst = new Guarded(bytes); // filled with the sentinel: every byte must be written
  const pp = paramBlock(GEMM_PACK_PARAMS_BYTES);
  store<u32>(pp.ptr + GEMM_PACK_B, <u32>B.ptr);
  store<i32>(pp.ptr + GEMM_PACK_LDB, ldb);
  store<i32>(pp.ptr + GEMM_PACK_TRANS_B, transB);
  store<i32>(pp.ptr + GEMM_PACK_N, n);
  store<i32>(pp.ptr + GEMM_PACK_K, k);
  store<u32>(pp.ptr + GEMM_PACK_DST, <u32>dst.ptr);
  const hp = pp.hash();
  f32_gemm_pack_b(pp.ptr);
  const panels = (n + 7) >> 3;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    for (let jp = 0; jp < panels; jp++) {
      for (let x = 0; x < kc; x++) {
        for (let c = 0; c < 8; c++) {
          const col = jp * 8 + c;
          const got = load<f32>(dst.ptr + ((<usize>(panels * p0 + jp * kc + x) * 8 + <usize>c) << 2));
          const want: f32 = col < n ? load<f32>(transB ? at(B.ptr, ldb, col, p0 + x) : at(B.ptr, ldb, p0 + x, col)) : 0;
          tally.bits(got, want, p0 + x, col);
        }
      }
    }
  }
  const what = 'pack n=' + n.toString() + ' k=' + k.toString() + (transB ? ' Bᵀ' : ' B') + ' pad=' + pad.toString();
  tally.endCase(what);
  if (dst.guardDamage() > 0) tally.fail(what + ': written past f32_gemm_packed_b_bytes');
  if (B.hash() != hb) tally.fail(what + ': B modified');
  if (pp.hash() != hp || pp.guardDamage() > 0) tally.fail(what + ': parameter block written');
  B.free();
  dst.free();
  pp.free();
}

describe('f32_gemm_pack_b', () => {
  it('packs B and Bᵀ into KC-deep blocks of 8-column panels through its GemmPackParams block', () => {
    const tally = new Tally('pack');
    const rng = new Rng(0x9ac);
    let t = 0;
    for (let i = 0; i < PACK_N.length; i++) {
      for (let j = 0; j < PACK_K.length; j++) {
        for (let transB = 0; transB < 2; transB++) packCase(tally, PACK_N[i], PACK_K[j], transB, PADS[t++ % 5], rng);
      }
    }
    tally.finish();
  });
});
