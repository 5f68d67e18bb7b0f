// rt.globalLocalAttention against the float64 oracle of test/reference/global-local.ts.
//
// Property (fast-check, fixed seed, 80 runs per kernel binary): n ∈ {1, 3, 5, 8, 9, 64, 65, 100},
// dh, dv ∈ {1, 3, 8, 64}, batch 1–2, MHA/GQA heads, window sides 0–20, dilation 1–3, causal or
// not, global tokens as a fixed list, per-batch lists, per-head scores, or the top-k by query /
// key norm, random blocks (size 1–16, 0–3 blocks, any seed) — global keys inside windows and
// random blocks must count once.
// Tolerance: inputs uniform in [−2, 2]; |got − ref| ≤ 3e-5 + 3e-5·|ref| (the exact merges add a
// few float32 roundings to rt.attention's 2e-5).
// Identities: no global tokens (and no random blocks) is bit-identical to
// rt.slidingWindowAttention; every token global equals full attention; top-k by scores equals
// the same indices given as a list. Errors: bad indices, repeats, count > n, bad `by`, bad score
// shape, nq ≠ nk, bad random options → typed errors, runtime usable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GlobalTokens, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues, uniformF32 } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { referenceGlobalLocal, topKIndices } from '../reference/global-local';

const ATOL = 3e-5;
const RTOL = 3e-5;
const SEQ = [1, 3, 5, 8, 9, 64, 65, 100];
const HEAD = [1, 3, 8, 64];

const tensor = randomTensor;
const runtime = useRuntimes();

/** Norms of every row of head (b, h) of a [B, H, n, D] tensor, in float64. */
function norms(t: Tensor, b: number, h: number): number[] {
  const [, H, n, D] = t.shape;
  return Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let x = 0; x < D; x++) s += t.data[((b * H + h) * n + i) * D + x] ** 2;
    return Math.sqrt(s);
  });
}

type GlobalKind = 'none' | 'list' | 'perBatch' | 'scores' | 'qnorm' | 'knorm';

describe.each(ISAS)('globalLocalAttention (%s)', (isa) => {
  it('matches the float64 reference (windows, dilation, causal, every global source, random blocks)', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.globalLocalAttention(warm, warm, warm, { window: 1 }),
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [4, 2]),
        n: fc.constantFrom(...SEQ),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        left: fc.integer({ min: 0, max: 20 }),
        right: fc.integer({ min: 0, max: 20 }),
        dilation: fc.integer({ min: 1, max: 3 }),
        causal: fc.boolean(),
        kind: fc.constantFrom<GlobalKind>('none', 'list', 'perBatch', 'scores', 'qnorm', 'knorm'),
        count: fc.integer({ min: 0, max: 8 }),
        random: fc.option(fc.record({ blockSize: fc.integer({ min: 1, max: 16 }), blocks: fc.integer({ min: 0, max: 3 }), seed: fc.integer({ min: 0, max: 0xffffffff }) }), { nil: undefined }),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.seed);
        const [hq, hkv] = c.heads;
        const { n } = c;
        const q = tensor([c.batch, hq, n, c.dh], next);
        const k = tensor([c.batch, hkv, n, c.dh], next);
        const v = tensor([c.batch, hkv, n, c.dv], next);
        const count = Math.min(c.count, n);
        const pickList = (): number[] => topKIndices(uniformF32(n, next), count);
        let global: GlobalTokens | undefined;
        let G: (b: number, h: number) => readonly number[] = () => [];
        if (c.kind === 'list') {
          const list = pickList();
          global = [...list].reverse(); // order does not matter
          G = () => list;
        } else if (c.kind === 'perBatch') {
          const lists = Array.from({ length: c.batch }, pickList);
          global = { indices: lists };
          G = (b) => lists[b];
        } else if (c.kind === 'scores') {
          const scores = tensor([c.batch, hq, n], next);
          global = { count, scores };
          G = (b, h) => topKIndices(scores.data.subarray((b * hq + h) * n, (b * hq + h + 1) * n), count);
        } else if (c.kind === 'qnorm') {
          global = { count, by: 'query-norm' };
          G = (b, h) => topKIndices(norms(q, b, h), count);
        } else if (c.kind === 'knorm') {
          global = { count, by: 'key-norm' };
          G = (b, h) => topKIndices(norms(k, b, Math.floor(h / (hq / hkv))), count);
        }
        const right = c.causal ? 0 : c.right;
        const got = rt.globalLocalAttention(q, k, v, {
          window: { left: c.left, right }, dilation: c.dilation, causal: c.causal, global, random: c.random,
        });
        const want = referenceGlobalLocal(q, k, v, {
          left: c.left, right, dilation: c.dilation, causal: c.causal, global: G, random: c.random,
        });
        return { got, want };
      },
      atol: ATOL, rtol: RTOL, numRuns: 80, seed: 4242,
    });
  });

  it('no global tokens is sliding-window attention; all global is full attention', () => {
    const rt = runtime(isa);
    const next = rng(21);
    for (const [n, d, causal] of [[70, 1, false], [70, 2, true], [9, 3, false]] as Array<[number, number, boolean]>) {
      const q = tensor([1, 2, n, 8], next);
      const k = tensor([1, 2, n, 8], next);
      const v = tensor([1, 2, n, 8], next);
      const win = { left: 4, right: causal ? 0 : 3 };
      const local = rt.slidingWindowAttention(q, k, v, { window: win, dilation: d, causal });
      for (const global of [undefined, [], { count: 0, by: 'query-norm' as const }]) {
        const gl = rt.globalLocalAttention(q, k, v, { window: win, dilation: d, causal, global });
        expect(sameValues(gl.data, local.data)).toBeUndefined();
      }
      const all = Array.from({ length: n }, (_, i) => i);
      const full = rt.attention(q, k, v, { causal });
      expect(mismatch(rt.globalLocalAttention(q, k, v, { window: win, dilation: d, causal, global: all }).data, full.data, 1e-6, 1e-6)).toBeUndefined();
    }
  });

  it('top-k by scores equals the same tokens given as a list', () => {
    const rt = runtime(isa);
    const next = rng(22);
    const n = 50;
    const q = tensor([2, 1, n, 16], next);
    const scores = tensor([2, n], next);
    const lists = [0, 1].map((b) => topKIndices(scores.data.subarray(b * n, b * n + n), 5));
    const a = rt.globalLocalAttention(q, q, q, { window: 3, global: { count: 5, scores } });
    const b = rt.globalLocalAttention(q, q, q, { window: 3, global: { indices: lists } });
    expect(sameValues(a.data, b.data)).toBeUndefined();
  });

  it('rejects bad options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(23);
    const q = tensor([1, 2, 10, 4], next);
    rt.globalLocalAttention(q, q, q, { window: 1, global: [1] });
    const before = arenaStats(rt);
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: -1 }), 'INVALID_OPTION', 'options.window');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, global: [10] }), 'INVALID_OPTION', 'in [0, 10), got 10');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, global: [2, 2] }), 'INVALID_OPTION', 'twice');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, global: { count: 11, by: 'query-norm' } }), 'INVALID_OPTION', 'options.global.count');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, global: { count: 1, by: 'value' as never } }), 'INVALID_OPTION', 'options.global.by');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, global: { count: 1, scores: { data: new Float32Array(9), shape: [1, 9] } } }), 'SHAPE_MISMATCH', 'options.global.scores');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, global: { indices: [[1], [2]] } }), 'INVALID_OPTION', 'one index list per batch entry (1)');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, random: { blockSize: 0, blocks: 1 } }), 'INVALID_OPTION', 'options.random.blockSize');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, random: { blockSize: 2, blocks: -1 } }), 'INVALID_OPTION', 'options.random.blocks');
    expectCode(() => rt.globalLocalAttention(q, q, q, { window: 1, random: { blockSize: 2, blocks: 1, seed: -3 } }), 'INVALID_OPTION', 'options.random.seed');
    const k = tensor([1, 2, 9, 4], next);
    expectCode(() => rt.globalLocalAttention(q, k, k, { window: 1 }), 'SHAPE_MISMATCH', 'nq = 10 and nk = 9');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.globalLocalAttention(q, q, q, { window: 1, global: [3] });
    const want = referenceGlobalLocal(q, q, q, { left: 1, right: 1, global: () => [3] });
    expect(mismatch(ok.data, want, ATOL, RTOL)).toBeUndefined();
  });
});
