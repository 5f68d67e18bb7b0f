// qblocks.ts — products with block-quantized weights read in place: GGUF q8_0 / q4_0 and ONNX
// MatMulNBits (4 bits, blocks of 32), activations quantized to blocks of 32 on the fly.
//
// What:    C(m×n) = [C +] A(m×k) · Wᵀ [+ bias(n)], W (n×k) stored row by row (one row per output
//          channel), each row k/32 blocks:
//            q8_0  (GGUF block_q8_0, 34 bytes):  { f16 d; int8 qs[32] },   w[x] = d · qs[x]
//            q4_0  (GGUF block_q4_0, 18 bytes):  { f16 d; uint8 qs[16] },  w[x] = d · (nib[x] − 8),
//                  nib[x] = qs[x] & 15 for x < 16, qs[x − 16] >> 4 for x ≥ 16
//            qb4w  (MatMulNBits bits = 4, block_size = 32): B (n, k/32, 16) uint8 with
//                  nib[2i] = B[..][i] & 15, nib[2i+1] = B[..][i] >> 4; scales f32 (n · k/32);
//                  zero points: 4-bit, two blocks per byte (low nibble first), ⌈k/64⌉ bytes per row,
//                  or none (8): w[x] = scale · (nib[x] − zp)
//          ggml's approach (vec_dot_q4_0_q8_0): each row of A is quantized once into signed blocks
//          of 32 (qd8.ts: qa, f32 da, sa = Σ qa), every (row, output, block) term is an exact integer
//          dot product, scaled and summed in f32:
//            C[i][j] = [C +] (Σ_b f32(dot_b − zp · sa_b) · (dw_b · da_b) [+ bias[j]])
//          (q8_0: zp = 0; q4_0: zp = 8; each f32 operation rounded in this order, no fused
//          multiply-add: both binaries give bit-identical results).
// Kernels: four output rows per pass; per block one i32x4 per row, transposed into the four rows'
//          block sums (one f32x4 convert, scale and add for the four). 4-bit, relaxed build:
//          i16x8.relaxed_dot_i8x16_i7x16_s(activation codes, nibbles) — the nibbles (0..15) are
//          the 7-bit operand, so the result is exact on every engine; the low- and high-nibble
//          halves add in i16 (|sum| ≤ 2 · 2 · 127 · 15 = 7620) before one widening. 4-bit, simd128
//          build and q8_0 in both builds: i32x4.dot_i16x8_s on sign/zero-extended values
//          (q8_0 weights are signed, so no 7-bit operand exists for the relaxed dot).
// Tiling:  for each group of 4 weight rows (≤ 4 · k/32 · 34 bytes, in L1), every row of A; a
//          decode step (m = 1) streams the weights once.
// Tails:   n % 4 outputs: the last group is computed as rows n − 4 .. n and stores only the
//          outputs not yet written (n < 4: one row at a time); k must be a multiple of 32 (the
//          TypeScript layer rejects other shapes); m has no tail.
// Error:   the block dots are exact; the f32 part adds ≤ (k/32 + 3) · 2⁻²⁴ · Σ_b |term_b| per
//          output. Against the f32 product: activation rounding ≤ da/2 per element, plus the
//          format's own rounding of the weights (measured relative RMS on Gaussian data, k = 768:
//          q8_0 0.74%, q4_0 8.4%, MatMulNBits 8.1% — test/quant/qblocks.test.ts).
// Pointers in bytes, strides in elements.
// Reference: ggml ggml-quants.c (block_q8_0, block_q4_0, quantize_row_q8_0,
//          ggml_vec_dot_q4_0_q8_0); ONNX Runtime contrib op com.microsoft.MatMulNBits.

import { f16HighToF32x4 } from './f16';
import { QD8_ELEM_BYTES, qd8b32RowBytes, quantizeRowsQd8b32 } from './qd8';
import { hsum4i } from './simd';

// Parameter block of the three products and f32_qd8b32_convert.
export const QB_A: i32 = 0; //            a: usize // (m, k) f32 row-major, row stride lda
export const QB_LDA: i32 = 4;
export const QB_W: i32 = 8; //            w: usize // n rows of k/32 blocks (see the header)
export const QB_SCALES: i32 = 12; //      MatMulNBits scales: usize // (n, k/32) f32
export const QB_ZERO_POINTS: i32 = 16; // MatMulNBits zero points: usize // (n, ⌈k/64⌉) uint8, 0 = none (8)
export const QB_C: i32 = 20; //           c: usize // (m, n) f32 row-major, row stride ldc
export const QB_LDC: i32 = 24;
export const QB_BIAS: i32 = 28; //        bias: usize // (n) f32, 0 = none
export const QB_M: i32 = 32;
export const QB_N: i32 = 36;
export const QB_K: i32 = 40; //           a multiple of 32
export const QB_WORKSPACE: i32 = 44; //   ws: usize // qd8_f32_qb_gemm_workspace_bytes(m, k), 16-aligned
export const QB_A_QUANTIZED: i32 = 48; // 1: ws already holds f32_qd8b32_convert(A) (a ignored)
export const QB_ACCUMULATE: i32 = 52; //  1: C += …, 0: C = …
export const QB_PARAMS_BYTES: i32 = 64;

/** Bytes of a GGUF block_q8_0 and block_q4_0. */
const Q8_0_BLOCK: usize = 34;
const Q4_0_BLOCK: usize = 18;

// Constant splats (loaded: V8 on Node 20 materializes v128.const poorly).
const LOW_NIBBLES: usize = memory.data<u8>([15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15], 16);
const ONES_I16: usize = memory.data<i16>([1, 1, 1, 1, 1, 1, 1, 1], 16);

/** Bytes of the workspace of the three products for m rows of depth k. */
export function qd8_f32_qb_gemm_workspace_bytes(m: i32, k: i32): usize {
  return <usize>m * qd8b32RowBytes(k);
}

/** The four f16 at p0..p3 (4 rows' block scales) as f32x4: loaded into the high halves of i32 lanes. */
// @ts-ignore: decorator
@inline function gatherF16(p0: usize, p1: usize, p2: usize, p3: usize, zero: v128): v128 {
  let h = v128.load16_lane(p0, zero, 1);
  h = v128.load16_lane(p1, h, 3);
  h = v128.load16_lane(p2, h, 5);
  return f16HighToF32x4(v128.load16_lane(p3, h, 7));
}

/**
 * Σ nib·a over one 4-bit block (relaxed build): lo nibbles × a0, hi nibbles × a1, as i32x4 lanes.
 * a0, a1: i8x16 activation codes (signed operand); the nibbles are the 7-bit operand.
 */
// @ts-ignore: decorator
@inline function nibDotRelaxed(qs: usize, a0: v128, a1: v128, mask: v128, ones: v128): v128 {
  const v = v128.load(qs);
  const lo = v128.and(v, mask);
  const hi = v128.and(i16x8.shr_u(v, 4), mask);
  const p = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(a0, lo), i16x8.relaxed_dot_i8x16_i7x16_s(a1, hi));
  return i32x4.dot_i16x8_s(p, ones);
}

/**
 * Σ nib·a over one 4-bit block (simd128 build): a0, a1 pair with the low nibbles of bytes 0–7
 * and 8–15, a2, a3 with their high nibbles (i16x8 activation codes).
 */
// @ts-ignore: decorator
@inline function nibDotSimd(qs: usize, a0: v128, a1: v128, a2: v128, a3: v128, mask: v128): v128 {
  const v = v128.load(qs);
  const lo = v128.and(v, mask);
  const hi = v128.and(i16x8.shr_u(v, 4), mask);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(a0, i16x8.extend_low_i8x16_u(lo)), i32x4.dot_i16x8_s(a1, i16x8.extend_high_i8x16_u(lo))),
    i32x4.add(i32x4.dot_i16x8_s(a2, i16x8.extend_low_i8x16_u(hi)), i32x4.dot_i16x8_s(a3, i16x8.extend_high_i8x16_u(hi))),
  );
}

/** Σ w·a over one block of 32 signed weights (i16x8 activation codes a0..a3). */
// @ts-ignore: decorator
@inline function q8Dot(qs: usize, a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(a0, v128.load8x8_s(qs)), i32x4.dot_i16x8_s(a1, v128.load8x8_s(qs, 8))),
    i32x4.add(i32x4.dot_i16x8_s(a2, v128.load8x8_s(qs, 16)), i32x4.dot_i16x8_s(a3, v128.load8x8_s(qs, 24))),
  );
}

/** Activation codes of the block at ap as i16x8: elements 8·part .. 8·part + 8. */
// @ts-ignore: decorator
@inline function actI16(ap: usize, part: i32): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const v = v128.load(ap + (<usize>(part >> 1) << 4));
    return (part & 1) ? i16x8.extend_high_i8x16_s(v) : i16x8.extend_low_i8x16_s(v);
  }
  return v128.load(ap + (<usize>part << 4));
}

/** Bytes of one block's activation codes (32 codes of QD8_ELEM_BYTES). */
// @ts-ignore: decorator
@inline const ACT_BLOCK: usize = <usize>(QD8_ELEM_BYTES << 5);

/** One block's f32 update: acc + f32(l) · (dw · da), da splat in every lane. */
// @ts-ignore: decorator
@inline function blockUpdate(acc: v128, l: v128, dw: v128, da: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(l), f32x4.mul(dw, da)));
}

/**
 * Four outputs of one activation row with GGUF q8_0 weight rows w0 + r·rowBytes (r < 4;
 * rowBytes 0 repeats one row).
 * act: usize // the row's qd8b32 codes (then d f32[nb], s i32[nb])
 */
function q8_0Rows4(act: usize, nb: i32, w0: usize, rowBytes: usize): v128 {
  const zero = f32x4.splat(0);
  let dp = act + <usize>nb * ACT_BLOCK;
  const end = act + <usize>nb * ACT_BLOCK;
  let acc = f32x4.splat(0);
  let wp = w0;
  for (let ap = act; ap < end; ap += ACT_BLOCK) {
    const a0 = actI16(ap, 0), a1 = actI16(ap, 1), a2 = actI16(ap, 2), a3 = actI16(ap, 3);
    const w1 = wp + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    const l = hsum4i(q8Dot(wp + 2, a0, a1, a2, a3), q8Dot(w1 + 2, a0, a1, a2, a3), q8Dot(w2 + 2, a0, a1, a2, a3), q8Dot(w3 + 2, a0, a1, a2, a3));
    const dw = gatherF16(wp, w1, w2, w3, zero);
    acc = blockUpdate(acc, l, dw, v128.load32_splat(dp));
    dp += 4;
    wp += Q8_0_BLOCK;
  }
  return acc;
}

/** Four outputs of one activation row with GGUF q4_0 weight rows w0 + r·rowBytes (r < 4). */
function q4_0Rows4(act: usize, nb: i32, w0: usize, rowBytes: usize): v128 {
  const zero = f32x4.splat(0);
  const mask = v128.load(LOW_NIBBLES);
  const ones = v128.load(ONES_I16);
  const end = act + <usize>nb * ACT_BLOCK;
  let dp = end; //                    d f32[nb], then s i32[nb]
  const sOffset = <usize>nb << 2;
  let acc = f32x4.splat(0);
  let wp = w0;
  for (let ap = act; ap < end; ap += ACT_BLOCK) {
    const w1 = wp + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    let l: v128;
    if (ASC_FEATURE_RELAXED_SIMD) {
      const a0 = v128.load(ap);
      const a1 = v128.load(ap, 16);
      l = hsum4i(
        nibDotRelaxed(wp + 2, a0, a1, mask, ones), nibDotRelaxed(w1 + 2, a0, a1, mask, ones),
        nibDotRelaxed(w2 + 2, a0, a1, mask, ones), nibDotRelaxed(w3 + 2, a0, a1, mask, ones),
      );
    } else {
      const a0 = actI16(ap, 0), a1 = actI16(ap, 1), a2 = actI16(ap, 2), a3 = actI16(ap, 3);
      l = hsum4i(
        nibDotSimd(wp + 2, a0, a1, a2, a3, mask), nibDotSimd(w1 + 2, a0, a1, a2, a3, mask),
        nibDotSimd(w2 + 2, a0, a1, a2, a3, mask), nibDotSimd(w3 + 2, a0, a1, a2, a3, mask),
      );
    }
    l = i32x4.sub(l, i32x4.shl(v128.load32_splat(dp + sOffset), 3));
    const dw = gatherF16(wp, w1, w2, w3, zero);
    acc = blockUpdate(acc, l, dw, v128.load32_splat(dp));
    dp += 4;
    wp += Q4_0_BLOCK;
  }
  return acc;
}

/** Zero points of block b for the 4 rows (packed 4-bit rows zp0 + r·zpBytes), or 8 when zp0 = 0. */
// @ts-ignore: decorator
@inline function gatherZp(zp0: usize, zpBytes: usize, b: i32): v128 {
  if (zp0 == 0) return i32x4.splat(8);
  const at = zp0 + (<usize>b >> 1);
  const shift = (b & 1) << 2;
  let z = i32x4.splat((<i32>load<u8>(at) >> shift) & 15);
  z = i32x4.replace_lane(z, 1, (<i32>load<u8>(at + zpBytes) >> shift) & 15);
  z = i32x4.replace_lane(z, 2, (<i32>load<u8>(at + 2 * zpBytes) >> shift) & 15);
  z = i32x4.replace_lane(z, 3, (<i32>load<u8>(at + 3 * zpBytes) >> shift) & 15);
  return z;
}

/**
 * Four outputs of one activation row with MatMulNBits rows: blobs w0 + r·step·(nb·16), scales
 * sc0 + r·step·(nb·4), zero points zp0 + r·step·⌈nb/2⌉ (or none); step 0 repeats one row.
 */
function qb4wRows4(act: usize, nb: i32, w0: usize, sc0: usize, zp0: usize, step: usize): v128 {
  const rowBytes = (<usize>nb << 4) * step;
  const scBytes = (<usize>nb << 2) * step;
  const zpBytes = <usize>((nb + 1) >> 1) * step;
  const mask = v128.load(LOW_NIBBLES);
  const ones = v128.load(ONES_I16);
  const end = act + <usize>nb * ACT_BLOCK;
  let dp = end; //                    d f32[nb], then s i32[nb]
  const sOffset = <usize>nb << 2;
  let acc = f32x4.splat(0);
  let wp = w0;
  let sp = sc0;
  let b = 0;
  for (let ap = act; ap < end; ap += ACT_BLOCK) {
    const w1 = wp + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    let l: v128;
    if (ASC_FEATURE_RELAXED_SIMD) {
      const v0 = v128.load(ap);
      const v1 = v128.load(ap, 16);
      // low nibbles hold the even elements, high nibbles the odd ones
      const ev = i8x16.shuffle(v0, v1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const od = i8x16.shuffle(v0, v1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      l = hsum4i(
        nibDotRelaxed(wp, ev, od, mask, ones), nibDotRelaxed(w1, ev, od, mask, ones),
        nibDotRelaxed(w2, ev, od, mask, ones), nibDotRelaxed(w3, ev, od, mask, ones),
      );
    } else {
      const a0 = actI16(ap, 0), a1 = actI16(ap, 1), a2 = actI16(ap, 2), a3 = actI16(ap, 3);
      const e0 = i16x8.shuffle(a0, a1, 0, 2, 4, 6, 8, 10, 12, 14); // elements 0, 2, …, 14
      const e1 = i16x8.shuffle(a2, a3, 0, 2, 4, 6, 8, 10, 12, 14); // 16, 18, …, 30
      const o0 = i16x8.shuffle(a0, a1, 1, 3, 5, 7, 9, 11, 13, 15); // 1, 3, …, 15
      const o1 = i16x8.shuffle(a2, a3, 1, 3, 5, 7, 9, 11, 13, 15); // 17, 19, …, 31
      l = hsum4i(
        nibDotSimd(wp, e0, e1, o0, o1, mask), nibDotSimd(w1, e0, e1, o0, o1, mask),
        nibDotSimd(w2, e0, e1, o0, o1, mask), nibDotSimd(w3, e0, e1, o0, o1, mask),
      );
    }
    l = i32x4.sub(l, i32x4.mul(gatherZp(zp0, zpBytes, b), v128.load32_splat(dp + sOffset)));
    let dw = f32x4.splat(load<f32>(sp));
    dw = f32x4.replace_lane(dw, 1, load<f32>(sp + scBytes));
    dw = f32x4.replace_lane(dw, 2, load<f32>(sp + 2 * scBytes));
    dw = f32x4.replace_lane(dw, 3, load<f32>(sp + 3 * scBytes));
    acc = blockUpdate(acc, l, dw, v128.load32_splat(dp));
    dp += 4;
    sp += 4;
    wp += 16;
    b++;
  }
  return acc;
}

/** Format tags of the shared driver. */
const FMT_Q8_0: i32 = 0;
const FMT_Q4_0: i32 = 1;
const FMT_QB4W: i32 = 2;

/** Stores up to 4 outputs y of row i at columns j..j+cols (bias, accumulate as in the header). */
// @ts-ignore: decorator
@inline function storeOutputs(y: v128, dst: usize, cols: i32, bias: usize, accumulate: i32): void {
  if (cols == 4) {
    if (bias) y = f32x4.add(y, v128.load(bias));
    if (accumulate) y = f32x4.add(v128.load(dst), y);
    v128.store(dst, y);
    return;
  }
  for (let c = 0; c < cols; c++) {
    let v = f32x4.extract_lane(y, 0);
    if (bias) v += load<f32>(bias + (<usize>c << 2));
    if (accumulate) v = load<f32>(dst + (<usize>c << 2)) + v;
    store<f32>(dst + (<usize>c << 2), v);
    y = i32x4.shuffle(y, y, 1, 2, 3, 0);
  }
}

/** Four outputs of activation row `act` for weight rows j .. j+4 (step 1) or row j four times (step 0). */
// @ts-ignore: decorator
@inline function rows4(
  fmt: i32, act: usize, nb: i32, w: usize, wRow: usize, scales: usize, zps: usize, j: i32, step: usize,
): v128 {
  const w0 = w + <usize>j * wRow;
  if (fmt == FMT_Q8_0) return q8_0Rows4(act, nb, w0, wRow * step);
  if (fmt == FMT_Q4_0) return q4_0Rows4(act, nb, w0, wRow * step);
  const zp0 = zps ? zps + <usize>j * <usize>((nb + 1) >> 1) : 0;
  return qb4wRows4(act, nb, w0, scales + ((<usize>j * <usize>nb) << 2), zp0, step);
}

/** The driver shared by the three products (see the header). */
// @ts-ignore: decorator
@inline function blockGemm(params: usize, fmt: i32): void {
  const a = load<u32>(params, QB_A) as usize;
  const lda = load<i32>(params, QB_LDA);
  const w = load<u32>(params, QB_W) as usize;
  const scales = load<u32>(params, QB_SCALES) as usize;
  const zps = load<u32>(params, QB_ZERO_POINTS) as usize;
  const c = load<u32>(params, QB_C) as usize;
  const ldcBytes = <usize>load<i32>(params, QB_LDC) << 2;
  const bias = load<u32>(params, QB_BIAS) as usize;
  const m = load<i32>(params, QB_M);
  const n = load<i32>(params, QB_N);
  const k = load<i32>(params, QB_K);
  const ws = load<u32>(params, QB_WORKSPACE) as usize;
  const accumulate = load<i32>(params, QB_ACCUMULATE);
  if (m <= 0 || n <= 0) return;
  if (!load<i32>(params, QB_A_QUANTIZED)) quantizeRowsQd8b32(a, lda, m, k, ws);
  const nb = k >> 5;
  const actBytes = qd8b32RowBytes(k);
  const wRow: usize = fmt == FMT_Q8_0 ? <usize>nb * Q8_0_BLOCK : fmt == FMT_Q4_0 ? <usize>nb * Q4_0_BLOCK : <usize>nb << 4;
  if (n < 4) {
    // Fewer than four outputs: each row alone (repeated in the four lanes).
    for (let j = 0; j < n; j++) {
      const bj = bias ? bias + (<usize>j << 2) : 0;
      for (let i = 0; i < m; i++) {
        const y = rows4(fmt, ws + <usize>i * actBytes, nb, w, wRow, scales, zps, j, 0);
        storeOutputs(y, c + <usize>i * ldcBytes + (<usize>j << 2), 1, bj, accumulate);
      }
    }
    return;
  }
  for (let j0 = 0; j0 < n; j0 += 4) {
    // The last partial group is computed as rows n − 4 .. n and stores only its new lanes.
    const j = min(j0, n - 4);
    const skip = j0 - j;
    const cols = 4 - skip;
    const dst = c + (<usize>j0 << 2);
    const bj = bias ? bias + (<usize>j0 << 2) : 0;
    for (let i = 0; i < m; i++) {
      let y = rows4(fmt, ws + <usize>i * actBytes, nb, w, wRow, scales, zps, j, 1);
      for (let t = 0; t < skip; t++) y = i32x4.shuffle(y, y, 1, 2, 3, 0);
      storeOutputs(y, dst + <usize>i * ldcBytes, cols, bj, accumulate);
    }
  }
}

/**
 * GGUF q8_0 weights (n rows of k/32 block_q8_0). Parameter block: QB_* (scales, zero points unused).
 * params: usize // QB_PARAMS_BYTES bytes
 */
export function qd8_f32_q8_0_gemm(params: usize): void {
  blockGemm(params, FMT_Q8_0);
}

/**
 * GGUF q4_0 weights (n rows of k/32 block_q4_0). Parameter block: QB_* (scales, zero points unused).
 * params: usize // QB_PARAMS_BYTES bytes
 */
export function qd8_f32_q4_0_gemm(params: usize): void {
  blockGemm(params, FMT_Q4_0);
}

/**
 * ONNX MatMulNBits weights (bits 4, block 32): QB_W = B (n, k/32, 16), QB_SCALES, QB_ZERO_POINTS.
 * params: usize // QB_PARAMS_BYTES bytes
 */
export function qd8_f32_qb4w_gemm(params: usize): void {
  blockGemm(params, FMT_QB4W);
}

/**
 * Quantizes A into blocks of 32 in the workspace (QB_A, QB_LDA, QB_M, QB_K, QB_WORKSPACE), for
 * several products with QB_A_QUANTIZED = 1.
 * params: usize // QB_PARAMS_BYTES bytes
 */
export function f32_qd8b32_convert(params: usize): void {
  quantizeRowsQd8b32(
    load<u32>(params, QB_A) as usize, load<i32>(params, QB_LDA),
    load<i32>(params, QB_M), load<i32>(params, QB_K), load<u32>(params, QB_WORKSPACE) as usize,
  );
}
