// rt.recurrentMemoryAttention (Transformer-XL) against the float64 oracle of
// test/reference/recurrent-memory.ts, which follows the reference implementation literally
// (sinusoidal [sin | cos] encodings over klen − 1 … 0, r = R·W_rᵀ, the _rel_shift of the BD
// matrix, same_length / clamp_len masks, memory = last mem_len positions).
//
// Property (fast-check, fixed seed, 25 runs per kernel binary): batch 1–2, heads 1–3, headDim
// ∈ {1, 4, 8}, valueDim ∈ {3, 8}, dModel ∈ {2, 6, 16}, memoryLength ∈ {0, 1, 3, 8, 20},
// sameLength, clampLen ∈ {0, 1, 4}, u/v/W_r present or not, 2–4 segments of 1–12 tokens, some
// with update: false. Inputs uniform in [−1, 1]; |got − ref| ≤ 5e-5 + 5e-5·|ref|; the memory
// contents after each call equal the reference's.
// Identities: memoryLength 0 without position term and u = 0 is plain causal attention
// (bit-identical); a sequence fed in segments with memory ≥ its length equals one causal pass
// with the same relative scores (≤ 2e-6). Errors: shapes, W_r / u / v shapes, sameLength with
// memoryLength 0, bad clampLen, disposed → typed errors; the runtime stays usable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues } from '../helpers/numeric';
import { expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { ReferenceTxl } from '../reference/recurrent-memory';

const ATOL = 5e-5;
const RTOL = 5e-5;

const tensor = (shape: number[], next: () => number, lo = -1, hi = 1): Tensor => randomTensor(shape, next, lo, hi);
const runtime = useRuntimes();

/** Rows [a, b) of every (batch, head) of a [B, H, n, d] tensor. */
function rows(t: Tensor, a: number, b: number): Tensor {
  const [B, H, n, d] = t.shape;
  const data = new Float32Array(B * H * (b - a) * d);
  for (let x = 0; x < B * H; x++) data.set(t.data.subarray((x * n + a) * d, (x * n + b) * d), x * (b - a) * d);
  return { data, shape: [B, H, b - a, d] };
}

describe.each(ISAS)('recurrentMemoryAttention (%s)', (isa) => {
  it('matches the float64 Transformer-XL reference across segments', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    rt.attention(warm, warm, warm); // the kernels' workspace block exists from here on
    const before = arenaStats(rt).blocks;
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 2 }),
          heads: fc.integer({ min: 1, max: 3 }),
          dh: fc.constantFrom(1, 4, 8),
          dv: fc.constantFrom(3, 8),
          dModel: fc.constantFrom(2, 6, 16),
          M: fc.constantFrom(0, 1, 3, 8, 20),
          sameLength: fc.boolean(),
          clampLen: fc.constantFrom(0, 1, 4),
          withPos: fc.boolean(),
          withU: fc.boolean(),
          withV: fc.boolean(),
          segments: fc.array(fc.record({ n: fc.integer({ min: 1, max: 12 }), update: fc.boolean() }), { minLength: 2, maxLength: 4 }),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        (c) => {
          const next = rng(c.seed);
          const sameLength = c.sameLength && c.M > 0;
          const W = c.withPos ? tensor([c.heads * c.dh, c.dModel], next) : undefined;
          const u = c.withU ? tensor([c.heads, c.dh], next) : undefined;
          const vb = c.withV ? tensor([c.heads, c.dh], next) : undefined;
          const mem = rt.recurrentMemoryAttention({
            heads: c.heads, headDim: c.dh, valueDim: c.dv, memoryLength: c.M, batch: c.batch,
            positionWeights: W, rWBias: u, rRBias: vb, sameLength, clampLen: c.clampLen,
          });
          const ref = new ReferenceTxl({
            heads: c.heads, headDim: c.dh, valueDim: c.dv, memoryLength: c.M, batch: c.batch,
            positionWeights: W, u: u?.data, v: vb?.data, sameLength, clampLen: c.clampLen,
          });
          try {
            c.segments.forEach((s, at) => {
              const q = tensor([c.batch, c.heads, s.n, c.dh], next);
              const k = tensor([c.batch, c.heads, s.n, c.dh], next);
              const v = tensor([c.batch, c.heads, s.n, c.dv], next);
              const got = mem.forward(q, k, v, { update: s.update });
              const want = ref.forward(q, k, v, s.update);
              const bad = mismatch(got.data, want, ATOL, RTOL, got.shape);
              if (bad) throw new Error(`${JSON.stringify(c)} segment ${at}: ${bad}`);
            });
          } finally {
            mem.dispose();
          }
          expect(arenaStats(rt).blocks, 'arena blocks after dispose').toBe(before);
        },
      ),
      { numRuns: 25, seed: 6062 },
    );
  });

  it('memory keeps the last M positions; update: false and reset()', () => {
    const rt = runtime(isa);
    const next = rng(71);
    const mem = rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 5 });
    const k1 = tensor([1, 2, 3, 4], next);
    const k2 = tensor([1, 2, 4, 4], next);
    mem.forward(k1, k1, k1);
    expect(mem.length).toBe(3);
    expect(sameValues(mem.memory().keys.data, k1.data)).toBeUndefined();
    mem.forward(k2, k2, k2, { update: false });
    expect(mem.length).toBe(3);
    mem.forward(k2, k2, k2);
    expect(mem.length).toBe(5);
    // [k1 (3 rows); k2 (4 rows)] → the last 5: k1 row 2, then k2 rows 0–3.
    const both = new Float32Array(2 * 7 * 4);
    for (let h = 0; h < 2; h++) {
      both.set(k1.data.subarray(h * 12, h * 12 + 12), h * 28);
      both.set(k2.data.subarray(h * 16, h * 16 + 16), h * 28 + 12);
    }
    expect(sameValues(mem.memory().values.data, rows({ data: both, shape: [1, 2, 7, 4] }, 2, 7).data)).toBeUndefined();
    mem.reset();
    expect(mem.length).toBe(0);
    mem.dispose();
  });

  it('writes into out (a WasmTensor, or a Tensor)', () => {
    const rt = runtime(isa);
    const next = rng(75);
    const q = tensor([1, 2, 6, 4], next);
    const q2 = tensor([1, 2, 6, 4], next);
    const config = { heads: 2, headDim: 4, memoryLength: 3, positionWeights: tensor([8, 4], next) };
    const a = rt.recurrentMemoryAttention(config);
    const b = rt.recurrentMemoryAttention(config);
    const o = rt.tensor([1, 2, 6, 4]);
    const want1 = a.forward(q, q, q);
    expect(b.forward(q, q, q, { out: o })).toBe(o);
    expect(sameValues(o.data, want1.data)).toBeUndefined();
    const want2 = a.forward(q2, q2, q2);
    const js = { data: new Float32Array(48), shape: [1, 2, 6, 4] };
    const got = b.forward(q2, q2, q2, { out: js });
    expect(got.shape).toEqual([1, 2, 6, 4]);
    expect(sameValues(js.data, want2.data)).toBeUndefined();
    a.dispose();
    b.dispose();
    o.dispose();
  });

  it('memoryLength 0 without position term is plain causal attention', () => {
    const rt = runtime(isa);
    const next = rng(72);
    for (const n of [1, 5, 64, 67]) {
      const q = tensor([2, 3, n, 16], next);
      const k = tensor([2, 3, n, 16], next);
      const v = tensor([2, 3, n, 8], next);
      const mem = rt.recurrentMemoryAttention({ heads: 3, headDim: 16, valueDim: 8, memoryLength: 0, batch: 2 });
      const a = mem.forward(q, k, v);
      const b = mem.forward(q, k, v); // no memory kept: the same again
      const want = rt.attention(q, k, v, { causal: true });
      expect(sameValues(a.data, want.data)).toBeUndefined();
      expect(sameValues(b.data, want.data)).toBeUndefined();
      mem.dispose();
    }
  });

  it('segments with enough memory equal one causal pass with the same relative scores', () => {
    const rt = runtime(isa);
    const next = rng(73);
    const N = 90;
    const H = 2;
    const dh = 8;
    const q = tensor([1, H, N, dh], next);
    const k = tensor([1, H, N, dh], next);
    const v = tensor([1, H, N, dh], next);
    const config = {
      heads: H, headDim: dh, positionWeights: tensor([H * dh, 12], next), rWBias: tensor([H, dh], next), rRBias: tensor([H, dh], next),
    };
    for (const clampLen of [0, 10]) {
      const whole = rt.recurrentMemoryAttention({ ...config, memoryLength: 0, clampLen });
      const one = whole.forward(q, k, v);
      const seg = rt.recurrentMemoryAttention({ ...config, memoryLength: N, clampLen });
      let at = 0;
      for (const len of [7, 1, 30, 20, 32]) {
        const got = seg.forward(rows(q, at, at + len), rows(k, at, at + len), rows(v, at, at + len));
        expect(mismatch(got.data, rows(one, at, at + len).data, 2e-6, 2e-6), `rows ${at}…${at + len}, clampLen ${clampLen}`).toBeUndefined();
        at += len;
      }
      // With sameLength and memory M, a long single pass equals the segmented run too (every
      // query sees its last M positions either way).
      const M = 16;
      const a = rt.recurrentMemoryAttention({ ...config, memoryLength: M, sameLength: true, clampLen });
      const all = a.forward(q, k, v);
      const b = rt.recurrentMemoryAttention({ ...config, memoryLength: M, sameLength: true, clampLen });
      at = 0;
      for (const len of [16, 16, 16, 16, 16, 10]) {
        const got = b.forward(rows(q, at, at + len), rows(k, at, at + len), rows(v, at, at + len));
        expect(mismatch(got.data, rows(all, at, at + len).data, 2e-6, 2e-6), `sameLength rows ${at}…${at + len}`).toBeUndefined();
        at += len;
      }
      for (const m of [whole, seg, a, b]) m.dispose();
    }
  });

  it('rejects bad configuration and inputs with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(74);
    rt.attention(tensor([1, 1, 4, 4], next), tensor([1, 1, 4, 4], next), tensor([1, 1, 4, 4], next));
    const before = arenaStats(rt);
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4 } as never), 'INVALID_OPTION', 'options.memoryLength is required');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: -1 }), 'INVALID_OPTION', 'options.memoryLength must be an integer ≥ 0, got -1');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 0, sameLength: true }), 'INVALID_OPTION', 'options.sameLength needs options.memoryLength ≥ 1');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, clampLen: 1.5 }), 'INVALID_OPTION', 'options.clampLen');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, positionWeights: tensor([8, 5], next) }), 'SHAPE_MISMATCH', 'options.positionWeights (W_r, r_net.weight) must have shape [heads·headDim, dModel] = [8, dModel] with dModel even ≥ 2, got [8, 5]');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, positionWeights: tensor([4, 6], next) }), 'SHAPE_MISMATCH', 'got [4, 6]');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, rWBias: tensor([4], next) }), 'SHAPE_MISMATCH', 'options.rWBias must have shape [2, 4], got [4]');
    expectCode(() => rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, rRBias: tensor([2, 5], next) }), 'SHAPE_MISMATCH', 'options.rRBias must have shape [2, 4], got [2, 5]');
    expect(arenaStats(rt)).toEqual(before);
    const mem = rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, positionWeights: tensor([8, 6], next) });
    const q = tensor([1, 2, 3, 4], next);
    mem.forward(q, q, q);
    const during = arenaStats(rt);
    expectCode(() => mem.forward(tensor([1, 3, 3, 4], next), q, q), 'SHAPE_MISMATCH', 'q must have shape [batch, heads, n, headDim] = [1, 2, 3, 4]');
    expectCode(() => mem.forward(q, tensor([1, 2, 2, 4], next), q), 'SHAPE_MISMATCH', 'k must have shape');
    expectCode(() => mem.forward(q, q, tensor([2, 2, 3, 4], next)), 'SHAPE_MISMATCH', 'v must have shape [batch, heads, n, valueDim] = [1, 2, 3, 4] (this memory\'s batch 1, heads 2)');
    expectCode(() => mem.forward(q, q, q, { update: 1 as never }), 'INVALID_OPTION', 'options.update must be true or false');
    expect(arenaStats(rt)).toEqual(during);
    expect(mem.length).toBe(3);
    mem.dispose();
    expectCode(() => mem.forward(q, q, q), 'DISPOSED', 'disposed');
    expect(arenaStats(rt)).toEqual(before);
    const again = rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 0 });
    expect(sameValues(again.forward(q, q, q).data, rt.attention(q, q, q, { causal: true }).data)).toBeUndefined();
    again.dispose();
  });
});
