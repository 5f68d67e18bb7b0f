// The `wasm-attention/core` entry (src/core.ts): its CoreRuntime computes exactly what the full
// Runtime computes (same kernels, same code) for attention, the ONNX operator, matmul and softmax,
// on every binary this engine accepts; it has none of the full entry's extended methods; and the
// full Runtime is a CoreRuntime with them. (test/layering.test.ts keeps the core import graph
// small; test/package.test.ts and test/env/ load the built dist/core.* bundles.)

import { describe, expect, it } from 'vitest';
import * as core from '../src/core';
import * as full from '../src/index';
import { ISAS, rng, uniformF32 } from './helpers/numeric';

/** The methods the full Runtime adds to CoreRuntime: these, and every variant of the registry but full attention. */
const EXTENDED = [
  'quantizeMatrix', 'quantizedMatrix', 'multiHeadAttention', 'kvCache', 'rope', 'linformerProjections', 'lshRotations', 'lshHash',
  'recurrentMemoryAttention', 'routingCentroids',
  ...full.attentionVariants().map((v) => v.method).filter((m) => m !== 'attention'),
];
/** Core methods Runtime overrides (matmul also takes a QuantizedMatrix there). */
const OVERRIDDEN = ['matmul'];
const CORE_METHODS = ['tensor', 'attention', 'onnxAttention', 'matmul', 'packMatrix', 'softmax', 'dispose'];

const tensor = (shape: number[], seed: number) => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });

describe('wasm-attention/core', () => {
  it('exports createRuntime, createRuntimeSync, CoreRuntime and the core helpers, nothing of the full entry', () => {
    expect(Object.keys(core).sort()).toEqual(
      ['AttentionError', 'CoreRuntime', 'PackedMatrix', 'WasmTensor', 'createRuntime', 'createRuntimeSync', 'detectIsa', 'isaSupported'],
    );
    for (const name of Object.keys(core)) expect(full, name).toHaveProperty(name);
  });

  it('CoreRuntime has the core methods and none of the extended ones; Runtime has both and is a CoreRuntime', () => {
    const rt = core.createRuntimeSync();
    const big = full.createRuntimeSync();
    try {
      expect(rt).toBeInstanceOf(core.CoreRuntime);
      expect(rt).not.toBeInstanceOf(full.Runtime);
      expect(big).toBeInstanceOf(full.Runtime);
      expect(big).toBeInstanceOf(core.CoreRuntime);
      const has = (o: object, m: string) => typeof (o as Record<string, unknown>)[m] === 'function';
      for (const m of CORE_METHODS) expect(has(rt, m) && has(big, m), m).toBe(true);
      for (const m of EXTENDED) {
        expect(has(rt, m), `CoreRuntime.${m}`).toBe(false);
        expect(has(big, m), `Runtime.${m}`).toBe(true);
      }
      // Every method Runtime declares itself is an extended or overriding one (a new one must be listed above).
      const own = Object.getOwnPropertyNames(full.Runtime.prototype).filter((n) => n !== 'constructor');
      expect(own.sort()).toEqual([...EXTENDED, ...OVERRIDDEN].sort());
    } finally {
      rt.dispose();
      big.dispose();
    }
  });

  it.each(ISAS)('gives bit-identical results to the full runtime (%s)', async (isa) => {
    const rt = await core.createRuntime({ isa });
    const big = await full.createRuntime({ isa });
    try {
      expect(rt.isa).toBe(isa);
      const [q, k, v] = [tensor([2, 3, 37, 16], 1), tensor([2, 3, 45, 16], 2), tensor([2, 3, 45, 16], 3)];
      const options = { causal: true, softcap: 30, keyLengths: [45, 40] };
      expect(rt.attention(q, k, v, options).data).toEqual(big.attention(q, k, v, options).data);
      const withWeights = { returnWeights: true as const, window: { left: 5 } };
      const a = rt.attention(q, k, v, withWeights);
      const b = big.attention(q, k, v, withWeights);
      expect(a.output.data).toEqual(b.output.data);
      expect(a.weights.data).toEqual(b.weights.data);

      const Q = tensor([1, 37, 48], 4);
      const K = tensor([1, 45, 16], 5);
      const attrs = { q_num_heads: 3, kv_num_heads: 1, is_causal: 1 };
      expect(rt.onnxAttention({ Q, K, V: K }, attrs).Y.data).toEqual(big.onnxAttention({ Q, K, V: K }, attrs).Y.data);

      const x = tensor([33, 70], 6);
      const w = tensor([70, 21], 7);
      expect(rt.matmul(x, w).data).toEqual(big.matmul(x, w).data);
      const packed = rt.packMatrix(w);
      expect(rt.matmul(x, packed).data).toEqual(big.matmul(x, w).data);
      packed.dispose();
      expect(rt.softmax(x).data).toEqual(big.softmax(x).data);

      const t = rt.tensor([2, 2], [1, 2, 3, 4]);
      expect(Array.from(t.data)).toEqual([1, 2, 3, 4]);
      rt.dispose();
      expect(t.isDisposed).toBe(true);
      expect(() => rt.attention(q, k, v)).toThrow(core.AttentionError);
    } finally {
      rt.dispose();
      big.dispose();
    }
  });

  it('runs on two threads with the same result as one (the pool worker of dist/: npm run build)', async () => {
    const one = core.createRuntimeSync();
    const two = await core.createRuntime({ threads: 2, workerUrl: new URL('../dist/worker.js', import.meta.url) });
    try {
      expect(two.threads).toBe(2);
      const [q, k, v] = [tensor([1, 4, 256, 32], 8), tensor([1, 4, 256, 32], 9), tensor([1, 4, 256, 32], 10)];
      expect(two.attention(q, k, v, { causal: true }).data).toEqual(one.attention(q, k, v, { causal: true }).data);
    } finally {
      one.dispose();
      two.dispose();
    }
  });

  it('validates its options like the full entry', async () => {
    expect(() => core.createRuntimeSync({ threads: 2 })).toThrow(/createRuntime \(async\)/);
    await expect(core.createRuntime({ isa: 'avx' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(core.createRuntime({ maxMemoryBytes: -1 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});
