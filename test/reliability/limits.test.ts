// Memory limits and sizes.
//   • maxMemoryBytes: a request beyond it throws OUT_OF_MEMORY from every operation family
//     (attention, ONNX, matmul, packMatrix, softmax, RoPE, tensors, KV caches, layers, and each
//     long-sequence / structured variant); Wasm memory never exceeds the limit; nothing leaks;
//     a tensor made before is intact; and the same method then computes a correct result.
//   • Beyond wasm32's 4 GiB (default limit): OUT_OF_MEMORY, never a RangeError, a Wasm trap or a
//     loop over a claimed size — including empty tensors whose other dimensions claim more than
//     a 4 GiB memory can index (they passed the data-length check and used to become wrapped
//     32-bit kernel sizes or minutes-long loops), and an attention whose workspace exceeds 2 GiB
//     (the kernel's 32-bit byte count came back negative and the kernel wrote past its
//     workspace: a "memory access out of bounds" RuntimeError).

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, type AttentionErrorCode, attentionVariants, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { arenaStats, rng, uniformF32 } from '../helpers/numeric';
import { type Ctx, METHODS } from './fuzz-cases';

const T = (shape: number[], seed = 1): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });
const empty = (shape: number[]): Tensor => ({ data: new Float32Array(0), shape });

function expectCode(fn: () => unknown, code: AttentionErrorCode, what: string): AttentionError {
  let thrown: unknown;
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${what}: expected AttentionError ${code}, got ${String(thrown)}`).toBeInstanceOf(AttentionError);
  expect((thrown as AttentionError).code, `${what}: ${(thrown as Error).message}`).toBe(code);
  expect(performance.now() - t0, `${what}: rejected at once`).toBeLessThan(2000);
  return thrown as AttentionError;
}

const ctxOf = (rt: Runtime, seed: number): Ctx => ({ rt, foreign: rt, next: rng(seed), call: (_name, fn) => fn() });
const byName = new Map(METHODS.map((m) => [m.name, m]));

describe('maxMemoryBytes', () => {
  const LIMIT = 2 * 1024 * 1024;
  const n = 40_000; // q, k, v [1, 1, n, 8]: 1.28 MB each, together over the limit
  const big = () => T([1, 1, n, 8], 3);
  const calls: Array<[string, (rt: Runtime) => unknown]> = [
    ['attention', (rt) => rt.attention(T([1, 1, 4, 8]), big(), big())],
    ['onnxAttention', (rt) => rt.onnxAttention({ Q: T([1, 1, 4, 8]), K: big(), V: big() })],
    ['matmul', (rt) => rt.matmul(T([800, 800]), T([800, 8]))],
    ['packMatrix', (rt) => rt.packMatrix(T([8, 70_000]))],
    ['softmax', (rt) => rt.softmax(T([600, 1000]))],
    ['tensor', (rt) => rt.tensor([1024, 1024])],
    ['rope', (rt) => rt.rope(T([1, 4, 20_000, 8]))],
    ['kvCache', (rt) => rt.kvCache({ heads: 8, headDim: 64, maxLength: 4096 })],
    ['multiHeadAttention', (rt) => rt.multiHeadAttention({ dModel: 512, numHeads: 8, bias: false, weights: { qkv: T([1536, 512]), out: T([512, 512]) } })],
    // every variant of the registry but full attention (above), with its example options
    ...attentionVariants().filter((variant) => variant.method !== 'attention').map((variant): [string, (rt: Runtime) => unknown] => [
      variant.method, (rt) => (rt[variant.method] as (...args: unknown[]) => unknown).call(rt, big(), big(), big(), variant.example(n, 8)),
    ]),
    ['lshHash', (rt) => rt.lshHash(big(), { buckets: 64, rounds: 8 })],
    ['routingCentroids', (rt) => rt.routingCentroids(big(), big(), { clusters: 4, iterations: 1 })],
    ['recurrentMemoryAttention', (rt) => rt.recurrentMemoryAttention({ heads: 8, headDim: 64, memoryLength: 2048, batch: 2 })],
  ];
  const rt = createRuntimeSync({ maxMemoryBytes: LIMIT });
  afterAll(() => rt.dispose());

  it.each(calls)('%s: a request beyond the limit throws OUT_OF_MEMORY; memory ≤ limit; nothing leaks; tensors intact; then correct', (name, call) => {
    const method = byName.get(name)!;
    method.valid(ctxOf(rt, 1)); // warm-up: lazily reserved blocks exist
    const keep = rt.tensor([3, 5], uniformF32(15, rng(9)));
    const kept = keep.toArray();
    const before = arenaStats(rt);
    const e = expectCode(() => call(rt), 'OUT_OF_MEMORY', name);
    expect(e.message).toMatch(/limit of 2097152 bytes|4 GiB/);
    expect(rt.memoryBytes).toBeLessThanOrEqual(LIMIT);
    expect(arenaStats(rt).blocks, 'arena blocks after the failed call').toBe(before.blocks);
    expect(Array.from(keep.data)).toEqual(Array.from(kept));
    method.valid(ctxOf(rt, 2)); // the same method computes a correct result (checked against float64)
    keep.dispose();
  });
});

describe('beyond the 4 GiB of wasm32 (default limit)', () => {
  const rt = createRuntimeSync();
  afterAll(() => rt.dispose());

  it('tensors and results of 2^30 floats or more: OUT_OF_MEMORY up front, memory untouched', () => {
    const memory = rt.memoryBytes;
    expectCode(() => rt.tensor([2 ** 30]), 'OUT_OF_MEMORY', 'tensor [2^30]');
    expectCode(() => rt.tensor([2 ** 20, 2 ** 12]), 'OUT_OF_MEMORY', 'tensor [2^20, 2^12]');
    expectCode(() => rt.tensor([1e308, 1e308]), 'OUT_OF_MEMORY', 'tensor [1e308, 1e308]');
    expectCode(() => rt.matmul(empty([65536, 0]), empty([0, 65536])), 'OUT_OF_MEMORY', 'matmul result [65536, 65536]');
    expectCode(() => rt.attention(empty([1, 1, 4, 0]), empty([1, 1, 2 ** 28, 0]), empty([1, 1, 2 ** 28, 0]), { returnWeights: true }), 'OUT_OF_MEMORY', 'attention weights of 2^30 floats');
    expectCode(() => rt.onnxAttention({ Q: empty([1, 1, 4, 0]), K: empty([1, 1, 2 ** 28, 0]), V: empty([1, 1, 2 ** 28, 0]) }, { qk_matmul_output_mode: 0 }), 'OUT_OF_MEMORY', 'ONNX qk_matmul_output of 2^30 floats');
    expectCode(() => rt.kvCache({ heads: 1, headDim: 2 ** 20, maxLength: 2 ** 20 }), 'OUT_OF_MEMORY', 'kvCache of 2^40 floats');
    expect(rt.memoryBytes).toBe(memory);
  });

  it('empty tensors whose other dimensions claim more than 4 GiB: OUT_OF_MEMORY, not a wrapped size, a RangeError or a long loop', () => {
    const memory = rt.memoryBytes;
    const huge = [2 ** 31, 2 ** 32 + 4, 2 ** 40, 1e300];
    for (const h of huge) {
      expectCode(() => rt.tensor([h, 0]), 'OUT_OF_MEMORY', `tensor [${h}, 0]`);
      expectCode(() => rt.attention(empty([1, 1, 4, 0]), empty([1, 1, h, 0]), empty([1, 1, h, 0])), 'OUT_OF_MEMORY', `attention nk = ${h}`);
      expectCode(() => rt.attention(empty([h, 1, 0, 4]), empty([h, 1, 0, 4]), empty([h, 1, 0, 4])), 'OUT_OF_MEMORY', `attention batch = ${h}`);
      expectCode(() => rt.onnxAttention({ Q: empty([1, 1, 4, 0]), K: empty([1, 1, h, 0]), V: empty([1, 1, h, 0]) }), 'OUT_OF_MEMORY', `onnxAttention nk = ${h}`);
      expectCode(() => rt.matmul(empty([h, 0]), empty([0, 4])), 'OUT_OF_MEMORY', `matmul m = ${h}`);
      expectCode(() => rt.softmax(empty([h, 0])), 'OUT_OF_MEMORY', `softmax [${h}, 0]`);
      expectCode(() => rt.packMatrix(empty([h, 0]), { transposeB: true }), 'OUT_OF_MEMORY', `packMatrix n = ${h}`);
      expectCode(() => rt.rope(empty([h, 1, 0, 4])), 'OUT_OF_MEMORY', `rope batch = ${h}`);
      expectCode(() => rt.slidingWindowAttention(empty([h, 1, 0, 4]), empty([h, 1, 0, 4]), empty([h, 1, 0, 4]), { window: 2 }), 'OUT_OF_MEMORY', `slidingWindowAttention batch = ${h}`);
      expectCode(() => rt.lshHash(empty([h, 1, 0, 4]), { buckets: 2 }), 'OUT_OF_MEMORY', `lshHash batch = ${h}`);
    }
    expect(rt.memoryBytes).toBe(memory);
  });

  it('an attention whose workspace needs over 2 GiB: OUT_OF_MEMORY before anything is placed (was a Wasm trap)', () => {
    // nk = 2^26 keys with a value size of 1: V is 256 MB, but its rows are padded to 8 floats in
    // the workspace: 2 GiB, which the kernel's 32-bit byte count returned as a negative number.
    const limited = createRuntimeSync({ maxMemoryBytes: 1024 * 1024 * 1024 });
    try {
      const keep = limited.tensor([4], [1, 2, 3, 4]);
      const nk = 2 ** 26;
      const v = { data: new Float32Array(nk), shape: [1, 1, nk, 1] };
      const memory = limited.memoryBytes;
      const e = expectCode(() => limited.attention(empty([1, 1, 4, 0]), empty([1, 1, nk, 0]), v), 'OUT_OF_MEMORY', 'attention workspace of 2 GiB');
      expect(e.message).toContain('limit');
      expect(limited.memoryBytes, 'nothing was placed').toBe(memory);
      expect(Array.from(keep.data)).toEqual([1, 2, 3, 4]);
      byName.get('attention')!.valid(ctxOf(limited, 3));
    } finally {
      limited.dispose();
    }
  });
});
