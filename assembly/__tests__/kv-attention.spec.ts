// kv-attention.spec.ts — the low-precision KV-cache rows (assembly/kv-rows.ts) and the fused
// attention that reads them in place (assembly/attention-kv.ts), SIMD128 build
// (test/layers/kv-dtype.test.ts runs both binaries through rt.kvCache).
//
// Rows:    f32_f16kv_convert → f16 bits equal f32_f16_convert's (tested exhaustively in f16.spec.ts)
//          and the flag is 1 exactly when a half is ∞/NaN; f32_q8kv_convert → codes and scale as
//          the header defines them, emulated here in f32 (with and without a mean); the readers
//          give f16 values exactly and fround(fround(c·s) + μ); d ∈ {1, 3, 7, 8, 9, 17, 64, 65};
//          row padding and guards keep their sentinel.
// Attention: nq ∈ {1, 2, 3, 4, 5, 9, 65} (row path below 4, tiles from 4) × nk ∈ {1, 3, 9, 65, 130}
//          × dh ∈ {1, 3, 8, 17, 64} × dv ∈ {1, 6, 33, 64}, full / causal / additive mask with a
//          fully masked row / window with two padding keys, cache rows with extra padding words
//          (sentinel NaN, which the kernels' over-reads meet), against float64 attention over the
//          stored values (for q8kv decode: the 16-bit query codes and the scores the header
//          defines, μ added back); f16 rows holding ±∞/NaN at masked positions must not leak.
// Tolerance: |o − o₆₄| ≤ 4e-6 · Σⱼ pⱼ|vⱼ| + 1e-7, as sage.spec.ts.

import {
  ATTN_Q, ATTN_Q_STRIDE, ATTN_K, ATTN_K_STRIDE, ATTN_V, ATTN_V_STRIDE, ATTN_O, ATTN_O_STRIDE,
  ATTN_NQ, ATTN_NK, ATTN_DH, ATTN_DV, ATTN_SCALE, ATTN_SOFTCAP, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_OFFSET, ATTN_LEFT, ATTN_RIGHT, ATTN_KEY_LEN, ATTN_WORKSPACE, ATTN_PARAMS_BYTES, ATTN_LSE,
} from '../attention-params';
import { f32_attn_workspace_bytes } from '../attention';
import { ATTN_KV_MEAN } from '../attention-params';
import { f16kv_attn_online, q8kv_attn_online } from '../attention-kv';
import { f32_f16_convert } from '../f16';
import { f16kv_f32_convert, f32_f16kv_convert, f32_q8kv_convert, kvPayloadBytes, q8kv_f32_convert } from '../kv-rows';
import { Guarded, Rng, GARBAGE, SENTINEL, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock, report, workspace } from './helpers';
import { Tally } from './tester';

const F16: i32 = 0;
const Q8: i32 = 1;

const FULL = 0;
const CAUSAL = 1;
const MASKED = 2;
const WINDOW = 3;

const REL: f64 = 4e-6;
const ABS: f64 = 1e-7;

/** The current test's tally (tester.ts); begin() starts a new one. */
let tally = new Tally('');


/** f16 bits → f64 from the definition. */
function f16Value(h: u32): f64 {
  const sign: f64 = (h & 0x8000) ? -1 : 1;
  const e = <i32>((h >> 10) & 31);
  const m = <f64>(h & 1023);
  if (e == 0) return sign * m * Math.pow(2, -24);
  if (e == 31) return m != 0 ? NaN : sign * Infinity;
  return sign * (1024 + m) * Math.pow(2, e - 25);
}

/** Bytes of one row of d values. */
function rowBytes(format: i32, d: i32): i32 {
  return <i32>(format == F16 ? kvPayloadBytes<u16>(d) : kvPayloadBytes<i8>(d)) + 4;
}

/** Value x of a stored row, from its bytes (the reference's reading, independent of the kernels' readers). */
function stored(format: i32, row: usize, d: i32, x: i32, mean: usize): f64 {
  if (format == F16) return f16Value(<u32>load<u16>(row + (<usize>x << 1)));
  const s = load<f32>(row + kvPayloadBytes<i8>(d));
  const v: f32 = <f32>load<i8>(row + <usize>x) * s;
  return <f64>(mean ? v + load<f32>(mean + (<usize>x << 2)) : v);
}

/** Converts f32 rows (stride ld elements) into cache rows (stride rb bytes). */
function toRows(format: i32, src: usize, ld: i32, rows: i32, d: i32, dst: usize, rb: i32, mean: usize): void {
  if (format == F16) f32_f16kv_convert(src, ld, rows, d, dst, rb);
  else f32_q8kv_convert(src, ld, rows, d, dst, rb, mean);
}

// ── rows ──

function rowCase(format: i32, d: i32, withMean: bool, rng: Rng): void {
  tally.begin();
  const rows = 7;
  const ld = d + 1;
  const rb = rowBytes(format, d) + 8; // 8 bytes of padding between rows
  const X = matrix(rows, d, ld);
  fillMatrix(X.ptr, rows, d, ld, rng, -3, 3);
  for (let x = 0; x < d; x++) store<f32>(at(X.ptr, ld, 1, x), 0); // zeros
  store<f32>(at(X.ptr, ld, 2, d - 1), 7e4); //                          past f16's range
  store<f32>(at(X.ptr, ld, 3, 0), NaN);
  for (let x = 0; x < d; x++) store<f32>(at(X.ptr, ld, 4, x), load<f32>(at(X.ptr, ld, 4, x)) * 1e-6);
  const mean = new Guarded(<usize>d << 2);
  for (let x = 0; x < d; x++) store<f32>(mean.ptr + (<usize>x << 2), rng.uniform(-1, 1));
  const mp = withMean ? mean.ptr : 0;
  const R = new Guarded(<usize>(rows * rb));
  fillWordsSentinel(R.ptr, R.bytes);
  const hx = X.hash();
  toRows(format, X.ptr, ld, rows, d, R.ptr, rb, mp);
  const what = (format == F16 ? 'f16kv' : 'q8kv') + ' d=' + d.toString() + (withMean ? ' with mean' : '');
  for (let r = 0; r < rows; r++) {
    const row = R.ptr + <usize>(r * rb);
    if (format == F16) {
      const h = new Guarded(<usize>d << 1);
      f32_f16_convert(at(X.ptr, ld, r, 0), h.ptr, d);
      let special: u32 = 0;
      for (let x = 0; x < d; x++) {
        const want = load<u16>(h.ptr + (<usize>x << 1));
        if ((want & 0x7c00) == 0x7c00) special = 1;
        if (load<u16>(row + (<usize>x << 1)) != want) tally.fail(what + ': row ' + r.toString() + ' half ' + x.toString());
      }
      if (load<u32>(row + kvPayloadBytes<u16>(d)) != special) tally.fail(what + ': row ' + r.toString() + ' flag');
      h.free();
    } else {
      let amax: f32 = 0;
      let nan = false;
      for (let x = 0; x < d; x++) {
        const y: f32 = load<f32>(at(X.ptr, ld, r, x)) - (mp ? load<f32>(mp + (<usize>x << 2)) : 0);
        if (y != y) nan = true;
        amax = max(amax, Mathf.abs(y));
      }
      const s: f32 = nan ? NaN : amax / <f32>127;
      const got = load<f32>(row + kvPayloadBytes<i8>(d));
      if (!(got == s || (got != got && s != s))) tally.fail(what + ': row ' + r.toString() + ' scale ' + got.toString() + ' want ' + s.toString());
      for (let x = 0; x < d; x++) {
        const y: f32 = load<f32>(at(X.ptr, ld, r, x)) - (mp ? load<f32>(mp + (<usize>x << 2)) : 0);
        const c: i32 = s > 0 ? min(127, max(-127, <i32>nearest(y / s))) : 0;
        if (<i32>load<i8>(row + <usize>x) != c) tally.fail(what + ': row ' + r.toString() + ' code ' + x.toString());
      }
    }
    // padding between rows untouched
    for (let p = rowBytes(format, d); p < rb; p += 4) if (load<u32>(row + <usize>p) != SENTINEL) tally.fail(what + ': row padding written');
  }
  if (X.hash() != hx) tally.fail(what + ': input modified');
  if (R.guardDamage() > 0) tally.fail(what + ': rows guard written');
  // reading back
  const Y = matrix(rows, d, ld);
  fillMatrixBits(Y.ptr, rows, d, ld, GARBAGE);
  if (format == F16) f16kv_f32_convert(R.ptr, rb, rows, d, Y.ptr, ld);
  else q8kv_f32_convert(R.ptr, rb, rows, d, Y.ptr, ld, mp);
  for (let r = 0; r < rows; r++) {
    for (let x = 0; x < d; x++) {
      const want = stored(format, R.ptr + <usize>(r * rb), d, x, mp);
      const got = <f64>load<f32>(at(Y.ptr, ld, r, x));
      if (!(got == want || (got != got && want != want))) tally.fail(what + ': read back row ' + r.toString() + ' value ' + x.toString());
    }
  }
  if (paddingDamage(Y, rows, d, ld) > 0) tally.fail(what + ': read-back padding written');
  X.free();
  Y.free();
  R.free();
  mean.free();
}

function fillWordsSentinel(p: usize, bytes: usize): void {
  for (let q = p; q < p + bytes; q += 4) store<u32>(q, SENTINEL);
}

// ── attention ──

function attnCase(format: i32, nq: i32, nk: i32, dh: i32, dv: i32, mode: i32, rng: Rng): void {
  tally.begin();
  const qStride = dh + 1 + (tally.cases % 3);
  const oStride = dv + 1 + (tally.cases % 5);
  const mStride = nk + 3;
  const kb = rowBytes(format, dh) + 4 * (tally.cases % 3); // cache rows with 0–8 bytes of extra padding
  const vb = rowBytes(format, dv) + 4 * (tally.cases % 2);
  const Q = matrix(nq, dh, qStride);
  const K32 = matrix(nk, dh, dh);
  const V32 = matrix(nk, dv, dv);
  const K = new Guarded(<usize>max(1, nk * kb));
  const V = new Guarded(<usize>max(1, nk * vb));
  const O = matrix(nq, dv, oStride);
  const M = matrix(mode == MASKED ? nq : 0, nk, mStride);
  const mean = new Guarded(<usize>dh << 2);
  const lse = new Guarded(<usize>nq << 2);
  const wsBytes = f32_attn_workspace_bytes(nk, dh, dv);
  const ws = workspace(wsBytes);
  const params = paramBlock(ATTN_PARAMS_BYTES);

  fillMatrix(Q.ptr, nq, dh, qStride, rng, -1, 1);
  fillMatrix(K32.ptr, nk, dh, dh, rng, -1, 1);
  for (let j = 0; j < nk; j++) for (let x = 0; x < dh; x += 5) store<f32>(at(K32.ptr, dh, j, x), load<f32>(at(K32.ptr, dh, j, x)) + 8);
  fillMatrix(V32.ptr, nk, dv, dv, rng, -1, 1);
  const useMean = format == Q8 && (tally.cases & 1) == 0;
  for (let x = 0; x < dh; x++) store<f32>(mean.ptr + (<usize>x << 2), (x % 5) == 0 ? 8 : rng.uniform(-0.5, 0.5));
  const mp: usize = useMean ? mean.ptr : 0;
  const scale = <f32>(1.0 / Math.sqrt(<f64>dh));
  let offset = 0, left = -1, right = -1, keyLen = nk;
  if (mode == CAUSAL) {
    right = 0;
    offset = nk - nq;
  } else if (mode == WINDOW) {
    left = 5;
    right = 2;
    keyLen = nk - 2;
    for (let j = keyLen; j < nk; j++) for (let x = 0; x < dh; x++) store<f32>(at(K32.ptr, dh, j, x), 1e6);
  }
  const deadRow = nq / 2;
  if (mode == MASKED) {
    for (let i = 0; i < nq; i++) {
      for (let j = 0; j < nk; j++) {
        const x: f32 = i == deadRow || rng.below(4) == 0 ? -Infinity : rng.uniform(-2, 2);
        store<f32>(at(M.ptr, mStride, i, j), x);
      }
    }
  }
  // f16: a key and a value no query sees hold ∞ / NaN (masked everywhere, or padding).
  let poisoned = -1;
  if (format == F16 && mode == WINDOW) poisoned = nk - 1;
  if (format == F16 && mode == MASKED && nk > 1) {
    poisoned = nk - 1;
    for (let i = 0; i < nq; i++) store<f32>(at(M.ptr, mStride, i, poisoned), -Infinity);
  }
  if (poisoned >= 0) {
    store<f32>(at(K32.ptr, dh, poisoned, 0), Infinity);
    store<f32>(at(V32.ptr, dv, poisoned, dv - 1), NaN);
  }
  fillWordsSentinel(K.ptr, K.bytes);
  fillWordsSentinel(V.ptr, V.bytes);
  toRows(format, K32.ptr, dh, nk, dh, K.ptr, kb, mp);
  toRows(format, V32.ptr, dv, nk, dv, V.ptr, vb, 0);
  fillMatrixBits(O.ptr, nq, dv, oStride, GARBAGE);

  // float64 attention over the stored values; q8kv decode: the 16-bit query codes' scores.
  const ref = new StaticArray<f64>(nq * dv);
  const mag = new StaticArray<f64>(nq * dv);
  const empty = new StaticArray<bool>(nq);
  const s = new StaticArray<f64>(nk);
  const qc = new StaticArray<i32>(dh);
  for (let i = 0; i < nq; i++) {
    const lo = left >= 0 ? max(0, i + offset - left) : 0;
    const hi = right >= 0 ? min(keyLen, i + offset + right + 1) : keyLen;
    const decode16 = format == Q8 && nq < 4;
    let t: f32 = 0;
    let c: f64 = 0;
    if (decode16) {
      let amax: f32 = 0;
      for (let x = 0; x < dh; x++) amax = max(amax, Mathf.abs(load<f32>(at(Q.ptr, qStride, i, x))));
      const sq: f32 = amax / <f32>32767;
      for (let x = 0; x < dh; x++) unchecked(qc[x] = sq > 0 ? <i32>nearest(load<f32>(at(Q.ptr, qStride, i, x)) / sq) : 0);
      t = scale * sq;
      if (mp) {
        for (let x = 0; x < dh; x++) c += <f64>load<f32>(at(Q.ptr, qStride, i, x)) * <f64>load<f32>(mp + (<usize>x << 2));
        c *= <f64>scale;
      }
    }
    let m: f64 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let sj: f64 = -Infinity;
      if (j >= lo && j < hi) {
        const row = K.ptr + <usize>(j * kb);
        if (decode16) {
          let d: i32 = 0;
          for (let x = 0; x < dh; x++) d += unchecked(qc[x]) * <i32>load<i8>(row + <usize>x);
          sj = <f64>((<f32>d * t) * load<f32>(row + kvPayloadBytes<i8>(dh))) + c;
        } else {
          let d: f64 = 0;
          for (let x = 0; x < dh; x++) d += <f64>load<f32>(at(Q.ptr, qStride, i, x)) * stored(format, row, dh, x, mp);
          sj = d * <f64>scale;
        }
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
        const v = stored(format, V.ptr + <usize>(j * vb), dv, x, 0);
        o += p * v;
        g += p * Math.abs(v);
      }
      unchecked(ref[i * dv + x] = o / l);
      unchecked(mag[i * dv + x] = g / l);
    }
  }
  const hq = Q.hash(), hk = K.hash(), hv = V.hash(), hm = M.hash(), hmean = mean.hash();

  const P = params.ptr;
  store<u32>(P + ATTN_Q, <u32>Q.ptr);
  store<i32>(P + ATTN_Q_STRIDE, qStride);
  store<u32>(P + ATTN_K, <u32>K.ptr);
  store<i32>(P + ATTN_K_STRIDE, kb >> 2);
  store<u32>(P + ATTN_V, <u32>V.ptr);
  store<i32>(P + ATTN_V_STRIDE, vb >> 2);
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
  store<u32>(P + ATTN_LSE, <u32>lse.ptr);
  store<u32>(P + ATTN_KV_MEAN, <u32>mp);
  if (format == F16) f16kv_attn_online(P);
  else q8kv_attn_online(P);

  const what = (format == F16 ? 'f16kv' : 'q8kv') + ' nq=' + nq.toString() + ' nk=' + nk.toString() + ' dh=' + dh.toString() +
    ' dv=' + dv.toString() + ' mode=' + mode.toString() + (useMean ? ' mean' : '');
  for (let i = 0; i < nq; i++) {
    for (let x = 0; x < dv; x++) {
      const got = <f64>load<f32>(at(O.ptr, oStride, i, x));
      if (unchecked(empty[i])) tally.exact(got, 0, i, x);
      else tally.close(got, unchecked(ref[i * dv + x]), ABS, REL, unchecked(mag[i * dv + x]), i, x);
    }
  }
  tally.endCase(what);
  if (paddingDamage(O, nq, dv, oStride) > 0) tally.fail(what + ': o padding/guard written');
  if (Q.hash() != hq || K.hash() != hk || V.hash() != hv || M.hash() != hm || mean.hash() != hmean) tally.fail(what + ': an input was modified');
  if (ws.guardDamage() > 0) tally.fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
  if (params.guardDamage() > 0 || lse.guardDamage() > 0) tally.fail(what + ': parameter block or lse guard written');

  Q.free();
  K32.free();
  V32.free();
  K.free();
  V.free();
  O.free();
  M.free();
  mean.free();
  lse.free();
  ws.free();
  params.free();
}

const NQ: StaticArray<i32> = [1, 2, 3, 4, 5, 9, 65];
const NK: StaticArray<i32> = [1, 3, 9, 65, 130];
const DH: StaticArray<i32> = [1, 3, 8, 17, 64];
const DV: StaticArray<i32> = [1, 6, 33, 64];

function sweep(format: i32, mode: i32, seed: u32, name: string): void {
  tally = new Tally(name);
  const rng = new Rng(seed);
  for (let a = 0; a < NQ.length; a++) {
    for (let b = 0; b < NK.length; b++) {
      if (mode == WINDOW && NK[b] < 3) continue;
      for (let c = 0; c < DH.length; c++) {
        for (let d = 0; d < DV.length; d++) attnCase(format, NQ[a], NK[b], DH[c], DV[d], mode, rng);
      }
    }
  }
  tally.finish();
}

describe('KV-cache rows (kv-rows.ts)', () => {
  it('f16kv and q8kv rows (with and without a mean): values, flag, codes, scale, reading back', () => {
    tally = new Tally('rows');
    const rng = new Rng(91);
    const ds: StaticArray<i32> = [1, 3, 7, 8, 9, 17, 64, 65];
    for (let i = 0; i < ds.length; i++) {
      rowCase(F16, ds[i], false, rng);
      rowCase(Q8, ds[i], false, rng);
      rowCase(Q8, ds[i], true, rng);
    }
    tally.finish();
  });
  it('the keys\' mean sits in the ATTN block\'s spare last word', () => {
    expect(ATTN_KV_MEAN).toBeGreaterThanOrEqual(ATTN_LSE + 4);
    expect(ATTN_KV_MEAN + 4).toBeLessThanOrEqual(ATTN_PARAMS_BYTES);
  });
});

describe('f16kv_attn_online / q8kv_attn_online, one head vs float64 over the stored values', () => {
  it('f16kv full', () => sweep(F16, FULL, 301, 'f16kv full'));
  it('f16kv causal', () => sweep(F16, CAUSAL, 302, 'f16kv causal'));
  it('f16kv masked (a masked key/value row holds ∞/NaN)', () => sweep(F16, MASKED, 303, 'f16kv masked'));
  it('f16kv window (a padding key/value row holds ∞/NaN)', () => sweep(F16, WINDOW, 304, 'f16kv window'));
  it('q8kv full', () => sweep(Q8, FULL, 311, 'q8kv full'));
  it('q8kv causal', () => sweep(Q8, CAUSAL, 312, 'q8kv causal'));
  it('q8kv masked', () => sweep(Q8, MASKED, 313, 'q8kv masked'));
  it('q8kv window', () => sweep(Q8, WINDOW, 314, 'q8kv window'));
});
