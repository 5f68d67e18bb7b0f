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

import { AttnParams, align16, attnParams, rowHi, rowLo } from './attention-params';
import { attnTiles } from './attention';
import { expScoreRow, finishScoreRow, writeOutputRow } from './attention-tile';
import { scoresF16, unsplit, valuesF16 } from './attention-kv-f16';
import { dot, scoresQ8, valuesQ8 } from './attention-kv-q8';
import { kvPayloadBytes, packKeyPanelsKv, packValueRowsKv } from './kv-rows';

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
  const p = attnParams(params);
  const nq = p.nq;
  if (nq <= 0) return;
  if (nq < 4) {
    kvRows<T>(p);
    return;
  }
  const nk = p.nk;
  const dh = p.dh;
  const dv = p.dv;
  const ws = p.workspace;
  const vp = ws + align16(<usize>((nk + 7) >> 3) * <usize>dh * 32); // attnTiles' layout
  const mean = sizeof<T>() == 1 ? p.kvMean : 0;
  packKeyPanelsKv<T>(p.k, p.kStride << 2, nk, dh, ws, mean);
  attnTiles(p, packValueRowsKv<T>(p.v, p.vStride << 2, nk, dv, (dv + 7) & ~7, vp));
}

/** The row path over cache rows of format T (u16: f16kv, i8: q8kv); see the header. */
function kvRows<T>(p: AttnParams): void {
  // Fields into locals once, in field order (see attention-params.ts).
  const q = p.q;
  const qStride = p.qStride;
  const k = p.k;
  const kRowBytes = <usize>p.kStride << 2;
  const v = p.v;
  const vRowBytes = <usize>p.vStride << 2;
  const o = p.o;
  const oStride = p.oStride;
  const nq = p.nq;
  const nk = p.nk;
  const dh = p.dh;
  const dv = p.dv;
  const scale = p.scale;
  const softcap = p.softcap;
  const mask = p.mask;
  const maskStride = p.maskStride;
  const offset = p.offset;
  const left = p.left;
  const right = p.right;
  const keyLen = min(p.keyLen, nk);
  const ws = p.workspace;
  const rel = p.rel;
  const relStride = p.relStride;
  const relMax = p.relMax;
  const lse = p.lse;
  const mean = sizeof<T>() == 1 ? p.kvMean : 0;
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
