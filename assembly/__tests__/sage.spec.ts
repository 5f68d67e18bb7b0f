// sage.spec.ts — qs8_attn_online (assembly/sage.ts) for one head against a float64 attention that
// applies the same quantization, SIMD128 build, through AttentionTester's QS8 kernel
// (attention-tester.ts: buffers, strides, guards, checks); test/attention/sage.test.ts runs both
// binaries through rt.attention.
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

import { AttentionTester, QS8 } from './attention-tester';
import { Rng, at } from './helpers';
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

function invScale(amax: f32): f32 {
  return amax > 0 ? <f32>127 / amax : 0;
}

/** Float64 attention over the scores of the kernel's quantization (in f32, as its header states). */
function reference(
  t: AttentionTester, qp: usize, kp: usize, vp: usize, mp: usize,
  ref: StaticArray<f64>, mag: StaticArray<f64>, empty: StaticArray<bool>,
): void {
  const nq = t.nq_, nk = t.nk_, dh = t.dh_, dv = t.dv_;
  const keyLen = t.visibleKeys;
  const scale = t.scale;
  const mean = new StaticArray<f32>(dh);
  for (let j = 0; j < keyLen; j++) for (let x = 0; x < dh; x++) unchecked(mean[x] = mean[x] + load<f32>(at(kp, t.kStride, j, x)));
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
    for (let j = b * 64; j < j1; j++) for (let x = 0; x < dh; x++) amax = max(amax, Mathf.abs(load<f32>(at(kp, t.kStride, j, x)) - unchecked(mean[x])));
    unchecked(sk[b] = amax / <f32>127);
    const inv = invScale(amax);
    for (let j = b * 64; j < j1; j++) {
      for (let x = 0; x < dh; x++) unchecked(kc[j * dh + x] = <i32>nearest((load<f32>(at(kp, t.kStride, j, x)) - unchecked(mean[x])) * inv));
    }
  }
  const qc = new StaticArray<i32>(nq * dh);
  const sq = new StaticArray<f32>(nq);
  const qm = new StaticArray<f64>(nq);
  for (let t0 = 0; t0 < nq; t0 += 4) {
    const t1 = min(nq, t0 + 4);
    let amaxQ: f32 = 0;
    for (let i = t0; i < t1; i++) for (let x = 0; x < dh; x++) amaxQ = max(amaxQ, Mathf.abs(load<f32>(at(qp, t.qStride, i, x))));
    const amax: f32 = amaxQ * Mathf.abs(scale);
    const inv = invScale(amax);
    for (let i = t0; i < t1; i++) {
      unchecked(sq[i] = amax / <f32>127);
      let d: f64 = 0;
      for (let x = 0; x < dh; x++) {
        const a: f32 = load<f32>(at(qp, t.qStride, i, x)) * scale;
        unchecked(qc[i * dh + x] = <i32>nearest(a * inv));
        d += <f64>a * <f64>unchecked(mean[x]);
      }
      unchecked(qm[i] = d);
    }
  }

  // float64 attention over those scores
  const s = new StaticArray<f64>(nk);
  for (let i = 0; i < nq; i++) {
    const lo = t.left >= 0 ? max(0, i + t.offset - t.left) : 0;
    const hi = t.right >= 0 ? min(keyLen, i + t.offset + t.right + 1) : keyLen;
    let m: f64 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let sj: f64 = -Infinity;
      if (j >= lo && j < hi) {
        let d: i32 = 0;
        for (let x = 0; x < dh; x++) d += unchecked(qc[i * dh + x]) * unchecked(kc[j * dh + x]);
        const sc: f32 = unchecked(sq[i]) * unchecked(sk[j / 64]);
        sj = <f64>(<f32>d * sc) + unchecked(qm[i]);
        if (mp) {
          const mv = load<f32>(at(mp, t.mStride, i, j));
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
        const v = <f64>load<f32>(at(vp, t.vStride, j, x));
        o += p * v;
        g += p * Math.abs(v);
      }
      unchecked(ref[i * dv + x] = o / l);
      unchecked(mag[i * dv + x] = g / l);
    }
  }
}

function sweep(mode: i32, seed: u32, name: string): void {
  const tally = new Tally(name);
  const rng = new Rng(seed);
  for (let a = 0; a < NS.length; a++) {
    for (let b = 0; b < NS.length; b++) {
      if (mode == WINDOW && NS[b] < 3) continue;
      for (let c = 0; c < DH.length; c++) {
        for (let d = 0; d < DV.length; d++) {
          const t = new AttentionTester().kernel(QS8).nq(NS[a]).nk(NS[b]).dh(DH[c]).dv(DV[d]).outlierChannels(8).tolerance(ABS, REL);
          if (mode == CAUSAL) t.causal();
          else if (mode == MASKED) t.mask(true);
          else if (mode == WINDOW) t.window(5, 2).keyLen(NS[b] - 2).paddingKeys(1e6);
          t.test(tally, rng, reference);
        }
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
