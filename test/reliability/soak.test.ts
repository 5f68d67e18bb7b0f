// Soak: SOAK_CALLS (default 100,000) mixed small calls — every kind of public
// call: attention with options, masks, weights and WasmTensor inputs/outputs, ONNX attention with a
// past, matmul (plain and on a packed matrix), softmax, RoPE, tensors made and disposed, KV-cache
// decode steps, a layer forward, and the long-sequence and structured variants — in a random
// order on two runtimes (both kernel binaries where the engine has relaxed SIMD).
//   • Wasm memory: rt.memoryBytes after a warm-up of 5,000 calls must never change again, and
//     the arena must end with exactly the blocks it started with (nothing leaks).
//   • JS heap: process.memoryUsage().heapUsed after a forced GC, sampled every 5,000 calls; the
//     least-squares slope over the samples after warm-up must stay under 20 bytes per call
//     (2 MB per 100,000 calls: a leak of one small object per call would exceed it) and the last
//     sample must be within 4 MB of the first.
//   • Results: every call's output equals, bit for bit, the first output of the same call (the
//     first ones are checked against the float64 reference), so nothing drifts or corrupts over
//     time.
// The figures are printed ([soak] lines) for the release note.

import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { attentionVariants, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { referenceAttention, referenceMatmul, referenceSoftmax } from '../reference/attention';

const CALLS = Number(process.env.SOAK_CALLS ?? 100_000);
const WARMUP = Math.min(5_000, Math.floor(CALLS / 10));
const SAMPLE_EVERY = 5_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const T = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });

interface Kind {
  name: string;
  /** relative frequency (the variants are slower per call; they are drawn less often) */
  weight?: number;
  run(): Float32Array;
  /** checks the first result against the float64 reference */
  first?(out: Float32Array): void;
}

/** The mixed calls on one runtime, with their fixed inputs and long-lived objects. */
function kinds(rt: Runtime): { list: Kind[]; dispose(): void } {
  const q = T([1, 2, 8, 8], 1);
  const k = T([1, 1, 11, 8], 2);
  const v = T([1, 1, 11, 4], 3);
  const mask = { data: Uint8Array.from({ length: 8 * 11 }, (_, i) => (i % 5 === 2 ? 0 : 1)), shape: [8, 11] };
  const qT = rt.tensor(q.shape, q.data);
  const kT = rt.tensor(k.shape, k.data);
  const vT = rt.tensor(v.shape, v.data);
  const outT = rt.tensor([1, 2, 8, 4]);
  const a = T([5, 8], 4);
  const b = T([6, 8], 5);
  const bias = T([6], 6);
  const packed = rt.packMatrix(b, { transposeB: true });
  const x = T([3, 9], 7);
  for (let i = 0; i < x.data.length; i += 4) x.data[i] = -Infinity;
  const Q3 = T([1, 3, 16], 8); // 2 heads of 8
  const K3 = T([1, 3, 8], 9); // 1 kv head
  const V3 = T([1, 3, 8], 10);
  const pastK = T([1, 1, 4, 8], 11);
  const pastV = T([1, 1, 4, 8], 12);
  const layer = rt.multiHeadAttention({
    dModel: 8, numHeads: 2, bias: false,
    weights: { q: T([8, 8], 13), k: T([8, 8], 14), v: T([8, 8], 15), out: T([8, 8], 16) },
  });
  const xLayer = T([1, 5, 8], 17);
  const cache = rt.kvCache({ heads: 1, headDim: 8, maxLength: 12 });
  const steps = [0, 1, 2, 3].map((s) => ({ q: T([1, 2, 1, 8], 20 + s), k: T([1, 1, 1, 8], 30 + s), v: T([1, 1, 1, 8], 40 + s) }));
  let step = 0;
  const n8 = T([1, 2, 8, 8], 50);

  const list: Kind[] = [
    {
      name: 'attention causal',
      run: () => rt.attention(q, k, v, { causal: true }).data,
      first: (out) => expect(mismatch(out, referenceAttention(q, k, v, { causal: true }).output, 2e-5, 2e-5)).toBeUndefined(),
    },
    {
      name: 'attention mask + weights',
      run: () => {
        const r = rt.attention(q, k, v, { mask, softcap: 5, returnWeights: true });
        return Float32Array.from([...r.output.data, ...r.weights.data]);
      },
      first: (out) => {
        const want = referenceAttention(q, k, v, { mask, softcap: 5, returnWeights: true });
        expect(mismatch(out, [...want.output, ...want.weights!], 2e-5, 2e-5)).toBeUndefined();
      },
    },
    { name: 'attention resident + out', run: () => (rt.attention(qT, kT, vT, { out: outT, window: { left: 3 } }), outT.toArray()) },
    {
      name: 'onnxAttention 3-D with past',
      run: () => {
        const r = rt.onnxAttention({ Q: Q3, K: K3, V: V3, past_key: pastK, past_value: pastV }, { q_num_heads: 2, kv_num_heads: 1, is_causal: 1 });
        return Float32Array.from([...r.Y.data, ...r.present_value.data]);
      },
    },
    {
      name: 'matmul + bias',
      run: () => rt.matmul(a, b, { transposeB: true, bias }).data,
      first: (out) => expect(mismatch(out, referenceMatmul(a, b, { transposeB: true, bias }).data, 1e-5, 1e-5)).toBeUndefined(),
    },
    { name: 'matmul packed', run: () => rt.matmul(a, packed).data },
    {
      name: 'softmax',
      run: () => rt.softmax(x).data,
      first: (out) => expect(mismatch(out, referenceSoftmax(x), 1e-6, 1e-5)).toBeUndefined(),
    },
    { name: 'rope', run: () => rt.rope(q, { positions: 3 }).data },
    {
      name: 'tensor make/set/dispose',
      run: () => {
        const t = rt.tensor([3, 5]);
        t.set(a.data.subarray(0, 15));
        const copy = t.toArray();
        t.dispose();
        return copy;
      },
    },
    {
      name: 'kvCache step',
      run: () => {
        if (cache.length + 1 > cache.maxLength) cache.reset();
        const s = steps[step++ % steps.length];
        return Float32Array.from([...cache.step(s.q, s.k, s.v).data, cache.length]);
      },
    },
    { name: 'multiHeadAttention forward', run: () => layer.forward(xLayer, { causal: true }).data },
    // every variant of the registry but full attention (above), with its example options
    ...attentionVariants().filter((variant) => variant.method !== 'attention').map((variant) => ({
      name: variant.method,
      weight: 0.2,
      run: () => outputData((rt[variant.method] as (...args: unknown[]) => unknown).call(rt, n8, n8, n8, variant.example(8, 8))),
    })),
  ];
  return {
    list,
    dispose() {
      for (const t of [qT, kT, vT, outT]) t.dispose();
      packed.dispose();
      layer.dispose();
      cache.dispose();
    },
  };
}

/** The output of a variant call: a Tensor, or a result object with `output`. */
function outputData(result: unknown): Float32Array {
  const r = result as { data?: Float32Array; output?: { data: Float32Array } };
  return r.data ?? r.output!.data;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

describe('soak', () => {
  const runtimes = ISAS.length > 1 ? ISAS.map((isa) => createRuntimeSync({ isa })) : [createRuntimeSync(), createRuntimeSync()];
  afterAll(() => runtimes.forEach((rt) => rt.dispose()));

  it(`${CALLS} mixed calls: Wasm memory flat after warm-up, no JS heap growth, identical results`, () => {
    const start = runtimes.map((rt) => arenaStats(rt));
    const sets = runtimes.map((rt) => kinds(rt));
    const firsts = sets.map(() => new Map<string, Float32Array[]>());
    const next = rng(2024);
    const totalWeight = sets[0].list.reduce((sum, k) => sum + (k.weight ?? 1), 0);
    const memoryAfterWarmup: number[] = [];
    const arenaAfterWarmup: Array<{ blocks: number; bytes: number }> = [];
    const samples: Array<{ calls: number; heap: number }> = [];
    const perKind = new Map<string, number>();
    const kindMs = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const r = i % runtimes.length;
      const list = sets[r].list;
      let pick = next() * totalWeight;
      let kind = list[0];
      for (const candidate of list) {
        kind = candidate;
        pick -= candidate.weight ?? 1;
        if (pick < 0) break;
      }
      const k0 = performance.now();
      const out = kind.run();
      kindMs.set(kind.name, (kindMs.get(kind.name) ?? 0) + performance.now() - k0);
      perKind.set(kind.name, (perKind.get(kind.name) ?? 0) + 1);
      // Results repeat: the cache cycles through the same 12 steps (4 inputs, reset when full).
      const seen = firsts[r].get(kind.name);
      if (!seen) {
        kind.first?.(out);
        firsts[r].set(kind.name, [out]);
      } else {
        const match = seen.find((s) => s.length === out.length && s.every((x, j) => Object.is(x, out[j])));
        if (!match) {
          if (kind.name !== 'kvCache step' || seen.length >= 12) throw new Error(`call ${i} (${kind.name}): result differs from the first one`);
          seen.push(out);
        }
      }
      if (i + 1 === WARMUP) {
        runtimes.forEach((rt) => memoryAfterWarmup.push(rt.memoryBytes));
        runtimes.forEach((rt) => arenaAfterWarmup.push(arenaStats(rt)));
      }
      if (i + 1 > WARMUP) {
        runtimes.forEach((rt, j) => {
          if (rt.memoryBytes !== memoryAfterWarmup[j]) throw new Error(`call ${i}: Wasm memory of runtime ${j} grew from ${memoryAfterWarmup[j]} to ${rt.memoryBytes} bytes after warm-up`);
        });
      }
      if ((i + 1) % SAMPLE_EVERY === 0) {
        gc();
        samples.push({ calls: i + 1, heap: process.memoryUsage().heapUsed });
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    // Steady state: the arena holds exactly what it held after warm-up (the long-lived tensors,
    // packed matrix, layer and cache, the kernels' workspace); disposing those frees them.
    runtimes.forEach((rt, j) => expect(arenaStats(rt), `runtime ${j}: arena blocks and bytes at the end`).toEqual(arenaAfterWarmup[j]));
    const held = runtimes.map((rt) => arenaStats(rt).blocks);
    sets.forEach((s) => s.dispose());
    // 11 blocks: the long-lived tensors, the packed matrix, the cache, and the layer's weights and
    // biases plus their two pre-packed panel blocks (fused Q|K|V and output; packWeights default).
    runtimes.forEach((rt, j) => expect(held[j] - arenaStats(rt).blocks, `runtime ${j}: blocks freed by disposing the long-lived objects`).toBe(11));
    expect(start.every((s) => s.blocks === 1)).toBe(true);

    const after = samples.filter((s) => s.calls > WARMUP);
    const perCall = slope(after.map((s) => s.calls), after.map((s) => s.heap));
    const drift = after[after.length - 1].heap - after[0].heap;
    const mb = (x: number) => (x / 1024 / 1024).toFixed(2);
    console.log(`[soak] ${CALLS} calls (${perKind.size} kinds, ${runtimes.length} runtimes: ${runtimes.map((rt) => rt.isa).join(', ')}) in ${seconds.toFixed(1)} s`);
    console.log(`[soak] Wasm memory after warm-up (${WARMUP} calls): ${memoryAfterWarmup.join(' / ')} bytes, unchanged to the end; arena blocks and bytes at the end = after warm-up`);
    console.log(`[soak] ms per kind: ${[...kindMs.entries()].map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
    console.log(`[soak] JS heap after GC: ${after.map((s) => mb(s.heap)).join(', ')} MiB (every ${SAMPLE_EVERY} calls); slope ${perCall.toFixed(2)} B/call; last − first ${mb(drift)} MiB`);
    expect(perCall, 'JS heap slope (bytes per call)').toBeLessThan(20);
    expect(Math.abs(drift), 'JS heap drift (bytes)').toBeLessThan(4 * 1024 * 1024);
  });
});
