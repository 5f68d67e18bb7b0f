// rt.quantizeMatrix, rt.quantizedMatrix and rt.matmul with a QuantizedMatrix, on both binaries,
// against test/reference/quant.ts (never against the library's own quantizers):
//  - same quantization: the weights quantized by the reference (ggml's quantize_row_*_ref, the
//    per-column int8 rule), the product computed by the reference with the kernels' documented
//    float32 steps: ≤ 1e-5 relative to the output range — both for weights the library quantizes
//    (rt.quantizeMatrix must reproduce the reference's codes and scales) and for bytes handed in
//    (rt.quantizedMatrix: GGUF blocks, ONNX int8/uint8 with zero points, MatMulNBits, f16 bits);
//  - against the float32 product on Gaussian data, relative RMS: int8 ≤ 2.5%, q8_0 ≤ 2%,
//    q4_0 ≤ 12%, f16 ≤ 0.1% (docs/low-precision.md reports the measured values);
//  - M from 1 (decode) to 9, N with tails, batched A, bias, `out`;
//  - typed errors for every bad argument, matrices of another runtime or disposed, and the memory
//    a rejected call leaves.

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Isa, type Runtime } from '../../src/index';
import {
  blockProductRef, decodeQ4_0Row, decodeQ8_0Row, decodeQb4wRow, numberToF16, productF64, qc8wProductRef,
  quantizeQ4_0, quantizeQ8_0, quantizeQb4w, quantizeWeightsInt8, relativeRms,
} from '../reference/quant';
import { f16ToNumber } from '../reference/quant';
import { gaussian, rng } from './data';

const ISAS: Isa[] = ['simd128', 'relaxed'];
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((r) => r.dispose()));
function runtime(isa: Isa): Runtime {
  const rt = createRuntimeSync({ isa });
  runtimes.push(rt);
  return rt;
}

/** Row-major transpose of an (r × c) matrix. */
function transpose(x: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = x[i * c + j];
  return t;
}

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

function expectCode(f: () => unknown, code: string, message?: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AttentionError);
  expect((error as AttentionError).code).toBe(code);
  if (message) expect((error as AttentionError).message).toMatch(message);
}

describe.each(ISAS)('quantized matrices (%s)', (isa) => {
  const rt = runtime(isa);
  const next = rng(isa === 'relaxed' ? 7 : 3);

  for (const [m, n, k] of [[1, 13, 64], [4, 8, 96], [9, 37, 160], [2, 5, 32]]) {
    it(`int8: rt.quantizeMatrix reproduces the reference quantization (${m}×${n}×${k}, B and Bᵀ, bias)`, () => {
      const a = gaussian(m * k, next);
      const w = gaussian(k * n, next); // [K, N]
      const bias = gaussian(n, next);
      const { q, scale } = quantizeWeightsInt8(w, k, n);
      const want = qc8wProductRef(a, m, { k, n, data: q, transB: false, ld: n, scale }, { bias }).out;
      const qb = rt.quantizeMatrix({ data: w, shape: [k, n] }, { type: 'int8' });
      expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, qb, { bias: { data: bias, shape: [n] } }).data, want)).toBeLessThanOrEqual(1e-5);
      const qt = rt.quantizeMatrix({ data: transpose(w, k, n), shape: [n, k] }, { type: 'int8', transposeB: true });
      expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, qt, { bias: { data: bias, shape: [n] } }).data, want)).toBeLessThanOrEqual(1e-5);
      expect(qb.shape).toEqual([k, n]);
      qb.dispose();
      qt.dispose();
    });

    if (k % 32 === 0) {
      it(`q8_0 / q4_0: rt.quantizeMatrix gives ggml's blocks (${m}×${n}×${k})`, () => {
        const a = gaussian(m * k, next);
        const rows = gaussian(n * k, next); // W [N, K]
        for (const [type, quantize, decode] of [
          ['q8_0', quantizeQ8_0, decodeQ8_0Row], ['q4_0', quantizeQ4_0, decodeQ4_0Row],
        ] as const) {
          const bytes = quantize(rows, n, k);
          const want = blockProductRef(a, m, k, Array.from({ length: n }, (_, j) => decode(bytes, k, j))).out;
          const fromFloats = rt.quantizeMatrix({ data: rows, shape: [n, k] }, { type, transposeB: true });
          expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, fromFloats).data, want)).toBeLessThanOrEqual(1e-5);
          const notTransposed = rt.quantizeMatrix({ data: transpose(rows, n, k), shape: [k, n] }, { type });
          expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, notTransposed).data, want)).toBeLessThanOrEqual(1e-5);
          const fromBytes = rt.quantizedMatrix({ type, shape: [n, k], data: bytes });
          expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, fromBytes).data, want)).toBeLessThanOrEqual(1e-5);
          expect(fromBytes.bytes).toBe(bytes.length);
          for (const x of [fromFloats, notTransposed, fromBytes]) x.dispose();
        }
      });

      it(`matmulnbits with and without zero points (${m}×${n}×${k})`, () => {
        const a = gaussian(m * k, next);
        const rows = gaussian(n * k, next);
        for (const withZp of [false, true]) {
          const { b, scales, zp } = quantizeQb4w(rows, n, k, withZp);
          const want = blockProductRef(a, m, k, Array.from({ length: n }, (_, j) => decodeQb4wRow(b, scales, zp, k, j))).out;
          const qb = rt.quantizedMatrix({ type: 'matmulnbits', shape: [n, k], data: b, scales, ...(zp && { zeroPoints: zp }) });
          expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, qb).data, want)).toBeLessThanOrEqual(1e-5);
          qb.dispose();
        }
      });
    }

    it(`int8 data from ONNX: int8 and uint8 with zero points, per column and per tensor (${m}×${n}×${k})`, () => {
      const a = gaussian(m * k, next);
      const u8 = Uint8Array.from({ length: k * n }, () => Math.floor(next() * 256));
      const i8 = Int8Array.from(u8, (v) => v - 128);
      const scale = Float32Array.from({ length: n }, () => 0.001 + next() * 0.01);
      const zpU = Uint8Array.from({ length: n }, () => 100 + Math.floor(next() * 56));
      for (const [data, zeroPoint, scales] of [
        [u8, zpU, scale], [i8, Int8Array.from(zpU, (v) => v - 128), scale], [u8, Uint8Array.of(128), Float32Array.of(0.004)], [i8, undefined, scale],
      ] as const) {
        const want = qc8wProductRef(a, m, { k, n, data, transB: false, ld: n, scale: scales, ...(zeroPoint && { zeroPoint }) }).out;
        const qb = rt.quantizedMatrix({ type: 'int8', shape: [k, n], data, scales, ...(zeroPoint && { zeroPoints: zeroPoint }) });
        expect(maxRelative(rt.matmul({ data: a, shape: [m, k] }, qb).data, want)).toBeLessThanOrEqual(1e-5);
        qb.dispose();
      }
    });

    it(`f16: exact weights, f32 arithmetic (${m}×${n}×${k}, B and Bᵀ)`, () => {
      const a = gaussian(m * k, next);
      const w = gaussian(k * n, next);
      const bits = Uint16Array.from(w, numberToF16);
      const want = productF64(a, m, k, n, (x, j) => f16ToNumber(bits[x * n + j]));
      const mag = productF64(a.map(Math.abs), m, k, n, (x, j) => Math.abs(f16ToNumber(bits[x * n + j])));
      const check = (got: Float32Array) => {
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-6 + (k + 2) * 2 ** -24 * mag[i]);
      };
      const fromFloats = rt.quantizeMatrix({ data: w, shape: [k, n] }, { type: 'f16' });
      check(rt.matmul({ data: a, shape: [m, k] }, fromFloats).data);
      const fromBits = rt.quantizedMatrix({ type: 'f16', shape: [n, k], data: Uint16Array.from(transpose(w, k, n), numberToF16), transposeB: true });
      check(rt.matmul({ data: a, shape: [m, k] }, fromBits).data);
      fromFloats.dispose();
      fromBits.dispose();
    });
  }

  it('accuracy against the float32 product (Gaussian, 64×768 · 768×256)', () => {
    const [m, k, n] = [64, 768, 256];
    const a = gaussian(m * k, next);
    const w = gaussian(k * n, next);
    const want = productF64(a, m, k, n, (x, j) => w[x * n + j]);
    const limits = { int8: 0.025, q8_0: 0.02, q4_0: 0.12, f16: 0.001 } as const;
    for (const type of ['int8', 'q8_0', 'q4_0', 'f16'] as const) {
      const qb = rt.quantizeMatrix({ data: w, shape: [k, n] }, { type });
      const err = relativeRms(rt.matmul({ data: a, shape: [m, k] }, qb).data, want);
      expect(err, type).toBeLessThanOrEqual(limits[type]);
      expect(err, `${type} is not exact`).toBeGreaterThan(0);
      qb.dispose();
    }
  });

  it('batched A, out as a WasmTensor and as a Tensor, decode rows', () => {
    const [k, n] = [64, 24];
    const w = gaussian(k * n, next);
    const a = gaussian(3 * 2 * k, next);
    const qb = rt.quantizeMatrix({ data: w, shape: [k, n] }, { type: 'q8_0' });
    const flat = rt.matmul({ data: a, shape: [6, k] }, qb).data;
    expect(rt.matmul({ data: a, shape: [3, 2, k] }, qb).shape).toEqual([3, 2, n]);
    expect(rt.matmul({ data: a, shape: [3, 2, k] }, qb).data).toEqual(flat);
    const out = rt.tensor([6, n]);
    rt.matmul({ data: a, shape: [6, k] }, qb, { out });
    expect(out.data).toEqual(flat);
    const plain = { data: new Float32Array(6 * n), shape: [6, n] };
    expect(rt.matmul({ data: a, shape: [6, k] }, qb, { out: plain }).data).toBe(plain.data);
    expect(plain.data).toEqual(flat);
    // each row alone (the decode path) equals its row of the batch
    for (let r = 0; r < 6; r++) {
      expect(rt.matmul({ data: a.subarray(r * k, (r + 1) * k), shape: [1, k] }, qb).data).toEqual(flat.subarray(r * n, (r + 1) * n));
    }
    expect(rt.matmul({ data: new Float32Array(0), shape: [0, k] }, qb).shape).toEqual([0, n]);
    out.dispose();
    qb.dispose();
  });

  it('memory: q4_0 ≤ 0.16×, int8 ≤ 0.3× the float32 bytes', () => {
    const [k, n] = [4096, 512];
    const w = gaussian(k * n, next);
    const q4 = rt.quantizeMatrix({ data: w, shape: [k, n] }, { type: 'q4_0' });
    const i8 = rt.quantizeMatrix({ data: w, shape: [k, n] }, { type: 'int8' });
    expect(q4.bytes / (4 * k * n)).toBeLessThanOrEqual(0.16);
    expect(i8.bytes / (4 * k * n)).toBeLessThanOrEqual(0.3);
    q4.dispose();
    i8.dispose();
  });
});

describe('quantized matrices: errors', () => {
  const rt = runtime('simd128');
  const other = runtime('simd128');
  const w = { data: new Float32Array(64 * 8).fill(0.5), shape: [64, 8] };
  const a = { data: new Float32Array(2 * 64), shape: [2, 64] };

  it('bad types, shapes, data and options are typed errors naming the argument', () => {
    expectCode(() => rt.quantizeMatrix(w, { type: 'q5_1' as never }), 'INVALID_OPTION', /options\.type must be one of 'int8', 'q8_0', 'q4_0', 'f16', got "q5_1"/);
    expectCode(() => rt.quantizeMatrix(w, {} as never), 'INVALID_OPTION', /options\.type/);
    expectCode(() => rt.quantizeMatrix(w, { type: 'int8', tranposeB: true } as never), 'INVALID_OPTION', /transposeB/);
    expectCode(() => rt.quantizeMatrix({ data: new Float32Array(40 * 8), shape: [40, 8] }, { type: 'q4_0' }), 'SHAPE_MISMATCH', /multiple of 32.*\[40, 8\]/);
    expectCode(() => rt.quantizeMatrix({ data: new Float32Array(8), shape: [8] }, { type: 'f16' }), 'SHAPE_MISMATCH', /2-D/);
    expectCode(() => rt.quantizeMatrix({ data: Float32Array.of(1, NaN, 0, 0), shape: [2, 2] }, { type: 'int8' }), 'INVALID_ARGUMENT', /b\[1\] is NaN/);
    expectCode(() => rt.quantizedMatrix({ type: 'q8_0', shape: [8, 64], data: new Uint8Array(8 * 2 * 34 - 1) }), 'SHAPE_MISMATCH', /data\.data must hold 544 elements, got 543/);
    expectCode(() => rt.quantizedMatrix({ type: 'q8_0', shape: [8, 64], data: new Int8Array(544) }), 'DTYPE_MISMATCH', /Uint8Array/);
    expectCode(() => rt.quantizedMatrix({ type: 'q4_0', shape: [8, 64], data: new Uint8Array(288), transposeB: true }), 'INVALID_OPTION', /transposeB/);
    expectCode(() => rt.quantizedMatrix({ type: 'q4_0', shape: [8, 64], data: new Uint8Array(288), scales: new Float32Array(1) }), 'INVALID_OPTION', /scales/);
    expectCode(() => rt.quantizedMatrix({ type: 'int8', shape: [64, 8], data: new Int8Array(512) }), 'INVALID_ARGUMENT', /scales is required/);
    expectCode(() => rt.quantizedMatrix({ type: 'int8', shape: [64, 8], data: new Int8Array(512), scales: new Float32Array(3) }), 'SHAPE_MISMATCH', /8 or 1/);
    expectCode(() => rt.quantizedMatrix({ type: 'int8', shape: [64, 8], data: new Int8Array(512), scales: new Float32Array(8), zeroPoints: new Uint8Array(8) }), 'DTYPE_MISMATCH', /Int8Array/);
    expectCode(() => rt.quantizedMatrix({ type: 'int8', shape: [70000, 1], data: new Int8Array(70000), scales: new Float32Array(1) }), 'SHAPE_MISMATCH', /K ≤ 65536/);
    expectCode(() => rt.quantizedMatrix({ type: 'matmulnbits', shape: [8, 64], data: new Uint8Array(256) }), 'INVALID_ARGUMENT', /scales is required/);
    expectCode(() => rt.quantizedMatrix({ type: 'f16', shape: [64, 8], data: new Float32Array(512) as never }), 'DTYPE_MISMATCH', /Uint16Array/);
    expectCode(() => rt.quantizedMatrix({ type: 'f16', shape: [64] as never, data: new Uint16Array(64) }), 'SHAPE_MISMATCH', /data\.shape/);
    const qb = rt.quantizeMatrix(w, { type: 'int8' });
    expectCode(() => rt.matmul({ data: new Float32Array(2 * 63), shape: [2, 63] }, qb), 'SHAPE_MISMATCH', /K = 64/);
    expectCode(() => rt.matmul(a, qb, { transposeB: true }), 'INVALID_OPTION', /transposeB does not apply/);
    expectCode(() => rt.matmul(a, qb, { bias: { data: new Float32Array(7), shape: [7] } }), 'SHAPE_MISMATCH', /options\.bias must be \[8\]/);
    qb.dispose();
  });

  it('a matrix of another runtime, or disposed, is rejected; the runtime stays usable', () => {
    const qb = other.quantizeMatrix(w, { type: 'q8_0' });
    expectCode(() => rt.matmul(a, qb), 'INVALID_ARGUMENT', /another runtime/);
    qb.dispose();
    expect(qb.isDisposed).toBe(true);
    expectCode(() => other.matmul(a, qb), 'DISPOSED', /disposed QuantizedMatrix/);
    const ok = rt.quantizeMatrix(w, { type: 'q8_0' });
    expect(rt.matmul(a, ok).shape).toEqual([2, 8]);
    ok.dispose();
  });

  it('rejected calls leave no memory behind; a capped runtime rolls back', () => {
    const before = rt.memoryBytes;
    const live = (rt as unknown as { liveKernels(): { arena: { liveBytes: number } } }).liveKernels().arena.liveBytes;
    for (let i = 0; i < 20; i++) {
      try {
        rt.quantizedMatrix({ type: 'int8', shape: [64, 8], data: new Int8Array(512), scales: new Float32Array(8), zeroPoints: new Uint8Array(8) });
      } catch { /* expected */ }
      try {
        rt.quantizeMatrix({ data: Float32Array.of(1, NaN, 0, 0), shape: [2, 2] }, { type: 'q8_0' as never });
      } catch { /* expected */ }
    }
    expect((rt as unknown as { liveKernels(): { arena: { liveBytes: number } } }).liveKernels().arena.liveBytes).toBe(live);
    expect(rt.memoryBytes).toBe(before);
    const capped = createRuntimeSync({ isa: 'simd128', maxMemoryBytes: 4 * 2 ** 20 });
    runtimes.push(capped);
    const big = { data: new Float32Array(1024 * 2048), shape: [1024, 2048] }; // 8 MiB of float32
    expectCode(() => capped.quantizeMatrix(big, { type: 'f16' }), 'OUT_OF_MEMORY');
    const small = capped.quantizeMatrix(w, { type: 'f16' });
    expect(capped.matmul(a, small).shape).toEqual([2, 8]);
  });
});

