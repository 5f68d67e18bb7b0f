// rt.segmentedAttention against the float64 oracle of test/reference/segmented.ts.
//
// Property (fast-check, fixed seed, 100 runs per kernel binary): n ∈ {1, 3, 4, 5, 8, 9, 63, 64, 65,
// 130}, dh, dv ∈ {1, 3, 8, 64}, batch 1–2, MHA/GQA heads, segment length 1–70, overlap 0 … S − 1,
// summaries on/off, causal on/off.
// Tolerance: inputs uniform in [−2, 2]; |got − ref| ≤ 3e-5 + 3e-5·|ref|.
// Identities: segment length ≥ n equals full attention (bit-identical: one kernel call);
// segment length n with summaries too (no other segment); without overlap and summaries a
// segment's rows equal rt.attention on that segment alone. Errors: segmentLength missing / < 1,
// overlap ≥ segmentLength or < 0, nq ≠ nk, non-boolean summaries → typed errors.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { referenceSegmented } from '../reference/segmented';

const ATOL = 3e-5;
const RTOL = 3e-5;
const SEQ = [1, 3, 4, 5, 8, 9, 63, 64, 65, 130];
const HEAD = [1, 3, 8, 64];

const tensor = randomTensor;
const runtime = useRuntimes();

describe.each(ISAS)('segmentedAttention (%s)', (isa) => {
  it('matches the float64 reference (overlap, summaries, causal)', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.segmentedAttention(warm, warm, warm, { segmentLength: 2 }),
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [4, 2]),
        n: fc.constantFrom(...SEQ),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        S: fc.integer({ min: 1, max: 70 }),
        overlapPermille: fc.integer({ min: 0, max: 999 }),
        summaries: fc.boolean(),
        causal: fc.boolean(),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.seed);
        const [hq, hkv] = c.heads;
        const q = tensor([c.batch, hq, c.n, c.dh], next);
        const k = tensor([c.batch, hkv, c.n, c.dh], next);
        const v = tensor([c.batch, hkv, c.n, c.dv], next);
        const overlap = Math.floor((c.overlapPermille / 1000) * c.S);
        const opts = { segmentLength: c.S, overlap, summaries: c.summaries, causal: c.causal };
        const got = rt.segmentedAttention(q, k, v, opts);
        const want = referenceSegmented(q, k, v, opts);
        return { got, want, label: { ...c, overlap } };
      },
      atol: ATOL, rtol: RTOL, numRuns: 100, seed: 777,
    });
  });

  it('segment length ≥ n is full attention', () => {
    const rt = runtime(isa);
    const next = rng(31);
    for (const n of [1, 7, 64, 129]) {
      const q = tensor([1, 2, n, 16], next);
      const k = tensor([1, 2, n, 16], next);
      const v = tensor([1, 2, n, 8], next);
      for (const causal of [false, true]) {
        const full = rt.attention(q, k, v, { causal });
        for (const summaries of [false, true]) {
          const seg = rt.segmentedAttention(q, k, v, { segmentLength: n, summaries, causal });
          expect(sameValues(seg.data, full.data)).toBeUndefined();
          const seg2 = rt.segmentedAttention(q, k, v, { segmentLength: n + 9, overlap: 3, summaries, causal });
          expect(sameValues(seg2.data, full.data)).toBeUndefined();
        }
      }
    }
  });

  it('without overlap or summaries each segment is attention on that segment alone', () => {
    const rt = runtime(isa);
    const next = rng(32);
    const n = 100;
    const S = 32;
    const q = tensor([1, 1, n, 8], next);
    const seg = rt.segmentedAttention(q, q, q, { segmentLength: S });
    for (let s0 = 0; s0 < n; s0 += S) {
      const len = Math.min(S, n - s0);
      const part: Tensor = { data: q.data.slice(s0 * 8, (s0 + len) * 8), shape: [1, 1, len, 8] };
      const want = rt.attention(part, part, part);
      expect(sameValues(seg.data.subarray(s0 * 8, (s0 + len) * 8), want.data)).toBeUndefined();
    }
  });

  it('rejects bad options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(33);
    const q = tensor([1, 1, 10, 4], next);
    rt.segmentedAttention(q, q, q, { segmentLength: 4, overlap: 1, summaries: true });
    const before = arenaStats(rt);
    expectCode(() => rt.segmentedAttention(q, q, q, {} as never), 'INVALID_OPTION', 'options.segmentLength is required');
    expectCode(() => rt.segmentedAttention(q, q, q, { segmentLength: 0 }), 'INVALID_OPTION', 'options.segmentLength');
    expectCode(() => rt.segmentedAttention(q, q, q, { segmentLength: 4, overlap: 4 }), 'INVALID_OPTION', 'smaller than options.segmentLength (4), got 4');
    expectCode(() => rt.segmentedAttention(q, q, q, { segmentLength: 4, overlap: -1 }), 'INVALID_OPTION', 'options.overlap');
    expectCode(() => rt.segmentedAttention(q, q, q, { segmentLength: 4, summaries: 1 as never }), 'INVALID_OPTION', 'options.summaries');
    const k = tensor([1, 1, 9, 4], next);
    expectCode(() => rt.segmentedAttention(q, k, k, { segmentLength: 4 }), 'SHAPE_MISMATCH', 'nq = 10 and nk = 9');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.segmentedAttention(q, q, q, { segmentLength: 4, overlap: 2, summaries: true });
    expect(mismatch(ok.data, referenceSegmented(q, q, q, { segmentLength: 4, overlap: 2, summaries: true }), ATOL, RTOL)).toBeUndefined();
  });
});
