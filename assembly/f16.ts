// f16.ts — IEEE binary16 ↔ binary32 conversion (Wasm has no f16 arithmetic: bits in, bits out).
//
// What:    f16_f32_convert: dst[i] = f32(src[i]), exact for every f16 (normals, subnormals, ±0,
//          ±∞; NaN stays NaN with its sign and payload, the payload shifted into the top bits).
//          f32_f16_convert: dst[i] = f16(src[i]) rounded to nearest, ties to even, as IEEE 754
//          (and x86 F16C / ARM FCVT) do: |x| ≥ 65520 → ±∞, results below 2⁻¹⁴ become subnormals
//          (rounded at 2⁻²⁴), NaN → quiet NaN (0x7e00 | top 9 payload bits | sign).
// Params:  both take one argument, the address of an F16ConvertParams block (src, dst, n; the
//          host writes it through the exported F16_CONVERT_* offsets, src/kernels/quantized.ts)
//          and copy its fields to locals before their loops.
// Shapes:  src, dst: n elements, pointers in bytes; any alignment (vector loads are unaligned).
// Tails:   n % 8 elements one at a time through the same vector code (a splat), so every element
//          goes through one code path.
// Error:   f16 → f32 is exact; f32 → f16 is correctly rounded (≤ half an f16 ulp).
// Method:  f16 → f32: with the f16 in the high half of an i32 lane, an arithmetic shift right by 3
//          and a mask put sign, exponent and mantissa in f32 position; a multiply by 2¹¹² rebiases
//          (exact; it also normalizes subnormals), exponent 31 → 255 for ∞ / NaN. f32 → f16: F. Giesen's
//          float_to_half_fast3_rtne (rebias and round with an integer add of 0xfff + the odd bit;
//          subnormals by a float add of 0.5, whose ulp is the f16 subnormal step).
// Reference: IEEE 754-2019 §5.4.2 (formatOf conversions); F. Giesen, "half.cpp" (2016);
//          XNNPACK f16-f32-vcvt / f32-f16-vcvt wasmsimd.

/** The conversions' parameter block, written by the host; field order is the layout (offsets below). */
@final @unmanaged export class F16ConvertParams {
  /** (n) source elements (f16 bit patterns or f32) */
  src: usize;
  /** (n) destination elements (f32 or f16 bit patterns) */
  dst: usize;
  n: i32;
}

// Offsets of the fields (src/kernels/quantized.ts reads these from the exports).
export const F16_CONVERT_SRC: i32 = offsetof<F16ConvertParams>('src'); //        0
export const F16_CONVERT_DST: i32 = offsetof<F16ConvertParams>('dst'); //        4
export const F16_CONVERT_N: i32 = offsetof<F16ConvertParams>('n'); //            8
export const F16_CONVERT_PARAMS_BYTES: i32 = offsetof<F16ConvertParams>(); //    12

// Constant table, one i32x4 splat per 16 bytes (V8 on Node 20 materializes v128.const poorly).
const H_SIGN_EM: i32 = 0;
const H_MAGIC: i32 = 1;
const H_INF_EXP: i32 = 2;
const H_EM_HIGH: i32 = 3;
const H_MAX_FINITE_HIGH: i32 = 4;
const H_ZERO: i32 = 5;
const H_SPECIAL_PROBE: i32 = 6;
const F_SIGN: i32 = 7;
const F_REBIAS: i32 = 8;
const F_ONE: i32 = 9;
const F_SUB_LIMIT: i32 = 10;
const F_OVERFLOW: i32 = 11;
const F_INF: i32 = 12;
const F_DENORM_MAGIC: i32 = 13;
const F_QNAN: i32 = 14;
const F_MANT10: i32 = 15;
const H_INF: i32 = 16;

const CONSTANTS: usize = memory.data<i32>([
  0x8fffffff, 0x8fffffff, 0x8fffffff, 0x8fffffff, //     sign and bits 0..27 (drops the sign copies of a shr_s by 3)
  0x77800000, 0x77800000, 0x77800000, 0x77800000, //     2¹¹² as f32
  0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000, //     f32 exponent all ones
  0x7fff0000, 0x7fff0000, 0x7fff0000, 0x7fff0000, //     f16 exponent and mantissa, high half
  0x7bff0000, 0x7bff0000, 0x7bff0000, 0x7bff0000, //     largest finite f16 (exponent and mantissa), high half
  0, 0, 0, 0,
  0xf800f800, 0xf800f800, 0xf800f800, 0xf800f800, //     2 · 0x7c00 as u16: ∞ / NaN probe threshold
  0x80000000, 0x80000000, 0x80000000, 0x80000000, //     f32 sign bit
  0xc8000fff, 0xc8000fff, 0xc8000fff, 0xc8000fff, //     ((15 − 127) << 23) + 0xfff
  1, 1, 1, 1,
  0x38800000, 0x38800000, 0x38800000, 0x38800000, //     2⁻¹⁴ (113 << 23): below it, f16 subnormals
  0x47800000, 0x47800000, 0x47800000, 0x47800000, //     65536 ((127 + 16) << 23): from it, ∞ / NaN
  0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000, //     f32 +∞
  0x3f000000, 0x3f000000, 0x3f000000, 0x3f000000, //     0.5 (126 << 23)
  0x7e00, 0x7e00, 0x7e00, 0x7e00, //                     f16 quiet NaN
  0x3ff, 0x3ff, 0x3ff, 0x3ff, //                         f16 mantissa
  0x7c00, 0x7c00, 0x7c00, 0x7c00, //                     f16 +∞
], 16);

// @ts-ignore: decorator
@inline function hc(k: i32): v128 {
  return v128.load(CONSTANTS + (<usize>k << 4));
}

/**
 * Four f16 held in the high halves of i32 lanes (h << 16) → four f32, exact: one arithmetic
 * shift puts sign, exponent and mantissa in f32 position (exponent still biased by 15), the
 * multiply by 2¹¹² rebiases (and normalizes subnormals, and keeps 0), exponent 31 (∞, NaN) is
 * OR-ed to 255 (the mantissa, hence the NaN payload, is kept).
 */
// @ts-ignore: decorator
@inline export function f16HighToF32x4(x: v128): v128 {
  const special = i32x4.gt_s(v128.and(x, hc(H_EM_HIGH)), hc(H_MAX_FINITE_HIGH));
  return v128.or(f16HighToF32x4Finite(x), v128.and(special, hc(H_INF_EXP)));
}

/** f16HighToF32x4 for lanes known not to be ∞ or NaN (others come out finite and wrong). */
// @ts-ignore: decorator
@inline export function f16HighToF32x4Finite(x: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(x, 3), hc(H_SIGN_EM)), hc(H_MAGIC));
}

/** The low four f16 of an i16x8 as h << 16 lanes (an interleave with zeros). */
// @ts-ignore: decorator
@inline export function f16Low4(h: v128): v128 {
  return i16x8.shuffle(hc(H_ZERO), h, 0, 8, 1, 9, 2, 10, 3, 11);
}

/** The high four f16 of an i16x8 as h << 16 lanes. */
// @ts-ignore: decorator
@inline export function f16High4(h: v128): v128 {
  return i16x8.shuffle(hc(H_ZERO), h, 4, 12, 5, 13, 6, 14, 7, 15);
}

/** Lanes of 2·h (sign dropped) that reach 0xf800: the f16 is ∞ or NaN. Accumulate with i16x8.max_u. */
// @ts-ignore: decorator
@inline export function f16SpecialProbe(h: v128): v128 {
  return i16x8.add(h, h);
}

/** Whether a max_u accumulation of f16SpecialProbe saw an ∞ or NaN. */
// @ts-ignore: decorator
@inline export function f16SawSpecial(probe: v128): bool {
  return v128.any_true(i16x8.ge_u(probe, hc(H_SPECIAL_PROBE)));
}

/** The f16 bits h (zero-extended) → f32 through the vector path (so scalar and vector results agree). */
// @ts-ignore: decorator
@inline export function f16ToF32(h: u32): f32 {
  return f32x4.extract_lane(f16HighToF32x4(i32x4.splat(h << 16)), 0);
}

/** Four f32 → four f16 bit patterns (one per i32 lane), round to nearest even. */
// @ts-ignore: decorator
@inline export function f32x4ToF16x4(f: v128): v128 {
  const sign = v128.and(f, hc(F_SIGN));
  const a = v128.xor(f, sign);
  // normal range: rebias, round to nearest even on the 13 dropped bits
  const odd = v128.and(i32x4.shr_u(a, 13), hc(F_ONE));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, hc(F_REBIAS)), odd), 13);
  // subnormal range: the FPU rounds a + 0.5 at 2⁻²⁴
  const magic = hc(F_DENORM_MAGIC);
  const sub = i32x4.sub(f32x4.add(a, magic), magic);
  // ∞ and NaN (a > +∞ as integers is NaN)
  const nan = v128.or(hc(F_QNAN), v128.and(i32x4.shr_u(a, 13), hc(F_MANT10)));
  const big = v128.bitselect(nan, hc(H_INF), i32x4.gt_s(a, hc(F_INF)));
  let o = v128.bitselect(sub, normal, i32x4.lt_s(a, hc(F_SUB_LIMIT)));
  o = v128.bitselect(big, o, i32x4.ge_s(a, hc(F_OVERFLOW)));
  return v128.or(o, i32x4.shr_u(sign, 16));
}

/**
 * dst[i] = f32(src[i]) for i < n.
 * params: usize // F16_CONVERT_PARAMS_BYTES bytes (F16ConvertParams); reads src, dst, n
 * src: (n) f16 bit patterns   dst: (n) f32
 */
export function f16_f32_convert(params: usize): void {
  const p = changetype<F16ConvertParams>(params);
  const src = p.src;
  const dst = p.dst;
  const n = p.n;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    const d = dst + (<usize>i << 2);
    v128.store(d, f16HighToF32x4(f16Low4(h)));
    v128.store(d, f16HighToF32x4(f16High4(h)), 16);
  }
  for (; i < n; i++) {
    store<f32>(dst + (<usize>i << 2), f16ToF32(<u32>load<u16>(src + (<usize>i << 1))));
  }
}

/**
 * dst[i] = f16(src[i]) for i < n (round to nearest even).
 * params: usize // F16_CONVERT_PARAMS_BYTES bytes (F16ConvertParams); reads src, dst, n
 * src: (n) f32   dst: (n) f16 bit patterns
 */
export function f32_f16_convert(params: usize): void {
  const p = changetype<F16ConvertParams>(params);
  const src = p.src;
  const dst = p.dst;
  const n = p.n;
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const s = src + (<usize>i << 2);
    const lo = f32x4ToF16x4(v128.load(s));
    const hi = f32x4ToF16x4(v128.load(s, 16));
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
  }
  for (; i < n; i++) {
    const h = f32x4ToF16x4(f32x4.splat(load<f32>(src + (<usize>i << 2))));
    store<u16>(dst + (<usize>i << 1), <u16>i32x4.extract_lane(h, 0));
  }
}
