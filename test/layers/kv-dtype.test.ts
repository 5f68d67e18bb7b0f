// kv-dtype.test.ts — KV caches of f16 and int8 rows (rt.kvCache({ dtype })), read in place by the
// fused kernels (assembly/attention-kv.ts), both binaries.
//
// Against test/reference/kv-quant.ts (float64 attention over the values the cache stores — f16
// rounded or int8 quantized with one scale per token — and, for the int8 decode path, the 16-bit
// query codes the kernel uses), max |error| ≤ 1e-5 of the output range:
//   • stored rows: keys()/values() equal the reference quantization bit for bit, with tails
//     (headDim 1, 3, 13, 17, 65), zero rows, outliers, values past f16's range, tiny values;
//   • a linear cache: a prefix appended, then steps of 1, 2, 3 (decode row path) and 4, 9, 70 new
//     tokens (prefill tiles), GQA, valueDim ≠ headDim;
//   • a ring buffer (window) decoded token by token and in chunks longer than the window;
//   • beam reorder followed by more steps; returned weights (softmax over the stored keys).
// Against float32 (the same data through an f32 cache), relative RMS of the output on Gaussian data:
// f16 ≤ 0.2%, int8 ≤ 3%, also with outlier key channels (values printed). Memory: an int8 cache
// takes ≤ 0.3× the bytes of f32 (scales included), f16 ≤ 0.55×. Non-finite values: a masked
// ∞/NaN row does not leak, a visible one makes the output NaN. Errors: unknown dtype, disposed,
// another runtime's cache, a memory cap. Threads: bit for bit equal to one thread.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type KVCache, type KVCacheDtype, type Runtime, type Tensor } from '../../src/index';
import { arenaStats, ISAS, rng, uniformF32 } from '../helpers/numeric';
import { referenceAttention } from '../reference/attention';
import { keyMeans, type KvProblem, maxRelative, referenceKvAttention, relativeRms, storedRows } from '../reference/kv-quant';
import { gaussian } from '../quant/data';

const DTYPES: KVCacheDtype[] = ['f16', 'int8'];
/** max |error| over the output range against the same-rounding float64 reference. */
const TOL = 1e-5;

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

/** Rows [t0, t1) of a [B, heads, S, d] array, as a tensor. */
function cut(a: Float32Array, B: number, heads: number, S: number, d: number, t0: number, t1: number): { data: Float32Array; shape: number[] } {
  const n = t1 - t0;
  const out = new Float32Array(B * heads * n * d);
  for (let bh = 0; bh < B * heads; bh++) out.set(a.subarray((bh * S + t0) * d, (bh * S + t1) * d), bh * n * d);
  return { data: out, shape: [B, heads, n, d] };
}

interface Seq {
  B: number;
  H: number;
  Hkv: number;
  S: number;
  dh: number;
  dv: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** rows [t0, t1) of the cache's first write: an int8 cache's keys are quantized around their mean */
  meanRange?: [number, number];
}

function sequence(seed: number, B: number, H: number, Hkv: number, S: number, dh: number, dv: number): Seq {
  const next = rng(seed);
  return { B, H, Hkv, S, dh, dv, q: uniformF32(B * H * S * dh, next), k: uniformF32(B * Hkv * S * dh, next), v: uniformF32(B * Hkv * S * dv, next) };
}

/** The reference output of query rows [t0, t1) over keys [0, t1) (causal, optional window and softcap). */
function reference(s: Seq, dtype: KVCacheDtype, t0: number, t1: number, window?: number, softcap?: number): Float64Array {
  const p: KvProblem = {
    q: cut(s.q, s.B, s.H, s.S, s.dh, t0, t1).data, k: cut(s.k, s.B, s.Hkv, s.S, s.dh, 0, t1).data, v: cut(s.v, s.B, s.Hkv, s.S, s.dv, 0, t1).data,
    B: s.B, H: s.H, Hkv: s.Hkv, nq: t1 - t0, nk: t1, dh: s.dh, dv: s.dv, offset: t0, causal: true, window, kMeans: means(s), softcap,
  };
  return referenceKvAttention(p, dtype);
}

/** The int8 keys' means of a sequence's heads (its first write's rows). */
function means(s: Seq): Float64Array | undefined {
  return s.meanRange ? keyMeans(s.k, s.B * s.Hkv, s.S, s.dh, s.meanRange[0], s.meanRange[1]) : undefined;
}

/** Steps the cache through tokens [t0, S) in chunks (cycled), checking every output against the reference. */
function stepAndCheck(cache: KVCache, s: Seq, dtype: KVCacheDtype, t0: number, chunks: number[], window?: number, softcap?: number): void {
  let t = t0;
  let c = 0;
  while (t < s.S) {
    const n = Math.min(chunks[c++ % chunks.length], s.S - t);
    s.meanRange ??= [Math.max(t, t + n - (window ?? Infinity)), t + n];
    const y = cache.step(cut(s.q, s.B, s.H, s.S, s.dh, t, t + n), cut(s.k, s.B, s.Hkv, s.S, s.dh, t, t + n), cut(s.v, s.B, s.Hkv, s.S, s.dv, t, t + n), { softcap });
    const err = maxRelative(y.data, reference(s, dtype, t, t + n, window, softcap));
    expect(err, `${dtype} tokens ${t}..${t + n}: max error ${err.toExponential(2)} of the range`).toBeLessThanOrEqual(TOL);
    t += n;
  }
}

describe.each(ISAS.map((isa, i) => [isa, i] as const))('kvCache dtype (%s)', (_isa, index) => {
  const rt = runtimes[index];

  describe.each(DTYPES)('%s', (dtype) => {
    it.each([1, 3, 13, 17, 65])('stores rows as the reference rounds them (headDim %i)', (d) => {
      const rows = 9;
      const next = rng(40 + d);
      const k = uniformF32(rows * d, next, -3, 3);
      const v = uniformF32(rows * d, next, -3, 3);
      // Row 1 zeros; row 2 one outlier; row 3 tiny values; row 4 past f16's range.
      for (let x = 0; x < d; x++) {
        k[d + x] = 0;
        k[3 * d + x] *= 1e-30;
        v[4 * d + x] *= 3e4;
      }
      k[2 * d] = 500;
      const cache = rt.kvCache({ heads: 1, headDim: d, maxLength: rows, dtype });
      cache.append({ data: k, shape: [1, 1, rows, d] }, { data: v, shape: [1, 1, rows, d] });
      expect(cache.dtype).toBe(dtype);
      expect(Array.from(cache.keys().data)).toEqual(Array.from(Float32Array.from(storedRows(k, d, dtype, keyMeans(k, 1, rows, d, 0, rows), rows))));
      expect(Array.from(cache.values().data)).toEqual(Array.from(Float32Array.from(storedRows(v, d, dtype))));
      cache.dispose();
    });

    it.each([
      { B: 1, H: 2, Hkv: 2, dh: 16, dv: 16, prefix: 5, chunks: [1, 2, 3] },
      { B: 2, H: 4, Hkv: 2, dh: 13, dv: 7, prefix: 0, chunks: [1, 4, 3, 9] },
      { B: 1, H: 3, Hkv: 1, dh: 64, dv: 64, prefix: 60, chunks: [70, 1, 2, 5] },
      { B: 1, H: 2, Hkv: 1, dh: 65, dv: 33, prefix: 129, chunks: [3, 1, 4] },
      { B: 1, H: 1, Hkv: 1, dh: 1, dv: 3, prefix: 2, chunks: [1, 6] },
    ])('linear cache: decode and prefill steps ≡ float64 over the stored values (B=$B H=$H Hkv=$Hkv dh=$dh dv=$dv)', (c) => {
      const S = c.prefix + 24 + (c.chunks.includes(70) ? 70 : 0);
      const s = sequence(100 + c.dh + c.prefix, c.B, c.H, c.Hkv, S, c.dh, c.dv);
      const cache = rt.kvCache({ heads: c.Hkv, headDim: c.dh, valueDim: c.dv, maxLength: S, batch: c.B, dtype });
      if (c.prefix > 0) {
        cache.append(cut(s.k, c.B, c.Hkv, S, c.dh, 0, c.prefix), cut(s.v, c.B, c.Hkv, S, c.dv, 0, c.prefix));
        s.meanRange = [0, c.prefix];
      }
      stepAndCheck(cache, s, dtype, c.prefix, c.chunks);
      expect(cache.length).toBe(S);
      cache.dispose();
    });

    it('softcap: scores are the true ones (an int8 cache adds its keys\' mean back), decode and prefill', () => {
      // Offset key channels make the mean large: softcap sees q·μ, which softmax alone would not.
      const s = sequence(61, 1, 2, 1, 40, 16, 16);
      for (let r = 0; r < 40; r++) for (const c of [1, 5, 9]) s.k[r * 16 + c] += 6;
      const cache = rt.kvCache({ heads: 1, headDim: 16, maxLength: 40, dtype });
      cache.append(cut(s.k, 1, 1, 40, 16, 0, 20), cut(s.v, 1, 1, 40, 16, 0, 20));
      s.meanRange = [0, 20];
      stepAndCheck(cache, s, dtype, 20, [1, 2, 9, 1, 7], undefined, 2);
      cache.dispose();
    });

    it.each([
      { W: 4, S: 23, chunks: [1] },
      { W: 5, S: 31, chunks: [2, 3, 1] },
      { W: 3, S: 20, chunks: [7, 1, 4] },
      { W: 8, S: 90, chunks: [65, 5, 1, 9] },
    ])('ring buffer (window $W), chunks $chunks ≡ float64 with the window', ({ W, S, chunks }) => {
      const s = sequence(W * 7 + S, 2, 4, 2, S, 8, 8);
      const cache = rt.kvCache({ heads: 2, headDim: 8, maxLength: W, window: W, batch: 2, dtype });
      stepAndCheck(cache, s, dtype, 0, chunks, W);
      expect(cache.length).toBe(W);
      const kept = cut(s.k, 2, 2, S, 8, S - W, S).data;
      expect(Array.from(cache.keys().data)).toEqual(Array.from(Float32Array.from(storedRows(kept, 8, dtype, means(s), W))));
      cache.dispose();
    });

    it('beam reorder, then more steps ≡ decoding the reordered beams', () => {
      const B = 3, H = 2, S = 12, d = 8, cutAt = 7;
      const s = sequence(77, B, H, H, S, d, d);
      const cache = rt.kvCache({ heads: H, headDim: d, maxLength: S, batch: B, dtype });
      cache.append(cut(s.k, B, H, S, d, 0, cutAt), cut(s.v, B, H, S, d, 0, cutAt));
      const order = [2, 0, 0];
      s.meanRange = [0, cutAt];
      cache.reorder(order);
      // The reordered sequences: entry b's first cutAt tokens come from entry order[b].
      const re = { ...s, k: s.k.slice(), v: s.v.slice() };
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const to = ((b * H + h) * S) * d;
          const from = ((order[b] * H + h) * S) * d;
          re.k.set(s.k.subarray(from, from + cutAt * d), to);
          re.v.set(s.v.subarray(from, from + cutAt * d), to);
        }
      }
      stepAndCheck(cache, re, dtype, cutAt, [1, 2, 1, 1]);
      cache.dispose();
    });

    it('returnWeights: the softmax over the stored keys (linear and ring buffer)', () => {
      const S = 10, d = 8;
      const s = sequence(91, 1, 2, 1, S, d, d);
      for (const window of [undefined, 4]) {
        const cache = rt.kvCache({ heads: 1, headDim: d, maxLength: window ?? S, window, dtype });
        cache.append(cut(s.k, 1, 1, S, d, 0, 8), cut(s.v, 1, 1, S, d, 0, 8));
        s.meanRange = [window ? 8 - window : 0, 8];
        const q = cut(s.q, 1, 2, S, d, 8, 10);
        const { output, weights } = cache.step(q, cut(s.k, 1, 1, S, d, 8, 10), cut(s.v, 1, 1, S, d, 8, 10), { returnWeights: true });
        const kept = (window ?? 8) + 2;
        const keys = { data: storedRows(cut(s.k, 1, 1, S, d, S - kept, S).data, d, dtype, means(s), kept), shape: [1, 1, kept, d] };
        const values = { data: storedRows(cut(s.v, 1, 1, S, d, S - kept, S).data, d, dtype), shape: [1, 1, kept, d] };
        const want = referenceAttention(q, keys, values, { causal: true, returnWeights: true, window: window ? { left: window - 1 } : undefined });
        expect(maxRelative(weights.data, want.weights!)).toBeLessThanOrEqual(1e-5);
        expect(maxRelative(output.data, reference(s, dtype, 8, 10, window))).toBeLessThanOrEqual(TOL);
        cache.dispose();
      }
    });

    it.each([8, 64])('a masked ∞ / NaN row does not leak; a visible one makes the output NaN (headDim %i)', (d) => {
      const S = 6;
      const s = sequence(5, 1, 1, 1, S, d, d);
      const v = s.v.slice();
      v[2 * d + 1] = Number.NaN;
      v[3 * d] = Number.POSITIVE_INFINITY;
      const cache = rt.kvCache({ heads: 1, headDim: d, maxLength: S, dtype });
      cache.append(cut(s.k, 1, 1, S, d, 0, S), { data: v, shape: [1, 1, S, d] });
      const q = cut(s.q, 1, 1, S, d, 0, 1);
      const pad = new Uint8Array(S);
      pad[2] = 1;
      pad[3] = 1;
      pad[4] = 1;
      const mask = { keyPaddingMask: { data: pad, shape: [1, S] } };
      const masked = cache.attend(q, mask);
      // The same keys, finite values in the masked rows: the same output, bit for bit.
      const clean = rt.kvCache({ heads: 1, headDim: d, maxLength: S, dtype });
      const v0 = v.slice();
      v0.fill(0, 2 * d, 4 * d); // (row 4 is masked too, for the keys below)
      clean.append(cut(s.k, 1, 1, S, d, 0, S), { data: v0, shape: [1, 1, S, d] });
      expect(masked.data.every(Number.isFinite)).toBe(true);
      expect(Array.from(masked.data)).toEqual(Array.from(clean.attend(q, mask).data));
      expect(cache.attend(q).data.some((x) => Number.isNaN(x))).toBe(true);
      // +∞ in a visible key (values finite, q there > 0): its score is +∞, the output NaN, as in float32.
      const k = s.k.slice();
      k[2 * d + 2] = Number.POSITIVE_INFINITY; // in the first group of four keys
      q.data[2] = 0.5;
      const keyed = rt.kvCache({ heads: 1, headDim: d, maxLength: S, dtype });
      keyed.append({ data: k, shape: [1, 1, S, d] }, cut(s.v, 1, 1, S, d, 0, S));
      expect(keyed.attend(q).data.every((x) => Number.isNaN(x))).toBe(true);
      expect(keyed.attend(q, mask).data.every(Number.isFinite)).toBe(true);
      keyed.dispose();
      cache.dispose();
      clean.dispose();
    });
  });

  it('accuracy against the float32 cache on Gaussian data (relative RMS: f16 ≤ 0.2%, int8 ≤ 3%), with outlier key channels', () => {
    const B = 1, H = 4, S = 512, d = 64;
    const report: string[] = [];
    for (const outliers of [false, true]) {
      const next = rng(outliers ? 12 : 11);
      const q = gaussian(B * H * S * d, next), k = gaussian(B * H * S * d, next), v = gaussian(B * H * S * d, next);
      if (outliers) for (let r = 0; r < B * H * S; r++) for (const c of [3, 17, 40, 58]) k[r * d + c] += 20;
      const out: Record<string, Float32Array> = {};
      for (const dt of ['f32', 'f16', 'int8'] as const) {
        const cache = rt.kvCache({ heads: H, headDim: d, maxLength: S, dtype: dt });
        cache.append(cut(k, B, H, S, d, 0, S - 8), cut(v, B, H, S, d, 0, S - 8));
        const decode = cache.step(cut(q, B, H, S, d, S - 8, S - 7), cut(k, B, H, S, d, S - 8, S - 7), cut(v, B, H, S, d, S - 8, S - 7));
        const prefill = cache.step(cut(q, B, H, S, d, S - 7, S), cut(k, B, H, S, d, S - 7, S), cut(v, B, H, S, d, S - 7, S));
        out[dt] = Float32Array.from([...decode.data, ...prefill.data]);
        cache.dispose();
      }
      const f16 = relativeRms(out.f16, out.f32);
      const int8 = relativeRms(out.int8, out.f32);
      report.push(`${outliers ? 'outliers' : 'gaussian'}: f16 ${(100 * f16).toFixed(3)}%, int8 ${(100 * int8).toFixed(3)}%`);
      expect(f16).toBeLessThanOrEqual(0.002);
      expect(int8).toBeLessThanOrEqual(0.03);
    }
    console.log(`kvCache accuracy vs f32 (${ISAS[index]}): ${report.join('; ')}`);
  });

  it('memory: int8 ≤ 0.3× and f16 ≤ 0.55× the bytes of f32, scales included', () => {
    const bytes: Record<string, number> = {};
    for (const dtype of ['f32', 'f16', 'int8'] as const) {
      const cache = rt.kvCache({ heads: 8, headDim: 64, maxLength: 2048, dtype });
      bytes[dtype] = cache.bytes;
      cache.dispose();
    }
    expect(bytes.f32).toBe(2 * 8 * 2048 * 64 * 4);
    expect(bytes.int8 / bytes.f32).toBeLessThanOrEqual(0.3);
    expect(bytes.f16 / bytes.f32).toBeLessThanOrEqual(0.55);
    // The arena really holds no more than that.
    const before = arenaStats(rt).bytes;
    const cache = rt.kvCache({ heads: 8, headDim: 64, maxLength: 2048, dtype: 'int8' });
    expect(arenaStats(rt).bytes - before).toBeLessThanOrEqual(bytes.int8 + 256);
    cache.dispose();
  });

  it.each([['bf16'], ['F16'], ['int4'], [8], [null], [{}]])('unknown dtype %j → INVALID_OPTION naming options.dtype, expected and actual', (bad) => {
    let error: unknown;
    try {
      rt.kvCache({ heads: 1, headDim: 4, maxLength: 4, dtype: bad as unknown as KVCacheDtype });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'AttentionError', code: 'INVALID_OPTION' });
    const message = (error as Error).message;
    expect(message).toContain('options.dtype');
    expect(message).toContain("'f32', 'f16' or 'int8'");
    expect(message).toContain(typeof bad === 'string' ? `'${bad}'` : String(bad));
    // The runtime stays usable.
    const ok = rt.kvCache({ heads: 1, headDim: 4, maxLength: 4, dtype: 'int8' });
    expect(ok.dtype).toBe('int8');
    ok.dispose();
  });

  it.each(DTYPES)('%s: disposed cache, another runtime\'s cache, a memory cap', (dtype) => {
    const cache = rt.kvCache({ heads: 2, headDim: 8, maxLength: 4, dtype });
    cache.dispose();
    const q = { data: new Float32Array(16), shape: [1, 2, 1, 8] };
    expect(() => cache.step(q, q, q)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    const other = createRuntimeSync({ isa: ISAS[index] });
    const foreign = other.kvCache({ heads: 2, headDim: 8, maxLength: 4, dtype });
    const zeros16 = { data: new Float32Array(256), shape: [16, 16] };
    const layer = rt.multiHeadAttention({ dModel: 16, numHeads: 2, bias: false, weights: { q: zeros16, k: zeros16, v: zeros16, out: zeros16 } });
    expect(() => layer.forward({ data: new Float32Array(16), shape: [1, 1, 16] }, { cache: foreign })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    layer.dispose();
    other.dispose();
    // 4 MiB: an f32 cache of 2·8·2048·64·4 = 8 MiB cannot exist, an int8 one (2.2 MiB) can.
    const capped = createRuntimeSync({ isa: ISAS[index], maxMemoryBytes: 4 << 20 });
    expect(() => capped.kvCache({ heads: 8, headDim: 64, maxLength: 2048 })).toThrow(expect.objectContaining({ code: 'OUT_OF_MEMORY' }));
    if (dtype === 'int8') {
      const small = capped.kvCache({ heads: 8, headDim: 64, maxLength: 2048, dtype });
      const qs = { data: new Float32Array(8 * 64).fill(0.5), shape: [1, 8, 1, 64] };
      expect(small.step(qs, qs, qs).data.every(Number.isFinite)).toBe(true);
      small.dispose();
    }
    capped.dispose();
  });

  it.each(DTYPES)('%s through the layer: decoding ≈ the full causal pass (relative RMS within the dtype\'s bound)', (dtype) => {
    const next = rng(33);
    const dModel = 32, H = 4, Hkv = 2, S = 20;
    const w = (o: number, i: number) => ({ data: uniformF32(o * i, next, -1 / Math.sqrt(i), 1 / Math.sqrt(i)), shape: [o, i] });
    const layer = rt.multiHeadAttention({ dModel, numHeads: H, numKvHeads: Hkv, bias: false, weights: { q: w(32, 32), k: w(16, 32), v: w(16, 32), out: w(32, 32) } });
    const x = uniformF32(S * dModel, next);
    const full = layer.forward({ data: x, shape: [1, S, dModel] }, { causal: true }) as Tensor;
    const cache = rt.kvCache({ heads: Hkv, headDim: 8, maxLength: S, dtype });
    const got = new Float32Array(S * dModel);
    let t = 0;
    for (const n of [5, 1, 1, 2, 11]) {
      const y = layer.forward({ data: x.slice(t * dModel, (t + n) * dModel), shape: [1, n, dModel] }, { cache }) as Tensor;
      got.set(y.data, t * dModel);
      t += n;
    }
    expect(relativeRms(got, full.data)).toBeLessThanOrEqual(dtype === 'f16' ? 0.002 : 0.03);
    cache.dispose();
    layer.dispose();
  });
});

describe('kvCache dtype on 2 threads', () => {
  let mt: Runtime;
  let st: Runtime;
  beforeAll(async () => {
    mt = await createRuntime({ threads: 2, workerUrl: new URL('../../dist/worker.js', import.meta.url) });
    st = createRuntimeSync();
  });
  afterAll(() => {
    mt?.dispose();
    st?.dispose();
  });

  it.each(DTYPES)('%s: decode and prefill over 4096 keys bit for bit equal to one thread', (dtype) => {
    expect(mt.threads).toBe(2);
    const H = 8, d = 64, S = 4096 + 8;
    const s = sequence(8, 1, H, H, S, d, d);
    s.meanRange = [0, 4096];
    const outs: Float32Array[] = [];
    for (const rt of [st, mt]) {
      const cache = rt.kvCache({ heads: H, headDim: d, maxLength: S, dtype });
      cache.append(cut(s.k, 1, H, S, d, 0, 4096), cut(s.v, 1, H, S, d, 0, 4096));
      const a = cache.step(cut(s.q, 1, H, S, d, 4096, 4097), cut(s.k, 1, H, S, d, 4096, 4097), cut(s.v, 1, H, S, d, 4096, 4097));
      const b = cache.step(cut(s.q, 1, H, S, d, 4097, S), cut(s.k, 1, H, S, d, 4097, S), cut(s.v, 1, H, S, d, 4097, S));
      outs.push(Float32Array.from([...a.data, ...b.data]));
      cache.dispose();
    }
    expect(Array.from(outs[1])).toEqual(Array.from(outs[0]));
    expect(maxRelative(outs[0].subarray(0, H * d), reference(s, dtype, 4096, 4097))).toBeLessThanOrEqual(TOL);
  });
});
