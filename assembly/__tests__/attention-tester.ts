// attention-tester.ts — AttentionTester: one f32_attn_online call for one head on guarded,
// strided buffers against a float64 reference the spec supplies, in the spirit of XNNPACK's
// micro-kernel testers:
//   new AttentionTester().nq(5).nk(65).dh(3).dv(10).causal().test(tally, rng, ref)
// Options: causal (right = 0, offset = nk − nq), window(left, right), keyLen, an additive mask
// (values in [−2, 2), ~1/4 of them −∞, row ⌊nq/2⌋ entirely −∞), softcap. Strides: q, k, v, o and
// mask rows padded by 1–5 elements (cycling with the case count); padding and 64-byte guards hold
// a NaN sentinel. Checks: every element of a row that sees a key within the tolerance
// (|o − o₆₄| ≤ atol + rtol·Σⱼ pⱼ·|vⱼ|), rows that see none exactly 0; o's padding and guards never
// written; q, k, v and mask bit-identical afterwards; the workspace (f32_attn_workspace_bytes)
// not overrun. The logical o starts as NaN garbage (overwritten, never read).

import {
  ATTN_Q, ATTN_Q_STRIDE, ATTN_K, ATTN_K_STRIDE, ATTN_V, ATTN_V_STRIDE, ATTN_O, ATTN_O_STRIDE,
  ATTN_NQ, ATTN_NK, ATTN_DH, ATTN_DV, ATTN_SCALE, ATTN_SOFTCAP, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_OFFSET, ATTN_LEFT, ATTN_RIGHT, ATTN_KEY_LEN, ATTN_WORKSPACE, ATTN_PARAMS_BYTES,
} from '../attention-params';
import { f32_attn_online, f32_attn_workspace_bytes } from '../attention';
import { Rng, GARBAGE, at, fillMatrix, fillMatrixBits, matrix, paddingDamage, paramBlock, workspace } from './helpers';
import { Tally } from './tester';

/**
 * The float64 attention the tester describes, from its f32 inputs (row strides t.qStride …):
 * ref[i·dv + x], the magnitude mag[i·dv + x] = Σⱼ pⱼ·|v[j][x]| its error scales with, and
 * empty[i] for rows that see no key. m is 0 without a mask.
 */
export type AttentionReference = (
  t: AttentionTester, q: usize, k: usize, v: usize, m: usize,
  ref: StaticArray<f64>, mag: StaticArray<f64>, empty: StaticArray<bool>,
) => void;

/** Cases run by all testers so far: cycles the row paddings. */
let serial = 0;

export class AttentionTester {
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
  tolerance(atol: f64, rtol: f64): AttentionTester { this.atol = atol; this.rtol = rtol; return this; }

  get scale(): f32 { return <f32>(1.0 / Math.sqrt(<f64>this.dh_)); }
  get visibleKeys(): i32 { return this.keyLen_ < 0 ? this.nk_ : this.keyLen_; }

  describe(): string {
    return 'nq=' + this.nq_.toString() + ' nk=' + this.nk_.toString() + ' dh=' + this.dh_.toString() + ' dv=' + this.dv_.toString() +
      ' offset=' + this.offset.toString() + ' left=' + this.left.toString() + ' right=' + this.right.toString() +
      ' keyLen=' + this.visibleKeys.toString() + ' mask=' + (this.mask_ ? '1' : '0') + ' softcap=' + this.softcap_.toString();
  }

  /** Runs one call and records it in `tally`; returns the number of rows that saw no key. */
  test(tally: Tally, rng: Rng, reference: AttentionReference): i32 {
    tally.begin();
    serial++;
    const nq = this.nq_, nk = this.nk_, dh = this.dh_, dv = this.dv_;
    const qStride = this.qStride = dh + 1 + (serial % 3);
    const kStride = this.kStride = dh + 2 + (serial % 2);
    const vStride = this.vStride = dv + 1 + (serial % 4);
    const oStride = this.oStride = dv + 1 + (serial % 5);
    const mStride = this.mStride = nk + 3;
    const Q = matrix(nq, dh, qStride);
    const K = matrix(nk, dh, kStride);
    const V = matrix(nk, dv, vStride);
    const O = matrix(nq, dv, oStride);
    const M = matrix(this.mask_ ? nq : 0, nk, mStride);
    const wsBytes = f32_attn_workspace_bytes(nk, dh, dv);
    const ws = workspace(wsBytes);
    const params = paramBlock(ATTN_PARAMS_BYTES);

    fillMatrix(Q.ptr, nq, dh, qStride, rng, -1, 1);
    fillMatrix(K.ptr, nk, dh, kStride, rng, -1, 1);
    fillMatrix(V.ptr, nk, dv, vStride, rng, -1, 1);
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
    const ref = new StaticArray<f64>(nq * dv);
    const mag = new StaticArray<f64>(nq * dv);
    const empty = new StaticArray<bool>(nq);
    reference(this, Q.ptr, K.ptr, V.ptr, this.mask_ ? M.ptr : 0, ref, mag, empty);
    const hq = Q.hash(), hk = K.hash(), hv = V.hash(), hm = M.hash();

    const P = params.ptr;
    store<u32>(P + ATTN_Q, <u32>Q.ptr);
    store<i32>(P + ATTN_Q_STRIDE, qStride);
    store<u32>(P + ATTN_K, <u32>K.ptr);
    store<i32>(P + ATTN_K_STRIDE, kStride);
    store<u32>(P + ATTN_V, <u32>V.ptr);
    store<i32>(P + ATTN_V_STRIDE, vStride);
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
    store<i32>(P + ATTN_KEY_LEN, this.visibleKeys);
    store<u32>(P + ATTN_WORKSPACE, <u32>ws.ptr);
    f32_attn_online(P);

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
    if (Q.hash() != hq || K.hash() != hk || V.hash() != hv || M.hash() != hm) tally.fail(what + ': an input was modified');
    if (ws.guardDamage() > 0) tally.fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
    if (params.guardDamage() > 0) tally.fail(what + ': parameter block guard written');

    Q.free();
    K.free();
    V.free();
    O.free();
    M.free();
    ws.free();
    params.free();
    return zeroRows;
  }
}
