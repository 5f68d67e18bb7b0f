// reference/kv-quant.ts — oracles for the low-precision KV caches (assembly/kv-rows.ts,
// assembly/attention-kv.ts), written from the formats' definitions, independent of src/.
//
// Rows: 'f16' rounds each value to binary16 (round half to even, reference/quant.ts); 'int8'
// quantizes a row y with one scale, s = fround(max|y| / 127), c = nearest(fround(y / s)) clamped to
// ±127, read back as fround(c·s) (a row with NaN or ±∞ reads back as NaN; a zero row as zeros).
// Keys of an int8 cache are quantized around their head's mean μ (the mean of the first rows
// written: fround(Σ x · (1/n)) summed in float64 in row order, non-finite → 0): y = fround(x − μ),
// read back as fround(fround(c·s) + μ).
// Attention: float64 softmax attention over those stored values, bottom-right aligned (query i at
// absolute position offset + i), causal and a left window as the cache applies them. For the int8
// decode path (fewer than 4 query rows) the scores are those the kernel computes from 16-bit query
// codes: qc = nearest(fround(q / sq)), sq = fround(max|q| / 32767),
// s = fround(fround(fround(Σ qc·kc) · fround(scale·sq)) · sk) — integers exact, each float32
// operation emulated with Math.fround — so the comparison can be tight; with μ the kernel adds
// scale·(q·μ) (a float32 dot here in float64: within the tolerance).

import { f16ToNumber, numberToF16, roundHalfEven } from './quant';

export type KvDtype = 'f32' | 'f16' | 'int8';

const f32 = Math.fround;

/** One int8 row: codes, scale and the values read back. */
export interface Q8Row {
  codes: Int8Array;
  scale: number;
  values: Float64Array;
}

/** kv-rows.ts's q8kv quantization of one row, around `mean` (d values) when given. */
export function q8Row(x: ArrayLike<number>, mean?: ArrayLike<number>): Q8Row {
  const y = Array.from(x, (v, i) => (mean ? f32(v - mean[i]) : v));
  let amax = 0;
  for (const v of y) {
    const a = Math.abs(v);
    amax = Number.isNaN(a) || a > amax ? a : amax;
  }
  const scale = Number.isFinite(amax) ? f32(amax / 127) : NaN;
  const codes = new Int8Array(y.length);
  if (scale > 0) for (let i = 0; i < y.length; i++) codes[i] = Math.max(-127, Math.min(127, roundHalfEven(f32(y[i] / scale))));
  const values = Float64Array.from(codes, (c, i) => (mean ? f32(f32(c * scale) + mean[i]) : f32(c * scale)));
  return { codes, scale, values };
}

/**
 * The int8 keys' mean of every head of x ([heads, S, d], row-major: `heads` may count batch·heads)
 * over rows [t0, t1): [heads, d].
 */
export function keyMeans(x: ArrayLike<number>, heads: number, S: number, d: number, t0: number, t1: number): Float64Array {
  const out = new Float64Array(heads * d);
  for (let h = 0; h < heads; h++) {
    for (let c = 0; c < d; c++) {
      let acc = 0;
      for (let r = t0; r < t1; r++) acc += x[(h * S + r) * d + c];
      const m = f32(acc * (1 / (t1 - t0)));
      out[h * d + c] = Number.isFinite(m) ? m : 0;
    }
  }
  return out;
}

/**
 * The values a cache of `dtype` stores for rows of d elements (float32 for 'f32'); `means`
 * ([heads, d], int8 keys) applies to rows in blocks of rowsPerHead.
 */
export function storedRows(x: ArrayLike<number>, d: number, dtype: KvDtype, means?: ArrayLike<number>, rowsPerHead = 1): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * d < x.length; r++) {
    const row = Array.from({ length: d }, (_, i) => x[r * d + i]);
    const head = Math.floor(r / rowsPerHead);
    const mean = means ? Array.from({ length: d }, (_, i) => means[head * d + i]) : undefined;
    if (dtype === 'f32') out.set(row.map(f32), r * d);
    else if (dtype === 'f16') out.set(row.map((v) => f16ToNumber(numberToF16(f32(v)))), r * d);
    else out.set(q8Row(row, mean).values, r * d);
  }
  return out;
}

/** A cache-attention problem: q [B, H, nq, dh], k [B, Hkv, nk, dh], v [B, Hkv, nk, dv] as given to the cache (float32). */
export interface KvProblem {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  B: number;
  H: number;
  Hkv: number;
  nq: number;
  nk: number;
  dh: number;
  dv: number;
  /** absolute position of query row 0 relative to key 0 (the cached tokens before the queries) */
  offset: number;
  causal: boolean;
  /** ring buffer: keys p − window < j ≤ p (… and causal) */
  window?: number;
  scale?: number;
  /** int8 keys' means [B·Hkv, dh] (keyMeans); none: quantized without */
  kMeans?: Float64Array;
  /** s ← softcap·tanh(s / softcap) when > 0 */
  softcap?: number;
}

/** float64 attention over the stored K and V of a cache of `dtype` (see the header). */
export function referenceKvAttention(p: KvProblem, dtype: KvDtype): Float64Array {
  const { B, H, Hkv, nq, nk, dh, dv } = p;
  const scale = p.scale ?? 1 / Math.sqrt(dh);
  const ks = storedRows(p.k, dh, dtype, dtype === 'int8' ? p.kMeans : undefined, nk);
  const vs = storedRows(p.v, dv, dtype);
  const meanOf = (row: number) => (p.kMeans ? p.kMeans.subarray(Math.floor(row / nk) * dh, (Math.floor(row / nk) + 1) * dh) : undefined);
  const kq = dtype === 'int8' ? Array.from({ length: B * Hkv * nk }, (_, r) => q8Row(p.k.subarray(r * dh, (r + 1) * dh), meanOf(r))) : [];
  const decode16 = dtype === 'int8' && nq < 4;
  const out = new Float64Array(B * H * nq * dv);
  const s = new Float64Array(nk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / Hkv));
      for (let i = 0; i < nq; i++) {
        const qRow = p.q.subarray(((b * H + h) * nq + i) * dh, ((b * H + h) * nq + i + 1) * dh);
        let qc: number[] = [];
        let t = 0;
        let c = 0;
        if (decode16) {
          const mean = meanOf((b * Hkv + kvh) * nk);
          if (mean) for (let x = 0; x < dh; x++) c += qRow[x] * mean[x];
          c *= scale;
          let amax = 0;
          for (const x of qRow) amax = Math.max(amax, Math.abs(x));
          const sq = f32(amax / 32767);
          qc = Array.from(qRow, (x) => (sq > 0 ? Math.max(-32767, Math.min(32767, roundHalfEven(f32(x / sq)))) : 0));
          t = f32(f32(scale) * sq);
        }
        const pos = p.offset + i;
        let m = -Infinity;
        for (let j = 0; j < nk; j++) {
          const visible = (!p.causal || j <= pos) && (p.window === undefined || j > pos - p.window);
          if (!visible) {
            s[j] = -Infinity;
            continue;
          }
          const row = (b * Hkv + kvh) * nk + j;
          if (decode16) {
            let dot = 0;
            for (let x = 0; x < dh; x++) dot += qc[x] * kq[row].codes[x];
            s[j] = f32(f32(f32(dot) * t) * kq[row].scale) + c;
          } else {
            let dot = 0;
            for (let x = 0; x < dh; x++) dot += qRow[x] * ks[row * dh + x];
            s[j] = dot * scale;
          }
          if (p.softcap) s[j] = p.softcap * Math.tanh(s[j] / p.softcap);
          m = Math.max(m, s[j]);
        }
        if (m === -Infinity) continue;
        let l = 0;
        for (let j = 0; j < nk; j++) l += s[j] === -Infinity ? 0 : Math.exp(s[j] - m);
        const o = ((b * H + h) * nq + i) * dv;
        for (let j = 0; j < nk; j++) {
          if (s[j] === -Infinity) continue;
          const w = Math.exp(s[j] - m) / l;
          const row = ((b * Hkv + kvh) * nk + j) * dv;
          for (let x = 0; x < dv; x++) out[o + x] += w * vs[row + x];
        }
      }
    }
  }
  return out;
}

/** √(Σ(got − want)² / Σ want²). */
export function relativeRms(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return Math.sqrt(e / n);
}

/** max |got − want| / max |want|. */
export function maxRelative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let range = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    err = Number.isNaN(d) || d > err ? d : err;
    range = Math.max(range, Math.abs(want[i]));
  }
  return err / range;
}
