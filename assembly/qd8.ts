// qd8.ts — dynamic quantization of f32 activations: per row for the int8 GEMM (qgemm.ts), per
// block of 32 for the block formats (qblocks.ts; second half of this file).
//
// What:    each row a[i, 0..k) of A becomes 7-bit unsigned codes with a per-row scale and zero
//          point (asymmetric, the range always includes 0 so that 0 is exact):
//            rmin = min(0, min a), rmax = max(0, max a), range = rmax − rmin   (f32)
//            scale = range / 127, inv = range ≥ 2⁻¹⁰⁰ ? 127 / range : 0      (f32 divisions)
//            zp = clamp(nearest(−rmin · inv), 0, 127)
//            q[x] = clamp(nearest(a[x] · inv) + zp, 0, 127),   a[x] ≈ scale · (q[x] − zp)
//          (nearest = round half to even, every product rounded to f32). The codes are in
//          [0, 127] so that the relaxed build may feed them to i16x8.relaxed_dot_i8x16_i7x16_s as
//          its 7-bit operand, where every engine computes the same exact result; the simd128
//          build uses the same codes, so both binaries produce bit-identical GEMM outputs.
// Layout:  the workspace holds m headers of 16 bytes { scale f32, zp i32, rowsum i32, 0 } (rowsum
//          = Σ q[x], for the weight zero-point correction), then the codes of each block of 4 rows
//          interleaved by groups of 4 (what the GEMM tile reads with one pointer): block b, group g
//          holds rows 4b .. 4b+4, each row's codes q[4g .. 4g+4) in QD8_ELEM_BYTES · 4 bytes
//          (u8 codes in the relaxed build; i16 codes in the simd128 build, which is what
//          i32x4.dot_i16x8_s reads without extending). kq = ⌈k/4⌉ groups; codes past k and the
//          rows past m of the last block are 0. Pointers in bytes, strides in elements.
// Non-finite rows: a NaN in a row makes its scale NaN and ±∞ makes it ∞, so the row's outputs are
//          NaN or ±∞ (never a finite wrong value). A row whose range is below 2⁻¹⁰⁰ (where 127/range
//          could overflow) gets codes zp = 0, i.e. quantizes to zeros.
// Integers: casts to i32 are Wasm's saturating truncations (nontrapping-f2i; NaN → 0), and
//          |x · inv| ≤ 127.5 for every finite x of the row, so nothing wraps.
// Error:   |a[x] − scale · (q[x] − zp)| ≤ scale / 2 · (1 + 2⁻²²) for finite rows (the clamp only
//          removes rounding overshoot at the ends of the range).
// Reference: ONNX DynamicQuantizeLinear (u8, the same min/max-with-0 rule) with 127 levels instead
//          of 255; XNNPACK f32-qdu8-convert.

/** Bytes per stored code: u8 in the relaxed build, i16 (pre-extended) in the simd128 build. */
// @ts-ignore: decorator
@inline export const QD8_ELEM_BYTES: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;
/** Bytes of one row header { scale f32, zero point i32, rowsum i32, 0 }. */
// @ts-ignore: decorator
@inline export const QD8_HEADER_BYTES: i32 = 16;

/** Number of groups of 4 codes in a row of depth k (⌈k/4⌉: also the packed depth of qc8w panels). */
// @ts-ignore: decorator
@inline export function qd8Groups(k: i32): i32 {
  return (k + 3) >> 2;
}

/** Bytes of one block of 4 interleaved rows (a multiple of 16). */
// @ts-ignore: decorator
@inline export function qd8BlockBytes(k: i32): usize {
  return <usize>qd8Groups(k) * <usize>(QD8_ELEM_BYTES << 4);
}

/** Bytes of the workspace for m rows of depth k: headers then blocks of 4 rows. */
export function qd8WorkspaceBytes(m: i32, k: i32): usize {
  return <usize>m * <usize>QD8_HEADER_BYTES + <usize>((m + 3) >> 2) * qd8BlockBytes(k);
}

/** First byte of the block holding rows 4b .. 4b+4 (after the m headers). */
// @ts-ignore: decorator
@inline export function qd8Block(ws: usize, m: i32, k: i32, b: i32): usize {
  return ws + <usize>m * <usize>QD8_HEADER_BYTES + <usize>b * qd8BlockBytes(k);
}

/** Stores four codes (i32 lanes in [0, 127]) at dst in the build's element type. */
// @ts-ignore: decorator
@inline function storeCodes4(dst: usize, q: v128): void {
  const h = i16x8.narrow_i32x4_s(q, q);
  if (ASC_FEATURE_RELAXED_SIMD) {
    v128.store32_lane(dst, i8x16.narrow_i16x8_u(h, h), 0);
  } else {
    v128.store64_lane(dst, h, 0);
  }
}

/** Stores one code at dst in the build's element type. */
// @ts-ignore: decorator
@inline function storeCode(dst: usize, q: i32): void {
  if (ASC_FEATURE_RELAXED_SIMD) store<u8>(dst, <u8>q);
  else store<i16>(dst, <i16>q);
}

/** Ranges below this quantize to zeros (127 / range would overflow f32 near 3.7e-37). */
const TINY_RANGE: f32 = 7.888609052210118e-31; // 2⁻¹⁰⁰

/** One code: clamp(nearest(x · inv) + zp, 0, 127), the same steps as the vector path. */
// @ts-ignore: decorator
@inline function code(x: f32, inv: f32, zp: i32): i32 {
  return min(max(<i32>nearest(x * inv) + zp, 0), 127);
}

/**
 * Quantizes rows a[0..m) into the workspace (see the header).
 * a: usize // (m, k) f32 row-major, row stride lda elements
 * ws: usize // qd8WorkspaceBytes(m, k) bytes, 16-byte aligned
 */
export function quantizeRowsQd8(a: usize, lda: i32, m: i32, k: i32, ws: usize): void {
  const k4 = k & ~3;
  const kq = qd8Groups(k);
  const eb = <usize>QD8_ELEM_BYTES;
  const groupBytes = eb << 4; // 4 rows × 4 codes
  // Rows past m in the last block hold zero codes.
  const mPad = (m + 3) & ~3;
  for (let i = m; i < mPad; i++) {
    let dst = qd8Block(ws, m, k, i >> 2) + ((<usize>(i & 3) * eb) << 2);
    for (let g = 0; g < kq; g++) {
      if (ASC_FEATURE_RELAXED_SIMD) store<u32>(dst, 0);
      else store<u64>(dst, 0);
      dst += groupBytes;
    }
  }
  for (let i = 0; i < m; i++) {
    const row = a + ((<usize>i * <usize>lda) << 2);
    // Pass 1: range including 0 (f32x4.min/max propagate NaN).
    let vmin = f32x4.splat(0);
    let vmax = vmin;
    let x = 0;
    for (; x < k4; x += 4) {
      const v = v128.load(row + (<usize>x << 2));
      vmin = f32x4.min(vmin, v);
      vmax = f32x4.max(vmax, v);
    }
    vmin = f32x4.min(vmin, i32x4.shuffle(vmin, vmin, 2, 3, 0, 1));
    vmin = f32x4.min(vmin, i32x4.shuffle(vmin, vmin, 1, 0, 3, 2));
    vmax = f32x4.max(vmax, i32x4.shuffle(vmax, vmax, 2, 3, 0, 1));
    vmax = f32x4.max(vmax, i32x4.shuffle(vmax, vmax, 1, 0, 3, 2));
    let rmin = f32x4.extract_lane(vmin, 0);
    let rmax = f32x4.extract_lane(vmax, 0);
    for (; x < k; x++) {
      const v = load<f32>(row + (<usize>x << 2));
      // NaN-propagating scalar min/max (Wasm f32.min/max propagate NaN too)
      rmin = min(rmin, v);
      rmax = max(rmax, v);
    }
    const range: f32 = rmax - rmin;
    const scale: f32 = range / <f32>127;
    const inv: f32 = range >= TINY_RANGE ? <f32>127 / range : 0;
    const zp = min(max(<i32>nearest(-rmin * inv), 0), 127);

    // Pass 2: codes and their sum.
    const hdr = ws + <usize>i * <usize>QD8_HEADER_BYTES;
    // Code x of this row sits at dst + (x >> 2) · groupBytes + (x & 3) · eb.
    const dst = qd8Block(ws, m, k, i >> 2) + ((<usize>(i & 3) * eb) << 2);
    const invv = f32x4.splat(inv);
    const zpv = i32x4.splat(zp);
    const lo = i32x4.splat(0);
    const hi = i32x4.splat(127);
    let sumv = lo;
    x = 0;
    for (; x < k4; x += 4) {
      const v = v128.load(row + (<usize>x << 2));
      let q = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, invv))), zpv);
      q = i32x4.min_s(i32x4.max_s(q, lo), hi);
      sumv = i32x4.add(sumv, q);
      storeCodes4(dst + (<usize>x >> 2) * groupBytes, q);
    }
    let sum = i32x4.extract_lane(sumv, 0) + i32x4.extract_lane(sumv, 1) +
      i32x4.extract_lane(sumv, 2) + i32x4.extract_lane(sumv, 3);
    for (; x < k; x++) {
      const q = code(load<f32>(row + (<usize>x << 2)), inv, zp);
      sum += q;
      storeCode(dst + (<usize>x >> 2) * groupBytes + (<usize>x & 3) * eb, q);
    }
    for (; x < (kq << 2); x++) storeCode(dst + (<usize>x >> 2) * groupBytes + (<usize>x & 3) * eb, 0);
    store<f32>(hdr, scale);
    store<i32>(hdr, zp, 4);
    store<i32>(hdr, sum, 8);
    store<i32>(hdr, 0, 12);
  }
}

// ── Blocks of 32 (activations of the GGUF q8_0 / q4_0 and ONNX MatMulNBits products) ──
//
// What:    each block of 32 values of a row becomes signed codes with a per-block scale, as ggml's
//          quantize_row_q8_0 / q8_1 do (symmetric), plus the codes' sum for zero-point terms:
//            amax = max |a|, d = amax / 127, inv = amax ≥ 2⁻¹⁰⁰ ? 127 / amax : 0   (f32)
//            q[x] = clamp(nearest(a[x] · inv), −127, 127),  s = Σ q,   a[x] ≈ d · q[x]
//          The scale is kept in f32 (ggml rounds it to f16).
// Layout:  row i at ws + i · qd8b32RowBytes(k): k codes in order (i8 in the relaxed build, i16 in
//          the simd128 build), then d f32[k/32], then s i32[k/32].
// Requires: k a multiple of 32 (the TypeScript layer rejects other rows).
// Error:   |a[x] − d · q[x]| ≤ d/2 · (1 + 2⁻²²) for finite blocks; a NaN (±∞) in a block makes its
//          d NaN (∞), so the products that use it are NaN.

/** Bytes of one row of qd8b32 blocks (16-byte aligned). */
export function qd8b32RowBytes(k: i32): usize {
  const nb = <usize>(k >> 5);
  return (<usize>k * <usize>QD8_ELEM_BYTES + nb * 8 + 15) & ~(<usize>15);
}

/** Four i32x4 code vectors (elements 0–15 of a block half, in order) narrowed to i8x16. */
// @ts-ignore: decorator
@inline function narrow16(q0: v128, q1: v128, q2: v128, q3: v128): v128 {
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
}

/** Stores 16 codes (i8x16) at dst in the build's element type. */
// @ts-ignore: decorator
@inline function store16(dst: usize, v: v128): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    v128.store(dst, v);
  } else {
    v128.store(dst, i16x8.extend_low_i8x16_s(v));
    v128.store(dst, i16x8.extend_high_i8x16_s(v), 16);
  }
}

/** One block's code: clamp(nearest(x · inv), −127, 127) for four lanes. */
// @ts-ignore: decorator
@inline function code4(p: usize, inv: v128, lo: v128, hi: v128): v128 {
  const q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), inv)));
  return i32x4.min_s(i32x4.max_s(q, lo), hi);
}

/**
 * Quantizes rows a[0..m) into blocks of 32 (see above).
 * a: usize // (m, k) f32 row-major, row stride lda elements; k % 32 == 0
 * ws: usize // m · qd8b32RowBytes(k) bytes, 16-byte aligned
 */
export function quantizeRowsQd8b32(a: usize, lda: i32, m: i32, k: i32, ws: usize): void {
  const nb = k >> 5;
  const rowBytes = qd8b32RowBytes(k);
  const eb = <usize>QD8_ELEM_BYTES;
  const lo = i32x4.splat(-127);
  const hi = i32x4.splat(127);
  for (let i = 0; i < m; i++) {
    const row = a + ((<usize>i * <usize>lda) << 2);
    const codes = ws + <usize>i * rowBytes;
    const dOut = codes + <usize>k * eb;
    const sOut = dOut + (<usize>nb << 2);
    for (let b = 0; b < nb; b++) {
      const p = row + (<usize>b << 7);
      let vmax = f32x4.abs(v128.load(p));
      for (let t: usize = 16; t < 128; t += 16) vmax = f32x4.max(vmax, f32x4.abs(v128.load(p + t)));
      vmax = f32x4.max(vmax, i32x4.shuffle(vmax, vmax, 2, 3, 0, 1));
      vmax = f32x4.max(vmax, i32x4.shuffle(vmax, vmax, 1, 0, 3, 2));
      const amax = f32x4.extract_lane(vmax, 0);
      const inv = f32x4.splat(amax >= TINY_RANGE ? <f32>127 / amax : 0);
      const q0 = code4(p, inv, lo, hi), q1 = code4(p + 16, inv, lo, hi);
      const q2 = code4(p + 32, inv, lo, hi), q3 = code4(p + 48, inv, lo, hi);
      const q4 = code4(p + 64, inv, lo, hi), q5 = code4(p + 80, inv, lo, hi);
      const q6 = code4(p + 96, inv, lo, hi), q7 = code4(p + 112, inv, lo, hi);
      const sv = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)));
      const v0 = narrow16(q0, q1, q2, q3); // elements 0..15
      const v1 = narrow16(q4, q5, q6, q7); // elements 16..31
      const dst = codes + ((<usize>b << 5) * eb);
      store16(dst, v0);
      store16(dst + (eb << 4), v1);
      store<f32>(dOut + (<usize>b << 2), amax / <f32>127);
      store<i32>(sOut + (<usize>b << 2),
        i32x4.extract_lane(sv, 0) + i32x4.extract_lane(sv, 1) + i32x4.extract_lane(sv, 2) + i32x4.extract_lane(sv, 3));
    }
  }
}
