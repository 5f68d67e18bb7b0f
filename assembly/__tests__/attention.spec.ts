// attention.spec.ts — f32_attn_online (assembly/attention.ts) for one head against float64,
// SIMD128 build.
//
// Shapes:  every nq, nk ∈ {1, 3, 5, 9, 65, 130} × dh ∈ {1, 3, 8, 64} × dv ∈ {1, 6, 10, 64}
//          (query-tile tails nq % 4, key-panel tails nk % 8, more than one ATTN_BC = 64 key tile,
//          dh % 4 and dv % 8 tails), scale = 1/√dh, no softcap, keyLen = nk, in three modes:
//            full      left = right = −1, offset 0;
//            causal    right = 0, left = −1, offset = nk − nq (when nq > nk the first nq − nk rows
//                      see no key and must be exact zeros);
//            masked    additive mask (row stride nk + 3) with values in [−2, 2), ~1/4 of them −∞,
//                      and row ⌊nq/2⌋ entirely −∞ (must give exact zeros);
//          plus a sliding window (left = 5, right = 2, keyLen = nk − 2) on a subset.
// Strides: q, k, v, o, mask rows padded by 1–5 elements; padding and 64-byte guards hold a NaN
//          sentinel: o's must survive (never written), q/k/v/mask must be bit-identical afterwards,
//          and the workspace (f32_attn_workspace_bytes) must not be overrun. The logical o starts
//          as NaN garbage (must be overwritten, not read).
// Values:  q, k, v uniform in [−1, 1), fixed-seed xorshift32.
// Tolerance: |o − o₆₄| ≤ 2e-6 · (Σⱼ pⱼ·|vⱼ|) + 1e-7 per element, with pⱼ the float64 softmax
//          weights and o₆₄ the float64 attention of the same f32 inputs (scale applied to the
//          f32 scale value); rows with no visible key must be exactly 0. The worst measured
//          err / (Σ p·|v|) is logged per mode; measured ≤ 3.2e-7 (the a-priori score error bound,
//          dh·2⁻²⁴·scale·Σ|q·k|, is up to ~8e-6 for dh = 64, so 2e-6 is an empirical bound with
//          ~6× headroom, not a worst case).

import {
  ATTN_Q, ATTN_Q_STRIDE, ATTN_K, ATTN_K_STRIDE, ATTN_V, ATTN_V_STRIDE, ATTN_O, ATTN_O_STRIDE,
  ATTN_NQ, ATTN_NK, ATTN_DH, ATTN_DV, ATTN_SCALE, ATTN_SOFTCAP, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_OFFSET, ATTN_LEFT, ATTN_RIGHT, ATTN_KEY_LEN, ATTN_WORKSPACE, ATTN_PARAMS_BYTES,
} from '../attention-params';
import { f32_attn_online, f32_attn_workspace_bytes } from '../attention';
import {
  Rng, GARBAGE, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock, report, workspace,
} from './helpers';

const NS: StaticArray<i32> = [1, 3, 5, 9, 65, 130];
const DH: StaticArray<i32> = [1, 3, 8, 64];
const DV: StaticArray<i32> = [1, 6, 10, 64];
const REL: f64 = 2e-6;
const ABS: f64 = 1e-7;

const FULL = 0;
const CAUSAL = 1;
const MASKED = 2;
const WINDOW = 3;

let cases = 0;
let failures = 0;
let firstFailure = '';
let worstRatio: f64 = 0;
let zeroRows = 0;

function fail(what: string): void {
  if (failures == 0) firstFailure = what;
  failures++;
}

function runCase(nq: i32, nk: i32, dh: i32, dv: i32, mode: i32, rng: Rng): void {
  cases++;
  const qStride = dh + 1 + (cases % 3);
  const kStride = dh + 2 + (cases % 2);
  const vStride = dv + 1 + (cases % 4);
  const oStride = dv + 1 + (cases % 5);
  const mStride = nk + 3;
  const Q = matrix(nq, dh, qStride);
  const K = matrix(nk, dh, kStride);
  const V = matrix(nk, dv, vStride);
  const O = matrix(nq, dv, oStride);
  const M = matrix(mode == MASKED ? nq : 0, nk, mStride);
  const wsBytes = f32_attn_workspace_bytes(nk, dh, dv);
  const ws = workspace(wsBytes);
  const params = paramBlock(ATTN_PARAMS_BYTES);

  fillMatrix(Q.ptr, nq, dh, qStride, rng, -1, 1);
  fillMatrix(K.ptr, nk, dh, kStride, rng, -1, 1);
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
  }

  // float64 reference
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
        let d: f64 = 0;
        for (let x = 0; x < dh; x++) {
          d += <f64>load<f32>(at(Q.ptr, qStride, i, x)) * <f64>load<f32>(at(K.ptr, kStride, j, x));
        }
        sj = d * <f64>scale;
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
  f32_attn_online(P);

  const what = 'nq=' + nq.toString() + ' nk=' + nk.toString() + ' dh=' + dh.toString() + ' dv=' + dv.toString() +
    ' mode=' + mode.toString() + ' offset=' + offset.toString();
  let bad = 0;
  let firstBad = '';
  for (let i = 0; i < nq; i++) {
    if (unchecked(empty[i])) zeroRows++;
    for (let x = 0; x < dv; x++) {
      const got = <f64>load<f32>(at(O.ptr, oStride, i, x));
      let ok: bool;
      let r: f64 = 0;
      if (unchecked(empty[i])) {
        ok = got == 0;
      } else {
        r = unchecked(ref[i * dv + x]);
        const g = unchecked(mag[i * dv + x]);
        const err = Math.abs(got - r);
        ok = err <= REL * g + ABS;
        if (ok && g > 0 && err / g > worstRatio) worstRatio = err / g;
      }
      if (!ok) {
        if (bad == 0) {
          firstBad = ' o[' + i.toString() + ',' + x.toString() + '] = ' + got.toString() +
            (unchecked(empty[i]) ? ', expected 0 (no visible key)' : ', f64 ' + r.toString());
        }
        bad++;
      }
    }
  }
  if (bad > 0) fail(what + ': ' + bad.toString() + ' elements off,' + firstBad);
  const dmg = paddingDamage(O, nq, dv, oStride);
  if (dmg > 0) fail(what + ': ' + dmg.toString() + ' words of o padding/guard written');
  if (Q.hash() != hq || K.hash() != hk || V.hash() != hv || M.hash() != hm) fail(what + ': an input was modified');
  if (ws.guardDamage() > 0) fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
  if (params.guardDamage() > 0) fail(what + ': parameter block guard written');

  Q.free();
  K.free();
  V.free();
  O.free();
  M.free();
  ws.free();
  params.free();
}

function begin(): void {
  cases = 0;
  failures = 0;
  firstFailure = '';
  worstRatio = 0;
  zeroRows = 0;
}

function finish(name: string): void {
  report(
    name + ': ' + cases.toString() + ' shapes, ' + zeroRows.toString() + ' rows without visible key, worst err/(Σ p|v|) = ' +
    worstRatio.toString() + (failures > 0 ? '; ' + failures.toString() + ' failures, first: ' + firstFailure : ''),
  );
  expect(failures).toBe(0, keep(name + ': ' + firstFailure));
}

function sweepAll(mode: i32, seed: u32, name: string): void {
  begin();
  const rng = new Rng(seed);
  for (let a = 0; a < NS.length; a++) {
    for (let b = 0; b < NS.length; b++) {
      for (let c = 0; c < DH.length; c++) {
        for (let d = 0; d < DV.length; d++) runCase(NS[a], NS[b], DH[c], DV[d], mode, rng);
      }
    }
  }
  finish(name);
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
    begin();
    const rng = new Rng(104);
    for (let a = 0; a < NS.length; a++) {
      for (let b = 0; b < NS.length; b++) {
        if (NS[b] < 3) continue;
        runCase(NS[a], NS[b], 3, 6, WINDOW, rng);
        runCase(NS[a], NS[b], 64, 64, WINDOW, rng);
      }
    }
    finish('window');
  });
});
