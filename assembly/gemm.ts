// gemm.ts — packed, register-blocked single-precision matrix products.
//
// What:    C(m×n) = [C +] [bias(n) +] A(m×k) · B(k×n)     (transB = 0, B row-major k×n)
//          C(m×n) = [C +] [bias(n) +] A(m×k) · Bᵀ          (transB = 1, B row-major n×k)
// Layout:  row-major with explicit row strides (in elements), so views into larger tensors
//          (one head of a [batch, seq, heads·dim] tensor) need no copy.
// Tiling:  GotoBLAS loop order. B is packed per (KC × all n) block into 8-column panels
//          [⌈n/8⌉][kc][8] (zero-padded), walked in NC-column slices so one slice stays in L2;
//          the 4×8 micro-kernel keeps 8 f32x4 accumulators, 2 B vectors and 1 A splat live
//          (11 ≤ 14 v128: V8 on Node 20 spills beyond that), and its k loop is not unrolled
//          (V8 hoists unrolled loads and spills).
// Tails:   m % 4 rows go through a 4-row copy of A (duplicating the last row); n % 8 columns
//          through a 4×8 scratch tile; k needs no tail (the k loop is scalar-stepped).
// Small m: m < 4 (a decoding step's projections) skips packing and runs as matrix-vector
//          products reading B in place: with Bᵀ, four dot products at a time reduced by a
//          transpose-add; with B, 32 output columns per pass accumulated over k.
// Packed B: weights used many times can be packed once (f32_gemm_pack_b) and passed with
//          GEMM_B_PACKED = 1; f32_gemm then reads the panels of each KC block in place.
// Params:  f32_gemm reads a GemmParams block (GEMM_*), f32_gemm_pack_b a GemmPackParams block
//          (GEMM_PACK_*), each by its address (the host writes them through the exported offsets,
//          src/kernels/gemm.ts) and copies the fields to locals before its loops; the size
//          queries f32_gemm_workspace_bytes and f32_gemm_packed_b_bytes take (n, k).
// Error:   each output is a k-term dot product in f32; |error| ≤ k·ε·Σ|a·b| (ε = 2⁻²⁴), the
//          standard bound, with or without the fused madd of the relaxed build.
// Reference: K. Goto, R. van de Geijn, "Anatomy of high-performance matrix multiplication" (2008);
//          XNNPACK f32-gemm 4x8 wasm SIMD micro-kernels.

import { hsum4, madd, zero4 } from './simd';

/** Depth of one packed B block. */
const KC: i32 = 256;
/** Columns of one B slice walked by all row blocks before moving on (multiple of 8). */
const NC: i32 = 512;

/** The parameter block, written by the host; field order is the layout (offsets below). */
@final @unmanaged export class GemmParams {
  /** (m, k) row-major, row stride lda */
  a: usize;
  lda: i32;
  /** (k, n), or (n, k) when transB */
  b: usize;
  ldb: i32;
  /** (m, n) row-major, row stride ldc */
  c: usize;
  ldc: i32;
  /** (n), 0 = none */
  bias: usize;
  m: i32;
  n: i32;
  k: i32;
  /** 0 or 1 */
  transB: i32;
  /** 1: C += …, 0: C = … */
  accumulate: i32;
  /** f32_gemm_workspace_bytes(n, k) bytes, 16-aligned */
  workspace: usize;
  /** 1: b holds f32_gemm_pack_b panels (ldb, transB ignored) */
  bPacked: i32;
}

// Offsets of the fields (src/kernels/ reads these from the exports).
export const GEMM_A: i32 = offsetof<GemmParams>('a'); //                 0
export const GEMM_LDA: i32 = offsetof<GemmParams>('lda'); //             4
export const GEMM_B: i32 = offsetof<GemmParams>('b'); //                 8
export const GEMM_LDB: i32 = offsetof<GemmParams>('ldb'); //             12
export const GEMM_C: i32 = offsetof<GemmParams>('c'); //                 16
export const GEMM_LDC: i32 = offsetof<GemmParams>('ldc'); //             20
export const GEMM_BIAS: i32 = offsetof<GemmParams>('bias'); //           24
export const GEMM_M: i32 = offsetof<GemmParams>('m'); //                 28
export const GEMM_N: i32 = offsetof<GemmParams>('n'); //                 32
export const GEMM_K: i32 = offsetof<GemmParams>('k'); //                 36
export const GEMM_TRANS_B: i32 = offsetof<GemmParams>('transB'); //      40
export const GEMM_ACCUMULATE: i32 = offsetof<GemmParams>('accumulate'); // 44
export const GEMM_WORKSPACE: i32 = offsetof<GemmParams>('workspace'); // 48
export const GEMM_B_PACKED: i32 = offsetof<GemmParams>('bPacked'); //    52
/** Bytes the host reserves for the block (two spare words after the fields). */
export const GEMM_PARAMS_BYTES: i32 = 64;

/** f32_gemm_pack_b's parameter block, written by the host; field order is the layout (offsets below). */
@final @unmanaged export class GemmPackParams {
  /** (k, n) row-major, or (n, k) when transB; row stride ldb */
  b: usize;
  ldb: i32;
  /** 0 or 1 */
  transB: i32;
  /** columns of the product */
  n: i32;
  /** depth */
  k: i32;
  /** f32_gemm_packed_b_bytes(n, k) bytes */
  dst: usize;
}

// Offsets of the fields (src/kernels/gemm.ts reads these from the exports).
export const GEMM_PACK_B: i32 = offsetof<GemmPackParams>('b'); //              0
export const GEMM_PACK_LDB: i32 = offsetof<GemmPackParams>('ldb'); //          4
export const GEMM_PACK_TRANS_B: i32 = offsetof<GemmPackParams>('transB'); //   8
export const GEMM_PACK_N: i32 = offsetof<GemmPackParams>('n'); //              12
export const GEMM_PACK_K: i32 = offsetof<GemmPackParams>('k'); //              16
export const GEMM_PACK_DST: i32 = offsetof<GemmPackParams>('dst'); //          20
export const GEMM_PACK_PARAMS_BYTES: i32 = offsetof<GemmPackParams>(); //      24

/**
 * C = bias broadcast over the m rows (plus C when accumulating), or C = 0 when k = 0 and there is
 * no bias: the product's start shared by f32_gemm and f32_f16w_gemm. Returns the accumulate flag
 * the product continues with (1 after a bias), or −1 when C is complete.
 */
// @ts-ignore: decorator
@inline export function gemmPrologue(c: usize, ldcBytes: usize, bias: usize, m: i32, n: i32, k: i32, accumulate: i32): i32 {
  if (bias) {
    for (let i = 0; i < m; i++) {
      const row = c + <usize>i * ldcBytes;
      for (let j = 0; j < n; j++) {
        const dst = row + (<usize>j << 2);
        store<f32>(dst, (accumulate ? load<f32>(dst) : 0) + load<f32>(bias + (<usize>j << 2)));
      }
    }
    return 1;
  }
  if (k == 0 && !accumulate) {
    for (let i = 0; i < m; i++) memory.fill(c + <usize>i * ldcBytes, 0, <usize>n << 2);
    return -1;
  }
  return accumulate;
}

/**
 * The 4×8 micro-kernel: C[4×8] = (accumulate ? C : 0) + A[4×kc] · B[kc×8]. Inlined into its
 * callers (the fused attention loops and f32_gemm): a call per block cost ~15% of attention time.
 * a: usize // (4, kc) row-major, row stride lda bytes
 * b: usize // (kc, 8) row-major, row stride ldb bytes; 16-byte aligned rows
 * c: usize // (4, 8) row-major, row stride ldc bytes
 */
// @ts-ignore: decorator
@inline export function ukernel4x8(
  a: usize, lda: usize, b: usize, ldb: usize, kc: i32, c: usize, ldc: usize, accumulate: i32,
): void {
  const a1 = a + lda;
  const a2 = a1 + lda;
  const a3 = a2 + lda;
  const c1 = c + ldc;
  const c2 = c1 + ldc;
  const c3 = c2 + ldc;
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (accumulate) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c1); c11 = v128.load(c1, 16);
    c20 = v128.load(c2); c21 = v128.load(c2, 16);
    c30 = v128.load(c3); c31 = v128.load(c3, 16);
  } else {
    c00 = zero4(); c01 = c00; c10 = c00; c11 = c00;
    c20 = c00; c21 = c00; c30 = c00; c31 = c00;
  }
  const end: usize = <usize>kc << 2;
  for (let p: usize = 0; p < end; p += 4) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a + p);
    c00 = madd(av, b0, c00); c01 = madd(av, b1, c01);
    av = v128.load32_splat(a1 + p);
    c10 = madd(av, b0, c10); c11 = madd(av, b1, c11);
    av = v128.load32_splat(a2 + p);
    c20 = madd(av, b0, c20); c21 = madd(av, b1, c21);
    av = v128.load32_splat(a3 + p);
    c30 = madd(av, b0, c30); c31 = madd(av, b1, c31);
    b += ldb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

/**
 * The same product, but a term a·b whose a is exactly 0 adds nothing even when b is NaN or ±∞
 * (0·NaN would otherwise poison the sum). Used by attention's P·V when V holds non-finite values
 * at positions the mask removed: their probabilities are exact zeros and must not leak.
 */
// @ts-ignore: decorator
@inline export function ukernel4x8ZeroSkip(
  a: usize, lda: usize, b: usize, ldb: usize, kc: i32, c: usize, ldc: usize, accumulate: i32,
): void {
  const a1 = a + lda;
  const a2 = a1 + lda;
  const a3 = a2 + lda;
  const c1 = c + ldc;
  const c2 = c1 + ldc;
  const c3 = c2 + ldc;
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (accumulate) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c1); c11 = v128.load(c1, 16);
    c20 = v128.load(c2); c21 = v128.load(c2, 16);
    c30 = v128.load(c3); c31 = v128.load(c3, 16);
  } else {
    c00 = zero4(); c01 = c00; c10 = c00; c11 = c00;
    c20 = c00; c21 = c00; c30 = c00; c31 = c00;
  }
  const z = zero4();
  const end: usize = <usize>kc << 2;
  for (let p: usize = 0; p < end; p += 4) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a + p);
    let live = f32x4.ne(av, z);
    c00 = f32x4.add(c00, v128.and(f32x4.mul(av, b0), live));
    c01 = f32x4.add(c01, v128.and(f32x4.mul(av, b1), live));
    av = v128.load32_splat(a1 + p);
    live = f32x4.ne(av, z);
    c10 = f32x4.add(c10, v128.and(f32x4.mul(av, b0), live));
    c11 = f32x4.add(c11, v128.and(f32x4.mul(av, b1), live));
    av = v128.load32_splat(a2 + p);
    live = f32x4.ne(av, z);
    c20 = f32x4.add(c20, v128.and(f32x4.mul(av, b0), live));
    c21 = f32x4.add(c21, v128.and(f32x4.mul(av, b1), live));
    av = v128.load32_splat(a3 + p);
    live = f32x4.ne(av, z);
    c30 = f32x4.add(c30, v128.and(f32x4.mul(av, b0), live));
    c31 = f32x4.add(c31, v128.and(f32x4.mul(av, b1), live));
    b += ldb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

/** Bytes of workspace `f32_gemm` needs for these sizes (16-byte aligned regions). */
export function f32_gemm_workspace_bytes(n: i32, k: i32): usize {
  const kc = min(k, KC);
  const panels = <usize>((n + 7) >> 3);
  return panels * <usize>kc * 32 + <usize>kc * 16 + 128 + 64;
}

/**
 * Packs B[p0 .. p0+kc) × all n columns into 8-column panels.
 * b: usize // (k, n) row-major, row stride ldb elements; or (n, k) when transB
 * dst: usize // (⌈n/8⌉, kc, 8)
 */
function packB(b: usize, ldb: i32, transB: i32, n: i32, p0: i32, kc: i32, dst: usize): void {
  const panels = (n + 7) >> 3;
  for (let jp = 0; jp < panels; jp++) {
    const j0 = jp << 3;
    const cols = min(8, n - j0);
    const panel = dst + <usize>jp * <usize>kc * 32;
    if (transB) {
      // element (p, c) = B[j0 + c][p0 + p]
      for (let c = 0; c < 8; c++) {
        if (c < cols) {
          let src = b + ((<usize>(j0 + c) * <usize>ldb + <usize>p0) << 2);
          let d = panel + (<usize>c << 2);
          for (let p = 0; p < kc; p++) {
            store<f32>(d, load<f32>(src));
            src += 4;
            d += 32;
          }
        } else {
          let d = panel + (<usize>c << 2);
          for (let p = 0; p < kc; p++) {
            store<f32>(d, 0);
            d += 32;
          }
        }
      }
    } else {
      let src = b + ((<usize>p0 * <usize>ldb + <usize>j0) << 2);
      let d = panel;
      if (cols == 8) {
        for (let p = 0; p < kc; p++) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
          src += <usize>ldb << 2;
          d += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let c = 0; c < 8; c++) {
            store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(src + (<usize>c << 2)) : 0);
          }
          src += <usize>ldb << 2;
          d += 32;
        }
      }
    }
  }
}

/** Bytes of f32_gemm_pack_b's output for B with n columns (of the product) and depth k. */
export function f32_gemm_packed_b_bytes(n: i32, k: i32): usize {
  return <usize>((n + 7) >> 3) * <usize>k * 32;
}

/**
 * Packs all of B once, as f32_gemm would per call: KC-deep blocks, each (⌈n/8⌉, kc, 8).
 * params: usize // GEMM_PACK_PARAMS_BYTES bytes (GemmPackParams); reads b, ldb, transB, n, k, dst
 * b: (k, n) row-major, row stride ldb; or (n, k) when transB
 * dst: f32_gemm_packed_b_bytes(n, k) bytes
 */
export function f32_gemm_pack_b(params: usize): void {
  const p = changetype<GemmPackParams>(params);
  const b = p.b;
  const ldb = p.ldb;
  const transB = p.transB;
  const n = p.n;
  const k = p.k;
  const dst = p.dst;
  const panels = <usize>((n + 7) >> 3);
  for (let p0 = 0; p0 < k; p0 += KC) {
    packB(b, ldb, transB, n, p0, min(KC, k - p0), dst + panels * <usize>p0 * 32);
  }
}

/**
 * One row of C for small m: c[0..n) (+)= a[0..k) · B (or · Bᵀ), B read in place.
 * a: usize // (k)   b: usize // (k, n) or (n, k) when transB, row stride ldb   c: usize // (n)
 */
function gemvRow(a: usize, b: usize, ldb: i32, transB: i32, n: i32, k: i32, c: usize, accumulate: i32): void {
  const rowBytes = <usize>ldb << 2;
  const k4 = k & ~3;
  if (transB) {
    // c[j] = a · B[j]: four rows of B at a time.
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = b + <usize>j * rowBytes;
      const b1 = b0 + rowBytes;
      const b2 = b1 + rowBytes;
      const b3 = b2 + rowBytes;
      let s0 = zero4(), s1 = s0, s2 = s0, s3 = s0;
      for (let x = 0; x < k4; x += 4) {
        const xo = <usize>x << 2;
        const av = v128.load(a + xo);
        s0 = madd(av, v128.load(b0 + xo), s0);
        s1 = madd(av, v128.load(b1 + xo), s1);
        s2 = madd(av, v128.load(b2 + xo), s2);
        s3 = madd(av, v128.load(b3 + xo), s3);
      }
      let sv = hsum4(s0, s1, s2, s3);
      if (k4 < k) {
        let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
        for (let x = k4; x < k; x++) {
          const xo = <usize>x << 2;
          const ax = load<f32>(a + xo);
          t0 += ax * load<f32>(b0 + xo);
          t1 += ax * load<f32>(b1 + xo);
          t2 += ax * load<f32>(b2 + xo);
          t3 += ax * load<f32>(b3 + xo);
        }
        sv = f32x4.add(sv, f32x4(t0, t1, t2, t3));
      }
      const dst = c + (<usize>j << 2);
      v128.store(dst, accumulate ? f32x4.add(v128.load(dst), sv) : sv);
    }
    for (; j < n; j++) {
      const bj = b + <usize>j * rowBytes;
      let s: f32 = 0;
      for (let x = 0; x < k; x++) s += load<f32>(a + (<usize>x << 2)) * load<f32>(bj + (<usize>x << 2));
      const dst = c + (<usize>j << 2);
      store<f32>(dst, accumulate ? load<f32>(dst) + s : s);
    }
    return;
  }
  // c[0..n) = Σ_x a[x]·B[x][0..n): 32 columns (8 accumulators) per pass, then 4, then 1.
  let j = 0;
  for (; j + 32 <= n; j += 32) {
    const dst = c + (<usize>j << 2);
    let c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128;
    if (accumulate) {
      c0 = v128.load(dst); c1 = v128.load(dst, 16); c2 = v128.load(dst, 32); c3 = v128.load(dst, 48);
      c4 = v128.load(dst, 64); c5 = v128.load(dst, 80); c6 = v128.load(dst, 96); c7 = v128.load(dst, 112);
    } else {
      c0 = zero4(); c1 = c0; c2 = c0; c3 = c0; c4 = c0; c5 = c0; c6 = c0; c7 = c0;
    }
    let br = b + (<usize>j << 2);
    for (let x = 0; x < k; x++) {
      const av = v128.load32_splat(a + (<usize>x << 2));
      c0 = madd(av, v128.load(br), c0);
      c1 = madd(av, v128.load(br, 16), c1);
      c2 = madd(av, v128.load(br, 32), c2);
      c3 = madd(av, v128.load(br, 48), c3);
      c4 = madd(av, v128.load(br, 64), c4);
      c5 = madd(av, v128.load(br, 80), c5);
      c6 = madd(av, v128.load(br, 96), c6);
      c7 = madd(av, v128.load(br, 112), c7);
      br += rowBytes;
    }
    v128.store(dst, c0); v128.store(dst, c1, 16); v128.store(dst, c2, 32); v128.store(dst, c3, 48);
    v128.store(dst, c4, 64); v128.store(dst, c5, 80); v128.store(dst, c6, 96); v128.store(dst, c7, 112);
  }
  for (; j + 4 <= n; j += 4) {
    const dst = c + (<usize>j << 2);
    let c0 = accumulate ? v128.load(dst) : zero4();
    let br = b + (<usize>j << 2);
    for (let x = 0; x < k; x++) {
      c0 = madd(v128.load32_splat(a + (<usize>x << 2)), v128.load(br), c0);
      br += rowBytes;
    }
    v128.store(dst, c0);
  }
  for (; j < n; j++) {
    const dst = c + (<usize>j << 2);
    let s: f32 = accumulate ? load<f32>(dst) : 0;
    let br = b + (<usize>j << 2);
    for (let x = 0; x < k; x++) {
      s += load<f32>(a + (<usize>x << 2)) * load<f32>(br);
      br += rowBytes;
    }
    store<f32>(dst, s);
  }
}

/**
 * Full product driven by a parameter block (offsets GEMM_*). See the header.
 * params: usize // GEMM_PARAMS_BYTES bytes
 */
export function f32_gemm(params: usize): void {
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
  const bPacked = p.bPacked;
  if (m <= 0 || n <= 0) return;

  const kcMax = min(k, KC);
  const panels = (n + 7) >> 3;
  const packed = ws; //                                   (panels, kc, 8)
  const aTail = packed + <usize>panels * <usize>kcMax * 32; // (4, kc)
  const cTile = aTail + <usize>kcMax * 16; //               (4, 8)
  const ldcBytes = <usize>ldc << 2;

  const accumulate = gemmPrologue(c, ldcBytes, bias, m, n, k, accumulate0);
  if (accumulate < 0) return;

  if (m < 4 && !bPacked) {
    for (let i = 0; i < m; i++) {
      gemvRow(a + ((<usize>i * <usize>lda) << 2), b, ldb, transB, n, k, c + <usize>i * ldcBytes, accumulate);
    }
    return;
  }

  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    const blockPanels = bPacked ? b + <usize>panels * <usize>p0 * 32 : packed;
    if (!bPacked) packB(b, ldb, transB, n, p0, kc, packed);
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
          const panel = blockPanels + <usize>(j >> 3) * <usize>kc * 32;
          const cp = c + <usize>i * ldcBytes + (<usize>j << 2);
          if (rows == 4 && cols == 8) {
            ukernel4x8(ap, apStride, panel, 32, kc, cp, ldcBytes, acc);
          } else {
            if (acc) {
              for (let r = 0; r < rows; r++) {
                memory.copy(cTile + <usize>r * 32, cp + <usize>r * ldcBytes, <usize>cols << 2);
              }
            }
            ukernel4x8(ap, apStride, panel, 32, kc, cTile, 32, acc);
            for (let r = 0; r < rows; r++) {
              memory.copy(cp + <usize>r * ldcBytes, cTile + <usize>r * 32, <usize>cols << 2);
            }
          }
        }
      }
    }
  }
}
