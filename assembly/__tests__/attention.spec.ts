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
// Merge:   f32_attn_merge through its MergeParams block (MERGE_*), rows = 7, dv ∈ {1, 3, 4, 5, 8,
//          17, 64} with padded strides, log-sum-exps in [−4, 4) and one row each with lsePart = −∞
//          (acc and its lse exactly unchanged), lseAcc = −∞ (exactly part and lsePart) and both;
//          against float64 logaddexp weighting, |err| ≤ 2e-6·(|acc|·wa + |part|·wp) + 1e-7 (the f32
//          differences lse − max, two exp_f32 ≤ 2e-7 each, a division, a multiply-add), the lse
//          within 1e-6·(1 + |L|);
//          padding, guards, part, lsePart and the block unchanged.
// Values:  q, k, v uniform in [−1, 1), fixed-seed xorshift32.
// Tolerance: |o − o₆₄| ≤ 2e-6 · (Σⱼ pⱼ·|vⱼ|) + 1e-7 per element (4e-6 with softcap: tanh_f32x4
//          adds ≤ 3e-7·cap to a score), with pⱼ the float64 softmax weights and o₆₄ the float64
//          attention below of the same f32 inputs (scale applied to the f32 scale value). The
//          a-priori score error bound, dh·2⁻²⁴·scale·Σ|q·k|, is up to ~8e-6 for dh = 64, so 2e-6
//          is an empirical bound with headroom (measured ≤ 3.2e-7 relative), not a worst case.

import {
  f32_attn_merge, MERGE_ACC, MERGE_ACC_STRIDE, MERGE_LSE_ACC, MERGE_PART, MERGE_PART_STRIDE, MERGE_LSE_PART, MERGE_ROWS,
  MERGE_DV, MERGE_PARAMS_BYTES,
} from '../attention-merge';
import { AttentionTester } from './attention-tester';
import { Guarded, Rng, at, fillMatrix, matrix, paddingDamage, paramBlock } from './helpers';
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

const MERGE_DVS: StaticArray<i32> = [1, 3, 4, 5, 8, 17, 64];

/** One f32_attn_merge call through a guarded MergeParams block against float64. */
function mergeCase(tally: Tally, dv: i32, rng: Rng): void {
  tally.begin();
  const rows = 7;
  const accStride = dv + 1 + (dv & 1);
  const partStride = dv + 3;
  const A = matrix(rows, dv, accStride);
  const P = matrix(rows, dv, partStride);
  fillMatrix(A.ptr, rows, dv, accStride, rng, -1, 1);
  fillMatrix(P.ptr, rows, dv, partStride, rng, -1, 1);
  const la = new Guarded(<usize>rows << 2);
  const lp = new Guarded(<usize>rows << 2);
  for (let r = 0; r < rows; r++) {
    store<f32>(la.ptr + (<usize>r << 2), rng.uniform(-4, 4));
    store<f32>(lp.ptr + (<usize>r << 2), rng.uniform(-4, 4));
  }
  store<f32>(lp.ptr + 4, -Infinity); //                                 row 1: nothing to merge
  store<f32>(la.ptr + 8, -Infinity); //                                 row 2: take part
  store<f32>(la.ptr + 12, -Infinity); //                                row 3: neither side saw a key
  store<f32>(lp.ptr + 12, -Infinity);
  // the float64 expectation, from the inputs
  const want = new StaticArray<f64>(rows * dv);
  const mag = new StaticArray<f64>(rows * dv);
  const wantL = new StaticArray<f64>(rows);
  for (let r = 0; r < rows; r++) {
    const a = <f64>load<f32>(la.ptr + (<usize>r << 2));
    const p = <f64>load<f32>(lp.ptr + (<usize>r << 2));
    const m = max(a, p);
    const L = m == -Infinity ? -Infinity : m + Math.log(Math.exp(a - m) + Math.exp(p - m));
    const wa = p == -Infinity ? 1 : a == -Infinity ? 0 : Math.exp(a - L);
    const wp = p == -Infinity ? 0 : a == -Infinity ? 1 : Math.exp(p - L);
    wantL[r] = p == -Infinity ? a : L;
    for (let x = 0; x < dv; x++) {
      const av = <f64>load<f32>(at(A.ptr, accStride, r, x));
      const pv = <f64>load<f32>(at(P.ptr, partStride, r, x));
      want[r * dv + x] = av * wa + pv * wp;
      mag[r * dv + x] = Math.abs(av) * wa + Math.abs(pv) * wp;
    }
  }
  const exact = new StaticArray<f32>(3 * dv); // rows 1 (acc), 2 (part) and 3 (acc) bit for bit
  for (let x = 0; x < dv; x++) {
    exact[x] = load<f32>(at(A.ptr, accStride, 1, x));
    exact[dv + x] = load<f32>(at(P.ptr, partStride, 2, x));
    exact[2 * dv + x] = load<f32>(at(A.ptr, accStride, 3, x));
  }
  const hp = P.hash(), hlp = lp.hash();
  const pp = paramBlock(MERGE_PARAMS_BYTES);
  store<u32>(pp.ptr + MERGE_ACC, <u32>A.ptr);
  store<i32>(pp.ptr + MERGE_ACC_STRIDE, accStride);
  store<u32>(pp.ptr + MERGE_LSE_ACC, <u32>la.ptr);
  store<u32>(pp.ptr + MERGE_PART, <u32>P.ptr);
  store<i32>(pp.ptr + MERGE_PART_STRIDE, partStride);
  store<u32>(pp.ptr + MERGE_LSE_PART, <u32>lp.ptr);
  store<i32>(pp.ptr + MERGE_ROWS, rows);
  store<i32>(pp.ptr + MERGE_DV, dv);
  const hpp = pp.hash();
  f32_attn_merge(pp.ptr);
  for (let r = 0; r < rows; r++) {
    const gotL = load<f32>(la.ptr + (<usize>r << 2));
    if (r == 1 || r == 2 || r == 3) tally.bits(gotL, <f32>wantL[r], r, -1);
    else tally.close(<f64>gotL, wantL[r], 1e-6, 1e-6, Math.abs(wantL[r]), r, -1);
    for (let x = 0; x < dv; x++) {
      const got = load<f32>(at(A.ptr, accStride, r, x));
      if (r == 1 || r == 2 || r == 3) tally.bits(got, exact[(r - 1) * dv + x], r, x);
      else tally.close(<f64>got, want[r * dv + x], 1e-7, 2e-6, mag[r * dv + x], r, x);
    }
  }
  const what = 'merge dv=' + dv.toString();
  tally.endCase(what);
  if (paddingDamage(A, rows, dv, accStride) > 0) tally.fail(what + ': acc padding or guard written');
  if (la.guardDamage() > 0) tally.fail(what + ': lseAcc guard written');
  if (P.hash() != hp || lp.hash() != hlp) tally.fail(what + ': part or lsePart modified');
  if (pp.hash() != hpp || pp.guardDamage() > 0) tally.fail(what + ': parameter block written');
  A.free();
  P.free();
  la.free();
  lp.free();
  pp.free();
}

describe('f32_attn_merge', () => {
  it('merges by log-sum-exp through its MergeParams block; −∞ sides exact', () => {
    const tally = new Tally('merge');
    const rng = new Rng(0x3e6e);
    for (let i = 0; i < MERGE_DVS.length; i++) mergeCase(tally, MERGE_DVS[i], rng);
    tally.finish();
  });
});
