// The variant registry (src/attention/variants.ts, public as attentionVariants()): it is the one
// list of attention variants, so this file checks that the list and the library agree — every
// variant method of Runtime is in it and installed from it, every example runs and its output is
// finite and shaped, every path type runs through rt.routedAttention exactly as its own method,
// the option keys it lists are the ones the method accepts, and the fuzz cases and the bench's
// workloads cover every entry.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AttentionError, attentionVariants, createRuntimeSync, Runtime, type Tensor } from '../../src/index';
import { arenaStats, rng, sameValues } from '../helpers/numeric';
import { METHODS } from '../reliability/fuzz-cases';
import { randomTensor } from '../helpers/variant';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runtime methods named …Attention that are not variants over (q, k, v): layers built from a config, the ONNX operator. */
const NOT_VARIANTS = new Set(['multiHeadAttention', 'recurrentMemoryAttention', 'onnxAttention']);

type Call = (...args: unknown[]) => unknown;
const call = (rt: Runtime, method: string, ...args: unknown[]): unknown => (rt[method as keyof Runtime] as Call).apply(rt, args);

/** [b, h, s, d] → [b, s, h, d] (or back: the same permutation swaps the middle axes). */
function swapMiddle(t: Tensor): Tensor {
  const [b, x, y, d] = t.shape;
  const data = new Float32Array(t.data.length);
  for (let i = 0; i < b; i++) for (let j = 0; j < x; j++) for (let s = 0; s < y; s++) {
    data.set(t.data.subarray(((i * x + j) * y + s) * d, ((i * x + j) * y + s + 1) * d), ((i * y + s) * x + j) * d);
  }
  return { data, shape: [b, y, x, d] };
}

/** Deterministic small values for a tensor of `shape` (router weights, pooling queries). */
function ramp(shape: number[], mod = 7): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, (_, i) => ((i % mod) - (mod >> 1)) / 8), shape };
}

/** The other tensors of a variant's result: those in the call's layout (hierarchical levels, document) and those that are not (routed routes). */
function sideTensors(result: unknown): { laidOut: Tensor[]; fixed: Tensor[] } {
  const r = result as { levels?: Tensor[]; document?: Tensor; routes?: Tensor };
  return { laidOut: [...(r.levels ?? []), ...(r.document ? [r.document] : [])], fixed: r.routes ? [r.routes] : [] };
}

/** A variant's output tensor: the Tensor itself, or the `output` of a result object. */
function outputOf(result: unknown): Tensor {
  const r = result as Tensor & { output?: Tensor };
  return r.output ?? r;
}

describe('the variant registry', () => {
  const variants = attentionVariants();

  it('lists every variant method of Runtime once, and each is installed on Runtime (full attention on CoreRuntime)', () => {
    const methods = variants.map((v) => v.method);
    expect(new Set(methods).size).toBe(methods.length);
    const onRuntime = new Set<string>();
    for (let proto = Runtime.prototype as object; proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) if (/Attention$|^attention$/.test(name) && !NOT_VARIANTS.has(name)) onRuntime.add(name);
    }
    expect([...onRuntime].sort()).toEqual([...methods].sort());
    for (const v of variants) expect(typeof (Runtime.prototype as unknown as Record<string, unknown>)[v.method], v.method).toBe('function');
  });

  it('names each installed method after its variant (stack traces and errors say which method ran)', () => {
    for (const v of variants) expect((Runtime.prototype as unknown as Record<string, Call>)[v.method].name).toBe(v.method);
  });

  it('every entry has a label, a blurb and option keys, and is frozen', () => {
    for (const v of variants) {
      expect(v.label.length, v.method).toBeGreaterThan(2);
      expect(v.about.length, v.method).toBeGreaterThan(30);
      expect(v.keys.length, v.method).toBeGreaterThan(0);
      expect(Object.isFrozen(v), v.method).toBe(true);
    }
  });

  it.each(variants.map((v) => [v.method, v] as const))('%s: its example options run on [2, 3, 16, 8] inputs: finite output of shape [2, 3, 16, 8], nothing leaked', (_, v) => {
    const rt = createRuntimeSync();
    try {
      const next = rng(7);
      const [q, k, val] = [0, 1, 2].map(() => randomTensor([2, 3, 16, 8], next));
      call(rt, v.method, q, k, val, v.example(16, 8)); // warm-up: the workspace it reserves is kept
      const before = arenaStats(rt);
      const out = outputOf(call(rt, v.method, q, k, val, v.example(16, 8)));
      expect(out.shape).toEqual([2, 3, 16, 8]);
      expect(out.data.every(Number.isFinite)).toBe(true);
      expect(arenaStats(rt)).toEqual(before);
    } finally {
      rt.dispose();
    }
  });

  it.each(variants.map((v) => [v.method, v] as const))('%s: the keys it lists are accepted, and a misspelled one is INVALID_OPTION naming it', (_, v) => {
    const rt = createRuntimeSync();
    try {
      const next = rng(8);
      const [q, k, val] = [0, 1, 2].map(() => randomTensor([1, 2, 16, 8], next));
      const options = v.example(16, 8);
      for (const key of Object.keys(options)) expect(v.keys, `${v.method} example key ${key}`).toContain(key);
      const misspelled = `${v.keys[0]}x`;
      let thrown: unknown;
      try {
        call(rt, v.method, q, k, val, { ...options, [misspelled]: 1 });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(AttentionError);
      expect((thrown as AttentionError).code).toBe('INVALID_OPTION');
      expect((thrown as AttentionError).message).toContain(misspelled);
    } finally {
      rt.dispose();
    }
  });

  const paths = variants.filter((v) => v.path !== undefined);

  it('the path types of rt.routedAttention are the registry\'s, and an unknown type lists them all', () => {
    expect(paths.map((v) => v.path)).toEqual(['full', 'window', 'global-local', 'segmented', 'lsh', 'linformer', 'routing']);
    const rt = createRuntimeSync();
    try {
      const x = randomTensor([1, 1, 8, 4], rng(1));
      const routes = { data: new Float32Array(8).fill(1), shape: [1, 1, 8, 1] };
      expect(() => rt.routedAttention(x, x, x, { paths: [{ type: 'nope' } as never], routes })).toThrow(
        new RegExp(paths.map((v) => `'${v.path}'`).join(' \\| ')),
      );
    } finally {
      rt.dispose();
    }
  });

  it.each(paths.map((v) => [v.path, v] as const))("path %s: rt.routedAttention with all weight on it equals its own method, bit for bit (in either layout: the call's layout reaches the path)", (_, v) => {
    const rt = createRuntimeSync();
    try {
      const next = rng(9);
      const [q, k, val] = [0, 1, 2].map(() => randomTensor([1, 2, 16, 8], next));
      const options = v.path === 'full' ? { causal: true } : v.example(16, 8);
      const routes = { data: new Float32Array(2 * 16).fill(1), shape: [1, 2, 16, 1] };
      const routed = rt.routedAttention(q, k, val, { paths: [{ type: v.path, ...options } as never], routes });
      const own = outputOf(call(rt, v.method, q, k, val, options));
      expect(sameValues(routed.data, own.data)).toBeUndefined();
      const [qs, ks, vs] = [q, k, val].map(swapMiddle);
      const routedBshd = rt.routedAttention(qs, ks, vs, { paths: [{ type: v.path, ...options } as never], routes, layout: 'bshd' });
      const ownBshd = outputOf(call(rt, v.method, qs, ks, vs, { ...options, layout: 'bshd' }));
      expect(routedBshd.shape).toEqual([1, 16, 2, 8]);
      expect(sameValues(routedBshd.data, ownBshd.data)).toBeUndefined();
      expect(sameValues(routedBshd.data, swapMiddle(own).data)).toBeUndefined();
      // a path takes no layout of its own: the call's applies to every path
      for (const layout of ['bshd', 'bhsd']) {
        expect(() => rt.routedAttention(q, k, val, { paths: [{ type: v.path, ...options, layout } as never], routes })).toThrow(
          new RegExp(`options\\.paths\\[0\\]\\.layout is not an option of a path: .*set options\\.layout of rt\\.routedAttention\\), got "${layout}"`),
        );
      }
    } finally {
      rt.dispose();
    }
  });

  const withLayout = variants.filter((v) => v.keys.includes('layout'));
  /** More options per variant for the layout test, beyond its example (causal paths, norms, masks). */
  const MORE: Record<string, Array<Record<string, unknown>>> = {
    attention: [{ causal: true, window: { left: 3 } }],
    slidingWindowAttention: [{ window: { left: 3 }, causal: true, dilation: 2 }],
    globalLocalAttention: [{ window: 2, global: { count: 2, by: 'query-norm' }, causal: true }, { window: 1, global: { count: 3, by: 'key-norm' } }],
    segmentedAttention: [{ segmentLength: 5, overlap: 2, summaries: true, causal: true }],
    linformerAttention: [{ k: 5, seed: 3, shared: true, keyLengths: [11, 16] }],
    lshAttention: [{ buckets: 4, chunkLength: 4, rounds: 3, seed: 2, causal: true, keyLengths: [13, 16] }],
    routingAttention: [{ clusters: 3, windowSize: 7, causal: true, seed: 2 }, { clusters: 2, windowSize: 12, keyWindowSize: 5, emaDecay: 0.5, seed: 3 }],
    hierarchicalAttention: [
      { levels: [[0, 5, 9, 16], 2], aggregate: ['max', { query: ramp([4, 4]), scale: 0.7 }, 'mean'], combine: [0.5, 0.3, 0.2], levelScale: 0.9 },
      { levels: [[[0, 7], [7, 16]]], aggregate: { query: ramp([4]) }, combine: 'sum' },
    ],
    routedAttention: [
      { // every path type, a per-head router with a bias, routes returned (they stay [batch, heads, n, P])
        paths: [
          { type: 'full', causal: true }, { type: 'window', window: 3, dilation: 2 }, { type: 'global-local', window: 2, global: { count: 2, by: 'query-norm' } },
          { type: 'segmented', segmentLength: 5, overlap: 2, summaries: true }, { type: 'lsh', buckets: 4, chunkLength: 4, rounds: 2, seed: 2 },
          { type: 'linformer', k: 5, seed: 3 }, { type: 'routing', clusters: 2, windowSize: 8, seed: 1 },
        ],
        router: { weights: ramp([4, 8, 7], 5), bias: ramp([4, 7], 3) }, returnRoutes: true,
      },
      { paths: [{ type: 'segmented', segmentLength: 4 }], over: 'heads', router: { weights: ramp([32, 4], 11) }, returnRoutes: true },
      { paths: [{ type: 'window', window: 2 }, { type: 'lsh', buckets: 2, chunkLength: 8, seed: 4 }], router: { weights: ramp([5, 2]), input: ramp([2, 16, 5], 9) } },
      { paths: [{ type: 'linformer', k: 4, seed: 1 }, { type: 'routing', clusters: 2, windowSize: 6, keyWindowSize: 5, seed: 2 }], routes: { data: Float32Array.from({ length: 64 }, (_, i) => (i % 3) / 2), shape: [2, 1, 16, 2] } },
    ],
  };

  it('every variant reads [batch, seq, heads, dim] too, and says so in its keys (so every routed path can run in the call\'s layout)', () => {
    expect(withLayout.map((v) => v.method)).toEqual(['attention', 'slidingWindowAttention', 'globalLocalAttention', 'segmentedAttention', 'lshAttention', 'linformerAttention', 'hierarchicalAttention', 'routingAttention', 'routedAttention']);
    expect(withLayout.map((v) => v.method)).toEqual(variants.map((v) => v.method));
  });

  it.each(withLayout.map((v) => [v.method, v] as const))("%s: layout 'bshd' equals the bhsd call on transposed inputs, bit for bit (GQA, out too)", (_, v) => {
    const rt = createRuntimeSync();
    try {
      const next = rng(10);
      const q = randomTensor([2, 4, 16, 8], next);
      const k = randomTensor([2, 2, 16, 8], next);
      const val = randomTensor([2, 2, 16, 4], next);
      for (const options of [v.example(16, 8), ...(MORE[v.method] ?? [])]) {
        const wantResult = call(rt, v.method, q, k, val, options);
        const want = swapMiddle(outputOf(wantResult));
        const gotResult = call(rt, v.method, swapMiddle(q), swapMiddle(k), swapMiddle(val), { ...options, layout: 'bshd' });
        const got = outputOf(gotResult);
        expect(got.shape).toEqual(options.over === 'heads' ? [2, 16, 1, 4] : [2, 16, 4, 4]);
        expect(sameValues(got.data, want.data), JSON.stringify(options)).toBeUndefined();
        const [wantSide, gotSide] = [sideTensors(wantResult), sideTensors(gotResult)];
        wantSide.laidOut.map(swapMiddle).forEach((w, i) => {
          expect(gotSide.laidOut[i].shape).toEqual(w.shape);
          expect(sameValues(gotSide.laidOut[i].data, w.data), `${JSON.stringify(options)}: tensor ${i} of the result`).toBeUndefined();
        });
        wantSide.fixed.forEach((w, i) => {
          expect(gotSide.fixed[i].shape).toEqual(w.shape);
          expect(sameValues(gotSide.fixed[i].data, w.data), 'routes').toBeUndefined();
        });
        const out = { data: new Float32Array(want.data.length), shape: got.shape };
        call(rt, v.method, swapMiddle(q), swapMiddle(k), swapMiddle(val), { ...options, layout: 'bshd', out });
        expect(sameValues(out.data, want.data), JSON.stringify(options)).toBeUndefined();
      }
      if (v.method === 'lshAttention') { // shared QK: k = null, the keys are the normalized queries
        const opts = { buckets: 4, chunkLength: 4, rounds: 2, seed: 4, sharedQK: true };
        const v4 = randomTensor([2, 4, 16, 4], next); // shared QK: v has q's heads
        const want = swapMiddle(outputOf(call(rt, v.method, q, null, v4, opts)));
        const got = outputOf(call(rt, v.method, swapMiddle(q), null, swapMiddle(v4), { ...opts, layout: 'bshd' }));
        expect(sameValues(got.data, want.data), 'sharedQK').toBeUndefined();
      }
      const options = v.example(16, 8);
      // an unknown layout is INVALID_OPTION naming the option, the values it takes and the value given
      let thrown: unknown;
      try {
        call(rt, v.method, q, k, val, { ...options, layout: 'bsdh' });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(AttentionError);
      expect((thrown as AttentionError).code).toBe('INVALID_OPTION');
      expect((thrown as AttentionError).message).toMatch(/options\.layout must be 'bhsd' or 'bshd', got "bsdh"/);
      // the bhsd shapes passed as bshd are a shape error naming the layout
      expect(() => call(rt, v.method, q, randomTensor([2, 2, 12, 8], next), randomTensor([2, 2, 12, 4], next), { ...options, layout: 'bshd' })).toThrow(/layout 'bshd'/);
    } finally {
      rt.dispose();
    }
  });

  it('the bench measures every variant of the registry (a workload calls its method)', () => {
    const dir = join(root, 'bench', 'workloads');
    const text = readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    for (const v of variants) expect(text.includes(`rt.${v.method}(`), `no bench workload calls rt.${v.method}`).toBe(true);
  });

  it('the fuzz cases cover every variant of the registry', () => {
    const fuzzed = new Set(METHODS.map((m) => m.name));
    for (const v of variants) expect(fuzzed.has(v.method), v.method).toBe(true);
  });
});
