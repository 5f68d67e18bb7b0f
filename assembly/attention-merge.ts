// attention-merge.ts — f32_attn_merge: two partial attentions over disjoint key sets merged
// exactly by their log-sum-exp (ring-buffer KV caches, long-sequence variants, split keys).
//
// What:    for each row r, L = logaddexp(lseAcc[r], lsePart[r]),
//          acc[r] ← acc[r]·exp(lseAcc[r] − L) + part[r]·exp(lsePart[r] − L),  lseAcc[r] ← L.
// Shapes:  acc, part (rows, dv) with their own row strides; lseAcc, lsePart (rows).
// Tiling:  four columns per step, scalar tail.
// Error:   two exp_f32 (≤ 2e-7 relative each) and one f32 multiply-add per element.
// Reference: FlashAttention-2's split-K (flash-decoding) combine step.

import { exp_f32 } from './simd';

/**
 * Merges a partial attention result into an accumulated one, exactly: for each row r,
 *   L = logaddexp(lseAcc[r], lsePart[r]),
 *   acc[r] ← acc[r]·exp(lseAcc[r] − L) + part[r]·exp(lsePart[r] − L),  lseAcc[r] ← L.
 * Rows where a side saw no key (lse = −∞) take the other side unchanged (both −∞: zeros).
 * acc: usize // (rows, dv), row stride accStride;  part: usize // (rows, dv), row stride partStride
 * lseAcc, lsePart: usize // (rows)
 */
export function f32_attn_merge(
  acc: usize, accStride: i32, lseAcc: usize, part: usize, partStride: i32, lsePart: usize, rows: i32, dv: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const la = load<f32>(lseAcc + (<usize>r << 2));
    const lp = load<f32>(lsePart + (<usize>r << 2));
    if (lp == -Infinity) continue;
    const a = acc + ((<usize>r * <usize>accStride) << 2);
    const p = part + ((<usize>r * <usize>partStride) << 2);
    if (la == -Infinity) {
      memory.copy(a, p, <usize>dv << 2);
      store<f32>(lseAcc + (<usize>r << 2), lp);
      continue;
    }
    const m = max(la, lp);
    const ea = exp_f32(la - m);
    const ep = exp_f32(lp - m);
    const total = ea + ep;
    const wa = ea / total;
    const wp = ep / total;
    const wav = f32x4.splat(wa);
    const wpv = f32x4.splat(wp);
    const dv4 = dv & ~3;
    let x = 0;
    for (; x < dv4; x += 4) {
      const xo = <usize>x << 2;
      v128.store(a + xo, f32x4.add(f32x4.mul(v128.load(a + xo), wav), f32x4.mul(v128.load(p + xo), wpv)));
    }
    for (; x < dv; x++) store<f32>(a + (<usize>x << 2), load<f32>(a + (<usize>x << 2)) * wa + load<f32>(p + (<usize>x << 2)) * wp);
    store<f32>(lseAcc + (<usize>r << 2), m + Mathf.log(total));
  }
}
