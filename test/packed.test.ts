// rt.packMatrix: B packed once into the GEMM layout gives the same products as unpacked B (float64
// reference), across tail sizes, KC-block crossings (k > 256), transposeB, bias, batched A, threads;
// and it errors clearly (disposed, foreign runtime, transposeB given twice).

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync } from '../src/index';
import { referenceMatmul } from './reference/attention';

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}
const tensor = (shape: number[], rnd: () => number) => ({ data: Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, rnd), shape });

describe('rt.packMatrix', () => {
  const rt = createRuntimeSync();
  const other = createRuntimeSync();
  afterAll(() => {
    rt.dispose();
    other.dispose();
  });

  const shapes = [[1, 1, 1], [3, 7, 5], [4, 8, 8], [5, 9, 17], [65, 63, 300], [130, 520, 513], [2, 33, 70]];
  it.each(shapes)('m=%i n=%i k=%i matches the float64 reference (transposeB both ways, bias)', (m, n, k) => {
    const rnd = random(m * 1000 + n * 10 + k);
    const a = tensor([m, k], rnd);
    const bias = tensor([n], rnd);
    for (const transposeB of [false, true]) {
      const b = tensor(transposeB ? [n, k] : [k, n], rnd);
      const packed = rt.packMatrix(b, { transposeB });
      expect([packed.k, packed.n]).toEqual([k, n]);
      const got = rt.matmul(a, packed, { bias });
      const want = referenceMatmul(a, b, { transposeB, bias });
      const plain = rt.matmul(a, b, { transposeB, bias });
      let err = 0;
      for (let i = 0; i < want.data.length; i++) err = Math.max(err, Math.abs(got.data[i] - want.data[i]) / (1 + Math.abs(want.data[i])));
      expect(err).toBeLessThan(2e-5);
      expect(got.shape).toEqual([m, n]);
      // m ≥ 4 runs the same micro-kernel on the same panels: identical to the unpacked product.
      if (m >= 4) expect(Array.from(got.data)).toEqual(Array.from(plain.data));
      packed.dispose();
    }
  });

  it('works with batched A', () => {
    const rnd = random(3);
    const a = tensor([3, 20, 40], rnd);
    const b = tensor([40, 24], rnd);
    const got = rt.matmul(a, rt.packMatrix(b));
    const want = referenceMatmul(a, b);
    for (let i = 0; i < want.data.length; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThan(1e-4);
  });

  it('throws typed errors and stays usable', () => {
    const b = tensor([8, 4], random(1));
    const packed = rt.packMatrix(b);
    const a = tensor([2, 8], random(2));
    expect(() => rt.matmul(a, packed, { transposeB: true })).toThrow(/transposeB does not apply/);
    expect(() => other.matmul(a, packed)).toThrow(/another runtime/);
    expect(() => rt.matmul(tensor([2, 7], random(4)), packed)).toThrow(AttentionError);
    expect(() => rt.packMatrix(tensor([2, 3, 4], random(5)))).toThrow(/must be 2-D/);
    packed.dispose();
    try {
      rt.matmul(a, packed);
      expect.unreachable();
    } catch (e) {
      expect((e as AttentionError).code).toBe('DISPOSED');
    }
    expect(rt.matmul(a, b).shape).toEqual([2, 4]);
  });
});
