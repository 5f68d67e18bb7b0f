// sage.spec.ts — qs8_attn_online (assembly/sage.ts) for one head against a float64 attention that
// applies the same quantization, SIMD128 build (test/attention/sage.test.ts runs both binaries
// through rt.attention).
//
// Reference: μ = f32 mean of K's rows j < keyLen (summed in key order); K̃ = K − μ; per 64-key
//          block sk = max|K̃|/127 and codes nearest(K̃·(127/max)); per 4-row query tile Q̃ = q·scale,
//          sq = (max|q|·|scale|)/127, codes nearest(Q̃·(127/max)); all in f32 as the header states.
//          Scores s = f64(f32(Σ qc·kc) · f32(sq·sk)) + Σ Q̃·μ (f64), then mask/range and softmax
//          and P·V in float64.
// Shapes:  nq, nk ∈ {1, 3, 5, 9, 65, 130} × dh ∈ {1, 3, 8, 17, 64} × dv ∈ {1, 6, 64}, in four
//          modes: full; causal (offset nk − nq); additive mask with −∞ entries and one fully
//          masked row (exact zeros); window (left 5, right 2) with keyLen = nk − 2, whose two
//          padding keys hold 1e6 (they must take no part in μ or any scale).
// Values:  q, v uniform in [−1, 1); k uniform in [−1, 1) plus 8 on every fifth channel (an
//          offset smoothing removes). Strides padded; padding and guards hold a NaN sentinel.
// Tolerance: |o − o₆₄| ≤ 4e-6 · Σⱼ pⱼ|vⱼ| + 1e-7 (the integer part is exact; what remains is the
//          f32 epilogue, exp and P·V, as in attention.spec.ts, plus the f32 Q̃·μ).

import {
  ATTN_Q, ATTN_Q_STRIDE, ATTN_K, ATTN_K_STRIDE, ATTN_V, ATTN_V_STRIDE, ATTN_O, ATTN_O_STRIDE,
  ATTN_NQ, ATTN_NK, ATTN_DH, ATTN_DV, ATTN_SCALE, ATTN_SOFTCAP, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_OFFSET, ATTN_LEFT, ATTN_RIGHT, ATTN_KEY_LEN, ATTN_WORKSPACE, ATTN_PARAMS_BYTES,
} from '../attention-params';
import { qs8_attn_online, qs8_attn_workspace_bytes } from '../sage';
import {
  Rng, GARBAGE, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock, report, workspace,
} from './helpers';
import { Tally } from './tester';

const NS: StaticArray<i32> = [1, 3, 5, 9, 65, 130];
const DH: StaticArray<i32> = [1, 3, 8, 17, 64];
const DV: StaticArray<i32> = [1, 6, 64];
const REL: f64 = 4e-6;
const ABS: f64 = 1e-7;

const FULL = 0;
const CAUSAL = 1;
const MASKED = 2;
const WINDOW = 3;

/** The current test's tally (tester.ts); begin() starts a new one. */
let tally = new Tally('');


function invScale(amax: f32): f32 {
  return amax > 0 ? <f32>127 / amax : 0;
}

function runCase(nq: i32, nk: i32, dh: i32, dv: i32, mode: i32, rng: Rng): void {
  tally.begin();
  const qStride = dh + 1 + (tally.cases % 3);
  const kStride = dh + 2 + (tally.cases % 2);
  const vStride = dv + 1 + (tally.cases % 4);
  const oStride = dv + 1 + (tally.cases % 5);
  const mStride = nk + 3;
  const Q = matrix(nq, dh, qStride);
  const K = matrix(nk, dh, kStride);
  const V = matrix(nk, dv, vStride);
  const O = matrix(nq, dv, oStride);
  const M = matrix(mode == MASKED ? nq : 0, nk, mStride);
  const wsBytes = qs8_attn_workspace_bytes(nk, dh, dv);
  const ws = workspace(wsBytes);
  const params = paramBlock(ATTN_PARAMS_BYTES);

  fillMatrix(Q.ptr, nq, dh, qStride, rng, -1, 1);
  fillMatrix(K.ptr, nk, dh, kStride, rng, -1, 1);
  for (let j = 0; j < nk; j++) for (let x = 0; x < dh; x += 5) store<f32>(at(K.ptr, kStride, j, x), load<f32>(at(K.ptr, kStride, j, x)) + 8);
  fillMatrix(V.ptr, nk, dv, vStride, rng, -1, 1);
  fillMatrixBits(O.ptr, nq, dv, oStride, GARBAGE);
  const deadRow = nq / 2;
  if (mode == MASKED) {
    for (let i = 0; i < nq; i++) {
      for (let j = 0; j < nk; j++) {
        const x: f32 = i == deadRow || rng.below(4) == 0 ? -Infinity : rng.uniform(-2, 2);
        store<f32>(at(M.ptr, mStride, i, j), x);
      }
    }
  }
  const scale = <f32>(1.0 / Math.sqrt(<f64>dh));
  let offset = 0, left = -1, right = -1, keyLen = nk;
  if (mode == CAUSAL) {
    right = 0;
    offset = nk - nq;
  } else if (mode == WINDOW) {
    left = 5;
    right = 2;
    keyLen = nk - 2;
    for (let j = keyLen; j < nk; j++) for (let x = 0; x < dh; x++) store<f32>(at(K.ptr, kStride, j, x), 1e6);
  }

  // The quantization, in f32 as the kernel's header states.
  const mean = new StaticArray<f32>(dh);
  for (let j = 0; j < keyLen; j++) for (let x = 0; x < dh; x++) unchecked(mean[x] = mean[x] + load<f32>(at(K.ptr, kStride, j, x)));
  if (keyLen > 0) {
    const inv: f32 = <f32>1 / <f32>keyLen;
    for (let x = 0; x < dh; x++) unchecked(mean[x] = mean[x] * inv);
  }
  const blocks = (nk + 63) / 64;
  const kc = new StaticArray<i32>(nk * dh);
  const sk = new StaticArray<f32>(blocks);
  for (let b = 0; b < blocks; b++) {
    const j1 = min(min(nk, keyLen), b * 64 + 64);
    let amax: f32 = 0;
    for (let j = b * 64; j < j1; j++) for (let x = 0; x < dh; x++) amax = max(amax, Mathf.abs(load<f32>(at(K.ptr, kStride, j, x)) - unchecked(mean[x])));
    unchecked(sk[b] = amax / <f32>127);
    const inv = invScale(amax);
    for (let j = b * 64; j < j1; j++) {
      for (let x = 0; x < dh; x++) unchecked(kc[j * dh + x] = <i32>nearest((load<f32>(at(K.ptr, kStride, j, x)) - unchecked(mean[x])) * inv));
    }
  }
  const qc = new StaticArray<i32>(nq * dh);
  const sq = new StaticArray<f32>(nq);
  const qm = new StaticArray<f64>(nq);
  for (let t0 = 0; t0 < nq; t0 += 4) {
    const t1 = min(nq, t0 + 4);
    let amaxQ: f32 = 0;
    for (let i = t0; i < t1; i++) for (let x = 0; x < dh; x++) amaxQ = max(amaxQ, Mathf.abs(load<f32>(at(Q.ptr, qStride, i, x))));
    const amax: f32 = amaxQ * Mathf.abs(scale);
    const inv = invScale(amax);
    for (let i = t0; i < t1; i++) {
      unchecked(sq[i] = amax / <f32>127);
      let d: f64 = 0;
      for (let x = 0; x < dh; x++) {
        const a: f32 = load<f32>(at(Q.ptr, qStride, i, x)) * scale;
        unchecked(qc[i * dh + x] = <i32>nearest(a * inv));
        d += <f64>a * <f64>unchecked(mean[x]);
      }
      unchecked(qm[i] = d);
    }
  }

  // float64 attention over those scores
  const ref = new StaticArray<f64>(nq * dv);
  const mag = new StaticArray<f64>(nq * dv);
  const empty = new StaticArray<bool>(nq);
  const s = new StaticArray<f64>(nk);
  for (let i = 0; i < nq; i++) {
    const lo = left >= 0 ? max(0, i + offset - left) : 0;
    const hi = right >= 0 ? min(keyLen, i + offset + right + 1) : keyLen;
    let m: f64 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let sj: f64 = -Infinity;
      if (j >= lo && j < hi) {
        let d: i32 = 0;
        for (let x = 0; x < dh; x++) d += unchecked(qc[i * dh + x]) * unchecked(kc[j * dh + x]);
        const sc: f32 = unchecked(sq[i]) * unchecked(sk[j / 64]);
        sj = <f64>(<f32>d * sc) + unchecked(qm[i]);
        if (mode == MASKED) {
          const mv = load<f32>(at(M.ptr, mStride, i, j));
          sj = mv == -Infinity ? -Infinity : sj + <f64>mv;
        }
      }
      unchecked(s[j] = sj);
      if (sj > m) m = sj;
    }
    unchecked(empty[i] = m == -Infinity);
    if (m == -Infinity) continue;
    let l: f64 = 0;
    for (let j = 0; j < nk; j++) {
      const p = unchecked(s[j]) == -Infinity ? 0 : Math.exp(unchecked(s[j]) - m);
      unchecked(s[j] = p);
      l += p;
    }
    for (let x = 0; x < dv; x++) {
      let o: f64 = 0;
      let g: f64 = 0;
      for (let j = 0; j < nk; j++) {
        const p = unchecked(s[j]);
        if (p == 0) continue;
        const v = <f64>load<f32>(at(V.ptr, vStride, j, x));
        o += p * v;
        g += p * Math.abs(v);
      }
      unchecked(ref[i * dv + x] = o / l);
      unchecked(mag[i * dv + x] = g / l);
    }
  }
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
  store<f32>(P + ATTN_SCALE, scale);
  store<f32>(P + ATTN_SOFTCAP, 0);
  store<u32>(P + ATTN_MASK, mode == MASKED ? <u32>M.ptr : 0);
  store<i32>(P + ATTN_MASK_STRIDE, mode == MASKED ? mStride : 0);
  store<i32>(P + ATTN_OFFSET, offset);
  store<i32>(P + ATTN_LEFT, left);
  store<i32>(P + ATTN_RIGHT, right);
  store<i32>(P + ATTN_KEY_LEN, keyLen);
  store<u32>(P + ATTN_WORKSPACE, <u32>ws.ptr);
  qs8_attn_online(P);

  const what = 'nq=' + nq.toString() + ' nk=' + nk.toString() + ' dh=' + dh.toString() + ' dv=' + dv.toString() +
    ' mode=' + mode.toString();
  for (let i = 0; i < nq; i++) {
    for (let x = 0; x < dv; x++) {
      const got = <f64>load<f32>(at(O.ptr, oStride, i, x));
      if (unchecked(empty[i])) tally.exact(got, 0, i, x);
      else tally.close(got, unchecked(ref[i * dv + x]), ABS, REL, unchecked(mag[i * dv + x]), i, x);
    }
  }
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
}

function sweep(mode: i32, seed: u32, name: string): void {
  tally = new Tally(name);
  const rng = new Rng(seed);
  for (let a = 0; a < NS.length; a++) {
    for (let b = 0; b < NS.length; b++) {
      if (mode == WINDOW && NS[b] < 3) continue;
      for (let c = 0; c < DH.length; c++) {
        for (let d = 0; d < DV.length; d++) runCase(NS[a], NS[b], DH[c], DV[d], mode, rng);
      }
    }
  }
  tally.finish();
}

describe('qs8_attn_online, one head vs the same quantization in float64', () => {
  it('full attention, every shape', () => {
    sweep(FULL, 201, 'full');
  });
  it('causal (right = 0, offset = nk − nq), every shape', () => {
    sweep(CAUSAL, 202, 'causal');
  });
  it('additive mask with a fully masked row (zeros), every shape', () => {
    sweep(MASKED, 203, 'masked');
  });
  it('window (left 5, right 2) with two padding keys of 1e6 that must not set μ or a scale', () => {
    sweep(WINDOW, 204, 'window');
  });
});
