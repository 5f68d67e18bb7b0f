// attention-kv-q8.ts — the decode row path of attention-kv.ts over q8kv cache rows (kv-rows.ts):
// the scores of one query row against n key rows, and P·V over n value rows, read in place.
//
// What:    scoresQ8: the query row is quantized to 16 bits, qc = nearest(q / sq),
//          sq = fround(max|q| / 32767); q·k is an exact integer dot product (i32x4.dot_i16x8_s over
//          key codes widened to i16, in chunks of Q8_DOT_CHUNK dimensions) and
//          s_j = fround(fround(f32(Σ qc·kc) · fround(scale·sq)) · sk_j) + c, where c = scale·(q·μ)
//          adds back the keys' mean μ (dot(); 0 without one). valuesQ8 folds each value row's
//          scale into its probability: acc += (p_j · sv_j) · f32(vc_j).
// Shapes:  query row dh f32; key/value rows of kRowBytes / vRowBytes, `trail` = the byte offset of
//          a row's scale; srow n f32 scores; qw the query codes (dh rounded up to 16, i16); acc
//          (dv rounded up to 32) f32.
// Tiling:  four keys per step (four integer dot products reduced by hsum4i); P·V in blocks of
//          KV_ROW_PV_BLOCK keys whose value rows stay in L1 across 32-column passes; exact-zero
//          probabilities skipped (a row's NaN scale cannot leak).
// Error:   the query's 16-bit rounding, |Δs_j| ≤ scale·(sq/2)·Σ|kc·sk_j| (about 2⁻¹⁶ of max|q|
//          per dimension), and the f32 rounding of the integer sum (exact below 2²⁴).
// Reference: KIVI (Z. Liu et al., ICML 2024) for per-token scales; SageAttention (Zhang et al.,
//          ICLR 2025) for the smoothing mean.

import { KV_ROW_PV_BLOCK } from './kv-rows';
import { hsum, hsum4i, madd, maxAbs, padded4, zero4 } from './simd';

/** Dimensions per exact i32 partial sum of the q8kv dot product (|Σ| ≤ 256·32767·127 < 2³¹). */
const Q8_DOT_CHUNK: i32 = 256;

/** q·m over dh floats. */
export function dot(q: usize, m: usize, dh: i32): f32 {
  let acc = zero4();
  let x = 0;
  for (; x + 4 <= dh; x += 4) acc = madd(v128.load(q + (<usize>x << 2)), v128.load(m + (<usize>x << 2)), acc);
  let s = hsum(acc);
  for (; x < dh; x++) s += load<f32>(q + (<usize>x << 2)) * load<f32>(m + (<usize>x << 2));
  return s;
}

/** Scores of n q8kv key rows from k0 into srow (see the header: 16-bit query codes, integer dots, + c). */
export function scoresQ8(qRow: usize, dh: i32, k0: usize, kRowBytes: usize, trail: usize, n: i32, scale: f32, c: f32, qw: usize, srow: usize): void {
  const dh16 = (dh + 15) & ~15;
  const amax = maxAbs(qRow, dh);
  const sq: f32 = amax < Infinity ? amax / <f32>32767 : <f32>NaN;
  if (sq > 0) {
    const sv = f32x4.splat(sq);
    for (let x = 0; x < dh16; x += 8) {
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(padded4(qRow, x, dh), sv)));
      const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(padded4(qRow, x + 4, dh), sv)));
      v128.store(qw + (<usize>x << 1), i16x8.narrow_i32x4_s(a, b));
    }
  } else {
    memory.fill(qw, 0, <usize>dh16 << 1);
  }
  const tV = f32x4.splat(scale * sq);
  const cV = f32x4.splat(c);
  let j = 0;
  for (; j < n; j += 4) {
    // A last group of fewer than 4 keys repeats its last row (scores past n are not kept).
    const r0 = k0 + <usize>j * kRowBytes;
    const r1 = j + 1 < n ? r0 + kRowBytes : r0;
    const r2 = j + 2 < n ? r1 + kRowBytes : r1;
    const r3 = j + 3 < n ? r2 + kRowBytes : r2;
    let f = zero4();
    for (let x0 = 0; x0 < dh16; x0 += Q8_DOT_CHUNK) {
      const x1 = min(dh16, x0 + Q8_DOT_CHUNK);
      let c0 = i32x4.splat(0), c1 = c0, c2 = c0, c3 = c0;
      for (let x = x0; x < x1; x += 16) {
        const ql = v128.load(qw + (<usize>x << 1));
        const qh = v128.load(qw + (<usize>x << 1), 16);
        const b0 = v128.load(r0 + <usize>x);
        const b1 = v128.load(r1 + <usize>x);
        const b2 = v128.load(r2 + <usize>x);
        const b3 = v128.load(r3 + <usize>x);
        c0 = i32x4.add(c0, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(b0), ql), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(b0), qh)));
        c1 = i32x4.add(c1, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(b1), ql), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(b1), qh)));
        c2 = i32x4.add(c2, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(b2), ql), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(b2), qh)));
        c3 = i32x4.add(c3, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(b3), ql), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(b3), qh)));
      }
      f = f32x4.add(f, f32x4.convert_i32x4_s(hsum4i(c0, c1, c2, c3)));
    }
    let sk = f32x4.splat(load<f32>(r0 + trail));
    sk = f32x4.replace_lane(sk, 1, load<f32>(r1 + trail));
    sk = f32x4.replace_lane(sk, 2, load<f32>(r2 + trail));
    sk = f32x4.replace_lane(sk, 3, load<f32>(r3 + trail));
    v128.store(srow + (<usize>j << 2), f32x4.add(f32x4.mul(f32x4.mul(f, tV), sk), cV));
  }
}

/** Four q8kv codes' worth of lanes: f32 of the i16 lanes 0–3 / 4–7 of w. */
// @ts-ignore: decorator
@inline function lo4(w: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(w));
}
// @ts-ignore: decorator
@inline function hi4(w: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(w));
}

/**
 * acc += Σ_j (p_j·sv_j)·f32(vc_j) over n q8kv value rows from v0, p = srow; exact-zero p skipped
 * (so a row's NaN scale cannot leak). Columns past dv (to a multiple of 16) get junk.
 */
export function valuesQ8(srow: usize, n: i32, v0: usize, vRowBytes: usize, trail: usize, dv: i32, acc: usize): void {
  for (let jb = 0; jb < n; jb += KV_ROW_PV_BLOCK) {
    const je = min(n, jb + KV_ROW_PV_BLOCK);
    let x = 0;
    for (; x + 32 <= dv; x += 32) {
      const dst = acc + (<usize>x << 2);
      let c0 = v128.load(dst), c1 = v128.load(dst, 16), c2 = v128.load(dst, 32), c3 = v128.load(dst, 48);
      let c4 = v128.load(dst, 64), c5 = v128.load(dst, 80), c6 = v128.load(dst, 96), c7 = v128.load(dst, 112);
      let row = v0 + <usize>jb * vRowBytes;
      for (let c = jb; c < je; c++) {
        const pj = load<f32>(srow + (<usize>c << 2));
        if (pj != 0) {
          const pv = f32x4.splat(pj * load<f32>(row + trail));
          const b0 = v128.load(row + <usize>x);
          const b1 = v128.load(row + <usize>x, 16);
          let w = i16x8.extend_low_i8x16_s(b0);
          c0 = madd(pv, lo4(w), c0);
          c1 = madd(pv, hi4(w), c1);
          w = i16x8.extend_high_i8x16_s(b0);
          c2 = madd(pv, lo4(w), c2);
          c3 = madd(pv, hi4(w), c3);
          w = i16x8.extend_low_i8x16_s(b1);
          c4 = madd(pv, lo4(w), c4);
          c5 = madd(pv, hi4(w), c5);
          w = i16x8.extend_high_i8x16_s(b1);
          c6 = madd(pv, lo4(w), c6);
          c7 = madd(pv, hi4(w), c7);
        }
        row += vRowBytes;
      }
      v128.store(dst, c0); v128.store(dst, c1, 16); v128.store(dst, c2, 32); v128.store(dst, c3, 48);
      v128.store(dst, c4, 64); v128.store(dst, c5, 80); v128.store(dst, c6, 96); v128.store(dst, c7, 112);
    }
    for (; x < dv; x += 16) {
      const dst = acc + (<usize>x << 2);
      let c0 = v128.load(dst), c1 = v128.load(dst, 16), c2 = v128.load(dst, 32), c3 = v128.load(dst, 48);
      let row = v0 + <usize>jb * vRowBytes;
      for (let c = jb; c < je; c++) {
        const pj = load<f32>(srow + (<usize>c << 2));
        if (pj != 0) {
          const pv = f32x4.splat(pj * load<f32>(row + trail));
          const b = v128.load(row + <usize>x);
          let w = i16x8.extend_low_i8x16_s(b);
          c0 = madd(pv, lo4(w), c0);
          c1 = madd(pv, hi4(w), c1);
          w = i16x8.extend_high_i8x16_s(b);
          c2 = madd(pv, lo4(w), c2);
          c3 = madd(pv, hi4(w), c3);
        }
        row += vRowBytes;
      }
      v128.store(dst, c0); v128.store(dst, c1, 16); v128.store(dst, c2, 32); v128.store(dst, c3, 48);
    }
  }
}
