// rt.linformerAttention against the float64 oracle of test/reference/linformer.ts.
//
// Property (fast-check, fixed seed, 80 runs per kernel binary): n ∈ {1, 3, 4, 5, 8, 9, 63, 64, 65,
// 130}, nq independent, k from 1 to n, dh, dv ∈ {1, 3, 8, 64}, batch 1–2, MHA/GQA heads, user E/F
// ([n', k] with n' ≥ n, or per kv head), shared E = F, seeded projections, keyLengths (slicing).
// Tolerance: inputs uniform in [−2, 2], E, F ~ N(0, 1/k); the projections are GEMMs over up to
// 130 terms, so |got − ref| ≤ 5e-5 + 5e-5·|ref|.
// Identities: k = n and E = F = I equals full attention (≤ 1e-6; keyLengths too); seeded
// projections equal passing rt.linformerProjections' matrices explicitly (bit-identical); the
// seeded projections are identical on both binaries and pinned by value (mean 0, variance 1/k).
// Errors: causal, k > n, k < 1, e without f, f without e, wrong projection shapes → typed errors.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntimeSync, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { referenceLinformer } from '../reference/linformer';

const ATOL = 5e-5;
const RTOL = 5e-5;
const SEQ = [1, 3, 4, 5, 8, 9, 63, 64, 65, 130];
const HEAD = [1, 3, 8, 64];

const tensor = randomTensor;
const runtime = useRuntimes();

const identity = (n: number): Tensor => {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) data[i * n + i] = 1;
  return { data, shape: [n, n] };
};

describe.each(ISAS)('linformerAttention (%s)', (isa) => {
  it('matches the float64 reference (user, per-head, shared and seeded projections, keyLengths)', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.linformerAttention(warm, warm, warm, { k: 2 }),
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [4, 2]),
        n: fc.constantFrom(...SEQ),
        nq: fc.constantFrom(...SEQ),
        kPermille: fc.integer({ min: 0, max: 1000 }),
        extraRows: fc.integer({ min: 0, max: 5 }),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        mode: fc.constantFrom('user', 'perHead', 'shared', 'seeded', 'seededShared'),
        lengths: fc.option(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 2 }), { nil: undefined }),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.seed);
        const [hq, hkv] = c.heads;
        const { n } = c;
        const kd = Math.max(1, Math.round((c.kPermille / 1000) * n));
        const q = tensor([c.batch, hq, c.nq, c.dh], next);
        const k = tensor([c.batch, hkv, n, c.dh], next);
        const v = tensor([c.batch, hkv, n, c.dv], next);
        const keyLengths = c.lengths?.slice(0, c.batch).map((m) => Math.round((m / 1000) * n));
        const sd = 1 / Math.sqrt(kd);
        let e: Tensor;
        let f: Tensor;
        let got: Tensor;
        const rows = n + c.extraRows;
        if (c.mode === 'seeded' || c.mode === 'seededShared') {
          const shared = c.mode === 'seededShared';
          got = rt.linformerAttention(q, k, v, { k: kd, seed: c.seed, shared, keyLengths });
          ({ e, f } = rt.linformerProjections({ length: n, k: kd, seed: c.seed, shared }));
        } else {
          const shape = c.mode === 'perHead' ? [hkv, rows, kd] : [rows, kd];
          e = tensor(shape, next, -sd * 1.7, sd * 1.7);
          f = c.mode === 'shared' ? e : tensor(shape, next, -sd * 1.7, sd * 1.7);
          got = c.mode === 'shared'
            ? rt.linformerAttention(q, k, v, { e, shared: true, keyLengths })
            : rt.linformerAttention(q, k, v, { e, f, keyLengths });
        }
        const want = referenceLinformer(q, k, v, { e, f, keyLengths });
        return { got, want, label: { ...c, kd } };
      },
      atol: ATOL, rtol: RTOL, numRuns: 80, seed: 99,
    });
  });

  it('k = n with E = F = I is full attention', () => {
    const rt = runtime(isa);
    const next = rng(41);
    for (const n of [1, 5, 64, 100]) {
      const q = tensor([2, 2, n, 16], next);
      const k = tensor([2, 2, n, 16], next);
      const v = tensor([2, 2, n, 8], next);
      const I = identity(n);
      const lin = rt.linformerAttention(q, k, v, { e: I, f: I });
      expect(mismatch(lin.data, rt.attention(q, k, v).data, 1e-6, 1e-6)).toBeUndefined();
      expect(sameValues(rt.linformerAttention(q, k, v, { e: I, shared: true }).data, lin.data)).toBeUndefined();
      // Slicing: the first len rows of I project onto len keys plus k − len zero keys (score 0,
      // value 0), so compare with the reference rather than masked attention.
      const keyLengths = [Math.max(1, n - 2), n];
      const sliced = rt.linformerAttention(q, k, v, { e: I, f: I, keyLengths });
      expect(mismatch(sliced.data, referenceLinformer(q, k, v, { e: I, f: I, keyLengths }), ATOL, RTOL)).toBeUndefined();
    }
  });

  it('seeded projections are deterministic, shared across binaries, and N(0, 1/k)', () => {
    const rt = runtime(isa);
    const { e, f } = rt.linformerProjections({ length: 400, k: 50, seed: 7 });
    const other = createRuntimeSync({ isa: 'simd128' });
    try {
      const again = other.linformerProjections({ length: 400, k: 50, seed: 7 });
      expect(sameValues(again.e.data, e.data)).toBeUndefined();
      expect(sameValues(again.f.data, f.data)).toBeUndefined();
      // A shorter length is a prefix (variable length by slicing).
      const short = other.linformerProjections({ length: 10, k: 50, seed: 7 });
      expect(sameValues(short.e.data, e.data.subarray(0, 500))).toBeUndefined();
    } finally {
      other.dispose();
    }
    expect(sameValues(e.data, f.data)).toBeDefined();
    let sum = 0;
    let sq = 0;
    for (const x of e.data) {
      sum += x;
      sq += x * x;
    }
    const mean = sum / e.data.length;
    const variance = sq / e.data.length - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(variance * 50).toBeGreaterThan(0.95);
    expect(variance * 50).toBeLessThan(1.05);
    // Pinned: the generator must never change silently (rotations and projections depend on it).
    expect(Array.from(e.data.subarray(0, 3), (x) => x.toFixed(6))).toEqual(PINNED_E);
    const sharedP = rt.linformerProjections({ length: 4, k: 2, seed: 7, shared: true });
    expect(sameValues(sharedP.e.data, sharedP.f.data)).toBeUndefined();
  });

  it('rejects bad options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(43);
    const q = tensor([1, 2, 10, 4], next);
    rt.linformerAttention(q, q, q, { k: 3 });
    const before = arenaStats(rt);
    expectCode(() => rt.linformerAttention(q, q, q, { k: 3, causal: true }), 'INVALID_OPTION', 'cannot be causal');
    expectCode(() => rt.linformerAttention(q, q, q, { k: 11 }), 'INVALID_OPTION', 'options.k must be in [1, n] = [1, 10]');
    expectCode(() => rt.linformerAttention(q, q, q, { k: 0 }), 'INVALID_OPTION', 'options.k');
    expectCode(() => rt.linformerAttention(q, q, q, {}), 'INVALID_OPTION', 'options.k is required');
    const e = tensor([10, 3], next);
    expectCode(() => rt.linformerAttention(q, q, q, { e }), 'INVALID_OPTION', 'options.f is required');
    expectCode(() => rt.linformerAttention(q, q, q, { f: e }), 'INVALID_OPTION', 'options.f needs options.e');
    expectCode(() => rt.linformerAttention(q, q, q, { e, f: tensor([10, 4], next) }), 'SHAPE_MISMATCH', 'options.f must have the shape');
    expectCode(() => rt.linformerAttention(q, q, q, { e: tensor([9, 3], next), shared: true }), 'SHAPE_MISMATCH', "n' ≥ the sequence length 10");
    expectCode(() => rt.linformerAttention(q, q, q, { e: tensor([12, 11], next), shared: true }), 'INVALID_OPTION', 'options.k must be in [1, n]');
    expectCode(() => rt.linformerAttention(q, q, q, { e, shared: true, k: 2 }), 'INVALID_OPTION', 'must equal the last dimension');
    expectCode(() => rt.linformerProjections({ length: 0, k: 4 }), 'INVALID_OPTION', 'options.length');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.linformerAttention(q, q, q, { e, shared: true });
    expect(mismatch(ok.data, referenceLinformer(q, q, q, { e, f: e }), ATOL, RTOL)).toBeUndefined();
  });
});

const PINNED_E = ['-0.082036', '-0.236468', '-0.106010'];
