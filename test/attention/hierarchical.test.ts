// rt.hierarchicalAttention against the float64 oracle of test/reference/hierarchical.ts.
//
// Property (fast-check, fixed seed, 40 runs per kernel binary): n ∈ {1, 3, 4, 5, 8, 9, 17, 64, 65},
// dh, dv ∈ {1, 3, 8, 16}, batch 1–2, MHA/GQA heads, 1–3 levels given as group sizes, boundaries or
// [start, end) pairs, G ∈ {mean, max, learned-query pooling (shared or per head)} per step,
// combine ∈ {mean, sum, random weights}. Tolerance: inputs uniform in [−2, 2];
// |got − ref| ≤ 3e-5 + 3e-5·|ref| for the token output, every level and the document.
// Identities: one segment of n tokens gives level 0 = full attention (bit-identical); segments
// give level 0 = rt.attention on each segment alone; a top level of one unit outputs its input.
// Errors: overlapping, empty, gapped or short segments, bad aggregate/query shapes, nq ≠ nk,
// bad combine → typed errors naming the argument; nothing leaks; the runtime stays usable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HierarchicalAggregate, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { type RefAggregate, referenceHierarchical } from '../reference/hierarchical';

const ATOL = 3e-5;
const RTOL = 3e-5;
const SEQ = [1, 3, 4, 5, 8, 9, 17, 64, 65];
const HEAD = [1, 3, 8, 16];

const tensor = randomTensor;
const runtime = useRuntimes();

/** Random boundaries 0 = b₀ < … = units from cut flags. */
function randomBounds(units: number, next: () => number, p: number): number[] {
  const b = [0];
  for (let i = 1; i < units; i++) if (next() < p) b.push(i);
  b.push(units);
  return b;
}

describe.each(ISAS)('hierarchicalAttention (%s)', (isa) => {
  it('matches the float64 reference (levels, aggregations, combinations)', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.hierarchicalAttention(warm, warm, warm, { levels: [2] }),
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [4, 2]),
        n: fc.constantFrom(...SEQ),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        depth: fc.integer({ min: 1, max: 3 }),
        form: fc.constantFrom('size', 'bounds', 'pairs'),
        aggs: fc.array(fc.constantFrom('mean', 'max', 'pool', 'poolHead'), { minLength: 4, maxLength: 4 }),
        perStep: fc.boolean(),
        combine: fc.constantFrom('mean', 'sum', 'weights'),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.seed);
        const [hq, hkv] = c.heads;
        const q = tensor([c.batch, hq, c.n, c.dh], next);
        const k = tensor([c.batch, hkv, c.n, c.dh], next);
        const v = tensor([c.batch, hkv, c.n, c.dv], next);
        const bounds: number[][] = [];
        const levels: Array<number | number[] | Array<[number, number]>> = [];
        let units = c.n;
        const depth = Math.min(c.depth, Math.ceil(Math.log2(c.n)) + 1); // the library's cap on levels
        for (let l = 0; l < depth; l++) {
          if (c.form === 'size') {
            const g = 1 + Math.floor(next() * Math.min(units, 9));
            levels.push(g);
            const b = [];
            for (let x = 0; x < units; x += g) b.push(x);
            b.push(units);
            bounds.push(b);
          } else {
            const b = randomBounds(units, next, 0.3);
            bounds.push(b);
            levels.push(c.form === 'bounds' ? b : b.slice(0, -1).map((s, i) => [s, b[i + 1]] as [number, number]));
          }
          units = bounds[l].length - 1;
        }
        const mk = (kind: string): { lib: HierarchicalAggregate; ref: RefAggregate } => {
          if (kind === 'mean' || kind === 'max') return { lib: kind, ref: kind };
          const w = kind === 'pool' ? tensor([c.dv], next) : tensor([hq, c.dv], next);
          return { lib: { query: w, scale: 0.7 }, ref: { query: w, scale: 0.7 } };
        };
        const specs = c.perStep ? c.aggs.slice(0, depth + 1).map(mk) : [mk(c.aggs[0])];
        const weights = Array.from({ length: depth + 1 }, () => next() * 2 - 1);
        const combine = c.combine === 'weights' ? weights : (c.combine as 'mean' | 'sum');
        const got = rt.hierarchicalAttention(q, k, v, {
          levels, aggregate: c.perStep ? specs.map((s) => s.lib) : specs[0].lib, combine, levelScale: 0.5,
        });
        const want = referenceHierarchical(q, k, v, {
          bounds, aggregate: c.perStep ? specs.map((s) => s.ref) : specs[0].ref, combine, levelScale: 0.5,
        });
        expect(got.levels.map((t) => t.shape)).toEqual([c.n, ...bounds.map((b) => b.length - 1)].map((s) => [c.batch, hq, s, c.dv]));
        const label = { ...c, levels };
        return [
          { got: got.output, want: want.output, label },
          ...got.levels.map((t, l) => ({ got: t, want: want.levels[l], label, what: `level ${l}` })),
          { got: got.document, want: want.document, label, what: 'document' },
        ];
      },
      atol: ATOL, rtol: RTOL, numRuns: 40, seed: 606,
    });
  });

  it('level 0 is attention within each segment; one segment is full attention', () => {
    const rt = runtime(isa);
    const next = rng(61);
    const n = 70;
    const q = tensor([1, 2, n, 16], next);
    const k = tensor([1, 2, n, 16], next);
    const v = tensor([1, 2, n, 8], next);
    const one = rt.hierarchicalAttention(q, k, v, { levels: [[0, n]] });
    expect(sameValues(one.levels[0].data, rt.attention(q, k, v).data)).toBeUndefined();
    // A top level of one unit attends only to itself: its output is its input (the pooled vector).
    const pooled = new Float32Array(2 * 8);
    const o0 = one.levels[0].data;
    for (let h = 0; h < 2; h++) {
      for (let e = 0; e < 8; e++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += o0[(h * n + i) * 8 + e];
        pooled[h * 8 + e] = s / n;
      }
    }
    expect(mismatch(one.levels[1].data, pooled, 1e-6, 1e-6)).toBeUndefined();
    const bounds = [0, 5, 6, 40, 70];
    const seg = rt.hierarchicalAttention(q, k, v, { levels: [bounds.slice(0, -1).map((s, i) => [s, bounds[i + 1]] as [number, number])] });
    for (let h = 0; h < 2; h++) {
      for (let s = 0; s + 1 < bounds.length; s++) {
        const [a, b] = [bounds[s], bounds[s + 1]];
        const part = (t: Tensor, d: number): Tensor => ({ data: t.data.slice((h * n + a) * d, (h * n + b) * d), shape: [1, 1, b - a, d] });
        const want = rt.attention(part(q, 16), part(k, 16), part(v, 8));
        expect(sameValues(seg.levels[0].data.subarray((h * n + a) * 8, (h * n + b) * 8), want.data)).toBeUndefined();
      }
    }
  });

  it('writes the token output into out (a WasmTensor, or a Tensor)', () => {
    const rt = runtime(isa);
    const next = rng(63);
    const q = tensor([1, 2, 30, 8], next);
    const want = rt.hierarchicalAttention(q, q, q, { levels: [7, 2] });
    const o = rt.tensor([1, 2, 30, 8]);
    expect(rt.hierarchicalAttention(q, q, q, { levels: [7, 2], out: o }).output).toBe(o);
    expect(sameValues(o.data, want.output.data)).toBeUndefined();
    const js = { data: new Float32Array(480), shape: [1, 2, 30, 8] };
    const got = rt.hierarchicalAttention(q, q, q, { levels: [7, 2], out: js });
    expect(got.output.shape).toEqual([1, 2, 30, 8]);
    expect(sameValues(js.data, want.output.data)).toBeUndefined();
    o.dispose();
  });

  it('rejects bad structure and options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(62);
    const q = tensor([1, 2, 12, 4], next);
    rt.hierarchicalAttention(q, q, q, { levels: [4] });
    const before = arenaStats(rt);
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[[0, 5], [4, 12]]] }), 'INVALID_OPTION', 'options.levels[0][1] = [4, 12) overlaps the previous segment [0, 5)');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[[0, 5], [6, 12]]] }), 'INVALID_OPTION', 'leaves units 5 … 5 in no segment');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[[0, 5], [5, 5], [5, 12]]] }), 'INVALID_OPTION', 'is empty');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[[0, 5], [5, 10]]] }), 'INVALID_OPTION', 'last segment ends at 10');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[0, 6, 4, 12]] }), 'INVALID_OPTION', 'strictly increasing');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[0, 6, 11]] }), 'INVALID_OPTION', 'must end at the number of units of this level (12), got 11');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [[1, 6, 12]] }), 'INVALID_OPTION', 'must start at 0, got 1');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [4, [0, 1, 2, 4]] }), 'INVALID_OPTION', 'options.levels[1] boundaries must end at the number of units of this level (3), got 4');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [] }), 'INVALID_OPTION', 'options.levels must be a non-empty array');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [0] }), 'INVALID_OPTION', 'options.levels[0] must be a group size ≥ 1');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [4], aggregate: 'median' as never }), 'INVALID_OPTION', "options.aggregate must be 'mean', 'max' or { query }");
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [4], aggregate: ['mean'] }), 'INVALID_OPTION', 'one per step (levels.length + 1 = 2');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [4], aggregate: { query: tensor([3, 4], next) } }), 'SHAPE_MISMATCH', 'options.aggregate.query must have shape [4] or [2, 4]');
    expectCode(() => rt.hierarchicalAttention(q, q, q, { levels: [4], combine: [1, 2, 3] }), 'INVALID_OPTION', "options.combine must be 'mean', 'sum' or 2 finite weights");
    const k = tensor([1, 2, 11, 4], next);
    expectCode(() => rt.hierarchicalAttention(q, k, k, { levels: [4] }), 'SHAPE_MISMATCH', 'nq = 12 and nk = 11');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.hierarchicalAttention(q, q, q, { levels: [[0, 5, 12], [0, 1, 2]], aggregate: 'max' });
    const want = referenceHierarchical(q, q, q, { bounds: [[0, 5, 12], [0, 1, 2]], aggregate: 'max' });
    expect(mismatch(ok.output.data, want.output, ATOL, RTOL)).toBeUndefined();
  });
});
