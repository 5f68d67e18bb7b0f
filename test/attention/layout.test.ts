// rt.attention with layout 'bshd' ([batch, seq, heads, headDim], read through strides): equal bit
// for bit to the default-layout call on the transposed tensors (the kernel sees the same rows in
// the same order), and within 2e-6 of the float64 reference — with GQA, both causal alignments,
// a window, key lengths, a boolean mask, returned weights and `out`, on both binaries. Shape
// errors name all three shapes and the layout; a bad layout value is INVALID_OPTION.

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Isa, type Runtime, type Tensor } from '../../src/index';
import { referenceAttention } from '../reference/attention';

const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((r) => r.dispose()));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

const tensor = (shape: number[], next: () => number): Tensor =>
  ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next), shape });

/** Swaps axes 1 and 2 of a 4-D tensor (bhsd ↔ bshd). */
function swap12(t: Tensor): Tensor {
  const [a, b, c, d] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      for (let s = 0; s < c; s++) out.set(t.data.subarray(((i * b + j) * c + s) * d, ((i * b + j) * c + s + 1) * d), ((i * c + s) * b + j) * d);
    }
  }
  return { data: out, shape: [a, c, b, d] };
}

const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

const cases = [
  { name: 'MHA', b: 2, hq: 3, hk: 3, nq: 17, nk: 17, d: 16, dv: 16, opts: {} },
  { name: 'GQA causal, value size ≠ head size', b: 1, hq: 6, hk: 2, nq: 9, nk: 40, d: 8, dv: 12, opts: { causal: true } },
  { name: 'top-left causal with a window and key lengths', b: 2, hq: 2, hk: 1, nq: 33, nk: 30, d: 32, dv: 32, opts: { causal: 'top-left', window: { left: 5 }, keyLengths: [30, 11] } },
  { name: 'boolean mask', b: 1, hq: 4, hk: 4, nq: 5, nk: 70, d: 64, dv: 64, opts: { mask: 'bool' } },
] as const;

for (const isa of ['simd128', 'relaxed'] as Isa[]) {
  describe(`layout 'bshd' (${isa})`, () => {
    const rt = createRuntimeSync({ isa });
    runtimes.push(rt);

    it.each(cases)('$name: the transposed default-layout call bit for bit, and the float64 reference', ({ b, hq, hk, nq, nk, d, dv, opts }) => {
      const next = rng(nq * 31 + nk);
      const q = tensor([b, hq, nq, d], next);
      const k = tensor([b, hk, nk, d], next);
      const v = tensor([b, hk, nk, dv], next);
      const o: Record<string, unknown> = { ...opts };
      if ('mask' in opts) o.mask = { data: Uint8Array.from({ length: nq * nk }, (_, i) => ((i * 2654435761) >>> 28) % 4 !== 0 ? 1 : 0), shape: [nq, nk] };
      const want = rt.attention(q, k, v, o) as Tensor;
      const got = rt.attention(swap12(q), swap12(k), swap12(v), { ...o, layout: 'bshd' }) as Tensor;
      expect(got.shape).toEqual([b, nq, hq, dv]);
      expect(sameBits(got.data, swap12(want).data)).toBe(true);
      const ref = referenceAttention(q, k, v, o).output;
      const back = swap12(got).data;
      let err = 0;
      for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(back[i] - ref[i]));
      expect(err).toBeLessThan(2e-6);
    });

    it('returned weights stay [batch, heads, nq, nk]; out takes the bshd output shape', () => {
      const next = rng(5);
      const q = tensor([1, 2, 6, 8], next);
      const k = tensor([1, 1, 10, 8], next);
      const want = rt.attention(q, k, k, { returnWeights: true, causal: true }) as { output: Tensor; weights: Tensor };
      const got = rt.attention(swap12(q), swap12(k), swap12(k), { returnWeights: true, causal: true, layout: 'bshd' }) as { output: Tensor; weights: Tensor };
      expect(got.weights.shape).toEqual([1, 2, 6, 10]);
      expect(sameBits(got.weights.data, want.weights.data)).toBe(true);
      const out = { data: new Float32Array(6 * 2 * 8), shape: [1, 6, 2, 8] };
      rt.attention(swap12(q), swap12(k), swap12(k), { causal: true, layout: 'bshd', out });
      expect(sameBits(out.data, swap12(want.output).data)).toBe(true);
    });

    it('errors name all three shapes and the layout; an unknown layout is INVALID_OPTION', () => {
      const t = (shape: number[]) => ({ data: new Float32Array(shape.reduce((a, x) => a * x, 1)), shape });
      const catchError = (f: () => unknown): AttentionError => {
        try {
          f();
        } catch (e) {
          return e as AttentionError;
        }
        throw new Error('no error');
      };
      // bshd inputs passed in the default layout: the heads (128 / 100) read as sequence lengths
      const e1 = catchError(() => rt.attention(t([1, 128, 12, 64]), t([1, 100, 12, 64]), t([1, 100, 12, 64])));
      expect(e1).toBeInstanceOf(AttentionError);
      expect(e1.code).toBe('SHAPE_MISMATCH');
      expect(e1.message).toContain("q [1, 128, 12, 64], k [1, 100, 12, 64], v [1, 100, 12, 64]: expected [batch, heads, seq, headDim] (or pass layout: 'bshd')");
      expect(() => rt.attention(t([1, 128, 12, 64]), t([1, 100, 12, 64]), t([1, 100, 12, 64]), { layout: 'bshd' })).not.toThrow();
      const e2 = catchError(() => rt.attention(t([1, 8, 4, 16]), t([1, 8, 3, 16]), t([1, 8, 3, 16]), { layout: 'bshd' }));
      expect(e2.code).toBe('SHAPE_MISMATCH');
      expect(e2.message).toMatch(/k\/v heads \(3\) must divide q heads \(4\).*layout 'bshd'/);
      const e3 = catchError(() => rt.attention(t([1, 1, 2, 4]), t([1, 1, 2, 4]), t([1, 1, 2, 4]), { layout: 'BSHD' as never }));
      expect(e3.code).toBe('INVALID_OPTION');
      expect(e3.message).toMatch(/options\.layout must be 'bhsd' or 'bshd', got .BSHD./);
    });
  });
}
