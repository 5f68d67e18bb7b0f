// attention-kv-f16.ts — the decode row path of attention-kv.ts over f16kv cache rows (kv-rows.ts):
// the scores of one query row against n key rows, and P·V over n value rows, read in place.
//
// What:    scoresF16: s_j = scale·q·k_j. A half in the high 16 bits of an i32 lane, shifted right
//          by 3 and masked, is the f32 of value h·2⁻¹¹²; the query row, scaled by 2¹¹² once and
//          split into even and odd dimensions (the two halves of each i32 lane), then meets each
//          key row with a shift and a mask per pair of halves instead of a full conversion, and
//          the product equals q·k exactly (powers of two). Rows flagged ±∞/NaN, and query rows
//          with max|q| ≥ 2¹⁵ (q·2¹¹² would overflow), take the exact conversion (f16.ts).
//          valuesF16: acc += Σ_j p_j·v_j with p·2¹¹² the same way; acc is kept split (per 8
//          columns the even ones, then the odd ones) and unsplit() restores column order.
// Shapes:  query row dh f32; key/value rows of kRowBytes / vRowBytes, `trail` = the byte offset of
//          a row's flag; srow n f32 scores; qw the prepared query (dh rounded up to 8, ·2); acc
//          (dv rounded up to 32) f32.
// Tiling:  four keys per step (four dot products reduced by hsum4); P·V in blocks of
//          KV_ROW_PV_BLOCK keys whose value rows stay in L1 across 32-column passes; exact-zero
//          probabilities skipped, so NaN/∞ at masked positions cannot leak.
// Error:   none beyond f32 summation: every product is exact (see attention-kv.ts).
// Reference: XNNPACK f16-f32-vcvt (the shift and rebias); IEEE 754-2019 binary16.

import { f16HighToF32x4, f16Low4, f16ToF32 } from './f16';
import { KV_ROW_PV_BLOCK } from './kv-rows';
import { hsum, hsum4, madd, maxAbs, padded4, zero4 } from './simd';

/** f16kv fast path: query rows with max|q| below this (q·2¹¹² stays finite). */
const F16_FAST_QMAX: f32 = 32768;

const C_F16_MASK: i32 = 0; // sign, exponent and mantissa of a half shifted into f32 position
const C_TWO_112: i32 = 1; //  2¹¹² as f32
const C_HIGH_HALF: i32 = 2;
const CONSTANTS: usize = memory.data<i32>([
  0x8fffe000, 0x8fffe000, 0x8fffe000, 0x8fffe000,
  0x77800000, 0x77800000, 0x77800000, 0x77800000,
  0xffff0000, 0xffff0000, 0xffff0000, 0xffff0000,
], 16);

// @ts-ignore: decorator
@inline function kc(k: i32): v128 {
  return v128.load(CONSTANTS + (<usize>k << 4));
}

/** Halves 0, 2, 4, 6 of an i16x8 as f32 of value h·2⁻¹¹² (finite halves only). */
// @ts-ignore: decorator
@inline function f16Even(h: v128, mask: v128): v128 {
  return v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), mask);
}

/** Halves 1, 3, 5, 7 of an i16x8 as f32 of value h·2⁻¹¹² (finite halves only). */
// @ts-ignore: decorator
@inline function f16Odd(h: v128, mask: v128): v128 {
  return v128.and(i32x4.shr_s(h, 3), mask);
}

/** q·k over dh values of an f16kv row, exact conversion (any value, ∞ and NaN included). */
function dotF16Exact(qRow: usize, row: usize, dh: i32): f32 {
  let acc = zero4();
  let x = 0;
  for (; x + 4 <= dh; x += 4) {
    acc = madd(v128.load(qRow + (<usize>x << 2)), f16HighToF32x4(f16Low4(v128.load64_zero(row + (<usize>x << 1)))), acc);
  }
  let s = hsum(acc);
  for (; x < dh; x++) s += load<f32>(qRow + (<usize>x << 2)) * f16ToF32(<u32>load<u16>(row + (<usize>x << 1)));
  return s;
}

/** q·k with the prepared query (qw: even/odd dimensions ·2¹¹², dh8 of them) and a finite f16kv row. */
// @ts-ignore: decorator
@inline function dotF16Fast(qw: usize, row: usize, dh8: i32): f32 {
  const m = kc(C_F16_MASK);
  let acc = zero4();
  for (let x = 0; x < dh8; x += 8) {
    const h = v128.load(row + (<usize>x << 1));
    acc = madd(v128.load(qw + (<usize>x << 2)), f16Even(h, m), acc);
    acc = madd(v128.load(qw + (<usize>x << 2), 16), f16Odd(h, m), acc);
  }
  return hsum(acc);
}

/** Scores s_j = scale·q·k_j of n f16kv key rows from k0 into srow. */
export function scoresF16(qRow: usize, dh: i32, k0: usize, kRowBytes: usize, trail: usize, n: i32, scale: f32, qw: usize, srow: usize): void {
  const dh8 = (dh + 7) & ~7;
  const fast = maxAbs(qRow, dh) < F16_FAST_QMAX;
  if (fast) {
    // Per 8 dimensions: q·2¹¹² of the even ones, then of the odd ones (the lanes f16Even/f16Odd give).
    const two112 = kc(C_TWO_112);
    for (let x = 0; x < dh8; x += 8) {
      const a = padded4(qRow, x, dh);
      const b = padded4(qRow, x + 4, dh);
      v128.store(qw + (<usize>x << 2), f32x4.mul(i32x4.shuffle(a, b, 0, 2, 4, 6), two112));
      v128.store(qw + (<usize>x << 2), f32x4.mul(i32x4.shuffle(a, b, 1, 3, 5, 7), two112), 16);
    }
  }
  const scaleV = f32x4.splat(scale);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const r0 = k0 + <usize>j * kRowBytes;
    const r1 = r0 + kRowBytes;
    const r2 = r1 + kRowBytes;
    const r3 = r2 + kRowBytes;
    const out = srow + (<usize>j << 2);
    if (!fast || (load<u32>(r0 + trail) | load<u32>(r1 + trail) | load<u32>(r2 + trail) | load<u32>(r3 + trail)) != 0) {
      for (let r = 0; r < 4; r++) {
        const row = r0 + <usize>r * kRowBytes;
        const s = fast && load<u32>(row + trail) == 0 ? dotF16Fast(qw, row, dh8) : dotF16Exact(qRow, row, dh);
        store<f32>(out + (<usize>r << 2), s * scale);
      }
      continue;
    }
    const m = kc(C_F16_MASK);
    let a0 = zero4(), a1 = a0, a2 = a0, a3 = a0;
    for (let x = 0; x < dh8; x += 8) {
      const xo = <usize>x << 1;
      const qe = v128.load(qw + (<usize>x << 2));
      const qo = v128.load(qw + (<usize>x << 2), 16);
      const h0 = v128.load(r0 + xo);
      const h1 = v128.load(r1 + xo);
      const h2 = v128.load(r2 + xo);
      const h3 = v128.load(r3 + xo);
      a0 = madd(qo, f16Odd(h0, m), madd(qe, f16Even(h0, m), a0));
      a1 = madd(qo, f16Odd(h1, m), madd(qe, f16Even(h1, m), a1));
      a2 = madd(qo, f16Odd(h2, m), madd(qe, f16Even(h2, m), a2));
      a3 = madd(qo, f16Odd(h3, m), madd(qe, f16Even(h3, m), a3));
    }
    v128.store(out, f32x4.mul(hsum4(a0, a1, a2, a3), scaleV));
  }
  for (; j < n; j++) {
    const row = k0 + <usize>j * kRowBytes;
    const s = fast && load<u32>(row + trail) == 0 ? dotF16Fast(qw, row, dh8) : dotF16Exact(qRow, row, dh);
    store<f32>(srow + (<usize>j << 2), s * scale);
  }
}

/**
 * acc (split: per 8 columns the even ones, then the odd ones) += Σ_j p_j·v_j over n f16kv value
 * rows from v0, p = srow; exact-zero p skipped. Columns past dv (to a multiple of 8) get junk.
 */
export function valuesF16(srow: usize, n: i32, v0: usize, vRowBytes: usize, trail: usize, dv: i32, acc: usize): void {
  const m = kc(C_F16_MASK);
  const two112: f32 = f32x4.extract_lane(kc(C_TWO_112), 0);
  for (let jb = 0; jb < n; jb += KV_ROW_PV_BLOCK) {
    const je = min(n, jb + KV_ROW_PV_BLOCK);
    let x = 0;
    for (; x + 32 <= dv; x += 32) {
      const dst = acc + (<usize>x << 2);
      let e0 = v128.load(dst), o0 = v128.load(dst, 16), e1 = v128.load(dst, 32), o1 = v128.load(dst, 48);
      let e2 = v128.load(dst, 64), o2 = v128.load(dst, 80), e3 = v128.load(dst, 96), o3 = v128.load(dst, 112);
      let row = v0 + <usize>jb * vRowBytes;
      for (let c = jb; c < je; c++) {
        const pj = load<f32>(srow + (<usize>c << 2));
        if (pj != 0) {
          const vr = row + (<usize>x << 1);
          const h0 = v128.load(vr), h1 = v128.load(vr, 16), h2 = v128.load(vr, 32), h3 = v128.load(vr, 48);
          if (load<u32>(row + trail) == 0) {
            const pv = f32x4.splat(pj * two112);
            e0 = madd(pv, f16Even(h0, m), e0); o0 = madd(pv, f16Odd(h0, m), o0);
            e1 = madd(pv, f16Even(h1, m), e1); o1 = madd(pv, f16Odd(h1, m), o1);
            e2 = madd(pv, f16Even(h2, m), e2); o2 = madd(pv, f16Odd(h2, m), o2);
            e3 = madd(pv, f16Even(h3, m), e3); o3 = madd(pv, f16Odd(h3, m), o3);
          } else {
            const pv = f32x4.splat(pj);
            e0 = madd(pv, exactEven(h0), e0); o0 = madd(pv, exactOdd(h0), o0);
            e1 = madd(pv, exactEven(h1), e1); o1 = madd(pv, exactOdd(h1), o1);
            e2 = madd(pv, exactEven(h2), e2); o2 = madd(pv, exactOdd(h2), o2);
            e3 = madd(pv, exactEven(h3), e3); o3 = madd(pv, exactOdd(h3), o3);
          }
        }
        row += vRowBytes;
      }
      v128.store(dst, e0); v128.store(dst, o0, 16); v128.store(dst, e1, 32); v128.store(dst, o1, 48);
      v128.store(dst, e2, 64); v128.store(dst, o2, 80); v128.store(dst, e3, 96); v128.store(dst, o3, 112);
    }
    for (; x < dv; x += 8) {
      const dst = acc + (<usize>x << 2);
      let e = v128.load(dst), od = v128.load(dst, 16);
      let row = v0 + <usize>jb * vRowBytes;
      for (let c = jb; c < je; c++) {
        const pj = load<f32>(srow + (<usize>c << 2));
        if (pj != 0) {
          const h = v128.load(row + (<usize>x << 1));
          if (load<u32>(row + trail) == 0) {
            const pv = f32x4.splat(pj * two112);
            e = madd(pv, f16Even(h, m), e);
            od = madd(pv, f16Odd(h, m), od);
          } else {
            const pv = f32x4.splat(pj);
            e = madd(pv, exactEven(h), e);
            od = madd(pv, exactOdd(h), od);
          }
        }
        row += vRowBytes;
      }
      v128.store(dst, e);
      v128.store(dst, od, 16);
    }
  }
}

/** Halves 0, 2, 4, 6 as exact f32 (∞ and NaN kept). */
// @ts-ignore: decorator
@inline function exactEven(h: v128): v128 {
  return f16HighToF32x4(i32x4.shl(h, 16));
}

/** Halves 1, 3, 5, 7 as exact f32. */
// @ts-ignore: decorator
@inline function exactOdd(h: v128): v128 {
  return f16HighToF32x4(v128.and(h, kc(C_HIGH_HALF)));
}

/** acc's split layout (per 8 columns: even, odd) back to column order, in place. */
export function unsplit(acc: usize, dv: i32): void {
  for (let x = 0; x < dv; x += 8) {
    const p = acc + (<usize>x << 2);
    const e = v128.load(p);
    const od = v128.load(p, 16);
    v128.store(p, i32x4.shuffle(e, od, 0, 4, 1, 5));
    v128.store(p, i32x4.shuffle(e, od, 2, 6, 3, 7), 16);
  }
}
