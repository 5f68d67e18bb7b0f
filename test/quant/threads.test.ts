// Quantized products on the worker pool (createRuntime({ threads: 2 })): large enough products are
// split into column slices over the threads; each slice moves its weight, output, bias, scale and
// zero-point pointers to its first column. Checked for every format (int8 panels, q8_0, q4_0,
// MatMulNBits with zero points, f16 as B and Bᵀ) at decode (M = 1) and prefill shapes, with N
// not a multiple of the slice alignment: against test/reference/quant.ts with the same
// quantization (≤ 1e-5 of the output range; f16: the f32 rounding bound), and bit for bit against
// the single-thread runtime (a slice computes each output exactly as one call does). A product
// below the split threshold runs on the calling thread. Uses dist/worker.js (npm test builds first).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type Runtime } from '../../src/index';
import {
  blockProductRef, decodeQ4_0Row, decodeQ8_0Row, decodeQb4wRow, f16ToNumber, numberToF16, productF64, qc8wProductRef,
  quantizeQ4_0, quantizeQ8_0, quantizeQb4w,
} from '../reference/quant';
import { gaussian, rng } from './data';

const workerUrl = new URL('../../dist/worker.js', import.meta.url);

/** max |got − want| over the range of want. */
function maxRelative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let range = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    range = Math.max(range, Math.abs(want[i]));
  }
  return err / range;
}

/** Index of the first element that differs bit for bit (−1: none). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('quantized products on 2 threads', () => {
  let mt: Runtime;
  let st: Runtime;
  beforeAll(async () => {
    mt = await createRuntime({ threads: 2, workerUrl });
    st = createRuntimeSync();
  });
  afterAll(() => {
    mt?.dispose();
    st?.dispose();
  });

  it('really has two threads', () => {
    expect(mt.threads).toBe(2);
  });

  // m·n·k ≥ 2²¹ (the split threshold) in every case; n leaves a partial last slice.
  const shapes = [
    { m: 1, n: 1100, k: 2048 }, // decode: one row, 9 slices
    { m: 5, n: 1003, k: 512 }, // prefill rows, n neither a multiple of 4 nor of 8
  ];

  it.each(shapes)('q8_0, q4_0 and MatMulNBits blocks (m $m, n $n, k $k): the reference, and one thread bit for bit', ({ m, n, k }) => {
    const next = rng(m * 7 + n);
    const a = { data: gaussian(m * k, next), shape: [m, k] };
    const rows = gaussian(n * k, next);
    const bias = { data: gaussian(n, next), shape: [n] };
    const cases = [
      { name: 'q8_0', bytes: quantizeQ8_0(rows, n, k), decode: decodeQ8_0Row },
      { name: 'q4_0', bytes: quantizeQ4_0(rows, n, k), decode: decodeQ4_0Row },
    ] as const;
    for (const { name, bytes, decode } of cases) {
      const want = blockProductRef(a.data, m, k, Array.from({ length: n }, (_, j) => decode(bytes, k, j)), { bias: bias.data }).out;
      const qm = mt.quantizedMatrix({ type: name, shape: [n, k], data: bytes });
      const qs = st.quantizedMatrix({ type: name, shape: [n, k], data: bytes });
      const got = mt.matmul(a, qm, { bias }).data;
      expect(maxRelative(got, want), name).toBeLessThanOrEqual(1e-5);
      expect(firstDifference(got, st.matmul(a, qs, { bias }).data), name).toBe(-1);
      qm.dispose();
      qs.dispose();
    }
    const { b, scales, zp } = quantizeQb4w(rows, n, k, true);
    const want = blockProductRef(a.data, m, k, Array.from({ length: n }, (_, j) => decodeQb4wRow(b, scales, zp, k, j))).out;
    const spec = { type: 'matmulnbits', shape: [n, k], data: b, scales, zeroPoints: zp! } as const;
    const qm = mt.quantizedMatrix(spec);
    const qs = st.quantizedMatrix(spec);
    const got = mt.matmul(a, qm).data;
    expect(maxRelative(got, want), 'matmulnbits').toBeLessThanOrEqual(1e-5);
    expect(firstDifference(got, st.matmul(a, qs).data), 'matmulnbits').toBe(-1);
    qm.dispose();
    qs.dispose();
  });

  it.each(shapes)('int8 panels with zero points (m $m, n $n, k $k): the reference, and one thread bit for bit', ({ m, n, k }) => {
    const next = rng(m * 11 + n);
    const a = { data: gaussian(m * k, next), shape: [m, k] };
    const data = Uint8Array.from({ length: k * n }, () => Math.floor(next() * 256));
    const scales = Float32Array.from({ length: n }, () => 0.001 + next() * 0.01);
    const zeroPoints = Uint8Array.from({ length: n }, () => 100 + Math.floor(next() * 56));
    const bias = { data: gaussian(n, next), shape: [n] };
    const want = qc8wProductRef(a.data, m, { k, n, data, transB: false, ld: n, scale: scales, zeroPoint: zeroPoints }, { bias: bias.data }).out;
    const spec = { type: 'int8', shape: [k, n], data, scales, zeroPoints } as const;
    const qm = mt.quantizedMatrix(spec);
    const qs = st.quantizedMatrix(spec);
    const got = mt.matmul(a, qm, { bias }).data;
    expect(maxRelative(got, want)).toBeLessThanOrEqual(1e-5);
    expect(firstDifference(got, st.matmul(a, qs, { bias }).data)).toBe(-1);
    qm.dispose();
    qs.dispose();
  });

  it.each(shapes)('f16 as B and as Bᵀ (m $m, n $n, k $k): the rounding bound, and one thread bit for bit', ({ m, n, k }) => {
    const next = rng(m * 13 + n);
    const a = { data: gaussian(m * k, next), shape: [m, k] };
    const w = gaussian(k * n, next);
    const bits = Uint16Array.from(w, numberToF16);
    const want = productF64(a.data, m, k, n, (x, j) => f16ToNumber(bits[x * n + j]));
    const mag = productF64(a.data.map(Math.abs), m, k, n, (x, j) => Math.abs(f16ToNumber(bits[x * n + j])));
    const transposed = new Uint16Array(k * n);
    for (let x = 0; x < k; x++) for (let j = 0; j < n; j++) transposed[j * k + x] = bits[x * n + j];
    for (const spec of [
      { type: 'f16', shape: [k, n], data: bits },
      { type: 'f16', shape: [n, k], data: transposed, transposeB: true },
    ] as const) {
      const qm = mt.quantizedMatrix(spec);
      const qs = st.quantizedMatrix(spec);
      const got = mt.matmul(a, qm).data;
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(got[i] - want[i]) <= 1e-6 + (k + 2) * 2 ** -24 * mag[i])) {
          expect.fail(`${'transposeB' in spec ? 'Bᵀ' : 'B'}: output ${i} is ${got[i]}, the reference ${want[i]}`);
        }
      }
      expect(firstDifference(got, st.matmul(a, qs).data)).toBe(-1);
      qm.dispose();
      qs.dispose();
    }
  });
});
