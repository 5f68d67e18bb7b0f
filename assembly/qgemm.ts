// qgemm.ts — int8 GEMM with dynamically quantized activations (W8A8): qd8 × qc8w → f32.
//
// What:    C(m×n) = [C +] dequant(qd8(A)(m×k) · Q(k×n)) [+ bias(n)], with integer accumulation:
//            acc[i][j]  = Σₓ qa[i][x] · qb[x][j]                          (i32, exact)
//            corr[i][j] = acc − zpA[i] · (Σₓ qb[x][j] − k · zb[j]) − rowsumA[i] · zb[j]
//                       = Σₓ (qa[i][x] − zpA[i]) · (qb[x][j] − zb[j])      (exact, mod 2³²)
//            C[i][j]    = [C[i][j] +] (f32(corr) · (scaleA[i] · scaleB[j]) [+ bias[j]])
//          each operation rounded to f32 in that order (no fused multiply-add, so both binaries
//          and every engine give bit-identical results).
// Activations: quantized per row by f32_qd8_convert (qd8.ts): 7-bit codes qa ∈ [0, 127], per-row
//          scale and zero point zpA. The GEMM quantizes A itself unless QGEMM_A_QUANTIZED = 1 (then
//          the workspace already holds f32_qd8_convert's output for these m, k: one quantization
//          shared by several products of the same A, e.g. the Q, K and V projections).
// Weights: packed once by qc8w_gemm_pack_b from B (k, n) row-major or Bᵀ (n, k) row-major (GGUF /
//          PyTorch layout), int8 or uint8 (ONNX MatMulInteger / DynamicQuantizeMatMul), with an f32
//          scale and an optional zero point per column or per tensor. Stored codes qb are int8
//          (uint8 values are stored as b − 128 with zero point zp − 128), so w = scale · (qb − zb).
// Packed layout: ⌈n/8⌉ panels of 8 columns, panel p at p · (96 + kq · 32) bytes, kq = ⌈k/4⌉:
//            [  0, 32)  scaleB f32[8]
//            [ 32, 64)  colcorr i32[8] = Σₓ qb[x][j] − k · zb[j]
//            [ 64, 96)  zb i32[8]
//            [ 96, …)   kq groups of 32 bytes: column c's four codes qb[4g .. 4g+4)[j] at 4c..4c+4
//          Padding (columns ≥ n, depth ≥ k) is 0. The same panels serve both binaries.
// Kernels: relaxed build: a 4×8 tile of dotAdd(weights, activation codes, acc) =
//          i16x8.relaxed_dot_i8x16_i7x16_s + a widening i32x4.dot_i16x8_s with ones + i32x4.add.
//          The activation codes are the 7-bit operand, so the result is exact and the same on every
//          engine (no byte with its top bit set reaches it, and x86's pmaddubsw cannot saturate:
//          |pair| ≤ 2 · 127 · 128 = 32512). simd128 build: i32x4.dot_i16x8_s on the i16 activation
//          codes and sign-extended weights (v128.load8x8_s), two 4×4 tiles per panel with the pairs
//          of partial sums added at the end.
// Tiling:  panels are walked in slices of about SLICE_BYTES so one slice stays in L2 while every
//          4-row block of A passes over it; the 4 rows of A (≤ 4 · k codes) stay in L1.
// Tails:   n % 8 through masked stores in the epilogue (packed padding reads as 0); m % 4 = 2 or 3
//          rows through the 4-row tile with the last row repeated (its stores skipped); one row
//          (m % 4 = 1, and every m = 1 decode step) through a 1×8 matrix-vector kernel; k % 4 is
//          zero padding in both operands.
// Limits:  k ≤ 65536 (the TypeScript layer's precondition) keeps |corr| ≤ 127 · 255 · k < 2³¹.
// Error:   the integer part is exact; each output is then within 3 f32 roundings (~1.8e-7
//          relative) of corr · scaleA · scaleB + bias. Against the f32 product the error is the
//          quantization's: per element ≤ scaleA/2 in A and ≤ scaleB/2 in B (measured relative RMS
//          on Gaussian data, k = 768: 1.6%, test/quant/qgemm.test.ts).
// Reference: XNNPACK qd8-f32-qc8w-gemm (wasmsdot / wasmusdot families), ONNX
//          DynamicQuantizeMatMul and MatMulInteger.

import { QD8_HEADER_BYTES, qd8Block, qd8Groups, qd8WorkspaceBytes, quantizeRowsQd8 } from './qd8';

// Parameter block of qd8_f32_qc8w_gemm and f32_qd8_convert (pointers in bytes, strides in elements).
export const QGEMM_A: i32 = 0; //           a: usize // (m, k) f32 row-major, row stride lda
export const QGEMM_LDA: i32 = 4;
export const QGEMM_B: i32 = 8; //           b: usize // qc8w_gemm_pack_b panels
export const QGEMM_C: i32 = 12; //          c: usize // (m, n) f32 row-major, row stride ldc
export const QGEMM_LDC: i32 = 16;
export const QGEMM_BIAS: i32 = 20; //       bias: usize // (n) f32, 0 = none
export const QGEMM_M: i32 = 24;
export const QGEMM_N: i32 = 28;
export const QGEMM_K: i32 = 32;
export const QGEMM_WORKSPACE: i32 = 36; //  ws: usize // qd8_f32_qc8w_gemm_workspace_bytes(m, k), 16-aligned
export const QGEMM_A_QUANTIZED: i32 = 40; // 1: ws already holds f32_qd8_convert(A) (a ignored)
export const QGEMM_ACCUMULATE: i32 = 44; // 1: C += …, 0: C = …
export const QGEMM_PARAMS_BYTES: i32 = 48;

// Parameter block of qc8w_gemm_pack_b.
export const QPACK_B: i32 = 0; //           b: usize // (k, n) row-major, or (n, k) when transB; 1 byte per element
export const QPACK_LDB: i32 = 4; //         row stride in elements (= bytes)
export const QPACK_TRANS_B: i32 = 8; //     0: B is (k, n); 1: B is stored as Bᵀ (n, k)
export const QPACK_UNSIGNED: i32 = 12; //   0: int8 values (and zero points); 1: uint8
export const QPACK_N: i32 = 16;
export const QPACK_K: i32 = 20;
export const QPACK_SCALE: i32 = 24; //      scale: usize // f32, one per column (or one)
export const QPACK_SCALE_STRIDE: i32 = 28; // 1: per column, 0: one scale for the tensor
export const QPACK_ZERO_POINT: i32 = 32; // zp: usize // int8/uint8 like B, 0 = none (zero point 0)
export const QPACK_ZERO_POINT_STRIDE: i32 = 36; // 1: per column, 0: one for the tensor
export const QPACK_DST: i32 = 40; //        dst: usize // qc8w_gemm_packed_b_bytes(n, k), 16-aligned
export const QPACK_PARAMS_BYTES: i32 = 48;

/** Bytes of a panel's column metadata (scales, column corrections, zero points). */
const META_BYTES: i32 = 96;
/** Target bytes of the panels walked by all row blocks before moving on (L2 is 512 KB). */
const SLICE_BYTES: i32 = 192 * 1024;

/** Bytes of one packed panel of 8 columns for depth k. */
// @ts-ignore: decorator
@inline function panelBytes(k: i32): usize {
  return <usize>META_BYTES + (<usize>qd8Groups(k) << 5);
}

/** Bytes of qc8w_gemm_pack_b's output for n columns and depth k. */
export function qc8w_gemm_packed_b_bytes(n: i32, k: i32): usize {
  return <usize>((n + 7) >> 3) * panelBytes(k);
}

/** Bytes of qd8_f32_qc8w_gemm's (and f32_qd8_convert's) workspace for m rows of depth k. */
export function qd8_f32_qc8w_gemm_workspace_bytes(m: i32, k: i32): usize {
  return qd8WorkspaceBytes(m, k);
}

/**
 * Packs B into qc8w panels (see the header). Parameter block: QPACK_*.
 * params: usize // QPACK_PARAMS_BYTES bytes
 */
export function qc8w_gemm_pack_b(params: usize): void {
  const b = load<u32>(params, QPACK_B) as usize;
  const ldb = <usize>load<i32>(params, QPACK_LDB);
  const transB = load<i32>(params, QPACK_TRANS_B);
  const unsigned = load<i32>(params, QPACK_UNSIGNED);
  const n = load<i32>(params, QPACK_N);
  const k = load<i32>(params, QPACK_K);
  const scale = load<u32>(params, QPACK_SCALE) as usize;
  const scaleStride = <usize>load<i32>(params, QPACK_SCALE_STRIDE);
  const zpPtr = load<u32>(params, QPACK_ZERO_POINT) as usize;
  const zpStride = <usize>load<i32>(params, QPACK_ZERO_POINT_STRIDE);
  const dst = load<u32>(params, QPACK_DST) as usize;
  const kq = qd8Groups(k);
  const bias = unsigned ? 128 : 0; // stored code = value − bias (uint8 → int8)
  const panels = (n + 7) >> 3;
  for (let jp = 0; jp < panels; jp++) {
    const panel = dst + <usize>jp * panelBytes(k);
    const data = panel + <usize>META_BYTES;
    for (let c = 0; c < 8; c++) {
      const j = (jp << 3) + c;
      let colSum = 0;
      let zb = 0;
      let s: f32 = 0;
      if (j < n) {
        s = load<f32>(scale + ((<usize>j * scaleStride) << 2));
        const zpAt = zpPtr + <usize>j * zpStride;
        const zpValue = zpPtr == 0 ? 0 : (unsigned ? <i32>load<u8>(zpAt) : <i32>load<i8>(zpAt));
        zb = zpValue - bias;
      }
      for (let g = 0; g < kq; g++) {
        for (let t = 0; t < 4; t++) {
          const x = (g << 2) + t;
          let q = 0;
          if (j < n && x < k) {
            const at = transB ? b + <usize>j * ldb + <usize>x : b + <usize>x * ldb + <usize>j;
            q = (unsigned ? <i32>load<u8>(at) : <i32>load<i8>(at)) - bias;
            colSum += q;
          }
          store<i8>(data + (<usize>g << 5) + (<usize>c << 2) + <usize>t, <i8>q);
        }
      }
      store<f32>(panel + (<usize>c << 2), s);
      store<i32>(panel + 32 + (<usize>c << 2), colSum - k * zb);
      store<i32>(panel + 64 + (<usize>c << 2), zb);
    }
  }
}

/**
 * Dequantizing epilogue of four columns of one row (see the header for the exact steps).
 * acc: i32x4 of column sums; hdr: the row's qd8 header; meta: the panel's metadata advanced to
 * the first of the four columns; dst: C at that column; cols: valid columns (1..4).
 */
// @ts-ignore: decorator
@inline function epilogue4(
  acc: v128, hdr: usize, meta: usize, dst: usize, cols: i32, bias: usize, accumulate: i32,
): void {
  const zpA = i32x4.splat(load<i32>(hdr, 4));
  const rowSum = i32x4.splat(load<i32>(hdr, 8));
  const corr = i32x4.sub(
    i32x4.sub(acc, i32x4.mul(zpA, v128.load(meta, 32))),
    i32x4.mul(rowSum, v128.load(meta, 64)),
  );
  const s = f32x4.mul(f32x4.splat(load<f32>(hdr)), v128.load(meta));
  let y = f32x4.mul(f32x4.convert_i32x4_s(corr), s);
  if (cols == 4) {
    if (bias) y = f32x4.add(y, v128.load(bias));
    if (accumulate) y = f32x4.add(v128.load(dst), y);
    v128.store(dst, y);
  } else {
    for (let c = 0; c < cols; c++) {
      let v = f32x4.extract_lane(y, 0);
      if (bias) v += load<f32>(bias + (<usize>c << 2));
      if (accumulate) v = load<f32>(dst + (<usize>c << 2)) + v;
      store<f32>(dst + (<usize>c << 2), v);
      y = i32x4.shuffle(y, y, 1, 2, 3, 0);
    }
  }
}

/** Both 4-column halves of a row's 8 columns. */
// @ts-ignore: decorator
@inline function epilogue8(
  lo: v128, hi: v128, hdr: usize, panel: usize, dst: usize, cols: i32, bias: usize, accumulate: i32,
): void {
  epilogue4(lo, hdr, panel, dst, min(cols, 4), bias, accumulate);
  if (cols > 4) epilogue4(hi, hdr, panel + 16, dst + 16, cols - 4, bias ? bias + 16 : 0, accumulate);
}

/**
 * acc + (four-byte dot products of w (int8) and q (7-bit codes in [0, 127])) per i32 lane: the
 * relaxed build's i32x4.relaxed_dot_i8x16_i7x16_add_s, spelled as i16x8.relaxed_dot_i8x16_i7x16_s
 * + i32x4.extadd_pairwise_i16x8_s + i32x4.add. Exact and engine-independent because q never has
 * its top bit set and |pair| ≤ 2·127·128 = 32512 fits i16. Not the fused instruction: Node 20's
 * baseline compiler (Liftoff) returns 2·dot instead of dot + acc for it (a V8 bug; TurboFan is
 * right), so a kernel would compute wrong results until tiered up. The three instructions are also
 * fewer x64 instructions than V8's five-instruction lowering of the fused one.
 */
// @ts-ignore: decorator
@inline function dotAdd(w: v128, q: v128, acc: v128, ones: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(w, q), ones));
}

/** i32x4 of 4 columns from two dot_i16x8_s accumulators holding (c0, c0, c1, c1), (c2, c2, c3, c3). */
// @ts-ignore: decorator
@inline function pairSums(x: v128, y: v128): v128 {
  return i32x4.add(i32x4.shuffle(x, y, 0, 2, 4, 6), i32x4.shuffle(x, y, 1, 3, 5, 7));
}

/** i16x8 of ones, for widening pairs with i32x4.dot_i16x8_s (loaded: V8 materializes constants poorly). */
const ONES_I16: usize = memory.data<i16>([1, 1, 1, 1, 1, 1, 1, 1], 16);

/**
 * One panel × one block of 4 rows (`rows` of them real and stored).
 * ab: usize // the block's interleaved codes (qd8.ts), 16 (relaxed) or 32 (simd128) bytes per group
 * hdr: usize // the first row's qd8 header (next rows at +16)
 * c: usize // C at (first row, first column of the panel), row stride ldcBytes
 */
function tile4(
  ab: usize, hdr: usize, rows: i32, panel: usize, kq: i32,
  c: usize, ldcBytes: usize, cols: i32, bias: usize, accumulate: i32,
): void {
  const data = panel + <usize>META_BYTES;
  const end = data + (<usize>kq << 5);
  if (ASC_FEATURE_RELAXED_SIMD) {
    const ones = v128.load(ONES_I16);
    let c00 = i32x4.splat(0), c01 = c00, c10 = c00, c11 = c00;
    let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    let ap = ab;
    for (let bp = data; bp < end; bp += 32) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      // One load for the 4 rows' groups, splat per row (keeps one A register live, not four).
      const ag = v128.load(ap);
      let av = i32x4.shuffle(ag, ag, 0, 0, 0, 0);
      c00 = dotAdd(b0, av, c00, ones);
      c01 = dotAdd(b1, av, c01, ones);
      av = i32x4.shuffle(ag, ag, 1, 1, 1, 1);
      c10 = dotAdd(b0, av, c10, ones);
      c11 = dotAdd(b1, av, c11, ones);
      av = i32x4.shuffle(ag, ag, 2, 2, 2, 2);
      c20 = dotAdd(b0, av, c20, ones);
      c21 = dotAdd(b1, av, c21, ones);
      av = i32x4.shuffle(ag, ag, 3, 3, 3, 3);
      c30 = dotAdd(b0, av, c30, ones);
      c31 = dotAdd(b1, av, c31, ones);
      ap += 16;
    }
    epilogue8(c00, c01, hdr, panel, c, cols, bias, accumulate);
    if (rows > 1) epilogue8(c10, c11, hdr + 16, panel, c + ldcBytes, cols, bias, accumulate);
    if (rows > 2) epilogue8(c20, c21, hdr + 32, panel, c + 2 * ldcBytes, cols, bias, accumulate);
    if (rows > 3) epilogue8(c30, c31, hdr + 48, panel, c + 3 * ldcBytes, cols, bias, accumulate);
  } else {
    // Two passes of a 4×4 tile: columns 0–3 (bytes 0–15 of each group), then 4–7 (16–31).
    for (let half = 0; half < 2; half++) {
      const h = <usize>half << 4;
      const hcols = half == 0 ? min(cols, 4) : cols - 4;
      if (hcols <= 0) break;
      let c00 = i32x4.splat(0), c01 = c00, c10 = c00, c11 = c00;
      let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      let ap = ab;
      for (let bp = data + h; bp < end; bp += 32) {
        const b01 = v128.load8x8_s(bp);
        const b23 = v128.load8x8_s(bp, 8);
        let av = v128.load64_splat(ap);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(av, b01));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(av, b23));
        av = v128.load64_splat(ap, 8);
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(av, b01));
        c11 = i32x4.add(c11, i32x4.dot_i16x8_s(av, b23));
        av = v128.load64_splat(ap, 16);
        c20 = i32x4.add(c20, i32x4.dot_i16x8_s(av, b01));
        c21 = i32x4.add(c21, i32x4.dot_i16x8_s(av, b23));
        av = v128.load64_splat(ap, 24);
        c30 = i32x4.add(c30, i32x4.dot_i16x8_s(av, b01));
        c31 = i32x4.add(c31, i32x4.dot_i16x8_s(av, b23));
        ap += 32;
      }
      const meta = panel + h;
      const bh = bias ? bias + h : 0;
      epilogue4(pairSums(c00, c01), hdr, meta, c + h, hcols, bh, accumulate);
      if (rows > 1) epilogue4(pairSums(c10, c11), hdr + 16, meta, c + ldcBytes + h, hcols, bh, accumulate);
      if (rows > 2) epilogue4(pairSums(c20, c21), hdr + 32, meta, c + 2 * ldcBytes + h, hcols, bh, accumulate);
      if (rows > 3) epilogue4(pairSums(c30, c31), hdr + 48, meta, c + 3 * ldcBytes + h, hcols, bh, accumulate);
    }
  }
}

/**
 * One row × one panel: the matrix-vector kernel (decode steps, and m % 4 = 1).
 * a: usize // the row's first group of codes inside its block (groups QD8 block bytes / kq apart)
 * hdr: usize // its qd8 header   c: usize // C at the panel's first column
 */
function row1(
  a: usize, hdr: usize, panel: usize, kq: i32, c: usize, cols: i32, bias: usize, accumulate: i32,
): void {
  const data = panel + <usize>META_BYTES;
  const end = data + (<usize>kq << 5);
  if (ASC_FEATURE_RELAXED_SIMD) {
    const ones = v128.load(ONES_I16);
    let c0 = i32x4.splat(0), c1 = c0;
    let ap = a;
    for (let bp = data; bp < end; bp += 32) {
      const av = v128.load32_splat(ap);
      c0 = dotAdd(v128.load(bp), av, c0, ones);
      c1 = dotAdd(v128.load(bp, 16), av, c1, ones);
      ap += 16;
    }
    epilogue8(c0, c1, hdr, panel, c, cols, bias, accumulate);
  } else {
    let c0 = i32x4.splat(0), c1 = c0, c2 = c0, c3 = c0;
    let ap = a;
    for (let bp = data; bp < end; bp += 32) {
      const av = v128.load64_splat(ap);
      c0 = i32x4.add(c0, i32x4.dot_i16x8_s(av, v128.load8x8_s(bp)));
      c1 = i32x4.add(c1, i32x4.dot_i16x8_s(av, v128.load8x8_s(bp, 8)));
      c2 = i32x4.add(c2, i32x4.dot_i16x8_s(av, v128.load8x8_s(bp, 16)));
      c3 = i32x4.add(c3, i32x4.dot_i16x8_s(av, v128.load8x8_s(bp, 24)));
      ap += 32;
    }
    epilogue8(pairSums(c0, c1), pairSums(c2, c3), hdr, panel, c, cols, bias, accumulate);
  }
}

/**
 * Quantizes A into the workspace (QGEMM_A, QGEMM_LDA, QGEMM_M, QGEMM_K, QGEMM_WORKSPACE of a
 * QGEMM parameter block), for several qd8_f32_qc8w_gemm calls with QGEMM_A_QUANTIZED = 1.
 * params: usize // QGEMM_PARAMS_BYTES bytes
 */
export function f32_qd8_convert(params: usize): void {
  quantizeRowsQd8(
    load<u32>(params, QGEMM_A) as usize, load<i32>(params, QGEMM_LDA),
    load<i32>(params, QGEMM_M), load<i32>(params, QGEMM_K), load<u32>(params, QGEMM_WORKSPACE) as usize,
  );
}

/**
 * The product, driven by a QGEMM parameter block (see the header).
 * params: usize // QGEMM_PARAMS_BYTES bytes
 */
export function qd8_f32_qc8w_gemm(params: usize): void {
  const a = load<u32>(params, QGEMM_A) as usize;
  const lda = load<i32>(params, QGEMM_LDA);
  const b = load<u32>(params, QGEMM_B) as usize;
  const c = load<u32>(params, QGEMM_C) as usize;
  const ldcBytes = <usize>load<i32>(params, QGEMM_LDC) << 2;
  const bias = load<u32>(params, QGEMM_BIAS) as usize;
  const m = load<i32>(params, QGEMM_M);
  const n = load<i32>(params, QGEMM_N);
  const k = load<i32>(params, QGEMM_K);
  const ws = load<u32>(params, QGEMM_WORKSPACE) as usize;
  const quantized = load<i32>(params, QGEMM_A_QUANTIZED);
  const accumulate = load<i32>(params, QGEMM_ACCUMULATE);
  if (m <= 0 || n <= 0) return;
  if (!quantized) quantizeRowsQd8(a, lda, m, k, ws);

  const kq = qd8Groups(k);
  const pBytes = panelBytes(k);
  const panels = (n + 7) >> 3;
  const slice = max(1, SLICE_BYTES / <i32>pBytes);
  for (let p0 = 0; p0 < panels; p0 += slice) {
    const p1 = min(panels, p0 + slice);
    for (let i = 0; i < m; i += 4) {
      const rows = min(4, m - i);
      const ab = qd8Block(ws, m, k, i >> 2);
      const hdr = ws + <usize>i * <usize>QD8_HEADER_BYTES;
      const ci = c + <usize>i * ldcBytes;
      for (let p = p0; p < p1; p++) {
        const panel = b + <usize>p * pBytes;
        const cols = min(8, n - (p << 3));
        const cp = ci + (<usize>p << 5);
        const bp = bias ? bias + (<usize>p << 5) : 0;
        if (rows == 1) row1(ab, hdr, panel, kq, cp, cols, bp, accumulate);
        else tile4(ab, hdr, rows, panel, kq, cp, ldcBytes, cols, bp, accumulate);
      }
    }
  }
}
