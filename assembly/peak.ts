// peak.ts — the machine's Wasm multiply-add ceiling: 8 independent f32x4 accumulator chains
// (enough to hide FMA latency at 2 FMAs per cycle; measured here: 8 chains 41.2 GFLOP/s,
// 12 chains 38.7, 14 chains 26.7 as V8 starts spilling), `iters` rounds, no memory traffic.
// Work: iters · 8 · 4 multiply-adds = iters · 64 flops. The result is returned so the loop
// cannot be removed. Benchmark only.

import { madd } from './simd';

export function f32_peak_madd(iters: i32, seed: f32): f32 {
  const x = f32x4.splat(seed);
  const y = f32x4.splat(seed * <f32>0.5);
  let a0 = f32x4.splat(seed + 1), a1 = f32x4.splat(seed + 2), a2 = f32x4.splat(seed + 3);
  let a3 = f32x4.splat(seed + 4), a4 = f32x4.splat(seed + 5), a5 = f32x4.splat(seed + 6);
  let a6 = f32x4.splat(seed + 7), a7 = f32x4.splat(seed + 8);
  for (let i = 0; i < iters; i++) {
    a0 = madd(a0, x, y); a1 = madd(a1, x, y); a2 = madd(a2, x, y); a3 = madd(a3, x, y);
    a4 = madd(a4, x, y); a5 = madd(a5, x, y); a6 = madd(a6, x, y); a7 = madd(a7, x, y);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

// ── int8 ceilings (bench only) ──
// The same shape as f32_peak_madd: 8 independent i32x4 accumulator chains, no memory traffic in
// the loop. The multiplicands change every iteration (x += step, z = x ^ y1), so no product is
// loop-invariant: with fixed operands V8 hoists the dot products out of the loop and the loop
// measures only the adds (about 1.5× too fast). 14 live v128, no spills (checked in V8's code).
// Ops are counted as 2 per multiply-add: i32x4.dot_i16x8_s = 8 multiply-adds = 16 ops,
// a 16-byte 8-bit dot = 16 multiply-adds = 32 ops.

/** i16 and i8 splats of small integers, and the i16 ones used to widen pairs (loaded, not v128.const). */
const PEAK_DATA: usize = memory.data<i32>([
  0x00030002, 0x00030002, 0x00030002, 0x00030002, // y0
  0x00050004, 0x00050004, 0x00050004, 0x00050004, // y1
  0x00010001, 0x00010001, 0x00010001, 0x00010001, // step (i16 ones, or i8 1, 0 alternating)
], 16);

/**
 * 8 chains of acc = acc + i32x4.dot_i16x8_s(x, y): `iters` rounds of 8 dot products = iters · 128
 * ops. The ceiling of the simd128 int8 kernels.
 */
export function qs8_peak_dot_i16x8(iters: i32, seed: i32): i32 {
  let x = i16x8.splat(<i16>seed);
  const y0 = v128.load(PEAK_DATA);
  const y1 = v128.load(PEAK_DATA, 16);
  const step = v128.load(PEAK_DATA, 32);
  let a0 = i32x4.splat(seed), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (let i = 0; i < iters; i++) {
    const z = v128.xor(x, y1);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(x, y0)); a1 = i32x4.add(a1, i32x4.dot_i16x8_s(x, y1));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(z, y0)); a3 = i32x4.add(a3, i32x4.dot_i16x8_s(z, y1));
    a4 = i32x4.add(a4, i32x4.dot_i16x8_s(y0, x)); a5 = i32x4.add(a5, i32x4.dot_i16x8_s(y1, x));
    a6 = i32x4.add(a6, i32x4.dot_i16x8_s(y0, z)); a7 = i32x4.add(a7, i32x4.dot_i16x8_s(y1, z));
    x = i16x8.add(x, step);
  }
  return peakSum(a0, a1, a2, a3, a4, a5, a6, a7);
}

/**
 * 8 chains of acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(x, y, acc): iters · 256 ops. Relaxed
 * build only; the simd128 build computes the same sums with sign extension and dot_i16x8_s (not a
 * ceiling of anything). The kernels do not use this instruction (Node 20's baseline compiler
 * returns 2·dot for it, dropping acc); its timing is the reference the task asked for.
 */
export function qs8_peak_relaxed_dot_add(iters: i32, seed: i32): i32 {
  let x = i8x16.splat(<i8>seed);
  const y0 = v128.load(PEAK_DATA);
  const y1 = v128.load(PEAK_DATA, 16);
  const step = v128.load(PEAK_DATA, 32);
  let a0 = i32x4.splat(seed), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (let i = 0; i < iters; i++) {
    const z = v128.xor(x, y1);
    a0 = dot8Add(x, y0, a0); a1 = dot8Add(x, y1, a1); a2 = dot8Add(z, y0, a2); a3 = dot8Add(z, y1, a3);
    a4 = dot8Add(y0, x, a4); a5 = dot8Add(y1, x, a5); a6 = dot8Add(y0, z, a6); a7 = dot8Add(y1, z, a7);
    x = i8x16.add(x, step);
  }
  return peakSum(a0, a1, a2, a3, a4, a5, a6, a7);
}

/**
 * 8 chains of acc = acc + i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(x, y), ones): the
 * relaxed int8 kernels' sequence (qgemm.ts's dotAdd), iters · 256 ops. simd128 build: emulated.
 */
export function qs8_peak_relaxed_dot(iters: i32, seed: i32): i32 {
  let x = i8x16.splat(<i8>seed);
  const y0 = v128.load(PEAK_DATA);
  const y1 = v128.load(PEAK_DATA, 16);
  const ones = v128.load(PEAK_DATA, 32);
  let a0 = i32x4.splat(seed), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (let i = 0; i < iters; i++) {
    const z = v128.xor(x, y1);
    a0 = dot16Widen(x, y0, a0, ones); a1 = dot16Widen(x, y1, a1, ones);
    a2 = dot16Widen(z, y0, a2, ones); a3 = dot16Widen(z, y1, a3, ones);
    a4 = dot16Widen(y0, x, a4, ones); a5 = dot16Widen(y1, x, a5, ones);
    a6 = dot16Widen(y0, z, a6, ones); a7 = dot16Widen(y1, z, a7, ones);
    x = i8x16.add(x, ones);
  }
  return peakSum(a0, a1, a2, a3, a4, a5, a6, a7);
}

/** Fused 8-bit dot-add (relaxed build), or its simd128 emulation. */
// @ts-ignore: decorator
@inline function dot8Add(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, acc);
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b));
  return i32x4.add(acc, i32x4.add(lo, hi));
}

/** i16 8-bit dot, widened by a dot with ones, added (relaxed build), or its simd128 emulation. */
// @ts-ignore: decorator
@inline function dot16Widen(a: v128, b: v128, acc: v128, ones: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(a, b), ones));
  return dot8Add(a, b, acc);
}

// @ts-ignore: decorator
@inline function peakSum(a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128): i32 {
  const s = i32x4.add(i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3)), i32x4.add(i32x4.add(a4, a5), i32x4.add(a6, a7)));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}
