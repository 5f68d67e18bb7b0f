// kv-attention.spec.ts — the low-precision KV-cache rows (assembly/kv-rows.ts) and the fused
// attention that reads them in place (assembly/attention-kv.ts), SIMD128 build; the attention
// through AttentionTester's F16KV / Q8KV kernels (attention-tester.ts: cache rows, buffers,
// strides, guards, checks); test/layers/kv-dtype.test.ts runs both binaries through rt.kvCache.
//
// Rows:    f32_f16kv_convert → f16 bits equal f32_f16_convert's (tested exhaustively in f16.spec.ts)
//          and the flag is 1 exactly when a half is ∞/NaN; f32_q8kv_convert → codes and scale as
//          the header defines them, emulated here in f32 (with and without a mean); the readers
//          give f16 values exactly and fround(fround(c·s) + μ); d ∈ {1, 3, 7, 8, 9, 17, 64, 65};
//          row padding and guards keep their sentinel; each converter runs through a guarded
//          KvConvertParams block (attention-tester.ts's kvConvert) that must come back unchanged.
// Attention: nq ∈ {1, 2, 3, 4, 5, 9, 65} (row path below 4, tiles from 4) × nk ∈ {1, 3, 9, 65, 130}
//          × dh ∈ {1, 3, 8, 17, 64} × dv ∈ {1, 6, 33, 64}, full / causal / additive mask with a
//          fully masked row / window with two padding keys, cache rows with extra padding words
//          (sentinel NaN, which the kernels' over-reads meet), against float64 attention over the
//          stored values (for q8kv decode: the 16-bit query codes and the scores the header
//          defines, μ added back); f16 rows holding ±∞/NaN at masked positions must not leak.
// Tolerance: |o − o₆₄| ≤ 4e-6 · Σⱼ pⱼ|vⱼ| + 1e-7, as sage.spec.ts.

import { ATTN_LSE, ATTN_KV_MEAN, ATTN_PARAMS_BYTES } from '../attention-params';
import { f32_f16_convert, F16_CONVERT_DST, F16_CONVERT_N, F16_CONVERT_PARAMS_BYTES, F16_CONVERT_SRC } from '../f16';
import { f16kv_f32_convert, f32_f16kv_convert, f32_q8kv_convert, kvPayloadBytes, q8kv_f32_convert } from '../kv-rows';
import { AttentionTester, F16KV, kvConvert, Q8KV } from './attention-tester';
import { Guarded, Rng, GARBAGE, SENTINEL, at, fillMatrix, fillMatrixBits, matrix, paddingDamage, paramBlock } from './helpers';
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

/** Converts f32 rows (stride ld elements) into cache rows (stride rb bytes); false when the kernel wrote its parameter block. */
function toRows(format: i32, src: usize, ld: i32, rows: i32, d: i32, dst: usize, rb: i32, mean: usize): bool {
  return kvConvert(format == F16 ? f32_f16kv_convert : f32_q8kv_convert, src, ld, rows, d, dst, rb, mean);
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
  const converted = toRows(format, X.ptr, ld, rows, d, R.ptr, rb, mp);
  const what = (format == F16 ? 'f16kv' : 'q8kv') + ' d=' + d.toString() + (withMean ? ' with mean' : '');
  if (!converted) tally.fail(what + ': parameter block written');
  for (let r = 0; r < rows; r++) {
    const row = R.ptr + <usize>(r * rb);
    if (format == F16) {
      const h = new Guarded(<usize>d << 1);
      const pp = paramBlock(F16_CONVERT_PARAMS_BYTES);
      store<u32>(pp.ptr + F16_CONVERT_SRC, <u32>at(X.ptr, ld, r, 0));
      store<u32>(pp.ptr + F16_CONVERT_DST, <u32>h.ptr);
      store<i32>(pp.ptr + F16_CONVERT_N, d);
      f32_f16_convert(pp.ptr);
      pp.free();
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
  if (!kvConvert(format == F16 ? f16kv_f32_convert : q8kv_f32_convert, R.ptr, rb, rows, d, Y.ptr, ld, mp)) {
    tally.fail(what + ': read-back parameter block written');
  }
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

/** Float64 attention over the stored values of the tester's cache rows; q8kv decode: the 16-bit query codes' scores. */
function reference(
  t: AttentionTester, qp: usize, kp: usize, vp: usize, mp: usize,
  ref: StaticArray<f64>, mag: StaticArray<f64>, empty: StaticArray<bool>,
): void {
  const format = t.kernel_ == F16KV ? F16 : Q8;
  const nq = t.nq_, nk = t.nk_, dh = t.dh_, dv = t.dv_;
  const keyLen = t.visibleKeys;
  const scale = t.scale;
  const kb = t.kRowBytes, vb = t.vRowBytes, mean = t.meanPtr;
  const s = new StaticArray<f64>(nk);
  const qc = new StaticArray<i32>(dh);
  for (let i = 0; i < nq; i++) {
    const lo = t.left >= 0 ? max(0, i + t.offset - t.left) : 0;
    const hi = t.right >= 0 ? min(keyLen, i + t.offset + t.right + 1) : keyLen;
    const decode16 = format == Q8 && nq < 4;
    let sc: f32 = 0;
    let c: f64 = 0;
    if (decode16) {
      let amax: f32 = 0;
      for (let x = 0; x < dh; x++) amax = max(amax, Mathf.abs(load<f32>(at(qp, t.qStride, i, x))));
      const sq: f32 = amax / <f32>32767;
      for (let x = 0; x < dh; x++) unchecked(qc[x] = sq > 0 ? <i32>nearest(load<f32>(at(qp, t.qStride, i, x)) / sq) : 0);
      sc = scale * sq;
      if (mean) {
        for (let x = 0; x < dh; x++) c += <f64>load<f32>(at(qp, t.qStride, i, x)) * <f64>load<f32>(mean + (<usize>x << 2));
        c *= <f64>scale;
      }
    }
    let m: f64 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let sj: f64 = -Infinity;
      if (j >= lo && j < hi) {
        const row = kp + <usize>(j * kb);
        if (decode16) {
          let d: i32 = 0;
          for (let x = 0; x < dh; x++) d += unchecked(qc[x]) * <i32>load<i8>(row + <usize>x);
          sj = <f64>((<f32>d * sc) * load<f32>(row + kvPayloadBytes<i8>(dh))) + c;
        } else {
          let d: f64 = 0;
          for (let x = 0; x < dh; x++) d += <f64>load<f32>(at(qp, t.qStride, i, x)) * stored(format, row, dh, x, mean);
          sj = d * <f64>scale;
        }
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
        const v = stored(format, vp + <usize>(j * vb), dv, x, 0);
        o += p * v;
        g += p * Math.abs(v);
      }
      unchecked(ref[i * dv + x] = o / l);
      unchecked(mag[i * dv + x] = g / l);
    }
  }
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
        for (let d = 0; d < DV.length; d++) {
          const t = new AttentionTester().kernel(format == F16 ? F16KV : Q8KV).nq(NQ[a]).nk(NK[b]).dh(DH[c]).dv(DV[d])
            .outlierChannels(8).tolerance(ABS, REL);
          // q8kv: every other case stores the keys around a mean
          t.kvMean(format == Q8 && ((tally.cases + 1) & 1) == 0);
          if (format == F16) t.poisonMaskedKey();
          if (mode == CAUSAL) t.causal();
          else if (mode == MASKED) t.mask(true);
          else if (mode == WINDOW) t.window(5, 2).keyLen(NK[b] - 2).paddingKeys(1e6);
          t.test(tally, rng, reference);
        }
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
