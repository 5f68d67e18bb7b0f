// f16w.ts — single-precision products with f16 weights, converted on the fly (Wasm has no f16
// arithmetic): f32_f16w_gemm.
//
// What:    C(m×n) = [C +] [bias(n) +] A(m×k) · f32(B)   (transB = 0, B (k, n) f16 row-major)
//          C(m×n) = [C +] [bias(n) +] A(m×k) · f32(B)ᵀ  (transB = 1, B (n, k) f16 row-major: GGUF
//          F16 tensors and PyTorch Linear weights)
//          Same parameter block as f32_gemm (GEMM_* offsets, gemm.ts); GEMM_B points at f16 bits,
//          GEMM_LDB is in elements, GEMM_B_PACKED must be 0, GEMM_WORKSPACE holds
//          f32_f16w_gemm_workspace_bytes(n, k) bytes.
// Kernels: m ≥ 4: f32_gemm's algorithm — each KC-deep block of B is converted into 8-column f32
//          panels in the workspace (the conversion is O(n·k) per call, amortized over the rows)
//          and multiplied by gemm.ts's 4×8 micro-kernel; m < 4 (decode): matrix-vector products
//          reading the f16 weights in place (half the bytes of f32 weights), converting 8 values
//          per step: with Bᵀ four weight rows at a time reduced by a transpose-add, with B 16
//          output columns per pass accumulated over k. These convert without the ∞ / NaN fix-up
//          (4 instructions per 4 values instead of 8) while probing the weights for ∞ / NaN; a
//          group that holds one is recomputed with the exact conversion.
// Tails:   as f32_gemm: m % 4 rows through a 4-row copy of A, n % 8 columns through a 4×8
//          scratch tile; the matrix-vector paths finish k % 8 (Bᵀ) or n % 16 (B) one element at a
//          time through the same conversion.
// Error:   the conversion is exact (f16.ts), so each output is a k-term f32 dot product of the
//          exact weights: |error| ≤ k·2⁻²⁴·Σ|a·b|, as f32_gemm.
// Reference: gemm.ts (Goto & van de Geijn 2008; XNNPACK f32-gemm); XNNPACK f16-f32-vcvt.

import {
  f16High4, f16HighToF32x4, f16HighToF32x4Finite, f16Low4, f16SawSpecial, f16SpecialProbe, f16ToF32,
} from './f16';
import { GemmParams, gemmPrologue, ukernel4x8 } from './gemm';
import { hsum4, madd, zero4 } from './simd';

/** Depth of one converted block of B (as gemm.ts's KC). */
const KC: i32 = 256;
/** Columns of one B slice walked by all row blocks before moving on (as gemm.ts's NC). */
const NC: i32 = 512;

/** Bytes of workspace f32_f16w_gemm needs (the f32 panels of one KC block, a 4-row A tail, a C tile). */
export function f32_f16w_gemm_workspace_bytes(n: i32, k: i32): usize {
  const kc = min(k, KC);
  return <usize>((n + 7) >> 3) * <usize>kc * 32 + <usize>kc * 16 + 128 + 64;
}

/** Eight f16 at p (unaligned) → two f32x4, stored at d and d + 16. */
// @ts-ignore: decorator
@inline function convert8(p: usize, d: usize): void {
  const h = v128.load(p);
  v128.store(d, f16HighToF32x4(f16Low4(h)));
  v128.store(d, f16HighToF32x4(f16High4(h)), 16);
}

/**
 * Converts B[p0 .. p0+kc) × all n columns into 8-column f32 panels (⌈n/8⌉, kc, 8), zero-padded.
 * b: usize // f16 (k, n), or (n, k) when transB; row stride ldb elements
 */
function packB16(b: usize, ldb: i32, transB: i32, n: i32, p0: i32, kc: i32, dst: usize): void {
  const panels = (n + 7) >> 3;
  for (let jp = 0; jp < panels; jp++) {
    const j0 = jp << 3;
    const cols = min(8, n - j0);
    const panel = dst + <usize>jp * <usize>kc * 32;
    for (let p = 0; p < kc; p++) {
      const d = panel + (<usize>p << 5);
      if (!transB && cols == 8) {
        convert8(b + ((<usize>(p0 + p) * <usize>ldb + <usize>j0) << 1), d);
        continue;
      }
      for (let c = 0; c < 8; c++) {
        let v: f32 = 0;
        if (c < cols) {
          const at = transB ? <usize>(j0 + c) * <usize>ldb + <usize>(p0 + p) : <usize>(p0 + p) * <usize>ldb + <usize>(j0 + c);
          v = f16ToF32(<u32>load<u16>(b + (at << 1)));
        }
        store<f32>(d + (<usize>c << 2), v);
      }
    }
  }
}

/** s + Σ over 8 elements of a · f32(b) for one weight row (lane-wise partial sums). */
// @ts-ignore: decorator
@inline function dot8(av0: v128, av1: v128, h: v128, s: v128, exact: bool): v128 {
  const lo = exact ? f16HighToF32x4(f16Low4(h)) : f16HighToF32x4Finite(f16Low4(h));
  const hi = exact ? f16HighToF32x4(f16High4(h)) : f16HighToF32x4Finite(f16High4(h));
  return madd(av1, hi, madd(av0, lo, s));
}

/**
 * Four outputs Σ_{x < k8} a[x]·f32(B[j + r][x]), r < 4 (B rows rowBytes apart). The fast pass
 * converts without the ∞ / NaN fix-up and probes the weights for them; if it saw one, the
 * outputs are recomputed with the exact conversion (so ±∞ and NaN weights propagate).
 */
function dots4T(a: usize, b0: usize, rowBytes: usize, k8: i32): v128 {
  const b1 = b0 + rowBytes;
  const b2 = b1 + rowBytes;
  const b3 = b2 + rowBytes;
  let s0 = zero4(), s1 = s0, s2 = s0, s3 = s0, probe = s0;
  for (let x = 0; x < k8; x += 8) {
    const av0 = v128.load(a + (<usize>x << 2));
    const av1 = v128.load(a + (<usize>x << 2), 16);
    const xo = <usize>x << 1;
    const h0 = v128.load(b0 + xo), h1 = v128.load(b1 + xo), h2 = v128.load(b2 + xo), h3 = v128.load(b3 + xo);
    probe = i16x8.max_u(probe, i16x8.max_u(
      i16x8.max_u(f16SpecialProbe(h0), f16SpecialProbe(h1)), i16x8.max_u(f16SpecialProbe(h2), f16SpecialProbe(h3)),
    ));
    s0 = dot8(av0, av1, h0, s0, false);
    s1 = dot8(av0, av1, h1, s1, false);
    s2 = dot8(av0, av1, h2, s2, false);
    s3 = dot8(av0, av1, h3, s3, false);
  }
  if (f16SawSpecial(probe)) {
    s0 = zero4(); s1 = s0; s2 = s0; s3 = s0;
    for (let x = 0; x < k8; x += 8) {
      const av0 = v128.load(a + (<usize>x << 2));
      const av1 = v128.load(a + (<usize>x << 2), 16);
      const xo = <usize>x << 1;
      s0 = dot8(av0, av1, v128.load(b0 + xo), s0, true);
      s1 = dot8(av0, av1, v128.load(b1 + xo), s1, true);
      s2 = dot8(av0, av1, v128.load(b2 + xo), s2, true);
      s3 = dot8(av0, av1, v128.load(b3 + xo), s3, true);
    }
  }
  return hsum4(s0, s1, s2, s3);
}

/**
 * Sixteen columns c[j .. j+16) (+)= Σ_x a[x]·f32(B[x][j ..]) (B rows rowBytes apart), with the
 * same fast pass, probe and exact recomputation as dots4T.
 */
function columns16(a: usize, br0: usize, rowBytes: usize, k: i32, dst: usize, accumulate: i32): void {
  let c0 = zero4(), c1 = c0, c2 = c0, c3 = c0;
  let probe = c0;
  for (let exact = 0; exact < 2; exact++) {
    if (accumulate) {
      c0 = v128.load(dst); c1 = v128.load(dst, 16); c2 = v128.load(dst, 32); c3 = v128.load(dst, 48);
    } else {
      c0 = zero4(); c1 = c0; c2 = c0; c3 = c0;
    }
    let br = br0;
    for (let x = 0; x < k; x++) {
      const av = v128.load32_splat(a + (<usize>x << 2));
      const h0 = v128.load(br);
      const h1 = v128.load(br, 16);
      if (exact) {
        c0 = madd(av, f16HighToF32x4(f16Low4(h0)), c0);
        c1 = madd(av, f16HighToF32x4(f16High4(h0)), c1);
        c2 = madd(av, f16HighToF32x4(f16Low4(h1)), c2);
        c3 = madd(av, f16HighToF32x4(f16High4(h1)), c3);
      } else {
        probe = i16x8.max_u(probe, i16x8.max_u(f16SpecialProbe(h0), f16SpecialProbe(h1)));
        c0 = madd(av, f16HighToF32x4Finite(f16Low4(h0)), c0);
        c1 = madd(av, f16HighToF32x4Finite(f16High4(h0)), c1);
        c2 = madd(av, f16HighToF32x4Finite(f16Low4(h1)), c2);
        c3 = madd(av, f16HighToF32x4Finite(f16High4(h1)), c3);
      }
      br += rowBytes;
    }
    if (!f16SawSpecial(probe)) break;
  }
  v128.store(dst, c0); v128.store(dst, c1, 16); v128.store(dst, c2, 32); v128.store(dst, c3, 48);
}

/**
 * One row of C for small m: c[0..n) (+)= a[0..k) · f32(B) (or · f32(B)ᵀ), B read in place.
 * a: usize // (k) f32   b: usize // f16 (k, n) or (n, k) when transB, row stride ldb   c: usize // (n)
 */
function gemvRow16(a: usize, b: usize, ldb: i32, transB: i32, n: i32, k: i32, c: usize, accumulate: i32): void {
  const rowBytes = <usize>ldb << 1;
  const k8 = k & ~7;
  if (transB) {
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = b + <usize>j * rowBytes;
      let sv = dots4T(a, b0, rowBytes, k8);
      if (k8 < k) {
        let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
        for (let x = k8; x < k; x++) {
          const ax = load<f32>(a + (<usize>x << 2));
          const xo = b0 + (<usize>x << 1);
          t0 += ax * f16ToF32(<u32>load<u16>(xo));
          t1 += ax * f16ToF32(<u32>load<u16>(xo + rowBytes));
          t2 += ax * f16ToF32(<u32>load<u16>(xo + 2 * rowBytes));
          t3 += ax * f16ToF32(<u32>load<u16>(xo + 3 * rowBytes));
        }
        sv = f32x4.add(sv, f32x4(t0, t1, t2, t3));
      }
      const dst = c + (<usize>j << 2);
      v128.store(dst, accumulate ? f32x4.add(v128.load(dst), sv) : sv);
    }
    for (; j < n; j++) {
      const bj = b + <usize>j * rowBytes;
      let s: f32 = 0;
      for (let x = 0; x < k; x++) s += load<f32>(a + (<usize>x << 2)) * f16ToF32(<u32>load<u16>(bj + (<usize>x << 1)));
      const dst = c + (<usize>j << 2);
      store<f32>(dst, accumulate ? load<f32>(dst) + s : s);
    }
    return;
  }
  // c[0..n) = Σ_x a[x] · B[x][0..n): 16 columns (4 accumulators) per pass, then one at a time.
  let j = 0;
  for (; j + 16 <= n; j += 16) columns16(a, b + (<usize>j << 1), rowBytes, k, c + (<usize>j << 2), accumulate);
  for (; j < n; j++) {
    const dst = c + (<usize>j << 2);
    let s: f32 = accumulate ? load<f32>(dst) : 0;
    let br = b + (<usize>j << 1);
    for (let x = 0; x < k; x++) {
      s += load<f32>(a + (<usize>x << 2)) * f16ToF32(<u32>load<u16>(br));
      br += rowBytes;
    }
    store<f32>(dst, s);
  }
}

/**
 * The product, driven by a GEMM_* parameter block (see the header).
 * params: usize // GEMM_PARAMS_BYTES bytes
 */
export function f32_f16w_gemm(params: usize): void {
  const p = changetype<GemmParams>(params);
  const a = p.a;
  const lda = p.lda;
  const b = p.b;
  const ldb = p.ldb;
  const c = p.c;
  const ldc = p.ldc;
  const bias = p.bias;
  const m = p.m;
  const n = p.n;
  const k = p.k;
  const transB = p.transB;
  const accumulate0 = p.accumulate;
  const ws = p.workspace;
  if (m <= 0 || n <= 0) return;

  const kcMax = min(k, KC);
  const panels = (n + 7) >> 3;
  const packed = ws; //                                       (panels, kc, 8) f32
  const aTail = packed + <usize>panels * <usize>kcMax * 32; // (4, kc)
  const cTile = aTail + <usize>kcMax * 16; //                   (4, 8)
  const ldcBytes = <usize>ldc << 2;

  const accumulate = gemmPrologue(c, ldcBytes, bias, m, n, k, accumulate0);
  if (accumulate < 0) return;

  if (m < 4) {
    for (let i = 0; i < m; i++) {
      gemvRow16(a + ((<usize>i * <usize>lda) << 2), b, ldb, transB, n, k, c + <usize>i * ldcBytes, accumulate);
    }
    return;
  }

  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    packB16(b, ldb, transB, n, p0, kc, packed);
    const acc = p0 > 0 || accumulate != 0 ? 1 : 0;
    for (let jc = 0; jc < n; jc += NC) {
      const jpEnd = min(jc + NC, n);
      for (let i = 0; i < m; i += 4) {
        const rows = min(4, m - i);
        let ap: usize;
        let apStride: usize;
        if (rows == 4) {
          ap = a + ((<usize>i * <usize>lda + <usize>p0) << 2);
          apStride = <usize>lda << 2;
        } else {
          for (let r = 0; r < 4; r++) {
            const src = a + ((<usize>(i + min(r, rows - 1)) * <usize>lda + <usize>p0) << 2);
            memory.copy(aTail + <usize>r * <usize>kc * 4, src, <usize>kc << 2);
          }
          ap = aTail;
          apStride = <usize>kc << 2;
        }
        for (let j = jc; j < jpEnd; j += 8) {
          const cols = min(8, n - j);
          const panel = packed + <usize>(j >> 3) * <usize>kc * 32;
          const cp = c + <usize>i * ldcBytes + (<usize>j << 2);
          if (rows == 4 && cols == 8) {
            ukernel4x8(ap, apStride, panel, 32, kc, cp, ldcBytes, acc);
          } else {
            if (acc) {
              for (let r = 0; r < rows; r++) memory.copy(cTile + <usize>r * 32, cp + <usize>r * ldcBytes, <usize>cols << 2);
            }
            ukernel4x8(ap, apStride, panel, 32, kc, cTile, 32, acc);
            for (let r = 0; r < rows; r++) memory.copy(cp + <usize>r * ldcBytes, cTile + <usize>r * 32, <usize>cols << 2);
          }
        }
      }
    }
  }
}
