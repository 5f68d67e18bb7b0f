// attention-merge.ts — f32_attn_merge: two partial attentions over disjoint key sets merged
// exactly by their log-sum-exp (ring-buffer KV caches, long-sequence variants, split keys).
//
// What:    for each row r, L = logaddexp(lseAcc[r], lsePart[r]),
//          acc[r] ← acc[r]·exp(lseAcc[r] − L) + part[r]·exp(lsePart[r] − L),  lseAcc[r] ← L.
// Params:  one argument, the address of a MergeParams block (below; the host writes it through
//          the exported MERGE_* offsets, src/kernels/attention.ts); the fields are copied to
//          locals before the row loop.
// Shapes:  acc, part (rows, dv) with their own row strides (elements); lseAcc, lsePart (rows).
// Tiling:  four columns per step, scalar tail.
// Error:   two exp_f32 (≤ 2e-7 relative each) and one f32 multiply-add per element.
// Reference: FlashAttention-2's split-K (flash-decoding) combine step.

import { exp_f32 } from './simd';

/** f32_attn_merge's parameter block, written by the host; field order is the layout (offsets below). */
@final @unmanaged export class MergeParams {
  /** (rows, dv) accumulated result, row stride accStride elements; updated in place */
  acc: usize;
  accStride: i32;
  /** (rows) its log-sum-exp; updated in place */
  lseAcc: usize;
  /** (rows, dv) partial result, row stride partStride elements */
  part: usize;
  partStride: i32;
  /** (rows) its log-sum-exp */
  lsePart: usize;
  rows: i32;
  dv: i32;
}

// Offsets of the fields (src/kernels/attention.ts reads these from the exports).
export const MERGE_ACC: i32 = offsetof<MergeParams>('acc'); //                 0
export const MERGE_ACC_STRIDE: i32 = offsetof<MergeParams>('accStride'); //    4
export const MERGE_LSE_ACC: i32 = offsetof<MergeParams>('lseAcc'); //          8
export const MERGE_PART: i32 = offsetof<MergeParams>('part'); //               12
export const MERGE_PART_STRIDE: i32 = offsetof<MergeParams>('partStride'); //  16
export const MERGE_LSE_PART: i32 = offsetof<MergeParams>('lsePart'); //        20
export const MERGE_ROWS: i32 = offsetof<MergeParams>('rows'); //               24
export const MERGE_DV: i32 = offsetof<MergeParams>('dv'); //                   28
export const MERGE_PARAMS_BYTES: i32 = offsetof<MergeParams>(); //             32

/**
 * Merges a partial attention result into an accumulated one, exactly: for each row r,
 *   L = logaddexp(lseAcc[r], lsePart[r]),
 *   acc[r] ← acc[r]·exp(lseAcc[r] − L) + part[r]·exp(lsePart[r] − L),  lseAcc[r] ← L.
 * Rows where a side saw no key (lse = −∞) take the other side unchanged (both −∞: zeros).
 * params: usize // MERGE_PARAMS_BYTES bytes (MergeParams); reads every field
 * acc: (rows, dv), row stride accStride;  part: (rows, dv), row stride partStride;  lseAcc, lsePart: (rows)
 */
export function f32_attn_merge(params: usize): void {
  const mp = changetype<MergeParams>(params);
  const acc = mp.acc;
  const accStride = mp.accStride;
  const lseAcc = mp.lseAcc;
  const part = mp.part;
  const partStride = mp.partStride;
  const lsePart = mp.lsePart;
  const rows = mp.rows;
  const dv = mp.dv;
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
