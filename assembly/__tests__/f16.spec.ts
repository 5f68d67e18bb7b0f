// f16.spec.ts — f16 conversion (assembly/f16.ts) and the f16-weight product (assembly/f16w.ts),
// SIMD128 build, against scalar references written from IEEE 754's definition of binary16.
//
// Conversion: f16_f32_convert on all 65536 patterns (exact values, NaN sign and payload);
//          f32_f16_convert on 200k random f32 patterns plus the halfway points of every binade
//          of the f16 range, the largest finite, overflow, the subnormal range and ±0 — against a
//          float64 round-half-to-even encoder; buffers guarded, odd lengths (vector tails); each
//          call through a guarded F16ConvertParams block that must come back unchanged.
// Product: f32_f16w_gemm on every (M, N, K) in {1, 3, 4, 5, 9} × {1, 3, 4, 8, 9, 16, 17, 33} ×
//          {1, 7, 8, 9, 16, 31, 64, 257}, B and Bᵀ, bias / accumulate cycling, against the float64
//          product of the decoded weights: |C − C₆₄| ≤ 1e-5 · (1 + Σ|a·b| + |bias| + |C₀|);
//          padding and guards never written, inputs unchanged.

import { f16_f32_convert, f32_f16_convert, F16_CONVERT_DST, F16_CONVERT_N, F16_CONVERT_PARAMS_BYTES, F16_CONVERT_SRC } from '../f16';
import { f32_f16w_gemm, f32_f16w_gemm_workspace_bytes } from '../f16w';
import {
  GEMM_A, GEMM_LDA, GEMM_B, GEMM_LDB, GEMM_C, GEMM_LDC, GEMM_BIAS, GEMM_M, GEMM_N, GEMM_K, GEMM_TRANS_B,
  GEMM_ACCUMULATE, GEMM_WORKSPACE, GEMM_PARAMS_BYTES,
} from '../gemm';
import { Guarded, Rng, GARBAGE, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock, report, workspace } from './helpers';
import { Tally } from './tester';

/** f16 bits → f64 from the definition. */
function f16Value(h: u32): f64 {
  const sign: f64 = (h & 0x8000) ? -1 : 1;
  const e = <i32>((h >> 10) & 31);
  const m = <f64>(h & 1023);
  if (e == 0) return sign * m * Math.pow(2, -24);
  if (e == 31) return m != 0 ? NaN : sign * Infinity;
  return sign * (1024 + m) * Math.pow(2, e - 25);
}

/** f32 bits → f16 bits, round half to even, from float64 arithmetic (NaN: quiet, top payload bits). */
function f16Of(bits: u32): u32 {
  const sign: u32 = (bits >> 16) & 0x8000;
  if ((bits & 0x7fffffff) > 0x7f800000) return sign | 0x7e00 | ((bits >> 13) & 0x3ff);
  const a = Math.abs(<f64>reinterpret<f32>(bits));
  if (a >= 65520) return sign | 0x7c00;
  if (a < Math.pow(2, -14)) return sign | <u32>nearest(a * Math.pow(2, 24));
  let e = <i32>Math.floor(Math.log2(a));
  while (Math.pow(2, e) > a) e--;
  while (Math.pow(2, e + 1) <= a) e++;
  let m = <u32>nearest(a * Math.pow(2, 10 - e));
  if (m == 2048) {
    m = 1024;
    e++;
  }
  return sign | (<u32>(e + 15) << 10) | (m - 1024);
}

/**
 * Runs conversion `kernel` over n elements src → dst through a guarded F16ConvertParams block;
 * returns false when the kernel wrote the block or its guards.
 */
function convert(kernel: (params: usize) => void, src: usize, dst: usize, n: i32): bool {
  const pp = paramBlock(F16_CONVERT_PARAMS_BYTES);
  store<u32>(pp.ptr + F16_CONVERT_SRC, <u32>src);
  store<u32>(pp.ptr + F16_CONVERT_DST, <u32>dst);
  store<i32>(pp.ptr + F16_CONVERT_N, n);
  const h = pp.hash();
  kernel(pp.ptr);
  const ok = pp.hash() == h && pp.guardDamage() == 0;
  pp.free();
  return ok;
}

describe('f16 conversion (simd128 build)', () => {
  it('f16_f32_convert: all 65536 patterns exact', () => {
    const n = 65536 + 5;
    const src = new Guarded(<usize>n << 1);
    const dst = new Guarded(<usize>n << 2);
    for (let i = 0; i < n; i++) store<u16>(src.ptr + (<usize>i << 1), <u16>(i & 0xffff));
    const h = src.hash();
    expect(convert(f16_f32_convert, src.ptr, dst.ptr, n)).toBe(true, 'parameter block unchanged');
    let bad = 0;
    let first = '';
    for (let i = 0; i < n; i++) {
      const hb = <u32>(i & 0xffff);
      const got = load<u32>(dst.ptr + (<usize>i << 2));
      const v = f16Value(hb);
      const want: u32 = isNaN(v) ? (((hb & 0x8000) << 16) | 0x7f800000 | ((hb & 0x3ff) << 13)) : reinterpret<u32>(<f32>v);
      if (got != want) {
        if (bad == 0) first = ' 0x' + hb.toString(16) + ' → 0x' + got.toString(16) + ', want 0x' + want.toString(16);
        bad++;
      }
    }
    report('f16 → f32: ' + n.toString() + ' values, ' + bad.toString() + ' wrong' + first);
    expect(bad).toBe(0, keep('f16 → f32' + first));
    expect(dst.guardDamage()).toBe(0);
    expect(src.hash()).toBe(h);
    src.free();
    dst.free();
  });

  it('f32_f16_convert: round to nearest even on random patterns and the edge cases', () => {
    const rng = new Rng(0xf16);
    const edges: StaticArray<f32> = [
      0, -0, 1, -1, 65504, 65519.99609375, 65520, -65520, 1e10, Infinity, -Infinity, 6.103515625e-5,
      6.097555160522461e-5, 5.960464477539063e-8, 2.9802322387695312e-8, 8.940696716308594e-8, 1e-10,
    ];
    const count = 200003;
    const halfways = 30 * 64;
    const n = count + edges.length + halfways;
    const src = new Guarded(<usize>n << 2);
    const dst = new Guarded(<usize>n << 1);
    let t = 0;
    for (; t < edges.length; t++) store<f32>(src.ptr + (<usize>t << 2), edges[t]);
    for (let e = 0; e < 30; e++) {
      // points halfway between neighbouring f16 values in binade e (and just off them)
      for (let s = 0; s < 64; s++) {
        const base = Math.pow(2, e - 14) * (1 + <f64>(rng.below(1024)) / 1024);
        const ulp = Math.pow(2, e - 24);
        const off: f64 = s % 3 == 0 ? 0 : s % 3 == 1 ? ulp / 4096 : -ulp / 4096;
        store<f32>(src.ptr + (<usize>t << 2), <f32>((s & 1 ? -1 : 1) * (base + ulp / 2 + off)));
        t++;
      }
    }
    for (; t < n; t++) store<u32>(src.ptr + (<usize>t << 2), rng.next());
    expect(convert(f32_f16_convert, src.ptr, dst.ptr, n)).toBe(true, 'parameter block unchanged');
    let bad = 0;
    let first = '';
    for (let i = 0; i < n; i++) {
      const bits = load<u32>(src.ptr + (<usize>i << 2));
      const got = <u32>load<u16>(dst.ptr + (<usize>i << 1));
      const want = f16Of(bits);
      if (got != want) {
        if (bad == 0) first = ' f32 0x' + bits.toString(16) + ' → 0x' + got.toString(16) + ', want 0x' + want.toString(16);
        bad++;
      }
    }
    report('f32 → f16: ' + n.toString() + ' values, ' + bad.toString() + ' wrong' + first);
    expect(bad).toBe(0, keep('f32 → f16' + first));
    expect(dst.guardDamage()).toBe(0);
    src.free();
    dst.free();
  });
});

const MS: StaticArray<i32> = [1, 3, 4, 5, 9];
const NS: StaticArray<i32> = [1, 3, 4, 8, 9, 16, 17, 33];
const KS: StaticArray<i32> = [1, 7, 8, 9, 16, 31, 64, 257];

/** The product test's tally (tester.ts). */
const tally = new Tally('f16 weights');

function runProduct(m: i32, n: i32, k: i32, v: i32, rng: Rng): void {
  tally.begin();
  const transB = v & 1;
  const withBias = (v & 2) != 0;
  const acc = (v & 4) != 0;
  const lda = k + (v % 3);
  const bRows = transB ? n : k;
  const bCols = transB ? k : n;
  const ldb = bCols + (v % 4);
  const ldc = n + (v % 2);
  const A = matrix(m, k, lda);
  const B = new Guarded(<usize>max(bRows * ldb, 1) << 1);
  const C = matrix(m, n, ldc);
  const bias = new Guarded(<usize>max(n, 1) << 2);
  const ws = workspace(f32_f16w_gemm_workspace_bytes(n, k));
  const params = paramBlock(GEMM_PARAMS_BYTES);
  fillMatrix(A.ptr, m, k, lda, rng, -1, 1);
  for (let t = 0; t < bRows * ldb; t++) store<u16>(B.ptr + (<usize>t << 1), <u16>(0x3000 + rng.below(0x0c00)) | (rng.below(2) ? 0x8000 : 0));
  if (withBias) fillMatrix(bias.ptr, 1, n, n, rng, -1, 1);
  if (acc) fillMatrix(C.ptr, m, n, ldc, rng, -1, 1);
  else fillMatrixBits(C.ptr, m, n, ldc, GARBAGE);
  const ref = new StaticArray<f64>(max(m * n, 1));
  const mag = new StaticArray<f64>(max(m * n, 1));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s: f64 = 0;
      let g: f64 = 1;
      if (acc) { const c0 = <f64>load<f32>(at(C.ptr, ldc, i, j)); s += c0; g += Math.abs(c0); }
      if (withBias) { const b0 = <f64>load<f32>(bias.ptr + (<usize>j << 2)); s += b0; g += Math.abs(b0); }
      for (let x = 0; x < k; x++) {
        const w = f16Value(<u32>load<u16>(B.ptr + (<usize>(transB ? j * ldb + x : x * ldb + j) << 1)));
        const p = <f64>load<f32>(at(A.ptr, lda, i, x)) * w;
        s += p;
        g += Math.abs(p);
      }
      unchecked(ref[i * n + j] = s);
      unchecked(mag[i * n + j] = g);
    }
  }
  const hashes = A.hash() ^ (B.hash() * 3) ^ (bias.hash() * 5);
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
  f32_f16w_gemm(P);
  const what = 'm=' + m.toString() + ' n=' + n.toString() + ' k=' + k.toString() + ' variant=' + v.toString();
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      tally.close(<f64>load<f32>(at(C.ptr, ldc, i, j)), unchecked(ref[i * n + j]), 0, 1e-5, unchecked(mag[i * n + j]), i, j);
    }
  }
  tally.endCase(what);
  if (paddingDamage(C, m, n, ldc) > 0) tally.fail(what + ': C padding/guard written');
  if ((A.hash() ^ (B.hash() * 3) ^ (bias.hash() * 5)) != hashes) tally.fail(what + ': an input was modified');
  if (ws.guardDamage() + params.guardDamage() > 0) tally.fail(what + ': workspace overrun');
  A.free(); B.free(); C.free(); bias.free(); ws.free(); params.free();
}

describe('f32_f16w_gemm (simd128 build)', () => {
  it('matches the float64 product of the decoded weights on every (M, N, K) in the sweep', () => {
    const rng = new Rng(0x16f32);
    let v = 0;
    for (let a = 0; a < MS.length; a++) {
      for (let b = 0; b < NS.length; b++) {
        for (let c = 0; c < KS.length; c++) runProduct(MS[a], NS[b], KS[c], v++, rng);
      }
    }
    tally.finish();
  });
});
