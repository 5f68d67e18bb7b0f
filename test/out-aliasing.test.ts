// `out` aliasing an input: every method that takes `out` gives the float64 reference's result when
// `out` is (or shares memory with) one of its inputs — a resident WasmTensor (`rt.matmul(t, t,
// { out: t })`, attention with out = q, k or v, also on two threads) or a JavaScript array; and an
// `out` is read once: its `data` getter is not asked again at write-back. Nothing leaks.
// References: test/reference/ (float64, independent of src/).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type Runtime, type Tensor, type WasmTensor } from '../src/index';
import { arenaStats, mismatch, rng, uniformF32 } from './helpers/numeric';
import { layerWeights, randomLayer, refConfig } from './layers/fixtures';
import { referenceAttention, referenceMatmul } from './reference/attention';
import { referenceMha } from './reference/mha';
import { referenceSlidingWindow } from './reference/sliding-window';

const workerUrl = new URL('../dist/worker.js', import.meta.url);

const random = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });

/** A resident copy of `t` (the caller disposes it). */
const resident = (rt: Runtime, t: Tensor): WasmTensor => rt.tensor(t.shape, t.data);

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol = 2e-5, rtol = 2e-5): void {
  expect(mismatch(got, want, atol, rtol)).toBeUndefined();
}

describe('out aliasing an input (one thread)', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = createRuntimeSync();
  });
  afterAll(() => rt.dispose());

  it('rt.matmul(t, t, { out: t }) on 64×64 equals the float64 product of the old t', () => {
    const a = random([64, 64], 1);
    const want = referenceMatmul(a, a).data;
    const t = resident(rt, a);
    try {
      rt.matmul(a, a); // reserves the GEMM workspace, which stays
      const before = arenaStats(rt);
      const result = rt.matmul(t, t, { out: t });
      expect(result).toBe(t);
      expectClose(t.data, want, 1e-4, 1e-5);
      expect(arenaStats(rt)).toEqual(before);
    } finally {
      t.dispose();
    }
  });

  it('matmul with out = b (transposeB), out = a of a batched product, and out = bias-free a with a shared b', () => {
    const a = random([40, 40], 2);
    const b = random([40, 40], 3);
    const bias = random([40], 4);
    const tb = resident(rt, b);
    try {
      rt.matmul(a, tb, { out: tb, transposeB: true, bias });
      expectClose(tb.data, referenceMatmul(a, b, { transposeB: true, bias }).data, 1e-4, 1e-5);
    } finally {
      tb.dispose();
    }
    const a3 = random([3, 20, 20], 5);
    const b2 = random([20, 20], 6);
    const ta = resident(rt, a3);
    try {
      rt.matmul(ta, b2, { out: ta });
      expectClose(ta.data, referenceMatmul(a3, b2).data, 1e-4, 1e-5);
    } finally {
      ta.dispose();
    }
  });

  it.each(['q', 'k', 'v'] as const)('attention with out = %s (resident) equals the float64 reference', (which) => {
    const shape = [2, 3, 37, 16];
    const q = random(shape, 10);
    const k = random(shape, 11);
    const v = random(shape, 12);
    const want = referenceAttention(q, k, v, { causal: true }).output;
    const ts = { q: resident(rt, q), k: resident(rt, k), v: resident(rt, v) };
    try {
      const result = rt.attention(ts.q, ts.k, ts.v, { causal: true, out: ts[which] });
      expect(result).toBe(ts[which]);
      expectClose(ts[which].data, want);
    } finally {
      for (const t of Object.values(ts)) t.dispose();
    }
  });

  it('attention with a JavaScript out whose data is q.data', () => {
    const q = random([1, 2, 9, 8], 13);
    const k = random([1, 2, 9, 8], 14);
    const v = random([1, 2, 9, 8], 15);
    const want = referenceAttention(q, k, v).output;
    const shared = { data: Float32Array.from(q.data), shape: q.shape };
    const result = rt.attention(shared, k, v, { out: shared });
    expect(result).toBe(shared);
    expectClose(shared.data, want);
  });

  it('slidingWindowAttention, kvCache.step and multiHeadAttention.forward with out = an input', () => {
    const shape = [1, 2, 20, 8];
    const q = random(shape, 20);
    const k = random(shape, 21);
    const v = random(shape, 22);
    const tq = resident(rt, q);
    try {
      rt.slidingWindowAttention(tq, k, v, { window: { left: 3, right: 2 }, out: tq });
      expectClose(tq.data, referenceSlidingWindow(q, k, v, { left: 3, right: 2 }));
    } finally {
      tq.dispose();
    }

    const cache = rt.kvCache({ heads: 2, headDim: 8, maxLength: 32 });
    const tv = resident(rt, v);
    try {
      cache.step(q, k, tv, { out: tv });
      expectClose(tv.data, referenceAttention(q, k, v, { causal: true }).output);
    } finally {
      tv.dispose();
      cache.dispose();
    }

    const l = randomLayer(23, { dModel: 16, numHeads: 2 });
    const layer = rt.multiHeadAttention({ dModel: 16, numHeads: 2, weights: layerWeights(l, 'torch-separate') });
    const x = random([2, 5, 16], 24);
    const tx = resident(rt, x);
    try {
      layer.forward(tx, { out: tx });
      expectClose(tx.data, referenceMha(refConfig(l), x.data, 2, 5).output, 5e-5, 2e-4);
    } finally {
      tx.dispose();
      layer.dispose();
    }
  });

  it('an out whose data getter answers differently later is written to the array read first', () => {
    const a = random([4, 6], 30);
    const b = random([6, 5], 31);
    const first = new Float32Array(20);
    const later = new Float32Array(1);
    let reads = 0;
    const out = {
      get data() {
        reads++;
        return reads === 1 ? first : later;
      },
      shape: [4, 5],
    };
    const before = arenaStats(rt);
    const result = rt.matmul(a, b, { out: out as unknown as Tensor });
    expect(result).toBe(out);
    expect(reads).toBe(1);
    expectClose(first, referenceMatmul(a, b).data, 1e-5, 1e-5);
    expect(later[0]).toBe(0);
    expect(arenaStats(rt)).toEqual(before);
  });
});

describe('out aliasing an input (two threads)', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await createRuntime({ threads: 2, workerUrl });
  });
  afterAll(() => rt.dispose());

  it.each(['q', 'k', 'v'] as const)('attention with out = %s over row-chunked heads equals the float64 reference, 8 runs', (which) => {
    expect(rt.threads).toBe(2);
    const shape = [1, 2, 256, 32];
    for (let run = 0; run < 8; run++) {
      const q = random(shape, 100 + run);
      const k = random(shape, 200 + run);
      const v = random(shape, 300 + run);
      const want = referenceAttention(q, k, v, { causal: run % 2 === 0 }).output;
      const ts = { q: resident(rt, q), k: resident(rt, k), v: resident(rt, v) };
      try {
        rt.attention(ts.q, ts.k, ts.v, { causal: run % 2 === 0, out: ts[which] });
        expectClose(ts[which].data, want);
      } finally {
        for (const t of Object.values(ts)) t.dispose();
      }
    }
  });

  it('matmul(t, t, { out: t }) on 256×256 row blocks equals the float64 product', () => {
    const a = random([256, 256], 40);
    const want = referenceMatmul(a, a).data;
    const t = resident(rt, a);
    try {
      rt.matmul(t, t, { out: t });
      expectClose(t.data, want, 3e-4, 1e-5);
    } finally {
      t.dispose();
    }
  });
});
