// Lifecycle and concurrency.
//   • After dispose(), EVERY public Runtime method (enumerated from the prototype, so a new one
//     is covered automatically) and getter throws AttentionError DISPOSED, and so do the objects
//     the runtime made (tensors, packed matrices, KV caches, layers, recurrent memories), whose
//     own dispose() stays a harmless no-op.
//   • Two runtimes in one process are independent: every fuzz case runs correctly on one while
//     the other is being used, grows, fails and is disposed.
//   • Concurrency: three Node worker threads, each with its OWN runtime (one of them with a pool
//     of 2 threads), start together (a barrier) and compute 90 calls each (attention, matmul,
//     sliding-window; every 10th call big enough for the pool to split); the main thread checks
//     every output against the float64 reference. Supported pattern: one runtime per thread
//     (calls on a runtime are synchronous, so they never overlap within a thread); a runtime's
//     own pool threads are internal. A Runtime cannot be handed to another thread.

import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { arenaStats, mismatch, rng } from '../helpers/numeric';
import { referenceAttention, referenceMatmul } from '../reference/attention';
import { referenceSlidingWindow } from '../reference/sliding-window';
import { type Ctx, METHODS, runtimeMethods } from './fuzz-cases';

function expectDisposed(fn: () => unknown, what: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${what}: expected a throw`).toBeInstanceOf(AttentionError);
  expect((thrown as AttentionError).code, `${what}: ${(thrown as Error).message}`).toBe('DISPOSED');
}

interface Case { op: 'attention' | 'matmul' | 'sliding'; q: Tensor; k: Tensor; v: Tensor; causal: boolean }

/** Call i of a worker: attention, matmul or sliding-window attention on random GQA inputs. */
function workerCase(seed: number, i: number): Case {
  const next = rng(seed * 100003 + i);
  // every 10th call is large enough (> 2 M multiply-adds) for a threaded runtime to split it
  const big = i % 10 === 9;
  const nq = big ? 200 : 1 + Math.floor(next() * 70);
  const nk = big ? 230 : 1 + Math.floor(next() * 70);
  const d = big ? 32 : 1 + Math.floor(next() * 16);
  const t = (shape: number[]): Tensor => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 4 - 2), shape });
  const op = (['attention', 'matmul', 'sliding'] as const)[i % 3];
  if (op === 'matmul') return { op, q: t([4 * nq, d]), k: t([2 * nk, d]), v: t([1]), causal: false };
  return { op, q: t([1, 4, nq, d]), k: t([1, 2, nk, d]), v: t([1, 2, nk, d + 1]), causal: next() < 0.5 };
}

const ctxOf = (rt: Runtime, seed: number): Ctx => ({ rt, foreign: rt, next: rng(seed), call: (_name, fn) => fn() });

describe('lifecycle', () => {
  it('after dispose(), every Runtime method and getter throws DISPOSED (with valid arguments)', () => {
    const rt = createRuntimeSync();
    rt.dispose();
    rt.dispose(); // idempotent
    const methods = runtimeMethods();
    const byName = new Map(METHODS.map((m) => [m.name, m]));
    for (const name of methods) {
      const m = byName.get(name) ?? byName.get(name === 'lshRotations' ? 'lshHash' : name === 'linformerProjections' ? 'linformerAttention' : name);
      expect(m, `no fuzz case drives Runtime.${name}`).toBeDefined();
      expectDisposed(() => m!.valid(ctxOf(rt, 7)), `Runtime.${name}`);
    }
    // the two that are reached from another entry, called directly too
    expectDisposed(() => rt.lshRotations({ headDim: 4, buckets: 2 }), 'lshRotations');
    expectDisposed(() => rt.linformerProjections({ length: 4, k: 2 }), 'linformerProjections');
    for (const getter of ['isa', 'memoryBytes', 'threads'] as const) expectDisposed(() => rt[getter], getter);
  });

  it("the runtime's objects throw DISPOSED after the runtime is disposed; their dispose() is a no-op", () => {
    const rt = createRuntimeSync();
    const x = (shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape });
    const t = rt.tensor([2, 2], [1, 2, 3, 4]);
    const packed = rt.packMatrix(x([4, 3]));
    const cache = rt.kvCache({ heads: 1, headDim: 4, maxLength: 4 });
    const layer = rt.multiHeadAttention({ dModel: 4, numHeads: 2, bias: false, weights: { qkv: x([12, 4]), out: x([4, 4]) } });
    const memory = rt.recurrentMemoryAttention({ heads: 1, headDim: 4, memoryLength: 2 });
    rt.dispose();
    expect(t.isDisposed).toBe(true);
    expectDisposed(() => t.data, 'tensor.data');
    expectDisposed(() => t.set([1, 2, 3, 4]), 'tensor.set');
    expectDisposed(() => rt.matmul(x([2, 4]), packed), 'matmul(packed)');
    expectDisposed(() => cache.step(x([1, 1, 1, 4]), x([1, 1, 1, 4]), x([1, 1, 1, 4])), 'kvCache.step');
    expectDisposed(() => cache.append(x([1, 1, 1, 4]), x([1, 1, 1, 4])), 'kvCache.append');
    expectDisposed(() => cache.keys(), 'kvCache.keys');
    expectDisposed(() => layer.forward(x([1, 2, 4])), 'multiHeadAttention.forward');
    expectDisposed(() => memory.forward(x([1, 1, 2, 4]), x([1, 1, 2, 4]), x([1, 1, 2, 4])), 'recurrentMemoryAttention.forward');
    for (const o of [t, packed, cache, layer, memory]) {
      expect(() => o.dispose()).not.toThrow();
      expect(() => o.dispose()).not.toThrow();
    }
  });

  it('two runtimes are independent: every case runs correctly on one while the other grows, fails and is disposed', () => {
    const a = createRuntimeSync({ isa: 'simd128' });
    const b = createRuntimeSync({ maxMemoryBytes: 8 * 1024 * 1024 });
    const blocks = arenaStats(a).blocks;
    METHODS.forEach((m, i) => m.valid(ctxOf(a, 100 + i))); // warm-up: lazily reserved blocks
    const warm = arenaStats(a).blocks;
    const memA = a.memoryBytes;
    const big = b.tensor([1024, 1024]); // 4 MiB: b grows
    expect(b.memoryBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(() => b.tensor([1024, 2048])).toThrow(AttentionError); // b: OUT_OF_MEMORY
    METHODS.forEach((m, i) => {
      m.valid(ctxOf(a, 200 + i));
      m.valid(ctxOf(b, 300 + i));
    });
    expect(a.memoryBytes, "b's growth does not touch a").toBe(memA);
    big.dispose();
    b.dispose();
    METHODS.forEach((m, i) => m.valid(ctxOf(a, 400 + i)));
    expect(arenaStats(a).blocks).toBe(warm);
    expect(warm).toBeGreaterThanOrEqual(blocks);
    a.dispose();
  });
});

describe('concurrency: one runtime per worker thread', () => {
  it('three workers (one with a 2-thread pool) computing at the same time all match the float64 reference', async () => {
    const entry = new URL('../../dist/index.js', import.meta.url).href;
    const script = new URL('./fixtures/attention-worker.mjs', import.meta.url);
    const plan = [{ seed: 1, threads: 1 }, { seed: 2, threads: 1 }, { seed: 3, threads: 2 }];
    const calls = 90;
    const cases = plan.map((p) => Array.from({ length: calls }, (_, i) => workerCase(p.seed, i)));
    const workers = plan.map((p, w) => new Worker(script, { workerData: { entry, cases: cases[w], ...p } }));
    try {
      const ready = await Promise.all(workers.map((w) => new Promise<{ threads: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      })));
      expect(ready.map((r) => r.threads)).toEqual([1, 1, 2]);
      const done = Promise.all(workers.map((w) => new Promise<{ outputs: Float32Array[]; start: number; end: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      })));
      for (const w of workers) w.postMessage('go'); // the barrier: all start together
      const results = await done;
      // they really ran at the same time: every worker's span overlaps another's
      for (let i = 0; i < results.length; i++) {
        const overlaps = results.some((o, j) => j !== i && o.start < results[i].end && results[i].start < o.end);
        expect(overlaps, `worker ${i} ran alone`).toBe(true);
      }
      results.forEach((r, w) => {
        expect(r.outputs.length).toBe(calls);
        r.outputs.forEach((got, i) => {
          const { op, q, k, v, causal } = cases[w][i];
          let want: ArrayLike<number>;
          let tol = 2e-5;
          if (op === 'attention') want = referenceAttention(q, k, v, { causal }).output;
          else if (op === 'matmul') {
            want = referenceMatmul(q, k, { transposeB: true }).data;
            tol = 1e-4;
          } else want = referenceSlidingWindow(q, k, v, { left: 3, right: 3, causal });
          const bad = mismatch(got, want, tol, tol);
          expect(bad, `worker ${w} (threads ${plan[w].threads}), call ${i}: ${bad}`).toBeUndefined();
        });
      });
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
