// rt.lshAttention, rt.lshHash and rt.lshRotations against the float64 oracle of
// test/reference/lsh.ts.
//
// Property (fast-check, fixed seed, 80 runs per kernel binary): n ∈ {1, 3, 4, 5, 8, 9, 63, 64, 65,
// 130}, dh, dv ∈ {1, 3, 8, 64}, batch 1–2, heads 1–3 (GQA when keys are not shared), chunk length
// 1–40, buckets ∈ {1, 2, 4, 8, 16, [2, 4], [4, 2, 2]} (factorized), rounds 1–3, shared QK or not, causal or not, keyLengths
// (padding), any seed. The oracle sorts and chunks on its own from the bucket ids rt.lshHash
// returns (hashing is checked separately against float64 hashing).
// Tolerance: inputs uniform in [−2, 2]; |got − ref| ≤ 3e-5 + 3e-5·|ref|.
// Hashing: rt.lshHash agrees with float64 hashing of rt.lshRotations except where the float64
// margin between the two best of [xR, −xR] is < 1e-4 (float32 near-ties).
// Identities: one bucket with one chunk (chunkLength ≥ n) equals rt.attention (also causal, and
// with two chunks, which see each other through the wrap-around); with shared QK it equals
// rt.attention on k = length-normalized q with −1e5 on the diagonal.
// Rotations: bit-identical on both binaries and in a second runtime, pinned values, N(0, 1).
// Default buckets follow trax (2·⌊n/chunk⌋, factorized in two above 128).
// Errors: odd buckets (or factors), rounds/chunkLength < 1, k given with sharedQK or missing without it, bad
// rotation shapes, nq ≠ nk → typed errors, runtime usable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntimeSync, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { referenceLsh, referenceLshBuckets } from '../reference/lsh';

const ATOL = 3e-5;
const RTOL = 3e-5;
const SEQ = [1, 3, 4, 5, 8, 9, 63, 64, 65, 130];
const HEAD = [1, 3, 8, 64];

const tensor = randomTensor;
const runtime = useRuntimes();

/** [B, Hkv, n, D] repeated to [B, Hq, n, D] (query head h reads kv head ⌊h / group⌋). */
function expandHeads(t: Tensor, hq: number): Tensor {
  const [B, hkv, n, D] = t.shape;
  const data = new Float32Array(B * hq * n * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < hq; h++) {
      const src = (b * hkv + Math.floor(h / (hq / hkv))) * n * D;
      data.set(t.data.subarray(src, src + n * D), (b * hq + h) * n * D);
    }
  }
  return { data, shape: [B, hq, n, D] };
}

/** q / √(mean(q²) + 1e-6) row by row, in float32. */
function lengthNormalized(q: Tensor): Tensor {
  const D = q.shape[3];
  const data = new Float32Array(q.data.length);
  for (let r = 0; r < q.data.length / D; r++) {
    let ms = 0;
    for (let x = 0; x < D; x++) ms += q.data[r * D + x] ** 2;
    const inv = 1 / Math.sqrt(ms / D + 1e-6);
    for (let x = 0; x < D; x++) data[r * D + x] = q.data[r * D + x] * inv;
  }
  return { data, shape: q.shape };
}

describe.each(ISAS)('lshAttention (%s)', (isa) => {
  it('matches the float64 reference (buckets, rounds, chunks, shared QK, causal, padding)', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.lshAttention(warm, warm, warm, { buckets: 2 }),
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [3, 1], [3, 3]),
        n: fc.constantFrom(...SEQ),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        chunk: fc.integer({ min: 1, max: 40 }),
        buckets: fc.constantFrom<number | number[]>(1, 2, 4, 8, 16, [2, 4], [4, 2, 2]),
        rounds: fc.integer({ min: 1, max: 3 }),
        shared: fc.boolean(),
        causal: fc.boolean(),
        lengths: fc.option(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 2 }), { nil: undefined }),
        seed: fc.integer({ min: 0, max: 0xffffffff }),
        data: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.data);
        const [hq, hkv0] = c.heads;
        const hkv = c.shared ? hq : hkv0;
        const q = tensor([c.batch, hq, c.n, c.dh], next);
        const k = c.shared ? null : tensor([c.batch, hkv, c.n, c.dh], next);
        const v = tensor([c.batch, hkv, c.n, c.dv], next);
        const keyLengths = c.lengths?.slice(0, c.batch).map((m) => Math.round((m / 1000) * c.n));
        const opts = { buckets: c.buckets, rounds: c.rounds, chunkLength: c.chunk, sharedQK: c.shared, causal: c.causal, seed: c.seed, keyLengths };
        const got = rt.lshAttention(q, k, v, opts);
        const hash = { buckets: c.buckets, rounds: c.rounds, seed: c.seed, keyLengths };
        const queryBuckets = rt.lshHash(q, hash).data;
        const keyBuckets = k ? rt.lshHash(expandHeads(k, hq), hash).data : undefined;
        const want = referenceLsh(q, k, v, { queryBuckets, keyBuckets, rounds: c.rounds, chunkLength: c.chunk, sharedQK: c.shared, causal: c.causal, keyLengths });
        return { got, want };
      },
      atol: ATOL, rtol: RTOL, numRuns: 80, seed: 31337,
    });
  });

  it('hashes like float64 hashing with the same rotations (except float32 near-ties)', () => {
    const rt = runtime(isa);
    const next = rng(51);
    const cases: Array<[number, number, number | number[], number]> = [[300, 64, 32, 2], [77, 3, 2, 1], [50, 8, 6, 3], [120, 16, [4, 6, 2], 2]];
    for (const [n, D, buckets, rounds] of cases) {
      const x = tensor([2, 3, n, D], next);
      const keyLengths = [n, n - 7];
      const got = rt.lshHash(x, { buckets, rounds, seed: 9, keyLengths });
      expect(got.shape).toEqual([2, 3, rounds, n]);
      const rotations = rt.lshRotations({ headDim: D, buckets, rounds, seed: 9, heads: 3 });
      const halves = Array.isArray(buckets) ? buckets.map((b) => b / 2) : undefined;
      const want = referenceLshBuckets(x, rotations, keyLengths, halves);
      let ties = 0;
      for (let i = 0; i < want.buckets.length; i++) {
        if (got.data[i] === want.buckets[i]) continue;
        expect(want.margins[i], `bucket ${i}: got ${got.data[i]}, want ${want.buckets[i]}`).toBeLessThan(1e-4);
        ties++;
      }
      expect(ties).toBeLessThan(3);
      // Caller's rotations give the same ids as the seeded ones.
      const again = rt.lshHash(x, { rotations, keyLengths, buckets });
      expect(sameValues(again.data, got.data)).toBeUndefined();
    }
  });

  it('one bucket and one or two chunks is full attention', () => {
    const rt = runtime(isa);
    const next = rng(52);
    for (const n of [1, 9, 64, 100]) {
      const q = tensor([1, 2, n, 16], next);
      const k = tensor([1, 2, n, 16], next);
      const v = tensor([1, 2, n, 8], next);
      for (const causal of [false, true]) {
        const full = rt.attention(q, k, v, { causal });
        for (const chunkLength of [n, n + 5, Math.ceil(n / 2)]) {
          if (causal === false && chunkLength === Math.ceil(n / 2) && n === 1) continue;
          const lsh = rt.lshAttention(q, k, v, { buckets: 1, chunkLength, causal, rounds: 2 });
          expect(mismatch(lsh.data, full.data, 1e-6, 1e-6), `n ${n} chunk ${chunkLength} causal ${causal}`).toBeUndefined();
        }
      }
      // Shared QK: keys are the length-normalized queries; a token's own key is penalized by −1e5.
      const mask = new Float32Array(n * n);
      for (let i = 0; i < n; i++) mask[i * n + i] = -1e5;
      const sharedFull = rt.attention(q, lengthNormalized(q), v, { mask: { data: mask, shape: [n, n] } });
      const shared = rt.lshAttention(q, null, v, { buckets: 1, chunkLength: n, sharedQK: true });
      expect(mismatch(shared.data, sharedFull.data, 2e-6, 2e-6)).toBeUndefined();
    }
  });

  it('a single token with shared QK attends to itself (nothing else is available)', () => {
    const rt = runtime(isa);
    const q = tensor([1, 1, 5, 4], rng(53));
    const v = tensor([1, 1, 5, 4], rng(54));
    // Chunks of 1 token, one chunk per token: each sees itself and the previous chunk.
    const y = rt.lshAttention(q, null, v, { buckets: 1, chunkLength: 1, sharedQK: true, causal: true });
    // Token 0 (sorted first) sees itself and the last token, which is later: masked by causality.
    expect(mismatch(y.data.subarray(0, 4), v.data.subarray(0, 4), 1e-7, 0)).toBeUndefined();
  });

  it('rotations are seeded, identical on every binary and runtime, and standard normal', () => {
    const rt = runtime(isa);
    const r = rt.lshRotations({ headDim: 64, buckets: 64, rounds: 4, seed: 3, heads: 2 });
    expect(r.shape).toEqual([2, 64, 4, 32]);
    const other = createRuntimeSync({ isa: 'simd128' });
    try {
      expect(sameValues(other.lshRotations({ headDim: 64, buckets: 64, rounds: 4, seed: 3, heads: 2 }).data, r.data)).toBeUndefined();
    } finally {
      other.dispose();
    }
    expect(sameValues(rt.lshRotations({ headDim: 64, buckets: 64, rounds: 4, seed: 4, heads: 2 }).data, r.data)).toBeDefined();
    // Heads differ.
    const half = r.data.length / 2;
    expect(sameValues(r.data.subarray(0, half), r.data.subarray(half))).toBeDefined();
    let sum = 0;
    let sq = 0;
    for (const x of r.data) {
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / r.data.length)).toBeLessThan(0.03);
    expect(Math.abs(sq / r.data.length - 1)).toBeLessThan(0.05);
    expect(Array.from(r.data.subarray(0, 3), (x) => x.toFixed(6))).toEqual(PINNED_ROTATIONS);
  });

  it("defaults to trax's bucket count, factorized above 128", () => {
    const rt = runtime(isa);
    const next = rng(56);
    const q = tensor([1, 1, 1100, 8], next);
    // 1100 tokens, chunks of 8: 2·137 = 274 buckets > 128 → [32, 8] (Σ/2 = 20 columns).
    const a = rt.lshAttention(q, q, q, { chunkLength: 8, seed: 5 });
    const b = rt.lshAttention(q, q, q, { chunkLength: 8, seed: 5, buckets: [32, 8] });
    expect(sameValues(a.data, b.data)).toBeUndefined();
    const c = rt.lshAttention(q, q, q, { seed: 5 }); // 64-token chunks: 2·17 = 34 buckets
    const d = rt.lshAttention(q, q, q, { seed: 5, buckets: 34 });
    expect(sameValues(c.data, d.data)).toBeUndefined();
  });

  it('rejects bad options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(55);
    const q = tensor([1, 2, 10, 4], next);
    rt.lshAttention(q, q, q, { buckets: 4, chunkLength: 3 });
    const before = arenaStats(rt);
    expectCode(() => rt.lshAttention(q, q, q, { buckets: 3 }), 'INVALID_OPTION', 'options.buckets must be 1 or an even number');
    expectCode(() => rt.lshAttention(q, q, q, { buckets: 0 }), 'INVALID_OPTION', 'options.buckets');
    expectCode(() => rt.lshAttention(q, q, q, { buckets: [4, 3] }), 'INVALID_OPTION', 'options.buckets[1] must be an even number');
    expectCode(() => rt.lshAttention(q, q, q, { buckets: [] }), 'INVALID_OPTION', 'non-empty list');
    expectCode(() => rt.lshAttention(q, q, q, { rounds: 0 }), 'INVALID_OPTION', 'options.rounds');
    expectCode(() => rt.lshAttention(q, q, q, { chunkLength: 0 }), 'INVALID_OPTION', 'options.chunkLength');
    expectCode(() => rt.lshAttention(q, q, q, { sharedQK: true }), 'INVALID_ARGUMENT', 'k must be null when options.sharedQK');
    expectCode(() => rt.lshAttention(q, null, q, {}), 'INVALID_ARGUMENT', 'k must be a tensor');
    expectCode(() => rt.lshAttention(q, q, q, { seed: 1.5 }), 'INVALID_OPTION', 'options.seed');
    expectCode(() => rt.lshAttention(q, q, q, { rotations: tensor([5, 1, 2], next) }), 'SHAPE_MISMATCH', 'options.rotations must have shape [4, rounds, buckets/2]');
    expectCode(() => rt.lshAttention(q, q, q, { rotations: tensor([4, 1, 2], next), buckets: 8 }), 'INVALID_OPTION', 'rotation columns');
    expectCode(() => rt.lshAttention(q, q, q, { rotations: tensor([4, 1, 2], next), rounds: 2 }), 'INVALID_OPTION', 'rounds dimension');
    const k9 = tensor([1, 2, 9, 4], next);
    expectCode(() => rt.lshAttention(q, k9, k9, {}), 'SHAPE_MISMATCH', 'nq = 10 and nk = 9');
    expectCode(() => rt.lshHash(q, { buckets: 5 }), 'INVALID_OPTION', 'options.buckets');
    expectCode(() => rt.lshRotations({ headDim: 4, buckets: 1 }), 'INVALID_OPTION', 'options.buckets must be an even number');
    expectCode(() => rt.lshRotations({ headDim: 0, buckets: 2 }), 'INVALID_OPTION', 'options.headDim');
    expect(arenaStats(rt)).toEqual(before);
    const y = rt.lshAttention(q, q, q, { buckets: 4, chunkLength: 3, seed: 2 });
    const ids = rt.lshHash(q, { buckets: 4, seed: 2 }).data;
    expect(mismatch(y.data, referenceLsh(q, q, q, { queryBuckets: ids, keyBuckets: ids, rounds: 1, chunkLength: 3 }), ATOL, RTOL)).toBeUndefined();
  });
});

const PINNED_ROTATIONS = ['-1.148689', '-0.264656', '-0.477554'];
