// attention-kv.ts — fused attention over a KV cache stored in low precision (kv-rows.ts's f16kv
// and q8kv rows), read in place: f16kv_attn_online and q8kv_attn_online, for one (batch, head).
//
// What:    O = softmax(cap(scale·Q·Kᵀ) + M) · V as f32_attn_online (attention.ts), with K and V
//          rows of a cache in f16kv or q8kv format (every option — masks, ranges, softcap,
//          relative bias, log-sum-exp — means the same). K and V are never converted as a whole:
//            decode (nq < 4, the row path): each key row is converted inside the dot product and
//            each value row inside P·V.
//              f16kv: a half in the high 16 bits of an i32 lane, shifted right by 3 and masked, is
//              the f32 whose value is h·2⁻¹¹²; the query row is scaled by 2¹¹² once (and split into
//              even and odd dimensions, the two halves of each i32 lane), so a product costs a
//              shift and a mask instead of f16.ts's full conversion, and it equals q·k exactly
//              (powers of two). Rows flagged ±∞/NaN, and query rows with |q| ≥ 2¹⁵ (q·2¹¹²
//              would overflow), take the exact conversion. P·V: p·2¹¹² the same way.
//              q8kv: the query row is quantized to 16 bits, qc = nearest(q / sq), sq =
//              fround(max|q| / 32767); Q·Kᵀ is an exact integer dot product (i32x4.dot_i16x8_s
//              over key codes widened to i16, in chunks of 256 dimensions) and
//              s_j = fround(fround(f32(Σ qc·kc) · fround(scale·sq)) · sk_j) + c, where
//              c = scale·(q·μ) adds back the keys' mean μ (below; 0 without one); P·V folds each
//              value row's scale into its probability: o += (p_j · sv_j) · f32(vc_j).
//            prefill (nq ≥ 4, the tile path): K is converted while it is packed into the 8-key
//            panels and V while it is packed into padded rows (kv-rows.ts packKeyPanelsKv /
//            packValueRowsKv: exact values, f16 → f32 or fround(c·s)); then attention.ts's own
//            tile loop (attnTiles) runs on them.
//          q8kv keys: one scale per token, after subtracting a per-channel mean μ of the head (the
//          mean of the keys of the cache's first append, kept until reset; ATTN_KV_MEAN points at
//          it, 0 = none): channels with a large common offset (outlier channels) would otherwise set
//          every key's scale and leave few codes for what varies between keys — softmax does not
//          see a per-channel offset, the quantizer does (SageAttention smooths K the same way).
//          Measured on Gaussian data, 512 keys, dh = 64, V per token in all (relative RMS error of
//          the output against float64, four draws): no outliers, per token 0.58–1.01%, per
//          channel in groups of 32 tokens (KIVI) 0.55–0.86%, per token after μ 0.54–0.96%; four
//          channels offset by +20σ: 0.85–1.50% / 0.66–0.73% / 0.57–0.58%; by +50σ: 1.80–4.60% /
//          0.83–1.28% / 0.58–0.60%. Per token alone breaks the 3% contract with offset channels;
//          per channel needs a complete group of tokens before it can quantize one (a streaming
//          cache would keep an f32 residual and requantize groups in the ring buffer); per token
//          after μ is the most accurate here and keeps every row self-contained (ring buffer, beam
//          reorder, one scale load per key).
// Shapes:  the parameter block of f32_attn_online (ATTN_*), with ATTN_K / ATTN_V pointing at cache
//          rows and ATTN_K_STRIDE / ATTN_V_STRIDE the row strides in 4-byte words (kvRowBytes / 4),
//          plus ATTN_KV_MEAN (the block's last word, unused by f32_attn_online): the keys' μ (dh
//          f32) of a q8kv cache, 0 = none;
//          workspace f32_attn_workspace_bytes(nk, dh, dv) bytes (the row path uses less:
//          nk + 4 scores, the prepared query row, a (dv rounded up to 32) accumulator row).
// Tiling:  row path: four keys per step (four dot products reduced by a transpose-add), P·V in
//          blocks of 64 keys whose value rows stay in L1 across 32-column passes, exact-zero
//          probabilities skipped (so NaN/∞ at masked positions cannot leak); tile path: as
//          f32_attn_online.
// Error:   the cache's own rounding (kv-rows.ts) plus, against exact arithmetic on the stored
//          values: f16kv the f32 kernel's bound (products are exact, sums in f32); q8kv decode adds
//          the query's 16-bit rounding, |Δs_j| ≤ scale·(sq/2)·Σ|kc·sk_j| (≈ 2⁻¹⁶ of max|q| per
//          dimension), and f32 rounding of the integer sum (exact below 2²⁴). Tested against
//          float64 attention over the same stored values (test/layers/kv-dtype.test.ts).
// Reference: as attention.ts (FlashAttention's online softmax); XNNPACK f16-f32-vcvt (the shift
//          and rebias); KIVI (Z. Liu et al., ICML 2024) for per-token / per-channel scales.

import {
  ATTN_DH, ATTN_DV, ATTN_K, ATTN_KEY_LEN, ATTN_K_STRIDE, ATTN_LEFT, ATTN_LSE, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_NK, ATTN_NQ, ATTN_O, ATTN_OFFSET, ATTN_O_STRIDE, ATTN_Q, ATTN_Q_STRIDE, ATTN_REL, ATTN_REL_MAX,
  ATTN_PARAMS_BYTES, ATTN_REL_STRIDE, ATTN_RIGHT, ATTN_SCALE, ATTN_SOFTCAP, ATTN_V, ATTN_V_STRIDE, ATTN_WORKSPACE, align16,
  attnTiles, expScoreRow, finishScoreRow, rowHi, rowLo, writeOutputRow,
} from './attention';
import { f16HighToF32x4, f16Low4, f16ToF32 } from './f16';
import { kvPayloadBytes, packKeyPanelsKv, packValueRowsKv } from './kv-rows';
import { hsum, madd, zero4 } from './simd';

/** Parameter-block offset of the q8kv keys' mean μ (dh f32, 0 = none): the ATTN block's spare last word. */
export const ATTN_KV_MEAN: i32 = ATTN_PARAMS_BYTES - 4;

/** Keys per block of the row path's P·V (their value rows stay in L1 across column passes). */
const ROW_PV_BLOCK: i32 = 64;
/** Dimensions per exact i32 partial sum of the q8kv dot product (|Σ| ≤ 256·32767·127 < 2³¹). */
const Q8_DOT_CHUNK: i32 = 256;
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

/** Sum of lanes of a, b, c, d as one vector (a transpose-and-add). */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 1, 4, 5), i32x4.shuffle(a, b, 2, 3, 6, 7));
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 1, 4, 5), i32x4.shuffle(c, d, 2, 3, 6, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 2, 4, 6), i32x4.shuffle(ab, cd, 1, 3, 5, 7));
}

/** The same in i32 lanes. */
// @ts-ignore: decorator
@inline function hsum4i(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 1, 4, 5), i32x4.shuffle(a, b, 2, 3, 6, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 1, 4, 5), i32x4.shuffle(c, d, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 2, 4, 6), i32x4.shuffle(ab, cd, 1, 3, 5, 7));
}

/** q[x .. x+3] with zeros at and past dh. */
// @ts-ignore: decorator
@inline function padded4(q: usize, x: i32, dh: i32): v128 {
  if (x + 4 <= dh) return v128.load(q + (<usize>x << 2));
  let out = zero4();
  if (x < dh) out = f32x4.replace_lane(out, 0, load<f32>(q + (<usize>x << 2)));
  if (x + 1 < dh) out = f32x4.replace_lane(out, 1, load<f32>(q + (<usize>x << 2), 4));
  if (x + 2 < dh) out = f32x4.replace_lane(out, 2, load<f32>(q + (<usize>x << 2), 8));
  return out;
}

/** max|q[x]| over x < dh; NaN when one is NaN. */
function maxAbs(q: usize, dh: i32): f32 {
  let mv = zero4();
  let m: f32 = 0;
  const dh4 = dh & ~3;
  let x = 0;
  for (; x < dh4; x += 4) mv = f32x4.max(mv, f32x4.abs(v128.load(q + (<usize>x << 2))));
  for (; x < dh; x++) {
    const a = Mathf.abs(load<f32>(q + (<usize>x << 2)));
    m = a != a || a > m ? a : m;
  }
  const l0 = f32x4.extract_lane(mv, 0), l1 = f32x4.extract_lane(mv, 1);
  const l2 = f32x4.extract_lane(mv, 2), l3 = f32x4.extract_lane(mv, 3);
  return l0 != l0 || l1 != l1 || l2 != l2 || l3 != l3 || m != m ? <f32>NaN : max(max(max(l0, l1), max(l2, l3)), m);
}

/**
 * Fused attention over an f16kv cache for one (batch, head); see the header.
 * params: usize // ATTN_PARAMS_BYTES bytes
 */
export function f16kv_attn_online(params: usize): void {
  kvAttention<u16>(params);
}

/**
 * Fused attention over a q8kv cache for one (batch, head); see the header.
 * params: usize // ATTN_PARAMS_BYTES bytes
 */
export function q8kv_attn_online(params: usize): void {
  kvAttention<i8>(params);
}

// @ts-ignore: decorator
@inline function kvAttention<T>(params: usize): void {
  const nq = load<i32>(params, ATTN_NQ);
  if (nq <= 0) return;
  if (nq < 4) {
    kvRows<T>(params);
    return;
  }
  const nk = load<i32>(params, ATTN_NK);
  const dh = load<i32>(params, ATTN_DH);
  const dv = load<i32>(params, ATTN_DV);
  const ws = load<u32>(params, ATTN_WORKSPACE) as usize;
  const vp = ws + align16(<usize>((nk + 7) >> 3) * <usize>dh * 32); // attnTiles' layout
  const mean = sizeof<T>() == 1 ? load<u32>(params, ATTN_KV_MEAN) as usize : 0;
  packKeyPanelsKv<T>(load<u32>(params, ATTN_K) as usize, load<i32>(params, ATTN_K_STRIDE) << 2, nk, dh, ws, mean);
  attnTiles(params, packValueRowsKv<T>(load<u32>(params, ATTN_V) as usize, load<i32>(params, ATTN_V_STRIDE) << 2, nk, dv, (dv + 7) & ~7, vp));
}

/** The row path over cache rows of format T (u16: f16kv, i8: q8kv); see the header. */
function kvRows<T>(params: usize): void {
  const q = load<u32>(params, ATTN_Q) as usize;
  const qStride = load<i32>(params, ATTN_Q_STRIDE);
  const k = load<u32>(params, ATTN_K) as usize;
  const kRowBytes = <usize>load<i32>(params, ATTN_K_STRIDE) << 2;
  const v = load<u32>(params, ATTN_V) as usize;
  const vRowBytes = <usize>load<i32>(params, ATTN_V_STRIDE) << 2;
  const o = load<u32>(params, ATTN_O) as usize;
  const oStride = load<i32>(params, ATTN_O_STRIDE);
  const nq = load<i32>(params, ATTN_NQ);
  const nk = load<i32>(params, ATTN_NK);
  const dh = load<i32>(params, ATTN_DH);
  const dv = load<i32>(params, ATTN_DV);
  const scale = load<f32>(params, ATTN_SCALE);
  const softcap = load<f32>(params, ATTN_SOFTCAP);
  const mask = load<u32>(params, ATTN_MASK) as usize;
  const maskStride = load<i32>(params, ATTN_MASK_STRIDE);
  const offset = load<i32>(params, ATTN_OFFSET);
  const left = load<i32>(params, ATTN_LEFT);
  const right = load<i32>(params, ATTN_RIGHT);
  const keyLen = min(load<i32>(params, ATTN_KEY_LEN), nk);
  const ws = load<u32>(params, ATTN_WORKSPACE) as usize;
  const rel = load<u32>(params, ATTN_REL) as usize;
  const relStride = load<i32>(params, ATTN_REL_STRIDE);
  const relMax = load<i32>(params, ATTN_REL_MAX);
  const lse = load<u32>(params, ATTN_LSE) as usize;
  const mean = sizeof<T>() == 1 ? load<u32>(params, ATTN_KV_MEAN) as usize : 0;
  const srow = ws; //                                         (nk + 4) scores
  const qw = srow + align16((<usize>nk + 4) << 2); //         the query row prepared for the key format
  const acc = qw + align16((<usize>dh + 16) << 2); //         ((dv + 31) & ~31) output accumulators
  const kTrail = kvPayloadBytes<T>(dh);
  const vTrail = kvPayloadBytes<T>(dv);

  for (let i = 0; i < nq; i++) {
    const qRow = q + ((<usize>i * <usize>qStride) << 2);
    const oRow = o + ((<usize>i * <usize>oStride) << 2);
    const lo = rowLo(i, offset, left);
    const hi = rowHi(i, offset, right, keyLen);
    if (hi <= lo) {
      memory.fill(oRow, 0, <usize>dv << 2);
      if (lse) store<f32>(lse + (<usize>i << 2), -Infinity);
      continue;
    }
    const n = hi - lo;
    const k0 = k + <usize>lo * kRowBytes;
    if (sizeof<T>() == 2) scoresF16(qRow, dh, k0, kRowBytes, kTrail, n, scale, qw, srow);
    else scoresQ8(qRow, dh, k0, kRowBytes, kTrail, n, scale, mean ? dot(qRow, mean, dh) * scale : 0, qw, srow);
    const rowMax = finishScoreRow(
      srow, n, lo, lo, hi, false, softcap,
      rel ? rel + ((<usize>i * <usize>relStride) << 2) : 0, relMax, i + offset,
      mask ? mask + ((<usize>i * <usize>maskStride) << 2) : 0,
    );
    if (rowMax == -Infinity) {
      memory.fill(oRow, 0, <usize>dv << 2);
      if (lse) store<f32>(lse + (<usize>i << 2), -Infinity);
      continue;
    }
    const sum = expScoreRow(srow, n, rowMax);
    if (lse) store<f32>(lse + (<usize>i << 2), rowMax + Mathf.log(sum));
    memory.fill(acc, 0, <usize>((dv + 31) & ~31) << 2);
    const v0 = v + <usize>lo * vRowBytes;
    if (sizeof<T>() == 2) {
      valuesF16(srow, n, v0, vRowBytes, vTrail, dv, acc);
      unsplit(acc, dv);
    } else {
      valuesQ8(srow, n, v0, vRowBytes, vTrail, dv, acc);
    }
    writeOutputRow(acc, oRow, dv, <f32>1 / sum);
  }
}

// ── f16kv ──

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
function scoresF16(qRow: usize, dh: i32, k0: usize, kRowBytes: usize, trail: usize, n: i32, scale: f32, qw: usize, srow: usize): void {
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
function valuesF16(srow: usize, n: i32, v0: usize, vRowBytes: usize, trail: usize, dv: i32, acc: usize): void {
  const m = kc(C_F16_MASK);
  const two112: f32 = f32x4.extract_lane(kc(C_TWO_112), 0);
  for (let jb = 0; jb < n; jb += ROW_PV_BLOCK) {
    const je = min(n, jb + ROW_PV_BLOCK);
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
function unsplit(acc: usize, dv: i32): void {
  for (let x = 0; x < dv; x += 8) {
    const p = acc + (<usize>x << 2);
    const e = v128.load(p);
    const od = v128.load(p, 16);
    v128.store(p, i32x4.shuffle(e, od, 0, 4, 1, 5));
    v128.store(p, i32x4.shuffle(e, od, 2, 6, 3, 7), 16);
  }
}

// ── q8kv ──

/** q·m over dh floats. */
function dot(q: usize, m: usize, dh: i32): f32 {
  let acc = zero4();
  let x = 0;
  for (; x + 4 <= dh; x += 4) acc = madd(v128.load(q + (<usize>x << 2)), v128.load(m + (<usize>x << 2)), acc);
  let s = hsum(acc);
  for (; x < dh; x++) s += load<f32>(q + (<usize>x << 2)) * load<f32>(m + (<usize>x << 2));
  return s;
}

/** Scores of n q8kv key rows from k0 into srow (see the header: 16-bit query codes, integer dots, + c). */
function scoresQ8(qRow: usize, dh: i32, k0: usize, kRowBytes: usize, trail: usize, n: i32, scale: f32, c: f32, qw: usize, srow: usize): void {
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
function valuesQ8(srow: usize, n: i32, v0: usize, vRowBytes: usize, trail: usize, dv: i32, acc: usize): void {
  for (let jb = 0; jb < n; jb += ROW_PV_BLOCK) {
    const je = min(n, jb + ROW_PV_BLOCK);
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
