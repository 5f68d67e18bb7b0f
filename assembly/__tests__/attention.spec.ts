// attention.spec.ts — f32_attn_online (assembly/attention.ts) for one head against float64,
// SIMD128 build, through AttentionTester (attention-tester.ts: buffers, strides, guards, checks).
//
// Shapes:  every nq, nk ∈ {1, 3, 5, 9, 65, 130} × dh ∈ {1, 3, 8, 64} × dv ∈ {1, 6, 10, 64}
//          (query-tile tails nq % 4 and the row path nq < 4, key-panel tails nk % 8, more than
//          one ATTN_BC = 64 key tile, dh % 4 and dv % 8 tails), scale = 1/√dh, keyLen = nk, in
//          three modes: full; causal (right = 0, offset = nk − nq: when nq > nk the first nq − nk
//          rows see no key and must be exact zeros); an additive mask with a fully masked row
//          (exact zeros); plus on a subset a sliding window (left = 5, right = 2, keyLen = nk − 2)
//          and softcap = 2 with a causal mask.
// Values:  q, k, v uniform in [−1, 1), fixed-seed xorshift32.
// Tolerance: |o − o₆₄| ≤ 2e-6 · (Σⱼ pⱼ·|vⱼ|) + 1e-7 per element (4e-6 with softcap: tanh_f32x4
//          adds ≤ 3e-7·cap to a score), with pⱼ the float64 softmax weights and o₆₄ the float64
//          attention below of the same f32 inputs (scale applied to the f32 scale value). The
//          a-priori score error bound, dh·2⁻²⁴·scale·Σ|q·k|, is up to ~8e-6 for dh = 64, so 2e-6
//          is an empirical bound with headroom (measured ≤ 3.2e-7 relative), not a worst case.

import { AttentionTester } from './attention-tester';
import { Rng, at } from './helpers';
import { Tally } from './tester';

const NS: StaticArray<i32> = [1, 3, 5, 9, 65, 130];
const DH: StaticArray<i32> = [1, 3, 8, 64];
const DV: StaticArray<i32> = [1, 6, 10, 64];

const FULL = 0;
const CAUSAL = 1;
const MASKED = 2;

/** Float64 attention of the tester's f32 inputs (softcap, then mask, over the visible range). */
function reference(
  t: AttentionTester, q: usize, k: usize, v: usize, m: usize,
  ref: StaticArray<f64>, mag: StaticArray<f64>, empty: StaticArray<bool>,
): void {
  const nq = t.nq_, nk = t.nk_, dh = t.dh_, dv = t.dv_;
  const keyLen = t.visibleKeys;
  const cap = <f64>t.softcap_;
  const s = new StaticArray<f64>(nk);
  for (let i = 0; i < nq; i++) {
    const lo = t.left >= 0 ? max(0, i + t.offset - t.left) : 0;
    const hi = t.right >= 0 ? min(keyLen, i + t.offset + t.right + 1) : keyLen;
    let mx: f64 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let sj: f64 = -Infinity;
      if (j >= lo && j < hi) {
        let d: f64 = 0;
        for (let x = 0; x < dh; x++) d += <f64>load<f32>(at(q, t.qStride, i, x)) * <f64>load<f32>(at(k, t.kStride, j, x));
        sj = d * <f64>t.scale;
        if (cap > 0) sj = cap * Math.tanh(sj / cap);
        if (m) {
          const mv = load<f32>(at(m, t.mStride, i, j));
          sj = mv == -Infinity ? -Infinity : sj + <f64>mv;
        }
      }
      unchecked(s[j] = sj);
      if (sj > mx) mx = sj;
    }
    unchecked(empty[i] = mx == -Infinity);
    if (mx == -Infinity) continue;
    let l: f64 = 0;
    for (let j = 0; j < nk; j++) {
      const p = unchecked(s[j]) == -Infinity ? 0 : Math.exp(unchecked(s[j]) - mx);
      unchecked(s[j] = p);
      l += p;
    }
    for (let x = 0; x < dv; x++) {
      let o: f64 = 0;
      let g: f64 = 0;
      for (let j = 0; j < nk; j++) {
        const p = unchecked(s[j]);
        if (p == 0) continue;
        const vj = <f64>load<f32>(at(v, t.vStride, j, x));
        o += p * vj;
        g += p * Math.abs(vj);
      }
      unchecked(ref[i * dv + x] = o / l);
      unchecked(mag[i * dv + x] = g / l);
    }
  }
}

function sweepAll(mode: i32, seed: u32, name: string): void {
  const tally = new Tally(name);
  const rng = new Rng(seed);
  let zeroRows = 0;
  for (let a = 0; a < NS.length; a++) {
    for (let b = 0; b < NS.length; b++) {
      for (let c = 0; c < DH.length; c++) {
        for (let d = 0; d < DV.length; d++) {
          const t = new AttentionTester().nq(NS[a]).nk(NS[b]).dh(DH[c]).dv(DV[d]);
          if (mode == CAUSAL) t.causal();
          if (mode == MASKED) t.mask(true);
          zeroRows += t.test(tally, rng, reference);
        }
      }
    }
  }
  tally.finish(', ' + zeroRows.toString() + ' rows without a visible key');
}

describe('f32_attn_online, one head vs float64', () => {
  it('full attention, every shape', () => {
    sweepAll(FULL, 101, 'full');
  });
  it('causal (right = 0, offset = nk − nq), every shape', () => {
    sweepAll(CAUSAL, 102, 'causal');
  });
  it('additive mask with a fully masked row (zeros), every shape', () => {
    sweepAll(MASKED, 103, 'masked');
  });
  it('sliding window (left = 5, right = 2, keyLen = nk − 2)', () => {
    const tally = new Tally('window');
    const rng = new Rng(104);
    for (let a = 0; a < NS.length; a++) {
      for (let b = 0; b < NS.length; b++) {
        if (NS[b] < 3) continue;
        new AttentionTester().nq(NS[a]).nk(NS[b]).dh(3).dv(6).window(5, 2).keyLen(NS[b] - 2).test(tally, rng, reference);
        new AttentionTester().nq(NS[a]).nk(NS[b]).dh(64).dv(64).window(5, 2).keyLen(NS[b] - 2).test(tally, rng, reference);
      }
    }
    tally.finish();
  });
  it('softcap = 2 with causal ranges and a mask', () => {
    const tally = new Tally('softcap');
    const rng = new Rng(105);
    for (let a = 0; a < NS.length; a++) {
      for (let b = 0; b < NS.length; b++) {
        for (let c = 0; c < DH.length; c++) {
          const t = new AttentionTester().nq(NS[a]).nk(NS[b]).dh(DH[c]).dv(DV[(a + b + c) % DV.length]).softcap(2).tolerance(1e-7, 4e-6);
          if ((a + b) & 1) t.causal();
          else t.mask(true);
          t.test(tally, rng, reference);
        }
      }
    }
    tally.finish();
  });
});
