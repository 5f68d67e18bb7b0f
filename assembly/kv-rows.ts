// kv-rows.ts — the row formats of low-precision KV caches (f16kv, q8kv): conversion from and to
// f32 rows, and the packing of a cached head into the f32 panels of the fused kernel's tile loop.
//
// What:    A cached key or value row of d elements is stored as
//            f16kv: d IEEE half floats (f16.ts, round to nearest even), padded to a multiple of
//                   4 bytes, then a u32 flag: 1 when a value of the row is ±∞ or NaN (after
//                   rounding: |x| ≥ 65520 becomes ∞), else 0. The kernels take the fast
//                   conversion for rows without the flag;
//            q8kv:  d int8 codes c, padded to a multiple of 4 bytes, then the row's f32 scale.
//                   With an optional mean μ (d f32, keys: "smoothing", see attention-kv.ts; 0 =
//                   none) the row quantized is y = fround(x − μ): s = fround(max|y| / 127),
//                   c = nearest(fround(y / s)) ∈ [−127, 127] (ties to even), and the value read
//                   back is fround(fround(c · s) + μ). One scale per token: the row is quantized
//                   once, when it is appended (a streaming cache never re-quantizes). s = 0 for a
//                   row of zeros (or one that underflows); a row holding NaN or ±∞ gets s = NaN
//                   and codes 0, so every value of it reads back as NaN.
//          Row bytes: f16kv align4(2d) + 4, q8kv align4(d) + 4 (kvRowBytes); rows of a cache
//          head follow each other, so strides given in 4-byte words are whole.
// Params:  each converter takes one argument, the address of a KvConvertParams block (below; the
//          host writes it through the exported KV_CONVERT_* offsets, src/kernels/kv.ts) and copies
//          the fields to locals before its row loop. The f16kv converters ignore mean.
// Shapes:  f32 rows (rows, d) with a row stride in f32 elements; cache rows (rows, ·) with a row
//          stride in bytes.
// Tiling:  the converters go along a row 8 values per step (q8kv's max |y|: 4), then one value
//          at a time through the same arithmetic.
// Over-read: the attention kernels read cache rows in 16-byte loads and may read up to 15 bytes
//          past a row's values (its padding, its trailer, the next row, the arena's 16-byte
//          pad); they multiply those lanes by zero (keys) or keep them in padding columns
//          (values), never in a result. The converters here read and write only the d values.
// Error:   f32 → f16 is correctly rounded (≤ 2⁻¹¹ relative, f16.ts); f32 → q8kv is off by at
//          most s/2 per value (plus the f32 rounding of c·s); reading back is exact.
// Reference: IEEE 754-2019 binary16; int8 per-token scales as in KIVI (Z. Liu et al., "KIVI: A
//          Tuning-Free Asymmetric 2bit Quantization for KV Cache", ICML 2024, which quantizes values
//          per token, as here, and keys per channel: see attention-kv.ts for why keys are per token).

import { f16High4, f16HighToF32x4, f16Low4, f16ToF32, f32x4ToF16x4 } from './f16';

/**
 * The row converters' parameter block, written by the host; field order is the layout (offsets
 * below). The f32 side's row stride is in elements, the cache side's in bytes.
 */
@final @unmanaged export class KvConvertParams {
  /** f32 → cache: (rows, d) f32; cache → f32: (rows, ·) cache rows */
  src: usize;
  /** f32 → cache: elements; cache → f32: bytes */
  srcStride: i32;
  /** f32 → cache: (rows, ·) cache rows; cache → f32: (rows, d) f32 */
  dst: usize;
  /** f32 → cache: bytes; cache → f32: elements */
  dstStride: i32;
  rows: i32;
  /** values per row */
  d: i32;
  /** q8kv: (d) f32 mean the rows are quantized around, 0 = none; f16kv: ignored */
  mean: usize;
}

// Offsets of the fields (src/kernels/kv.ts reads these from the exports).
export const KV_CONVERT_SRC: i32 = offsetof<KvConvertParams>('src'); //                0
export const KV_CONVERT_SRC_STRIDE: i32 = offsetof<KvConvertParams>('srcStride'); //   4
export const KV_CONVERT_DST: i32 = offsetof<KvConvertParams>('dst'); //                8
export const KV_CONVERT_DST_STRIDE: i32 = offsetof<KvConvertParams>('dstStride'); //   12
export const KV_CONVERT_ROWS: i32 = offsetof<KvConvertParams>('rows'); //              16
export const KV_CONVERT_D: i32 = offsetof<KvConvertParams>('d'); //                    20
export const KV_CONVERT_MEAN: i32 = offsetof<KvConvertParams>('mean'); //              24
export const KV_CONVERT_PARAMS_BYTES: i32 = offsetof<KvConvertParams>(); //            28

/** Keys per block of the decode row path's P·V (attention-kv-*.ts): their value rows stay in L1 across column passes. */
export const KV_ROW_PV_BLOCK: i32 = 64;

/** Bytes of one cached row of d elements in format T (u16: f16kv, i8: q8kv): values, padding, trailer. */
// @ts-ignore: decorator
@inline export function kvPayloadBytes<T>(d: i32): usize {
  return (<usize>d * sizeof<T>() + 3) & ~(<usize>3);
}

// @ts-ignore: decorator
@inline function absMax(v: v128, m: v128): v128 {
  return f32x4.max(m, f32x4.abs(v)); // max, not pmax: NaN sticks
}

/**
 * dst rows = f16kv(src rows).
 * params: usize // KV_CONVERT_PARAMS_BYTES bytes (KvConvertParams); reads src, srcStride, dst, dstStride, rows, d
 * src: (rows, d) f32, row stride srcStride elements;  dst: (rows, ·), row stride dstStride bytes
 */
export function f32_f16kv_convert(params: usize): void {
  const p = changetype<KvConvertParams>(params);
  f32ToF16kvRows(p.src, p.srcStride, p.dst, p.dstStride, p.rows, p.d);
}

// @ts-ignore: decorator
@inline function f32ToF16kvRows(src: usize, srcStride: i32, dst: usize, dstBytes: i32, rows: i32, d: i32): void {
  const d8 = d & ~7;
  const trail = kvPayloadBytes<u16>(d);
  for (let r = 0; r < rows; r++) {
    const s = src + ((<usize>r * <usize>srcStride) << 2);
    const o = dst + <usize>r * <usize>dstBytes;
    let special = i16x8.splat(0);
    let x = 0;
    for (; x < d8; x += 8) {
      const h = i16x8.narrow_i32x4_u(f32x4ToF16x4(v128.load(s + (<usize>x << 2))), f32x4ToF16x4(v128.load(s + (<usize>x << 2), 16)));
      special = v128.or(special, i16x8.eq(v128.and(h, i16x8.splat(0x7c00)), i16x8.splat(0x7c00)));
      v128.store(o + (<usize>x << 1), h);
    }
    let flag = v128.any_true(special) ? 1 : 0;
    for (; x < d; x++) {
      const h = <u32>i32x4.extract_lane(f32x4ToF16x4(f32x4.splat(load<f32>(s + (<usize>x << 2)))), 0);
      if ((h & 0x7c00) == 0x7c00) flag = 1;
      store<u16>(o + (<usize>x << 1), <u16>h);
    }
    store<u32>(o + trail, flag);
  }
}

/**
 * dst rows = f32(src f16kv rows), exact.
 * params: usize // KV_CONVERT_PARAMS_BYTES bytes (KvConvertParams); reads src, srcStride, dst, dstStride, rows, d
 * src: (rows, ·) f16kv, row stride srcStride bytes;  dst: (rows, d) f32, row stride dstStride elements
 */
export function f16kv_f32_convert(params: usize): void {
  const p = changetype<KvConvertParams>(params);
  f16kvToF32Rows(p.src, p.srcStride, p.dst, p.dstStride, p.rows, p.d);
}

// @ts-ignore: decorator
@inline function f16kvToF32Rows(src: usize, srcBytes: i32, dst: usize, dstStride: i32, rows: i32, d: i32): void {
  const d8 = d & ~7;
  for (let r = 0; r < rows; r++) {
    const s = src + <usize>r * <usize>srcBytes;
    const o = dst + ((<usize>r * <usize>dstStride) << 2);
    let x = 0;
    for (; x < d8; x += 8) {
      const h = v128.load(s + (<usize>x << 1));
      v128.store(o + (<usize>x << 2), f16HighToF32x4(f16Low4(h)));
      v128.store(o + (<usize>x << 2), f16HighToF32x4(f16High4(h)), 16);
    }
    for (; x < d; x++) store<f32>(o + (<usize>x << 2), f16ToF32(<u32>load<u16>(s + (<usize>x << 1))));
  }
}

/** Eight codes nearest(a / s), nearest(b / s) as i8 in the low 8 bytes (|x / s| ≤ 127 by construction). */
// @ts-ignore: decorator
@inline function codes8(a: v128, b: v128, s: v128): v128 {
  const w = i16x8.narrow_i32x4_s(
    i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(a, s))),
    i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(b, s))),
  );
  return i8x16.narrow_i16x8_s(w, w);
}

/** src[x .. x+3] − mean[x .. x+3] (mean 0: none). */
// @ts-ignore: decorator
@inline function centered4(src: usize, mean: usize, x: i32): v128 {
  const v = v128.load(src + (<usize>x << 2));
  return mean ? f32x4.sub(v, v128.load(mean + (<usize>x << 2))) : v;
}

// @ts-ignore: decorator
@inline function centered1(src: usize, mean: usize, x: i32): f32 {
  const v = load<f32>(src + (<usize>x << 2));
  return mean ? v - load<f32>(mean + (<usize>x << 2)) : v;
}

/**
 * dst rows = q8kv(src rows − mean): codes and one scale per row (see the header).
 * params: usize // KV_CONVERT_PARAMS_BYTES bytes (KvConvertParams); reads every field
 * src: (rows, d) f32, row stride srcStride elements;  dst: (rows, ·), row stride dstStride bytes
 * mean: (d) f32 subtracted from every row first, 0 = none
 */
export function f32_q8kv_convert(params: usize): void {
  const p = changetype<KvConvertParams>(params);
  f32ToQ8kvRows(p.src, p.srcStride, p.dst, p.dstStride, p.rows, p.d, p.mean);
}

// @ts-ignore: decorator
@inline function f32ToQ8kvRows(src: usize, srcStride: i32, dst: usize, dstBytes: i32, rows: i32, d: i32, mean: usize): void {
  const d4 = d & ~3;
  const d8 = d & ~7;
  const trail = kvPayloadBytes<i8>(d);
  for (let r = 0; r < rows; r++) {
    const s = src + ((<usize>r * <usize>srcStride) << 2);
    const o = dst + <usize>r * <usize>dstBytes;
    let mv = f32x4.splat(0);
    let m: f32 = 0;
    let x = 0;
    for (; x < d4; x += 4) mv = absMax(centered4(s, mean, x), mv);
    for (; x < d; x++) {
      const a = Mathf.abs(centered1(s, mean, x));
      m = a != a || a > m ? a : m;
    }
    const l0 = f32x4.extract_lane(mv, 0), l1 = f32x4.extract_lane(mv, 1);
    const l2 = f32x4.extract_lane(mv, 2), l3 = f32x4.extract_lane(mv, 3);
    const amax = l0 != l0 || l1 != l1 || l2 != l2 || l3 != l3 || m != m ? <f32>NaN : max(max(max(l0, l1), max(l2, l3)), m);
    const scale: f32 = amax < Infinity ? amax / <f32>127 : <f32>NaN; // NaN, +∞ → NaN
    store<f32>(o + trail, scale);
    if (!(scale > 0)) {
      memory.fill(o, 0, <usize>d); // zeros, underflow, NaN: every code 0
      continue;
    }
    const sv = f32x4.splat(scale);
    x = 0;
    for (; x < d8; x += 8) {
      v128.store64_lane(o + <usize>x, codes8(centered4(s, mean, x), centered4(s, mean, x + 4), sv), 0);
    }
    for (; x < d; x++) {
      store<i8>(o + <usize>x, <i8>min(127, max(-127, <i32>nearest(centered1(s, mean, x) / scale))));
    }
  }
}

/**
 * dst rows = fround(fround(code · scale) + mean) of src q8kv rows (mean 0: none).
 * params: usize // KV_CONVERT_PARAMS_BYTES bytes (KvConvertParams); reads every field
 * src: (rows, ·) q8kv, row stride srcStride bytes;  dst: (rows, d) f32, row stride dstStride elements
 * mean: (d) f32, the mean the rows were quantized around, 0 = none
 */
export function q8kv_f32_convert(params: usize): void {
  const p = changetype<KvConvertParams>(params);
  q8kvToF32Rows(p.src, p.srcStride, p.dst, p.dstStride, p.rows, p.d, p.mean);
}

// @ts-ignore: decorator
@inline function q8kvToF32Rows(src: usize, srcBytes: i32, dst: usize, dstStride: i32, rows: i32, d: i32, mean: usize): void {
  const trail = kvPayloadBytes<i8>(d);
  const d4 = d & ~3;
  for (let r = 0; r < rows; r++) {
    const s = src + <usize>r * <usize>srcBytes;
    const o = dst + ((<usize>r * <usize>dstStride) << 2);
    const scale = load<f32>(s + trail);
    const sv = f32x4.splat(scale);
    let x = 0;
    for (; x < d4; x += 4) v128.store(o + (<usize>x << 2), row4<i8>(s, x, sv, mean));
    for (; x < d; x++) store<f32>(o + (<usize>x << 2), row1<i8>(s, x, scale, mean));
  }
}

/** Four q8kv codes at p → fround(c · s) as f32x4. */
// @ts-ignore: decorator
@inline function q8x4(p: usize, sv: v128): v128 {
  const c = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p)));
  return f32x4.mul(f32x4.convert_i32x4_s(c), sv);
}

/** Four values x .. x+3 of a cached row of format T as f32x4 (scale: the q8kv row's, splat; mean: q8kv's, 0 = none). */
// @ts-ignore: decorator
@inline function row4<T>(row: usize, x: i32, sv: v128, mean: usize): v128 {
  if (sizeof<T>() == 2) {
    return f16HighToF32x4(f16Low4(v128.load64_zero(row + (<usize>x << 1))));
  } else {
    const v = q8x4(row + <usize>x, sv);
    return mean ? f32x4.add(v, v128.load(mean + (<usize>x << 2))) : v;
  }
}

/** Value x of a cached row of format T as f32. */
// @ts-ignore: decorator
@inline function row1<T>(row: usize, x: i32, scale: f32, mean: usize): f32 {
  if (sizeof<T>() == 2) {
    return f16ToF32(<u32>load<u16>(row + (<usize>x << 1)));
  } else {
    const v = <f32>load<i8>(row + <usize>x) * scale;
    return mean ? v + load<f32>(mean + (<usize>x << 2)) : v;
  }
}

/** The q8kv scale of a row (1 for f16kv, unused). */
// @ts-ignore: decorator
@inline function rowScale<T>(row: usize, d: i32): f32 {
  return sizeof<T>() == 2 ? <f32>1 : load<f32>(row + kvPayloadBytes<T>(d));
}

/**
 * Packs nk cached key rows of format T (row stride kBytes) into the fused kernel's 8-key f32
 * panels (⌈nk/8⌉, dh, 8) — attention.ts's packKeyPanels, converting as it goes (the values read
 * back, q8kv's mean included): full panels move 4×4 blocks with shuffles, dh % 4 and the last
 * partial panel go element by element.
 */
export function packKeyPanelsKv<T>(k: usize, kBytes: i32, nk: i32, dh: i32, dst: usize, mean: usize): void {
  const panels = (nk + 7) >> 3;
  const dh4 = dh & ~3;
  const rowBytes = <usize>kBytes;
  for (let jp = 0; jp < panels; jp++) {
    const panel = dst + <usize>jp * <usize>dh * 32;
    const j0 = jp << 3;
    if (j0 + 8 <= nk) {
      for (let half = 0; half < 2; half++) {
        const r0 = k + <usize>(j0 + 4 * half) * rowBytes;
        const r1 = r0 + rowBytes;
        const r2 = r1 + rowBytes;
        const r3 = r2 + rowBytes;
        const s0 = f32x4.splat(rowScale<T>(r0, dh)), s1 = f32x4.splat(rowScale<T>(r1, dh));
        const s2 = f32x4.splat(rowScale<T>(r2, dh)), s3 = f32x4.splat(rowScale<T>(r3, dh));
        const col = panel + (<usize>half << 4);
        for (let x = 0; x < dh4; x += 4) {
          const a = row4<T>(r0, x, s0, mean);
          const b = row4<T>(r1, x, s1, mean);
          const c = row4<T>(r2, x, s2, mean);
          const d = row4<T>(r3, x, s3, mean);
          const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
          const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
          const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
          const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
          const out = col + <usize>x * 32;
          v128.store(out, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
          v128.store(out, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7), 32);
          v128.store(out, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5), 64);
          v128.store(out, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7), 96);
        }
        for (let x = dh4; x < dh; x++) {
          const out = col + <usize>x * 32;
          store<f32>(out, row1<T>(r0, x, f32x4.extract_lane(s0, 0), mean));
          store<f32>(out, row1<T>(r1, x, f32x4.extract_lane(s1, 0), mean), 4);
          store<f32>(out, row1<T>(r2, x, f32x4.extract_lane(s2, 0), mean), 8);
          store<f32>(out, row1<T>(r3, x, f32x4.extract_lane(s3, 0), mean), 12);
        }
      }
      continue;
    }
    for (let c = 0; c < 8; c++) {
      const j = j0 + c;
      let d = panel + (<usize>c << 2);
      if (j < nk) {
        const row = k + <usize>j * rowBytes;
        const scale = rowScale<T>(row, dh);
        for (let x = 0; x < dh; x++) {
          store<f32>(d, row1<T>(row, x, scale, mean));
          d += 32;
        }
      } else {
        for (let x = 0; x < dh; x++) {
          store<f32>(d, 0);
          d += 32;
        }
      }
    }
  }
}

/**
 * Packs nk cached value rows of format T (row stride vBytes) into f32 rows of dvp columns
 * (zero-padded) — attention.ts's packValueRows, converting as it goes. Returns 1 when any value
 * is NaN or ±∞ (the tile loop then takes its zero-skipping P·V).
 */
export function packValueRowsKv<T>(v: usize, vBytes: i32, nk: i32, dv: i32, dvp: i32, dst: usize): i32 {
  const expMask = i32x4.splat(0x7f800000);
  let nonFinite = i32x4.splat(0);
  let nonFiniteScalar = 0;
  const dv4 = dv & ~3;
  for (let j = 0; j < nk; j++) {
    const src = v + <usize>j * <usize>vBytes;
    const row = dst + ((<usize>j * <usize>dvp) << 2);
    const scale = rowScale<T>(src, dv);
    const sv = f32x4.splat(scale);
    let x = 0;
    for (; x < dv4; x += 4) {
      const val = row4<T>(src, x, sv, 0);
      nonFinite = v128.or(nonFinite, i32x4.eq(v128.and(val, expMask), expMask));
      v128.store(row + (<usize>x << 2), val);
    }
    for (; x < dv; x++) {
      const val = row1<T>(src, x, scale, 0);
      if (!isFinite(val)) nonFiniteScalar = 1;
      store<f32>(row + (<usize>x << 2), val);
    }
    for (; x < dvp; x++) store<f32>(row + (<usize>x << 2), 0);
  }
  return v128.any_true(nonFinite) || nonFiniteScalar ? 1 : 0;
}
