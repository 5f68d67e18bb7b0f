// reentrancy.test.ts — the caller's code running inside a call (an option getter) disposes or
// changes what the call uses: the cache (inside cache.step), `out`, the runtime, a resident input,
// a layer, a packed matrix, a recurrent memory. The call must fail with DISPOSED (INVALID_ARGUMENT
// when a cache was appended to) before anything is written: every other live tensor keeps its
// data (bystanders, including one allocated in the freed block), and later calls are exact
// against the float64 reference (a cache written at address 0 corrupted the module's static data,
// and every later attention of that runtime was off by about 0.5).

import { describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Runtime, type Tensor, type WasmTensor } from '../src/index';
import { mismatch, rng, sameValues, uniformF32 } from './helpers/numeric';
import { layerWeights, randomLayer } from './layers/fixtures';
import { referenceAttention } from './reference/attention';

const T = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });
const q = T([1, 2, 8, 4], 1);
const k = T([1, 2, 8, 4], 2);
const v = T([1, 2, 8, 4], 3);
const ONES: Tensor = { data: new Float32Array(8).fill(1), shape: [1, 1, 8, 1] };

function expectCode(fn: () => unknown, code: string): AttentionError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected an AttentionError').toBeInstanceOf(AttentionError);
  expect((thrown as AttentionError).code, (thrown as Error).message).toBe(code);
  return thrown as AttentionError;
}

/** Live tensors that must not change: their data before, and a check after. */
function bystanders(rt: Runtime, count: number, seed: number): { tensors: WasmTensor[]; check(): void } {
  const tensors = Array.from({ length: count }, (_, i) => rt.tensor([64], uniformF32(64, rng(seed + i))));
  const before = tensors.map((t) => t.toArray());
  return {
    tensors,
    check() {
      tensors.forEach((t, i) => {
        if (!t.isDisposed) expect(sameValues(t.data, before[i]), `bystander ${i}`).toBeUndefined();
      });
    },
  };
}

/** A later attention on `rt` (or on a fresh runtime when it was disposed) matches float64. */
function laterCallsExact(rt: Runtime): void {
  let r = rt;
  let fresh = false;
  try {
    void r.memoryBytes;
  } catch {
    r = createRuntimeSync({ isa: 'simd128' });
    fresh = true;
  }
  try {
    for (const causal of [false, true]) {
      const got = r.attention(q, k, v, { causal }) as Tensor;
      expect(mismatch(got.data, referenceAttention(q, k, v, { causal }).output, 2e-6, 1e-5), `causal ${causal}`).toBeUndefined();
    }
  } finally {
    if (fresh) r.dispose();
  }
}

/** `options` with one more key whose getter runs `action` first, then returns `value`. */
function hostile<O extends object>(options: O, key: string, value: unknown, action: () => void): O {
  const out = { ...options };
  Object.defineProperty(out, key, {
    enumerable: true,
    get() {
      action();
      return value;
    },
  });
  return out;
}

describe('an option getter that disposes what the call uses', () => {
  it('cache.step: the cache disposed by a getter of mask throws DISPOSED; nothing is written at address 0', () => {
    const rt = createRuntimeSync({ isa: 'simd128' });
    const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 16 });
    cache.append(T([1, 2, 3, 4], 4), T([1, 2, 3, 4], 5));
    const others = bystanders(rt, 3, 10);
    const step = T([1, 2, 1, 4], 6);
    expectCode(() => cache.step(step, step, step, hostile({}, 'mask', undefined, () => cache.dispose())), 'DISPOSED');
    others.check();
    laterCallsExact(rt);
    rt.dispose();
  });

  it('cache.step and layer.forward: a cache changed by the caller\'s code mid-call (append, reset) throws before anything is written', () => {
    const rt = createRuntimeSync({ isa: 'simd128' });
    const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 4 });
    cache.append(T([1, 2, 3, 4], 4), T([1, 2, 3, 4], 5));
    const keys = cache.keys().data.slice();
    const step = T([1, 2, 1, 4], 6);
    // an option getter fills the cache before the step looks at it: the token no longer fits
    expectCode(() => cache.step(step, step, step, hostile({}, 'scale', 0.5, () => cache.append(step, step))), 'CACHE_FULL');
    expect(cache.length).toBe(4);
    const now = cache.keys().data; // [1, 2, 4, 4]: the first 3 positions of each head are the old keys
    for (let h = 0; h < 2; h++) expect(sameValues(now.subarray(h * 16, h * 16 + 12), keys.subarray(h * 12, h * 12 + 12))).toBeUndefined();
    cache.truncate(3);
    // `out`'s data getter (read after the room check) fills it: the step would write past maxLength
    let appended = false;
    const out = hostile({ shape: [1, 2, 1, 4] }, 'data', new Float32Array(8), () => {
      if (!appended) cache.append(step, step);
      appended = true;
    });
    expectCode(() => cache.step(step, step, step, { out } as never), 'INVALID_ARGUMENT');
    expect(cache.length).toBe(4);
    laterCallsExact(rt);
    rt.dispose();
  });

  // The getter is on an option the method reads after `out` (main read `mask` again after allocating).
  it.each([
    ['rt.attention', (rt: Runtime, o: object) => rt.attention(q, k, v, o), [1, 2, 8, 4], 'mask', undefined, {}],
    ['rt.matmul', (rt: Runtime, o: object) => rt.matmul(T([8, 4], 7), T([4, 8], 8), o), [8, 8], 'transposeB', false, {}],
    ['rt.rope', (rt: Runtime, o: object) => rt.rope(q, o), [1, 2, 8, 4], 'interleaved', false, {}],
    ['rt.slidingWindowAttention', (rt: Runtime, o: object) => rt.slidingWindowAttention(q, k, v, o as never), [1, 2, 8, 4], 'keyLengths', undefined, { window: 2 }],
    ['rt.globalLocalAttention', (rt: Runtime, o: object) => rt.globalLocalAttention(q, k, v, o as never), [1, 2, 8, 4], 'global', [3], { window: 1 }],
    ['rt.segmentedAttention', (rt: Runtime, o: object) => rt.segmentedAttention(q, k, v, o as never), [1, 2, 8, 4], 'causal', false, { segmentLength: 3 }],
    ['rt.linformerAttention', (rt: Runtime, o: object) => rt.linformerAttention(q, k, v, o as never), [1, 2, 8, 4], 'keyLengths', undefined, { k: 3 }],
    ['rt.lshAttention', (rt: Runtime, o: object) => rt.lshAttention(q, k, v, o as never), [1, 2, 8, 4], 'keyLengths', undefined, { chunkLength: 4 }],
    ['rt.hierarchicalAttention', (rt: Runtime, o: object) => rt.hierarchicalAttention(q, k, v, o as never), [1, 2, 8, 4], 'levelScale', 0.5, { levels: [4] }],
    ['rt.routingAttention', (rt: Runtime, o: object) => rt.routingAttention(q, k, v, o as never), [1, 2, 8, 4], 'returnCentroids', false, { clusters: 2 }],
    ['rt.routedAttention', (rt: Runtime, o: object) => rt.routedAttention(q, k, v, o as never), [1, 2, 8, 4], 'returnRoutes', false, { paths: [{ type: 'full' }], routes: ONES }],
    ['kvCache.step', (rt: Runtime, o: object) => {
      const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 16 });
      try {
        return cache.step(q, k, v, o);
      } finally {
        cache.dispose();
      }
    }, [1, 2, 8, 4], 'mask', undefined, {}],
    ['layer.forward', (rt: Runtime, o: object) => {
      const layer = rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights: layerWeights(randomLayer(9, { dModel: 8, numHeads: 2 }), 'torch-fused') });
      try {
        return layer.forward(T([1, 5, 8], 9), o);
      } finally {
        layer.dispose();
      }
    }, [1, 5, 8], 'mask', undefined, {}],
    ['recurrentMemory.forward', (rt: Runtime, o: object) => {
      const memory = rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4 });
      try {
        return memory.forward(q, k, v, o);
      } finally {
        memory.dispose();
      }
    }, [1, 2, 8, 4], 'update', true, {}],
  ] as const)('%s: out disposed by a getter, its block reallocated: DISPOSED, the new tensor keeps its data', (_name, call, outShape, key, value, base) => {
    const rt = createRuntimeSync({ isa: 'simd128' });
    const others = bystanders(rt, 2, 20);
    const out = rt.tensor([...outShape]);
    let squatter: WasmTensor | undefined;
    const sentinel = uniformF32(out.size, rng(30));
    let done = false;
    expectCode(() => call(rt, hostile({ ...base, out }, key, value, () => {
      if (done) return;
      done = true;
      out.dispose();
      squatter = rt.tensor([...outShape], sentinel);
    })), 'DISPOSED');
    expect(sameValues(squatter!.data, sentinel)).toBeUndefined();
    others.check();
    laterCallsExact(rt);
    rt.dispose();
  });

  it.each([
    ['rt.attention', (rt: Runtime, o: object) => rt.attention(q, k, v, o), {}],
    ['rt.onnxAttention', (rt: Runtime, o: object) => rt.onnxAttention({ Q: q, K: k, V: v }, o), {}],
    ['rt.matmul', (rt: Runtime, o: object) => rt.matmul(T([8, 4], 7), T([4, 8], 8), o), {}],
    ['rt.packMatrix', (rt: Runtime, o: object) => rt.packMatrix(T([4, 8], 8), o), {}],
    ['rt.rope', (rt: Runtime, o: object) => rt.rope(q, o), {}],
    ['rt.kvCache', (rt: Runtime, o: object) => rt.kvCache(o as never), { heads: 1, headDim: 4, maxLength: 4 }],
    ['rt.multiHeadAttention', (rt: Runtime, o: object) => rt.multiHeadAttention(o as never), { dModel: 8, numHeads: 2, weights: layerWeights(randomLayer(9, { dModel: 8, numHeads: 2 }), 'torch-fused') }],
    ['rt.lshRotations', (rt: Runtime, o: object) => rt.lshRotations(o as never), { headDim: 4, buckets: 4 }],
    ['rt.linformerProjections', (rt: Runtime, o: object) => rt.linformerProjections(o as never), { length: 8, k: 2 }],
    ['rt.recurrentMemoryAttention', (rt: Runtime, o: object) => rt.recurrentMemoryAttention(o as never), { heads: 2, headDim: 4, memoryLength: 4, positionWeights: T([8, 4], 3) }],
    ['rt.routingCentroids', (rt: Runtime, o: object) => rt.routingCentroids(q, k, o as never), { clusters: 2 }],
    ['rt.lshHash', (rt: Runtime, o: object) => rt.lshHash(q, o as never), { buckets: 4 }],
  ] as const)('%s: the runtime disposed by a getter throws DISPOSED instead of returning a result', (name, call, base) => {
    const rt = createRuntimeSync({ isa: 'simd128' });
    const key = name === 'rt.onnxAttention' ? 'scale' : name === 'rt.matmul' || name === 'rt.packMatrix' ? 'transposeB'
      : name === 'rt.kvCache' ? 'batch' : name === 'rt.multiHeadAttention' ? 'packWeights' : name === 'rt.rope' ? 'interleaved'
        : name === 'rt.lshRotations' || name === 'rt.linformerProjections' || name === 'rt.routingCentroids' || name === 'rt.lshHash' ? 'seed'
          : name === 'rt.recurrentMemoryAttention' ? 'sameLength' : 'scale';
    const value = key === 'scale' ? 0.5 : key === 'batch' ? 1 : key === 'seed' ? 3 : key === 'packWeights' ? true : false;
    expectCode(() => call(rt, hostile(base, key, value, () => rt.dispose())), 'DISPOSED');
    laterCallsExact(rt);
  });

  it('a resident q, a packed b, a layer, its cache and a recurrent memory disposed by a getter: DISPOSED, bystanders intact', () => {
    const rt = createRuntimeSync({ isa: 'simd128' });
    const others = bystanders(rt, 3, 40);
    const qT = rt.tensor(q.shape, q.data);
    let squatter: WasmTensor | undefined;
    const sentinel = uniformF32(qT.size, rng(50));
    expectCode(() => rt.attention(qT, k, v, hostile({}, 'causal', true, () => {
      qT.dispose();
      squatter = rt.tensor(q.shape, sentinel);
    })), 'DISPOSED');
    expect(sameValues(squatter!.data, sentinel)).toBeUndefined();
    const routesOut = rt.tensor([1, 2, 8, 4], sentinel);
    const kT = rt.tensor(k.shape, k.data);
    const path = hostile({ type: 'full' }, 'causal', true, () => kT.dispose());
    expectCode(() => rt.routedAttention(q, kT, v, { paths: [path], routes: { data: new Float32Array(8).fill(1), shape: [1, 1, 8, 1] }, out: routesOut } as never), 'DISPOSED');
    expect(sameValues(routesOut.data, sentinel), 'out is not written before the check').toBeUndefined();

    const packed = rt.packMatrix(T([4, 8], 8));
    expectCode(() => rt.matmul(T([8, 4], 7), packed, hostile({}, 'bias', undefined, () => packed.dispose())), 'DISPOSED');

    const weights = layerWeights(randomLayer(9, { dModel: 8, numHeads: 2 }), 'torch-fused');
    const layer = rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights });
    const x = T([1, 3, 8], 11);
    expectCode(() => layer.forward(x, hostile({}, 'causal', true, () => layer.dispose())), 'DISPOSED');
    const layer2 = rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights });
    const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 8 });
    expectCode(() => layer2.forward(x, hostile({ cache }, 'needWeights', false, () => cache.dispose())), 'DISPOSED');
    const cache2 = rt.kvCache({ heads: 2, headDim: 4, maxLength: 8 });
    cache2.append(T([1, 2, 2, 4], 12), T([1, 2, 2, 4], 13));
    // an `out` whose data getter (read after the cache was looked at) empties the cache
    const out = hostile({ shape: [1, 3, 8] }, 'data', new Float32Array(24), () => cache2.reset());
    expectCode(() => layer2.forward(x, { cache: cache2, out } as never), 'INVALID_ARGUMENT');
    layer2.dispose();
    cache2.dispose();

    const memory = rt.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4 });
    expectCode(() => memory.forward(q, k, v, hostile({}, 'update', true, () => memory.dispose())), 'DISPOSED');
    others.check();
    laterCallsExact(rt);
    rt.dispose();
  });
});
