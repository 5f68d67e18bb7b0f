// Callers' tensors are read once and not trusted: `rt.tensor(a.shape, a.data)` of a resident
// tensor while memory grows, bigint and non-number values, array-likes and getters (each field
// read once), typed-array subclasses lying about `length`, Proxies, typed arrays of another realm,
// detached and shrinking (resizable) buffers, read-only WasmTensors, WasmTensors of another
// runtime wherever a tensor is accepted, and a polluted Object.prototype. A rejected call throws
// an AttentionError naming the argument, leaks no arena block and changes no other tensor; results
// are checked against the float64 references of test/reference/.

import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionError, type AttentionErrorCode, createRuntimeSync, type Runtime, type Tensor, WasmTensor,
} from '../src/index';
import { arenaStats, mismatch, rng, uniformF32 } from './helpers/numeric';
import { layerWeights, randomLayer } from './layers/fixtures';
import { referenceAttention, referenceSoftmax } from './reference/attention';

const random = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });
const SHAPE = [1, 2, 5, 4];
const Q = random(SHAPE, 1);
const K = random(SHAPE, 2);
const V = random(SHAPE, 3);
const WANT = referenceAttention(Q, K, V).output;

/** A resizable ArrayBuffer (Node 20), typed loosely: lib.es2022 has no maxByteLength. */
const resizable = (bytes: number): ArrayBuffer & { resize(n: number): void } =>
  new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(bytes, { maxByteLength: bytes });

/** Detaches a buffer by transferring it. */
const detach = (buffer: ArrayBufferLike): void => {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
};

describe('tensors read once, untrusted', () => {
  let rt: Runtime;
  let other: Runtime;
  /** A tensor no rejected call may change. */
  let sentinel: WasmTensor;
  const sentinelValues = uniformF32(64, rng(99));

  beforeAll(() => {
    rt = createRuntimeSync();
    other = createRuntimeSync();
    sentinel = rt.tensor([64], sentinelValues);
    // warm-up: workspaces reserved lazily on first use stay, so leak checks start after them
    rt.attention(Q, K, V);
    rt.softmax(Q);
  });
  afterAll(() => {
    rt.dispose();
    other.dispose();
  });

  /** fn must throw an AttentionError with `code` naming every fragment, leaking nothing, changing no other tensor. */
  function expectRejected(fn: () => unknown, code: AttentionErrorCode, fragments: string[]): void {
    const before = arenaStats(rt);
    let thrown: unknown;
    try {
      fn();
    } catch (e) {
      thrown = e;
    }
    expect(thrown, String(thrown)).toBeInstanceOf(AttentionError);
    const err = thrown as AttentionError;
    expect(err.code, err.message).toBe(code);
    for (const f of fragments) expect(err.message).toContain(f);
    expect(arenaStats(rt)).toEqual(before);
    expect(Array.from(sentinel.data)).toEqual(Array.from(sentinelValues));
    expect(mismatch(rt.attention(Q, K, V).data, WANT, 2e-5, 2e-5)).toBeUndefined();
  }

  it('rt.tensor(a.shape, a.data) copies a resident tensor even when the allocation grows memory, without leaking', () => {
    const small = createRuntimeSync();
    try {
      const values = uniformF32(1 << 16, rng(5));
      const base = arenaStats(small).blocks;
      let a = small.tensor([1 << 16], values);
      const made = [a];
      const start = small.memoryBytes;
      for (let i = 0; i < 6; i++) {
        a = small.tensor(a.shape, a.data);
        made.push(a);
        expect(Array.from(a.data.subarray(0, 8))).toEqual(Array.from(values.subarray(0, 8)));
        expect(a.data.every((x, j) => x === values[j])).toBe(true);
      }
      expect(small.memoryBytes).toBeGreaterThan(start);
      expect(arenaStats(small).blocks).toBe(base + made.length);
      const view = made[0].data;
      made[0].set(view); // a view of the tensor itself
      expect(made[0].data.every((x, j) => x === values[j])).toBe(true);
    } finally {
      small.dispose();
    }
  });

  it('bigint values: exact within ±(2^53 − 1), else INVALID_ARGUMENT naming the index, no leak', () => {
    const t = rt.tensor([3], new BigInt64Array([1n, -2n, 4096n]) as never);
    expect(Array.from(t.data)).toEqual([1, -2, 4096]);
    t.set(new BigUint64Array([7n, 8n, 9n]) as never);
    expect(Array.from(t.data)).toEqual([7, 8, 9]);
    expectRejected(() => rt.tensor([2], new BigInt64Array([1n, 2n ** 60n]) as never), 'INVALID_ARGUMENT', ['values[1]', '1152921504606846976n']);
    expectRejected(() => t.set(new BigInt64Array([0n, 0n, -(2n ** 63n)]) as never), 'INVALID_ARGUMENT', ['tensor.set(values)[2]']);
    expectRejected(() => rt.tensor([2], [1, 2n ** 54n] as never), 'INVALID_ARGUMENT', ['values[1]']);
    t.dispose();
  });

  it("non-number values (['1', 'x'], booleans, objects) are rejected naming the index; NaN numbers are values", () => {
    expectRejected(() => rt.tensor([2], ['1', 'x'] as never), 'INVALID_ARGUMENT', ['values[0]', '"1"']);
    expectRejected(() => rt.tensor([2], [1, 'x'] as never), 'INVALID_ARGUMENT', ['values[1]', '"x"']);
    expectRejected(() => rt.tensor([1], [true] as never), 'INVALID_ARGUMENT', ['values[0]', 'true']);
    expectRejected(() => rt.tensor([1], [{}] as never), 'INVALID_ARGUMENT', ['values[0]']);
    const t = rt.tensor([2], [Number.NaN, -Infinity]);
    expect(Number.isNaN(t.data[0]) && t.data[1] === -Infinity).toBe(true);
    t.dispose();
  });

  it('array-likes and getters are read exactly once per field', () => {
    const reads = new Map<string, number>();
    const count = (key: string) => reads.set(key, (reads.get(key) ?? 0) + 1);
    const arrayLike = {
      get length() { count('length'); return 3; },
      get 0() { count('0'); return 1; },
      get 1() { count('1'); return 2; },
      get 2() { count('2'); return 3; },
    };
    const t = rt.tensor([3], arrayLike as unknown as ArrayLike<number>);
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
    expect(Object.fromEntries(reads)).toEqual({ length: 1, 0: 1, 1: 1, 2: 1 });
    t.dispose();

    reads.clear();
    const q = { get data() { count('data'); return Q.data; }, get shape() { count('shape'); return Q.shape; } };
    const got = rt.attention(q as unknown as Tensor, K, V);
    expect(mismatch(got.data, WANT, 2e-5, 2e-5)).toBeUndefined();
    expect(Object.fromEntries(reads)).toEqual({ data: 1, shape: 1 });

    // a data getter that answers differently on a second read is asked once
    let n = 0;
    const shifty = { get data() { n++; return n === 1 ? Q.data : new Float32Array(1); }, shape: SHAPE };
    expect(mismatch(rt.attention(shifty as unknown as Tensor, K, V).data, WANT, 2e-5, 2e-5)).toBeUndefined();
    expect(n).toBe(1);
  });

  it('typed-array subclasses are read through the intrinsic length, offset and buffer, whatever they claim', () => {
    class Lying extends Float32Array {}
    Object.defineProperty(Lying.prototype, 'length', { get: () => 2 });
    Object.defineProperty(Lying.prototype, 'byteOffset', { get: () => 8 });
    Object.defineProperty(Lying.prototype, 'subarray', { value: () => new Float32Array(1) });
    Object.defineProperty(Lying.prototype, Symbol.iterator, { value: [9, 9][Symbol.iterator] });
    expect(new Lying(40).length).toBe(2);
    const lying = new Lying(Q.data.length);
    lying.set(Q.data);
    expect(mismatch(rt.attention({ data: lying, shape: SHAPE }, K, V).data, WANT, 2e-5, 2e-5)).toBeUndefined();
    const t = rt.tensor([Q.data.length], lying);
    expect(t.data.every((x, i) => x === Q.data[i])).toBe(true);
    t.dispose();
    expectRejected(() => rt.tensor([2], new Lying(4)), 'SHAPE_MISMATCH', ['values has 4 elements', 'needs 2']);
    expectRejected(() => rt.attention({ data: new Lying(39), shape: SHAPE }, K, V), 'SHAPE_MISMATCH', ['q.data has 39 elements']);
  });

  it('a Proxy over a Float32Array is rejected with INVALID_ARGUMENT naming the argument', () => {
    const proxy = new Proxy(Float32Array.from(Q.data), {});
    expectRejected(() => rt.attention({ data: proxy, shape: SHAPE }, K, V), 'INVALID_ARGUMENT', ['q.data', 'Proxy']);
    expectRejected(() => rt.tensor([40], proxy), 'INVALID_ARGUMENT', ['values', 'Proxy']);
    expectRejected(() => sentinel.set(new Proxy(new Float32Array(64), {})), 'INVALID_ARGUMENT', ['tensor.set(values)', 'Proxy']);
    expectRejected(() => rt.attention(Q, K, V, { mask: { data: new Proxy(new Uint8Array(5), {}), shape: [5] } }), 'INVALID_ARGUMENT', ['options.mask.data', 'Proxy']);
    expectRejected(() => rt.attention(Q, K, V, { out: { data: new Proxy(new Float32Array(40), {}), shape: SHAPE } }), 'INVALID_ARGUMENT', ['options.out.data', 'Proxy']);
    expectRejected(() => rt.matmul({ data: Object.create(Float32Array.prototype), shape: [0, 0] }, { data: new Float32Array(0), shape: [0, 0] }), 'INVALID_ARGUMENT', ['a.data']);
    // a Proxy over a plain array of numbers is an array of numbers
    const t = rt.tensor([3], new Proxy([1, 2, 3], {}));
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
    t.dispose();
  });

  it('typed arrays of another realm are accepted; a wrong element type says which', () => {
    const realm = vm.createContext({});
    const foreign = (ctor: string, values: ArrayLike<number>) => vm.runInContext(`new ${ctor}(${JSON.stringify(Array.from(values))})`, realm) as Float32Array;
    expect(foreign('Float32Array', [1]) instanceof Float32Array).toBe(false);
    const got = rt.attention({ data: foreign('Float32Array', Q.data), shape: SHAPE }, { data: foreign('Float32Array', K.data), shape: SHAPE }, V, {
      mask: { data: foreign('Uint8Array', [1, 0, 1, 1, 1]) as unknown as Uint8Array, shape: [5] },
    });
    const mask = { data: new Uint8Array([1, 0, 1, 1, 1]), shape: [5] };
    expect(mismatch(got.data, referenceAttention(Q, K, V, { mask }).output, 2e-5, 2e-5)).toBeUndefined();
    const x = foreign('Float32Array', [1, 2, 3, 4]);
    expect(mismatch(rt.softmax({ data: x, shape: [4] }).data, referenceSoftmax({ data: Float32Array.from([1, 2, 3, 4]), shape: [4] }), 1e-6, 1e-6)).toBeUndefined();
    const t = rt.tensor([4], x);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4]);
    t.dispose();
    const out = { data: foreign('Float32Array', new Float32Array(40)), shape: SHAPE };
    rt.attention(Q, K, V, { out });
    expect(mismatch(out.data, WANT, 2e-5, 2e-5)).toBeUndefined();
    let message = '';
    try {
      rt.softmax({ data: foreign('Float64Array', [1, 2]) as unknown as Float32Array, shape: [2] });
    } catch (e) {
      message = (e as Error).message;
      expect((e as AttentionError).code).toBe('DTYPE_MISMATCH');
    }
    expect(message).toContain('got Float64Array(2)');
  });

  it('a detached buffer, before or during the call, gives INVALID_ARGUMENT naming the tensor', () => {
    const gone = Float32Array.from(Q.data);
    detach(gone.buffer);
    expectRejected(() => rt.attention({ data: gone, shape: SHAPE }, K, V), 'INVALID_ARGUMENT', ['q.data', 'detached']);
    expectRejected(() => rt.tensor([40], gone), 'INVALID_ARGUMENT', ['values', 'detached']);
    // v's getter detaches q's buffer after q was read
    const q = { data: Float32Array.from(Q.data), shape: SHAPE };
    const v = { get data() { detach(q.data.buffer); return V.data; }, shape: SHAPE };
    expectRejected(() => rt.attention(q, K, v as unknown as Tensor), 'INVALID_ARGUMENT', ['q.data', 'detached or shrunk']);
    // the same for an out, detached by the mask's getter
    const out = { data: new Float32Array(40), shape: SHAPE };
    const mask = { get data() { detach(out.data.buffer); return new Uint8Array(5).fill(1); }, shape: [5] };
    expectRejected(() => rt.attention(Q, K, V, { out, mask: mask as unknown as Tensor }), 'INVALID_ARGUMENT', ['options.out.data']);
  });

  it('a resizable buffer shrunk during the call gives INVALID_ARGUMENT instead of reading stale memory', () => {
    for (const tracking of [true, false]) {
      const buffer = resizable(Q.data.byteLength);
      const data = tracking ? new Float32Array(buffer) : new Float32Array(buffer, 0, Q.data.length);
      data.set(Q.data);
      const v = { get data() { buffer.resize(Q.data.byteLength / 2); return V.data; }, shape: SHAPE };
      expectRejected(() => rt.attention({ data, shape: SHAPE }, K, v as unknown as Tensor), 'INVALID_ARGUMENT', ['q.data', 'shrunk']);
    }
    // shrunk before the call: a length-tracking view is simply shorter
    const buffer = resizable(Q.data.byteLength);
    const shorter = new Float32Array(buffer);
    buffer.resize(Q.data.byteLength - 4);
    expectRejected(() => rt.attention({ data: shorter, shape: SHAPE }, K, V), 'SHAPE_MISMATCH', ['q.data has 39 elements']);
  });

  it('WasmTensor shape, ptr and runtime are read-only: assignment throws, the kernel never writes past the block', () => {
    const out = rt.tensor([1, 2, 5, 4]);
    const neighbour = rt.tensor([256], new Float32Array(256).fill(7));
    const shape = out.shape;
    expect(Object.isFrozen(shape)).toBe(true);
    expect(out.shape).toBe(shape);
    expect(() => { (out as unknown as { shape: number[] }).shape = [1, 2, 50, 4]; }).toThrow(TypeError);
    expect(() => { (out as unknown as { ptr: number }).ptr = 0; }).toThrow(TypeError);
    expect(() => { (out as unknown as { size: number }).size = 4000; }).toThrow(TypeError);
    expect(() => Object.defineProperty(out, 'shape', { value: [1, 2, 50, 4] })).toThrow(TypeError);
    expect(() => (shape as number[]).push(9)).toThrow(TypeError);
    expect(out.shape).toEqual([1, 2, 5, 4]);
    const bigQ = random([1, 2, 50, 4], 7);
    expectRejected(() => rt.attention(bigQ, bigQ, bigQ, { out }), 'SHAPE_MISMATCH', ['options.out', '[1, 2, 50, 4]']);
    expect(neighbour.data.every((x) => x === 7)).toBe(true);
    out.dispose();
    neighbour.dispose();
  });

  it('objects posing as WasmTensors (Proxies, Object.create) are rejected', () => {
    const t = rt.tensor(SHAPE, Q.data);
    expectRejected(() => rt.attention(new Proxy(t, {}), K, V), 'INVALID_ARGUMENT', ['q', 'WasmTensor']);
    expectRejected(() => rt.attention(Q, K, V, { out: Object.create(WasmTensor.prototype) }), 'INVALID_ARGUMENT', ['options.out', 'WasmTensor']);
    t.dispose();
  });

  it('a WasmTensor of another runtime is rejected wherever a tensor is accepted (masks included)', () => {
    const foreignMask = other.tensor([5], new Float32Array(5));
    const foreignPad = other.tensor([1, 5], new Float32Array(5));
    const foreignQ = other.tensor(SHAPE, Q.data);
    const names = 'another runtime';
    expectRejected(() => rt.attention(Q, K, V, { mask: foreignMask }), 'INVALID_ARGUMENT', ['options.mask', names]);
    expectRejected(() => rt.attention(Q, K, V, { out: foreignQ }), 'INVALID_ARGUMENT', ['options.out', names]);
    expectRejected(() => rt.onnxAttention({ Q, K, V, attn_mask: foreignMask }), 'INVALID_ARGUMENT', ['inputs.attn_mask', names]);
    expectRejected(() => rt.matmul(Q, foreignQ, { transposeB: true } as never), 'INVALID_ARGUMENT', ['b', names]);
    const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 16 });
    expectRejected(() => cache.step(Q, K, V, { mask: foreignMask }), 'INVALID_ARGUMENT', ['options.mask', names]);
    expectRejected(() => cache.step(Q, K, V, { keyPaddingMask: foreignPad }), 'INVALID_ARGUMENT', ['options.keyPaddingMask', names]);
    expect(cache.length).toBe(0);
    cache.dispose();
    const l = randomLayer(8, { dModel: 8, numHeads: 2 });
    const layer = rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights: layerWeights(l, 'torch-separate') });
    const x = random([1, 5, 8], 9);
    expectRejected(() => layer.forward(x, { mask: foreignMask }), 'INVALID_ARGUMENT', ['options.mask', names]);
    expectRejected(() => layer.forward(x, { keyPaddingMask: foreignPad }), 'INVALID_ARGUMENT', ['options.keyPaddingMask', names]);
    layer.dispose();
    foreignMask.dispose();
    foreignPad.dispose();
    foreignQ.dispose();
  });

  it('a polluted Object.prototype.shape or .data does not change what a { data, dims } tensor is', () => {
    const proto = Object.prototype as Record<string, unknown>;
    try {
      proto.shape = [40];
      proto.data = new Float32Array(40);
      const got = rt.attention({ data: Q.data, dims: SHAPE } as unknown as Tensor, K, V);
      expect(mismatch(got.data, WANT, 2e-5, 2e-5)).toBeUndefined();
      expectRejected(() => rt.attention({ dims: SHAPE } as unknown as Tensor, K, V), 'INVALID_ARGUMENT', ['q']);
    } finally {
      delete proto.shape;
      delete proto.data;
    }
  });
});
