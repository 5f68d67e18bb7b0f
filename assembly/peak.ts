// peak.ts — the machine's Wasm multiply-add ceiling: 12 independent f32x4 accumulator chains
// (enough to hide FMA latency, ≤ 14 live v128 for V8), `iters` rounds, no memory traffic.
// Work: iters · 12 · 4 multiply-adds = iters · 96 flops. The result is returned so the loop
// cannot be removed. Benchmark only.

import { madd } from './simd';

export function f32_peak_madd(iters: i32, seed: f32): f32 {
  const x = f32x4.splat(seed);
  const y = f32x4.splat(seed * <f32>0.5);
  let a0 = f32x4.splat(seed + 1), a1 = f32x4.splat(seed + 2), a2 = f32x4.splat(seed + 3);
  let a3 = f32x4.splat(seed + 4), a4 = f32x4.splat(seed + 5), a5 = f32x4.splat(seed + 6);
  let a6 = f32x4.splat(seed + 7), a7 = f32x4.splat(seed + 8), a8 = f32x4.splat(seed + 9);
  let a9 = f32x4.splat(seed + 10), a10 = f32x4.splat(seed + 11), a11 = f32x4.splat(seed + 12);
  for (let i = 0; i < iters; i++) {
    a0 = madd(a0, x, y); a1 = madd(a1, x, y); a2 = madd(a2, x, y);
    a3 = madd(a3, x, y); a4 = madd(a4, x, y); a5 = madd(a5, x, y);
    a6 = madd(a6, x, y); a7 = madd(a7, x, y); a8 = madd(a8, x, y);
    a9 = madd(a9, x, y); a10 = madd(a10, x, y); a11 = madd(a11, x, y);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const t = f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) + f32x4.extract_lane(t, 3);
}
