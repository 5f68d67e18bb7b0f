// options.test.ts — how every public method reads its options (src/attention/options.ts):
//   • unknown keys throw INVALID_OPTION naming the key and the closest valid one (or listing them),
//     in both entries, for every method that takes options, nested objects included;
//   • a polluted Object.prototype changes nothing: results are bit-identical to unpolluted calls;
//   • each option is read exactly once (getters counted), junk booleans are rejected;
//   • getters of disposed objects (kvCache.length, …) throw DISPOSED.
// Results are compared with float64 references (test/reference/) or with the same call unpolluted.
// Re-entrancy (getters that dispose things mid-call): reentrancy.test.ts; createRuntime's options:
// runtime-options.test.ts.

import { afterAll, describe, expect, it } from 'vitest';
import * as core from '../src/core';
import { AttentionError, createRuntimeSync, type Runtime, sinusoidalPositions, type Tensor } from '../src/index';
import { arenaStats, mismatch, rng, sameValues, uniformF32 } from './helpers/numeric';
import { layerWeights, randomLayer } from './layers/fixtures';
import { referenceAttention, referenceMatmul } from './reference/attention';

const rt = createRuntimeSync({ isa: 'simd128' });
afterAll(() => rt.dispose());

const T = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });
const WEIGHTS = layerWeights(randomLayer(5, { dModel: 8, numHeads: 2 }), 'torch-separate');
const ONES_ROUTE: Tensor = { data: new Float32Array(8).fill(1), shape: [1, 1, 8, 1] };
const q = T([1, 2, 5, 4], 1);
const k = T([1, 2, 6, 4], 2);
const v = T([1, 2, 6, 3], 3);

/** Runs `fn`, expecting an AttentionError with `code` whose message contains every fragment. */
function expectError(fn: () => unknown, code: string, fragments: string[] = []): AttentionError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected an AttentionError').toBeInstanceOf(AttentionError);
  const err = thrown as AttentionError;
  expect(err.code, err.message).toBe(code);
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}

/** A small valid call of every method that takes options, with `extra` merged into its options. */
function optionCalls(r: Runtime): Array<[string, (extra: Record<string, unknown>) => unknown]> {
  const x3 = T([1, 4, 8], 4);
  const layer = () => r.multiHeadAttention({ dModel: 8, numHeads: 2, weights: WEIGHTS });
  const withLayer = <R>(fn: (l: ReturnType<typeof layer>) => R): R => {
    const l = layer();
    try {
      return fn(l);
    } finally {
      l.dispose();
    }
  };
  const withCache = <R>(fn: (c: ReturnType<Runtime['kvCache']>) => R): R => {
    const c = r.kvCache({ heads: 2, headDim: 4, maxLength: 16 });
    try {
      return fn(c);
    } finally {
      c.dispose();
    }
  };
  const self = T([1, 2, 8, 4], 6);
  return [
    ['rt.attention', (e) => r.attention(q, k, v, { causal: true, ...e })],
    ['rt.onnxAttention', (e) => r.onnxAttention({ Q: q, K: k, V: v }, { is_causal: 0, ...e })],
    ['rt.matmul', (e) => r.matmul(T([3, 4], 7), T([4, 5], 8), { transposeB: false, ...e })],
    ['rt.packMatrix', (e) => r.packMatrix(T([4, 5], 8), { transposeB: false, ...e }).dispose()],
    ['rt.rope', (e) => r.rope(x3, { numHeads: 2, ...e })],
    ['sinusoidalPositions', (e) => sinusoidalPositions(6, 4, { base: 100, ...e })],
    ['rt.multiHeadAttention', (e) => r.multiHeadAttention({ dModel: 8, numHeads: 2, weights: WEIGHTS, ...e }).dispose()],
    ['layer.forward', (e) => withLayer((l) => l.forward(x3, { causal: true, ...e }))],
    ['rt.kvCache', (e) => r.kvCache({ heads: 2, headDim: 4, maxLength: 8, ...e }).dispose()],
    ['kvCache.step', (e) => withCache((c) => c.step(T([1, 2, 2, 4], 9), T([1, 2, 2, 4], 10), T([1, 2, 2, 4], 11), { causal: true, ...e }))],
    ['rt.slidingWindowAttention', (e) => r.slidingWindowAttention(self, self, self, { window: 2, ...e })],
    ['rt.globalLocalAttention', (e) => r.globalLocalAttention(self, self, self, { window: 2, global: [0], ...e })],
    ['rt.segmentedAttention', (e) => r.segmentedAttention(self, self, self, { segmentLength: 4, ...e })],
    ['rt.linformerAttention', (e) => r.linformerAttention(self, self, self, { k: 4, ...e })],
    ['rt.linformerProjections', (e) => r.linformerProjections({ length: 8, k: 4, ...e } as never)],
    ['rt.lshAttention', (e) => r.lshAttention(self, self, self, { chunkLength: 4, ...e })],
    ['rt.lshRotations', (e) => r.lshRotations({ headDim: 4, buckets: 4, ...e })],
    ['rt.lshHash', (e) => r.lshHash(self, { buckets: 4, ...e })],
    ['rt.hierarchicalAttention', (e) => r.hierarchicalAttention(self, self, self, { levels: [4], ...e })],
    ['rt.routingAttention', (e) => r.routingAttention(self, self, self, { clusters: 2, ...e })],
    ['rt.routingCentroids', (e) => r.routingCentroids(self, self, { clusters: 2, ...e })],
    ['rt.routedAttention', (e) => r.routedAttention(self, self, self, { paths: [{ type: 'full' }], routes: ONES_ROUTE, ...e })],
    ['rt.recurrentMemoryAttention', (e) => r.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4, ...e }).dispose()],
    ['recurrentMemory.forward', (e) => {
      const m = r.recurrentMemoryAttention({ heads: 2, headDim: 4, memoryLength: 4 });
      try {
        return m.forward(self, self, self, { update: true, ...e });
      } finally {
        m.dispose();
      }
    }],
  ];
}

describe('unknown option keys', () => {
  it("name the key and the closest valid one: options.casual → 'causal', masks → 'mask', key_padding_mask → 'keyPaddingMask'", () => {
    expectError(() => rt.attention(q, k, v, { casual: true } as never), 'INVALID_OPTION', ["options.casual is not an option of rt.attention — did you mean 'causal'?"]);
    expectError(() => rt.attention(q, k, v, { masks: undefined } as never), 'INVALID_OPTION', ["options.masks", "did you mean 'mask'?"]);
    const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 8 });
    expectError(() => cache.step(T([1, 2, 1, 4], 1), T([1, 2, 1, 4], 2), T([1, 2, 1, 4], 3), { key_padding_mask: undefined } as never), 'INVALID_OPTION', [
      'options.key_padding_mask is not an option of kvCache.step', "did you mean 'keyPaddingMask'?",
    ]);
    expect(cache.length).toBe(0); // nothing was appended
    cache.dispose();
    expectError(() => rt.matmul(T([2, 3], 1), T([3, 2], 2), { transpose_b: true } as never), 'INVALID_OPTION', ["did you mean 'transposeB'?"]);
    expectError(() => rt.onnxAttention({ Q: q, K: k, V: v, attn_masks: undefined } as never), 'INVALID_OPTION', ["inputs.attn_masks is not an input of rt.onnxAttention — did you mean 'attn_mask'?"]);
    expectError(() => rt.attention(q, k, v, { window: { lft: 1 } } as never), 'INVALID_OPTION', ["options.window.lft is not an option of rt.attention — did you mean 'left'?"]);
    expectError(() => createRuntimeSync({ maxMemoryByte: 1 << 20 } as never), 'INVALID_OPTION', ["did you mean 'maxMemoryBytes'?"]);
  });

  it('list the valid keys when none is close', () => {
    expectError(() => rt.attention(q, k, v, { key_padding_mask: undefined } as never), 'INVALID_OPTION', [
      'options.key_padding_mask is not an option of rt.attention', "'scale', 'causal', 'mask', 'keyLengths', 'softcap', 'window', 'layout', 'returnWeights', 'out'",
    ]);
  });

  it.each(optionCalls(rt))('are rejected by %s (and nothing leaks)', (_name, call) => {
    call({}); // the valid call works
    const before = arenaStats(rt);
    expectError(() => call({ zzzUnknown: 1 }), 'INVALID_OPTION', ['zzzUnknown']);
    expect(arenaStats(rt)).toEqual(before);
  });

  it('are rejected in nested objects: a path of rt.routedAttention, a position, a global spec, BigBird random blocks, layer weights', () => {
    const s = T([1, 2, 8, 4], 6);
    const routes = ONES_ROUTE;
    expectError(() => rt.routedAttention(s, s, s, { paths: [{ type: 'window', window: 2, dilaton: 2 }], routes } as never), 'INVALID_OPTION', ["options.paths[0].dilaton", "did you mean 'dilation'?"]);
    expectError(() => rt.routedAttention(s, s, s, { paths: [{ type: 'full', dilation: 2 }], routes } as never), 'INVALID_OPTION', ["options.paths[0].dilation is not an option of a 'full' path"]);
    expectError(() => rt.routedAttention(s, s, s, { paths: [{ type: 'full', scale: 2 }], routes } as never), 'INVALID_OPTION', ['options.paths[0].scale']);
    expectError(() => rt.globalLocalAttention(s, s, s, { window: 2, global: { count: 1, bye: 'key-norm' } } as never), 'INVALID_OPTION', ["options.global.bye", "did you mean 'by'?"]);
    expectError(() => rt.globalLocalAttention(s, s, s, { window: 2, random: { blockSize: 2, blocks: 1, sead: 3 } } as never), 'INVALID_OPTION', ["options.random.sead", "did you mean 'seed'?"]);
    const weights = WEIGHTS;
    expectError(() => rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights, position: { type: 'alibi', slope: [1, 2] } } as never), 'INVALID_OPTION', ["config.position.slope", "did you mean 'slopes'?"]);
    expectError(() => rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights, position: { type: 'rope', maxDistance: 9 } } as never), 'INVALID_OPTION', ["config.position.maxDistance is not an option of rt.multiHeadAttention (a 'rope' position)"]);
    expectError(() => rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights: { ...weights, outBais: weights.outBias } } as never), 'INVALID_OPTION', ["config.weights.outBais", "did you mean 'outBias'?"]);
  });

  it('are rejected by the core entry too (wasm-attention/core)', () => {
    const c = core.createRuntimeSync({ isa: 'simd128' });
    try {
      expectError(() => c.attention(q, k, v, { casual: true } as never), 'INVALID_OPTION', ["did you mean 'causal'?"]);
      expectError(() => c.matmul(T([2, 3], 1), T([3, 2], 2), { biass: undefined } as never), 'INVALID_OPTION', ["did you mean 'bias'?"]);
      expectError(() => c.packMatrix(T([3, 2], 2), { transposeb: true } as never), 'INVALID_OPTION', ["did you mean 'transposeB'?"]);
      expectError(() => c.onnxAttention({ Q: q, K: k, V: v }, {}, { qkMatmulOutputs: true } as never), 'INVALID_OPTION', ["did you mean 'qkMatmulOutput'?"]);
      expectError(() => core.createRuntimeSync({ thread: 1 } as never), 'INVALID_OPTION', ["did you mean 'threads'?"]);
    } finally {
      c.dispose();
    }
  });
});

/** Every option key of every method (and the fields a tensor-valued option is read through). */
const POLLUTING: Record<string, unknown> = {
  causal: true, scale: 7, softcap: 0.5, mask: { data: new Uint8Array(1), shape: [1] }, keyLengths: [0], window: { left: 0 },
  returnWeights: true, out: { data: new Float32Array(1), shape: [1] }, bias: { data: new Float32Array([9]), shape: [1] },
  transposeB: true, is_causal: 1, qk_matmul_output_mode: 3, qkMatmulOutput: true, attn_mask: { data: new Uint8Array(1), shape: [1] },
  past_key: { data: new Float32Array(1), shape: [1] }, left_window_size: 0, right_window_size: 0, dilation: 2, global: [0],
  random: { blockSize: 1, blocks: 1 }, segmentLength: 1, overlap: 0, summaries: true, sharedQK: true, chunkLength: 1,
  buckets: 2, rounds: 2, seed: 5, positions: 3, numHeads: 1, rotaryDim: 2, interleaved: true, base: 3, keyPaddingMask: { data: new Uint8Array(1), shape: [1] },
  cache: {}, context: {}, needWeights: true, update: false, maxMemoryBytes: 1, guardAllocations: 'yes', threads: 2.5,
};

/** Runs `fn` with Object.prototype polluted by every key of POLLUTING; always cleans up. */
function polluted<R>(fn: () => R): R {
  const proto = Object.prototype as Record<string, unknown>;
  const keys = Object.keys(POLLUTING);
  try {
    for (const key of keys) proto[key] = POLLUTING[key];
    return fn();
  } finally {
    for (const key of keys) delete proto[key];
  }
}

describe('a polluted Object.prototype', () => {
  it('changes nothing: attention, matmul and the ONNX operator give bit-identical results (and match float64)', () => {
    const a = T([3, 4], 7);
    const b = T([4, 5], 8);
    const plain = [rt.attention(q, k, v) as Tensor, rt.attention(q, k, v, {}) as Tensor, rt.matmul(a, b), rt.onnxAttention({ Q: q, K: k, V: v }).Y];
    const dirty = polluted(() => [rt.attention(q, k, v) as Tensor, rt.attention(q, k, v, {}) as Tensor, rt.matmul(a, b), rt.onnxAttention({ Q: q, K: k, V: v }).Y]);
    expect(Object.prototype).not.toHaveProperty('causal');
    plain.forEach((p, i) => {
      expect(sameValues(dirty[i].data, p.data), `call ${i}`).toBeUndefined();
      expect(dirty[i].shape).toEqual(p.shape);
    });
    expect(mismatch(plain[0].data, referenceAttention(q, k, v).output, 2e-6, 1e-5)).toBeUndefined();
    expect(mismatch(plain[2].data, referenceMatmul(a, b).data, 2e-6, 1e-5)).toBeUndefined();
  });

  it.each(optionCalls(rt))('changes nothing for %s', (_name, call) => {
    const data = (r: unknown): unknown => {
      if (r === undefined) return r;
      const o = r as { data?: Float32Array; output?: { data: Float32Array }; Y?: { data: Float32Array }; e?: { data: Float32Array } };
      return Array.from((o.data ?? o.output?.data ?? o.Y?.data ?? o.e?.data) as Float32Array | Int32Array);
    };
    const plain = data(call({}));
    const dirty = data(polluted(() => call({})));
    expect(dirty).toEqual(plain);
  });

  it('creates a runtime with the defaults (maxMemoryBytes, guardAllocations, threads are not inherited)', () => {
    const r = polluted(() => createRuntimeSync({ isa: 'simd128' }));
    try {
      expect(r.threads).toBe(1);
      expect(mismatch((r.attention(q, k, v) as Tensor).data, referenceAttention(q, k, v).output, 2e-6, 1e-5)).toBeUndefined();
    } finally {
      r.dispose();
    }
  });
});

describe('options are read once, and junk is rejected', () => {
  it('each option getter runs exactly once (top level and nested)', () => {
    const reads = new Map<string, number>();
    const counted = <O extends object>(prefix: string, o: O): O => {
      const out = {} as O;
      for (const [key, value] of Object.entries(o)) {
        Object.defineProperty(out, key, {
          enumerable: true,
          get: () => {
            reads.set(`${prefix}${key}`, (reads.get(`${prefix}${key}`) ?? 0) + 1);
            return value;
          },
        });
      }
      return out;
    };
    const window = counted('window.', { left: 2, right: 1 });
    const r = rt.attention(q, k, v, counted('', { causal: false, scale: 0.3, softcap: 5, window, keyLengths: [4], returnWeights: false })) as Tensor;
    const want = referenceAttention(q, k, v, { scale: 0.3, softcap: 5, window: { left: 2, right: 1 }, keyLengths: [4] }).output;
    expect(mismatch(r.data, want, 2e-6, 1e-5)).toBeUndefined();
    const s = T([1, 2, 8, 4], 6);
    const path = counted('path.', { type: 'window', window: counted('path.window.', { left: 1, right: 1 }), dilation: 1 });
    rt.routedAttention(s, s, s, counted('routed.', { paths: [path], routes: { data: new Float32Array(8).fill(1), shape: [1, 1, 8, 1] } }) as never);
    rt.kvCache(counted('cache.', { heads: 2, headDim: 4, maxLength: 4 })).dispose();
    createRuntimeSync(counted('runtime.', { isa: 'simd128' as const, maxMemoryBytes: 1 << 24, guardAllocations: false })).dispose();
    expect(reads.size).toBeGreaterThan(15);
    for (const [key, n] of reads) expect(n, key).toBe(1);
  });

  it('array options are read once too: each element of keyLengths, of hierarchical levels and of a path list', () => {
    let reads = 0;
    const counted = <X>(values: X[]): X[] => {
      const out: X[] = [];
      values.forEach((x, i) => Object.defineProperty(out, i, { enumerable: true, get: () => (reads++, x) }));
      return out;
    };
    const got = rt.attention(q, k, v, { keyLengths: counted([4]) }) as Tensor;
    expect(mismatch(got.data, referenceAttention(q, k, v, { keyLengths: [4] }).output, 2e-6, 1e-5)).toBeUndefined();
    expect(reads).toBe(1);
    const s = T([1, 2, 8, 4], 6);
    reads = 0;
    rt.hierarchicalAttention(s, s, s, { levels: counted([counted([0, 3, 8])]) });
    expect(reads).toBe(4);
    reads = 0;
    rt.routedAttention(s, s, s, { paths: counted([{ type: 'full' as const }, { type: 'window' as const, window: 1 }]), routes: { data: new Float32Array(16).fill(1), shape: [1, 1, 8, 2] } });
    expect(reads).toBe(2);
  });

  it('junk booleans are rejected, not coerced', () => {
    expectError(() => rt.attention(q, k, v, { returnWeights: 'yes' } as never), 'INVALID_OPTION', ['options.returnWeights', '"yes"']);
    expectError(() => rt.attention(q, k, v, { returnWeights: 1 } as never), 'INVALID_OPTION', ['options.returnWeights']);
    const cache = rt.kvCache({ heads: 2, headDim: 4, maxLength: 8 });
    expectError(() => cache.attend(T([1, 2, 1, 4], 1), { returnWeights: 'yes' } as never), 'INVALID_OPTION', ['options.returnWeights']);
    cache.dispose();
    expectError(() => rt.onnxAttention({ Q: q, K: k, V: v }, {}, { qkMatmulOutput: 1 } as never), 'INVALID_OPTION', ['options.qkMatmulOutput']);
    expectError(() => rt.matmul(T([2, 3], 1), T([3, 2], 2), { transposeB: 'no' } as never), 'INVALID_OPTION', ['options.transposeB']);
  });

  it('own properties only: an options object made with a prototype holding options is empty', () => {
    const inherited = Object.create({ causal: true, scale: 9 }) as object;
    const got = rt.attention(q, k, v, inherited) as Tensor;
    expect(sameValues(got.data, (rt.attention(q, k, v) as Tensor).data)).toBeUndefined();
  });
});

describe('getters of disposed objects', () => {
  it('kvCache.length and .position, and recurrentMemory.length, throw DISPOSED after dispose() or rt.dispose()', () => {
    const r = createRuntimeSync({ isa: 'simd128' });
    const a = r.kvCache({ heads: 1, headDim: 2, maxLength: 4 });
    const b = r.kvCache({ heads: 1, headDim: 2, maxLength: 4 });
    const m = r.recurrentMemoryAttention({ heads: 1, headDim: 2, memoryLength: 2 });
    expect(a.length).toBe(0);
    expect(m.length).toBe(0);
    a.dispose();
    expectError(() => a.length, 'DISPOSED', ['kvCache']);
    expectError(() => a.position, 'DISPOSED');
    expect(a.isDisposed).toBe(true);
    r.dispose();
    expectError(() => b.length, 'DISPOSED', ['Runtime']);
    expectError(() => b.position, 'DISPOSED');
    expectError(() => m.length, 'DISPOSED');
    expectError(() => r.memoryBytes, 'DISPOSED');
  });
});
