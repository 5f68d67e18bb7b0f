// 8-bit attention (rt.attention with precision 'int8', assembly/sage.ts) in both binaries:
//  - against a float64 attention that applies the same quantization (test/reference/sage.ts:
//    smoothed K, int8 Q per 4-row tile and K per 64-key block): tight (≤ 2e-5 absolute on outputs
//    of magnitude ~1), over shapes hitting every tail (nq % 4, nk % 8 and % 64, odd head sizes)
//    and with causal (both alignments), windows, boolean and additive masks, key lengths, softcap,
//    grouped-query heads and batches;
//  - against float32 attention on Gaussian data: cosine similarity ≥ 0.999, also with keys whose
//    channels carry large offsets (outliers) — which the same quantization without smoothing
//    fails (shown on the reference, so the data is hard enough for the test to mean something);
//  - bad options are typed errors naming the option; threads give the one-thread result bit for bit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntime, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { referenceAttention, type RefTensor } from '../reference/attention';
import { sageReferenceAttention, type SageReferenceOptions } from '../reference/sage';
import { ISAS, rng, uniformF32 } from '../helpers/numeric';
import { gaussian } from '../quant/data';

const workerUrl = new URL('../../dist/worker.js', import.meta.url);

type Options = Parameters<Runtime['attention']>[3];

function tensor(shape: number[], data: Float32Array): { data: Float32Array; shape: number[] } {
  return { data, shape };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  let diff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

interface Case {
  name: string;
  b?: number;
  hq?: number;
  hkv?: number;
  nq: number;
  nk: number;
  dh: number;
  dv?: number;
  opts?: Options & SageReferenceOptions;
}

const CASES: Case[] = [
  { name: 'single row, one key', nq: 1, nk: 1, dh: 8 },
  { name: 'decode rows over tails', nq: 3, nk: 65, dh: 17, dv: 5 },
  { name: 'nq % 4 = 1, nk % 8 = 7', nq: 5, nk: 71, dh: 3, dv: 9 },
  { name: 'odd head size, two key blocks', nq: 67, nk: 130, dh: 33, dv: 16 },
  { name: 'head size 1', nq: 9, nk: 20, dh: 1, dv: 1 },
  { name: 'head size 64, 3 blocks', nq: 70, nk: 192, dh: 64, dv: 64 },
  { name: 'causal (bottom-right)', nq: 37, nk: 101, dh: 16, opts: { causal: true } },
  { name: 'causal (top-left)', nq: 70, nk: 70, dh: 16, opts: { causal: 'top-left' } },
  { name: 'sliding window', nq: 90, nk: 150, dh: 12, opts: { window: { left: 20, right: 3 } } },
  { name: 'causal window', nq: 80, nk: 80, dh: 8, opts: { causal: true, window: { left: 17 } } },
  { name: 'softcap', nq: 20, nk: 70, dh: 16, opts: { softcap: 2, scale: 1 } },
  { name: 'scale < 0', nq: 8, nk: 30, dh: 8, opts: { scale: -0.7 } },
  { name: 'key lengths', b: 2, nq: 12, nk: 90, dh: 16, opts: { keyLengths: [70, 3] } },
  { name: 'grouped-query heads', hq: 4, hkv: 2, nq: 13, nk: 77, dh: 16 },
  { name: 'multi-query, batch 2', b: 2, hq: 3, hkv: 1, nq: 8, nk: 40, dh: 20 },
];

function inputs(c: Case, seed: number) {
  const next = rng(seed);
  const b = c.b ?? 1, hq = c.hq ?? 1, hkv = c.hkv ?? hq, dv = c.dv ?? c.dh;
  return {
    q: tensor([b, hq, c.nq, c.dh], uniformF32(b * hq * c.nq * c.dh, next)),
    k: tensor([b, hkv, c.nk, c.dh], uniformF32(b * hkv * c.nk * c.dh, next)),
    v: tensor([b, hkv, c.nk, dv], uniformF32(b * hkv * c.nk * dv, next, -1, 1)),
    b, hq,
  };
}

/** A boolean mask [b, 1, nq, nk] with about a third of the keys hidden, and one fully hidden row. */
function boolMask(b: number, nq: number, nk: number, seed: number): { data: Uint8Array; shape: number[] } {
  const next = rng(seed);
  const data = new Uint8Array(b * nq * nk);
  for (let i = 0; i < data.length; i++) data[i] = next() < 0.33 ? 0 : 1;
  data.fill(0, 0, nk); // row 0 of batch 0 sees nothing: zeros, not NaN
  return { data, shape: [b, 1, nq, nk] };
}

/** An additive mask [nq, nk] (broadcast over batch and heads) with values in [−3, 3] and some −∞. */
function additiveMask(nq: number, nk: number, seed: number): { data: Float32Array; shape: number[] } {
  const next = rng(seed);
  const data = uniformF32(nq * nk, next, -3, 3);
  for (let i = 0; i < data.length; i += 5) data[i] = -Infinity;
  return { data, shape: [nq, nk] };
}

describe.each(ISAS)('8-bit attention (%s)', (isa) => {
  let rt: Runtime;
  beforeAll(() => {
    rt = createRuntimeSync({ isa });
  });
  afterAll(() => rt.dispose());

  function expectSameQuantization(c: Case, extra: Options & SageReferenceOptions = {}, seed = 7): void {
    const { q, k, v } = inputs(c, seed);
    const opts = { ...c.opts, ...extra };
    const out = rt.attention(q, k, v, { ...opts, precision: 'int8' }) as Tensor;
    const ref = sageReferenceAttention(q as RefTensor, k as RefTensor, v as RefTensor, opts as SageReferenceOptions);
    const { diff, at } = maxAbsDiff(out.data, ref);
    expect(diff, `${c.name}: max |Δ| ${diff} at ${at} (${out.data[at]} vs ${ref[at]})`).toBeLessThanOrEqual(2e-5);
  }

  for (const c of CASES) {
    it(`equals the same-quantization float64 reference: ${c.name}`, () => expectSameQuantization(c));
  }

  it('equals the reference with a boolean mask (a fully hidden row gives zeros)', () => {
    const c: Case = { name: 'bool mask', b: 2, hq: 2, nq: 21, nk: 83, dh: 16 };
    expectSameQuantization(c, { mask: boolMask(2, 21, 83, 3) });
    const { q, k, v } = inputs(c, 7);
    const out = rt.attention(q, k, v, { mask: boolMask(2, 21, 83, 3), precision: 'int8' }) as Tensor;
    expect(Array.from(out.data.subarray(0, 16))).toEqual(new Array(16).fill(0));
  });

  it('equals the reference with an additive mask holding −∞, and causal', () => {
    expectSameQuantization({ name: 'additive mask', hq: 2, nq: 40, nk: 75, dh: 24 }, { mask: additiveMask(40, 75, 5), causal: true });
  });

  it('is close to float32 attention on Gaussian data (cosine ≥ 0.999), also with outlier key channels', () => {
    const next = rng(11);
    const [b, h, n, d] = [1, 2, 512, 64];
    const q = tensor([b, h, n, d], gaussian(b * h * n * d, next));
    const v = tensor([b, h, n, d], gaussian(b * h * n * d, next));
    const kPlain = gaussian(b * h * n * d, next);
    const kOutlier = kPlain.slice();
    const OUTLIERS = [3, 17, 40, 41];
    for (let row = 0; row < b * h * n; row++) for (const x of OUTLIERS) kOutlier[row * d + x] += x % 2 ? -20 : 20;
    for (const [label, kd] of [['Gaussian', kPlain], ['outlier channels (±20)', kOutlier]] as const) {
      const k = tensor([b, h, n, d], kd);
      const exact = referenceAttention(q, k, v).output;
      const f32 = rt.attention(q, k, v) as Tensor;
      const int8 = rt.attention(q, k, v, { precision: 'int8' }) as Tensor;
      const c32 = cosine(int8.data, f32.data);
      const c64 = cosine(int8.data, exact);
      expect(c32, `${label}: cosine to float32 ${c32}`).toBeGreaterThanOrEqual(0.999);
      expect(c64, `${label}: cosine to float64 ${c64}`).toBeGreaterThanOrEqual(0.999);
    }
    // The same quantization without smoothing fails on the outlier keys: the test data needs it.
    const k = tensor([b, h, n, d], kOutlier);
    const unsmoothed = sageReferenceAttention(q, k, v, { smooth: false });
    const cRaw = cosine(unsmoothed, referenceAttention(q, k, v).output);
    expect(cRaw, `without smoothing: cosine ${cRaw}`).toBeLessThan(0.999);
  });

  it('the integer path is exact: codes ±127 on every dimension reach the f32 epilogue unchanged', () => {
    // q = k = ±1 patterns with scale 1: codes are exactly ±127 and the dot product is an integer
    // count; with μ = 0 (balanced signs), s = Σ ±1 exactly, so the output equals float64's.
    const n = 16, d = 64;
    const q = new Float32Array(n * d), k = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let x = 0; x < d; x++) {
      q[i * d + x] = (i + x) % 3 === 0 ? -1 : 1;
      k[i * d + x] = (i >> 3) === ((x >> 3) & 1) ? 1 : -1; // keys 0–7 and 8–15 mirror: mean 0
    }
    for (let x = 0; x < d; x++) {
      let m = 0;
      for (let j = 0; j < n; j++) m += k[j * d + x];
      expect(m).toBe(0);
    }
    const v = uniformF32(n * d, rng(2), -1, 1);
    const shape = [1, 1, n, d];
    const out = rt.attention({ data: q, shape }, { data: k, shape }, { data: v, shape }, { precision: 'int8', scale: 0.125 }) as Tensor;
    const exact = referenceAttention({ data: q, shape }, { data: k, shape }, { data: v, shape }, { scale: 0.125 }).output;
    expect(maxAbsDiff(out.data, exact).diff).toBeLessThanOrEqual(2e-6);
  });

  it('rejects an unknown precision and returnWeights with int8, naming the option', () => {
    const c = inputs({ name: 'err', nq: 4, nk: 4, dh: 4 }, 1);
    const run = (opts: unknown) => () => rt.attention(c.q, c.k, c.v, opts as Options);
    for (const bad of ['int4', 'INT8', 8, null, true]) {
      expect(run({ precision: bad })).toThrow(AttentionError);
      expect(run({ precision: bad })).toThrow(/options\.precision must be 'f32' or 'int8'/);
    }
    expect(run({ precision: 'int8', returnWeights: true })).toThrow(/options\.returnWeights is not available with options\.precision 'int8'/);
    try {
      run({ precision: 'fp8' })();
    } catch (e) {
      expect((e as AttentionError).code).toBe('INVALID_OPTION');
    }
    // The runtime stays usable.
    expect((rt.attention(c.q, c.k, c.v, { precision: 'f32' }) as Tensor).data.length).toBe(16);
  });

  it("precision 'f32' is the default path, bit for bit", () => {
    const c = inputs({ name: 'f32', nq: 9, nk: 33, dh: 8 }, 4);
    const a = rt.attention(c.q, c.k, c.v) as Tensor;
    const b = rt.attention(c.q, c.k, c.v, { precision: 'f32' }) as Tensor;
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it("layout 'bshd' reads the same heads in place: bit for bit the 'bhsd' result", () => {
    const [b, h, n, d] = [2, 3, 37, 16];
    const c = inputs({ name: 'bshd', b, hq: h, nq: n, nk: n, dh: d }, 13);
    const toBshd = (t: Float32Array): Float32Array => {
      const out = new Float32Array(t.length);
      for (let bb = 0; bb < b; bb++) for (let hh = 0; hh < h; hh++) for (let s = 0; s < n; s++) for (let x = 0; x < d; x++) {
        out[((bb * n + s) * h + hh) * d + x] = t[((bb * h + hh) * n + s) * d + x];
      }
      return out;
    };
    const shape = [b, n, h, d];
    const ref = rt.attention(c.q, c.k, c.v, { precision: 'int8', causal: true }) as Tensor;
    const got = rt.attention(
      { data: toBshd(c.q.data), shape }, { data: toBshd(c.k.data), shape }, { data: toBshd(c.v.data), shape },
      { precision: 'int8', causal: true, layout: 'bshd' },
    ) as Tensor;
    expect(Array.from(got.data)).toEqual(Array.from(toBshd(ref.data)));
  });

  it('a NaN in V at a masked key does not leak; a NaN in K turns the rows that see keys to NaN', () => {
    const c = inputs({ name: 'nan', nq: 8, nk: 16, dh: 8 }, 9);
    c.v.data[15 * 8 + 2] = NaN; // key 15
    const out = rt.attention(c.q, c.k, c.v, { precision: 'int8', keyLengths: [15] }) as Tensor;
    expect(out.data.every(Number.isFinite)).toBe(true);
    c.k.data[3] = NaN;
    const bad = rt.attention(c.q, c.k, c.v, { precision: 'int8', keyLengths: [15] }) as Tensor;
    expect(bad.data.every(Number.isNaN)).toBe(true);
  });
});

describe('8-bit attention with 2 threads', () => {
  let mt: Runtime;
  let st: Runtime;
  beforeAll(async () => {
    mt = await createRuntime({ threads: 2, workerUrl });
    st = createRuntimeSync();
  });
  afterAll(() => {
    mt.dispose();
    st.dispose();
  });

  it('gives the one-thread result bit for bit (heads and row chunks split over threads)', () => {
    for (const c of [
      { name: 'heads', b: 2, hq: 4, hkv: 2, nq: 64, nk: 200, dh: 32 },
      { name: 'row chunks', nq: 300, nk: 260, dh: 16, opts: { causal: true } },
    ] as Case[]) {
      const { q, k, v } = inputs(c, 21);
      const a = st.attention(q, k, v, { ...c.opts, precision: 'int8' }) as Tensor;
      const b = mt.attention(q, k, v, { ...c.opts, precision: 'int8' }) as Tensor;
      expect(Array.from(b.data), c.name).toEqual(Array.from(a.data));
    }
  });
});
