// attention-tester.ts — AttentionTester: one call of a fused attention kernel for one head on
// guarded, strided buffers against a float64 reference the spec supplies, in the spirit of
// XNNPACK's micro-kernel testers:
//   new AttentionTester().nq(5).nk(65).dh(3).dv(10).causal().test(tally, rng, ref)
//   new AttentionTester().kernel(QS8).nq(5).nk(65).dh(17).dv(6).outlierChannels(8).test(tally, rng, ref)
//   new AttentionTester().kernel(Q8KV).nq(1).nk(130).dh(64).dv(64).kvMean(true).test(tally, rng, ref)
// Kernels: F32 f32_attn_online (the default), QS8 qs8_attn_online (SageAttention), F16KV
// f16kv_attn_online and Q8KV q8kv_attn_online (K and V converted into cache rows by the kv-rows.ts
// converters, rows padded by 0–8 bytes of sentinel NaN, which the kernels' over-reads meet; the
// block's lse output set and its guards checked; Q8KV keys optionally around a per-channel mean).
// Options: causal (right = 0, offset = nk − nq), window(left, right), keyLen, paddingKeys(x) (keys
// j ≥ keyLen hold x: they must take no part in anything), outlierChannels(x) (x added to every
// fifth key channel), an additive mask (values in [−2, 2), ~1/4 of them −∞, row ⌊nq/2⌋ entirely
// −∞), poisonMaskedKey() (F16KV: the last key and value row, masked everywhere or padding, hold
// ∞ / NaN that must not leak), softcap. Strides: q, k, v, o and mask rows padded by 1–5 elements
// (cycling with the case count); padding and 64-byte guards hold a NaN sentinel. Checks: every
// element of a row that sees a key within the tolerance (|o − o₆₄| ≤ atol + rtol·Σⱼ pⱼ·|vⱼ|),
// rows that see none exactly 0; o's padding and guards never written; q, k, v, mask (and the
// mean) bit-identical afterwards; the workspace (the kernel's *_workspace_bytes) not overrun; the
// parameter block's (and lse's) guards intact. The logical o starts as NaN garbage (overwritten,
// never read).

import {
  ATTN_Q, ATTN_Q_STRIDE, ATTN_K, ATTN_K_STRIDE, ATTN_V, ATTN_V_STRIDE, ATTN_O, ATTN_O_STRIDE,
  ATTN_NQ, ATTN_NK, ATTN_DH, ATTN_DV, ATTN_SCALE, ATTN_SOFTCAP, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_OFFSET, ATTN_LEFT, ATTN_RIGHT, ATTN_KEY_LEN, ATTN_WORKSPACE, ATTN_PARAMS_BYTES, ATTN_LSE, ATTN_KV_MEAN,
} from '../attention-params';
import { f32_attn_online, f32_attn_workspace_bytes } from '../attention';
import { f16kv_attn_online, q8kv_attn_online } from '../attention-kv';
import {
  f32_f16kv_convert, f32_q8kv_convert, kvPayloadBytes, KV_CONVERT_SRC, KV_CONVERT_SRC_STRIDE, KV_CONVERT_DST,
  KV_CONVERT_DST_STRIDE, KV_CONVERT_ROWS, KV_CONVERT_D, KV_CONVERT_MEAN, KV_CONVERT_PARAMS_BYTES,
} from '../kv-rows';
import { qs8_attn_online, qs8_attn_workspace_bytes } from '../sage';
import { Guarded, Rng, GARBAGE, at, fillMatrix, fillMatrixBits, fillWords, matrix, paddingDamage, paramBlock, SENTINEL, workspace } from './helpers';
import { Tally } from './tester';

/** The kernel an AttentionTester drives. */
export const F32 = 0;
export const QS8 = 1;
export const F16KV = 2;
export const Q8KV = 3;

/** Bytes of one cache row of d values (payload + the f16 flag word or the q8 scale). */
export function kvRowBytes(kernel: i32, d: i32): i32 {
  return <i32>(kernel == F16KV ? kvPayloadBytes<u16>(d) : kvPayloadBytes<i8>(d)) + 4;
}

/**
 * Runs the KV row converter `kernel` (assembly/kv-rows.ts) through a guarded KvConvertParams
 * block: src (rows, d) with row stride srcStride, dst with row stride dstStride (the f32 side's in
 * elements, the cache side's in bytes), mean (q8kv; 0 = none). Returns false when the kernel wrote
 * the block or its guards.
 */
export function kvConvert(
  kernel: (params: usize) => void, src: usize, srcStride: i32, rows: i32, d: i32, dst: usize, dstStride: i32, mean: usize,
): bool {
  const pp = paramBlock(KV_CONVERT_PARAMS_BYTES);
  store<u32>(pp.ptr + KV_CONVERT_SRC, <u32>src);
  store<i32>(pp.ptr + KV_CONVERT_SRC_STRIDE, srcStride);
  store<u32>(pp.ptr + KV_CONVERT_DST, <u32>dst);
  store<i32>(pp.ptr + KV_CONVERT_DST_STRIDE, dstStride);
  store<i32>(pp.ptr + KV_CONVERT_ROWS, rows);
  store<i32>(pp.ptr + KV_CONVERT_D, d);
  store<u32>(pp.ptr + KV_CONVERT_MEAN, <u32>mean);
  const h = pp.hash();
  kernel(pp.ptr);
  const ok = pp.hash() == h && pp.guardDamage() == 0;
  pp.free();
  return ok;
}

/** f32 rows (stride ld elements) → cache rows (stride rb bytes) of the kernel's format (mean: q8kv's, 0 = none). */
function toRows(kernel: i32, src: usize, ld: i32, rows: i32, d: i32, dst: usize, rb: i32, mean: usize): bool {
  return kvConvert(kernel == F16KV ? f32_f16kv_convert : f32_q8kv_convert, src, ld, rows, d, dst, rb, mean);
}

/**
 * The float64 attention the tester describes, from its f32 inputs (row strides t.qStride …):
 * ref[i·dv + x], the magnitude mag[i·dv + x] = Σⱼ pⱼ·|v[j][x]| its error scales with, and
 * empty[i] for rows that see no key. m is 0 without a mask. For F16KV / Q8KV, k and v are the
 * cache rows (t.kRowBytes, t.vRowBytes bytes apart) and t.meanPtr the keys' mean (0 = none).
 */
export type AttentionReference = (
  t: AttentionTester, q: usize, k: usize, v: usize, m: usize,
  ref: StaticArray<f64>, mag: StaticArray<f64>, empty: StaticArray<bool>,
) => void;

/** Cases run by all testers so far: cycles the row paddings. */
let serial = 0;

export class AttentionTester {
  kernel_: i32 = F32;
  nq_: i32 = 1;
  nk_: i32 = 1;
  dh_: i32 = 1;
  dv_: i32 = 1;
  offset: i32 = 0;
  left: i32 = -1;
  right: i32 = -1;
  keyLen_: i32 = -1; // −1: nk
  mask_: bool = false;
  softcap_: f32 = 0;
  atol: f64 = 1e-7;
  rtol: f64 = 2e-6;
  qStride: i32 = 0;
  kStride: i32 = 0;
  vStride: i32 = 0;
  oStride: i32 = 0;
  mStride: i32 = 0;
  outliers: f32 = 0;
  paddingKeys_: bool = false;
  paddingValue: f32 = 0;
  poison_: bool = false;
  kvMean_: bool = false;
  /** F16KV / Q8KV: bytes between cache rows, and the mean's address (0 = none), set by test(). */
  kRowBytes: i32 = 0;
  vRowBytes: i32 = 0;
  meanPtr: usize = 0;

  /** F32 (default), QS8, F16KV or Q8KV. */
  kernel(x: i32): AttentionTester { this.kernel_ = x; return this; }
  nq(x: i32): AttentionTester { this.nq_ = x; return this; }
  nk(x: i32): AttentionTester { this.nk_ = x; return this; }
  dh(x: i32): AttentionTester { this.dh_ = x; return this; }
  dv(x: i32): AttentionTester { this.dv_ = x; return this; }
  /** right = 0 and offset = nk − nq (the last query row sees every key). */
  causal(): AttentionTester { this.right = 0; this.offset = this.nk_ - this.nq_; return this; }
  window(left: i32, right: i32): AttentionTester { this.left = left; this.right = right; return this; }
  keyLen(x: i32): AttentionTester { this.keyLen_ = x; return this; }
  mask(x: bool): AttentionTester { this.mask_ = x; return this; }
  softcap(x: f32): AttentionTester { this.softcap_ = x; return this; }
  /** x added to every fifth key channel (an offset SageAttention's smoothing removes). */
  outlierChannels(x: f32): AttentionTester { this.outliers = x; return this; }
  /** Keys j ≥ keyLen hold x in every channel. */
  paddingKeys(x: f32): AttentionTester { this.paddingKeys_ = true; this.paddingValue = x; return this; }
  /** F16KV: the last key and value rows hold ∞ / NaN, masked for every row (or padding). */
  poisonMaskedKey(): AttentionTester { this.poison_ = true; return this; }
  /** Q8KV: keys stored around a per-channel mean (every fifth channel 8, the rest in [−0.5, 0.5)). */
  kvMean(x: bool): AttentionTester { this.kvMean_ = x; return this; }
  tolerance(atol: f64, rtol: f64): AttentionTester { this.atol = atol; this.rtol = rtol; return this; }

  get scale(): f32 { return <f32>(1.0 / Math.sqrt(<f64>this.dh_)); }
  get visibleKeys(): i32 { return this.keyLen_ < 0 ? this.nk_ : this.keyLen_; }

  get isKv(): bool { return this.kernel_ == F16KV || this.kernel_ == Q8KV; }

  describe(): string {
    const names: StaticArray<string> = ['f32', 'qs8', 'f16kv', 'q8kv'];
    return names[this.kernel_] + ' nq=' + this.nq_.toString() + ' nk=' + this.nk_.toString() + ' dh=' + this.dh_.toString() + ' dv=' + this.dv_.toString() +
      ' offset=' + this.offset.toString() + ' left=' + this.left.toString() + ' right=' + this.right.toString() +
      ' keyLen=' + this.visibleKeys.toString() + ' mask=' + (this.mask_ ? '1' : '0') + ' softcap=' + this.softcap_.toString() + (this.meanPtr ? ' mean' : '');
  }

  /** Runs one call and records it in `tally`; returns the number of rows that saw no key. */
  test(tally: Tally, rng: Rng, reference: AttentionReference): i32 {
    tally.begin();
    serial++;
    const kind = this.kernel_, kv = this.isKv;
    const nq = this.nq_, nk = this.nk_, dh = this.dh_, dv = this.dv_;
    const keyLen = this.visibleKeys;
    const qStride = this.qStride = dh + 1 + (serial % 3);
    const kb = this.kRowBytes = kv ? kvRowBytes(kind, dh) + 4 * (serial % 3) : 0;
    const vb = this.vRowBytes = kv ? kvRowBytes(kind, dv) + 4 * (serial % 2) : 0;
    // f32 rows: the kernel's input, or (KV) the rows converted into the cache
    const kStride = kv ? dh : dh + 2 + (serial % 2);
    const vStride = kv ? dv : dv + 1 + (serial % 4);
    this.kStride = kv ? kb >> 2 : kStride;
    this.vStride = kv ? vb >> 2 : vStride;
    const oStride = this.oStride = dv + 1 + (serial % 5);
    const mStride = this.mStride = nk + 3;
    const Q = matrix(nq, dh, qStride);
    const K32 = matrix(nk, dh, kStride);
    const V32 = matrix(nk, dv, vStride);
    const K = kv ? new Guarded(<usize>max(1, nk * kb)) : K32;
    const V = kv ? new Guarded(<usize>max(1, nk * vb)) : V32;
    const O = matrix(nq, dv, oStride);
    const M = matrix(this.mask_ ? nq : 0, nk, mStride);
    const mean = new Guarded(<usize>max(dh, 1) << 2);
    const lse = new Guarded(<usize>max(nq, 1) << 2);
    const wsBytes = kind == QS8 ? qs8_attn_workspace_bytes(nk, dh, dv) : f32_attn_workspace_bytes(nk, dh, dv);
    const ws = workspace(wsBytes);
    const params = paramBlock(ATTN_PARAMS_BYTES);

    fillMatrix(Q.ptr, nq, dh, qStride, rng, -1, 1);
    fillMatrix(K32.ptr, nk, dh, kStride, rng, -1, 1);
    if (this.outliers != 0) {
      for (let j = 0; j < nk; j++) for (let x = 0; x < dh; x += 5) store<f32>(at(K32.ptr, kStride, j, x), load<f32>(at(K32.ptr, kStride, j, x)) + this.outliers);
    }
    if (this.paddingKeys_) {
      for (let j = keyLen; j < nk; j++) for (let x = 0; x < dh; x++) store<f32>(at(K32.ptr, kStride, j, x), this.paddingValue);
    }
    fillMatrix(V32.ptr, nk, dv, vStride, rng, -1, 1);
    fillMatrixBits(O.ptr, nq, dv, oStride, GARBAGE);
    if (this.mask_) {
      const deadRow = nq / 2;
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < nk; j++) {
          const x: f32 = i == deadRow || rng.below(4) == 0 ? -Infinity : rng.uniform(-2, 2);
          store<f32>(at(M.ptr, mStride, i, j), x);
        }
      }
    }
    const mp: usize = this.meanPtr = kind == Q8KV && this.kvMean_ ? mean.ptr : 0;
    if (kv) {
      if (mp) for (let x = 0; x < dh; x++) store<f32>(mp + (<usize>x << 2), (x % 5) == 0 ? 8 : rng.uniform(-0.5, 0.5));
      // F16KV: a key and a value no query sees hold ∞ / NaN (masked everywhere, or padding).
      let poisoned = -1;
      if (this.poison_ && kind == F16KV) {
        if (keyLen < nk) poisoned = nk - 1;
        else if (this.mask_ && nk > 1) {
          poisoned = nk - 1;
          for (let i = 0; i < nq; i++) store<f32>(at(M.ptr, mStride, i, poisoned), -Infinity);
        }
      }
      if (poisoned >= 0) {
        store<f32>(at(K32.ptr, kStride, poisoned, 0), Infinity);
        store<f32>(at(V32.ptr, vStride, poisoned, dv - 1), NaN);
      }
      fillWords(K.ptr, K.bytes, SENTINEL);
      fillWords(V.ptr, V.bytes, SENTINEL);
      if (!toRows(kind, K32.ptr, kStride, nk, dh, K.ptr, kb, mp) || !toRows(kind, V32.ptr, vStride, nk, dv, V.ptr, vb, 0)) {
        tally.fail(this.describe() + ': a row converter wrote its parameter block');
      }
    }
    const ref = new StaticArray<f64>(nq * dv);
    const mag = new StaticArray<f64>(nq * dv);
    const empty = new StaticArray<bool>(nq);
    reference(this, Q.ptr, K.ptr, V.ptr, this.mask_ ? M.ptr : 0, ref, mag, empty);
    const hq = Q.hash(), hk = K.hash(), hv = V.hash(), hm = M.hash(), hmean = mean.hash();

    const P = params.ptr;
    store<u32>(P + ATTN_Q, <u32>Q.ptr);
    store<i32>(P + ATTN_Q_STRIDE, qStride);
    store<u32>(P + ATTN_K, <u32>K.ptr);
    store<i32>(P + ATTN_K_STRIDE, this.kStride);
    store<u32>(P + ATTN_V, <u32>V.ptr);
    store<i32>(P + ATTN_V_STRIDE, this.vStride);
    store<u32>(P + ATTN_O, <u32>O.ptr);
    store<i32>(P + ATTN_O_STRIDE, oStride);
    store<i32>(P + ATTN_NQ, nq);
    store<i32>(P + ATTN_NK, nk);
    store<i32>(P + ATTN_DH, dh);
    store<i32>(P + ATTN_DV, dv);
    store<f32>(P + ATTN_SCALE, this.scale);
    store<f32>(P + ATTN_SOFTCAP, this.softcap_);
    store<u32>(P + ATTN_MASK, this.mask_ ? <u32>M.ptr : 0);
    store<i32>(P + ATTN_MASK_STRIDE, this.mask_ ? mStride : 0);
    store<i32>(P + ATTN_OFFSET, this.offset);
    store<i32>(P + ATTN_LEFT, this.left);
    store<i32>(P + ATTN_RIGHT, this.right);
    store<i32>(P + ATTN_KEY_LEN, keyLen);
    store<u32>(P + ATTN_WORKSPACE, <u32>ws.ptr);
    if (kv) {
      store<u32>(P + ATTN_LSE, <u32>lse.ptr);
      store<u32>(P + ATTN_KV_MEAN, <u32>mp);
    }
    if (kind == F32) f32_attn_online(P);
    else if (kind == QS8) qs8_attn_online(P);
    else if (kind == F16KV) f16kv_attn_online(P);
    else q8kv_attn_online(P);

    let zeroRows = 0;
    for (let i = 0; i < nq; i++) {
      const none = unchecked(empty[i]);
      if (none) zeroRows++;
      for (let x = 0; x < dv; x++) {
        const got = <f64>load<f32>(at(O.ptr, oStride, i, x));
        if (none) tally.exact(got, 0, i, x);
        else tally.close(got, unchecked(ref[i * dv + x]), this.atol, this.rtol, unchecked(mag[i * dv + x]), i, x);
      }
    }
    const what = this.describe();
    tally.endCase(what);
    const dmg = paddingDamage(O, nq, dv, oStride);
    if (dmg > 0) tally.fail(what + ': ' + dmg.toString() + ' words of o padding/guard written');
    if (Q.hash() != hq || K.hash() != hk || V.hash() != hv || M.hash() != hm || mean.hash() != hmean) tally.fail(what + ': an input was modified');
    if (ws.guardDamage() > 0) tally.fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
    if (params.guardDamage() > 0 || lse.guardDamage() > 0) tally.fail(what + ': parameter block or lse guard written');

    Q.free();
    K32.free();
    V32.free();
    if (kv) {
      K.free();
      V.free();
    }
    O.free();
    M.free();
    mean.free();
    lse.free();
    ws.free();
    params.free();
    return zeroRows;
  }
}
