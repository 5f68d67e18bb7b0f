// Abort and progress of every variant of the registry through the proxy runtime (Node, with
// SharedArrayBuffer): each variant's loop tells the heads observer of its units, so
//   • onProgress reports `done` strictly increasing, against one `total`, up to done === total;
//   • an abort issued at the first progress event rejects ABORTED with the worker stopped
//     between units, before the last one (the message says after how many of how many), and the
//     next call of that variant on the same proxy runtime equals the in-thread runtime bit for bit.
// The variants come from attentionVariants() with their example(n, headDim) options; LONG sizes
// each call so that it runs a few hundred milliseconds (progress is posted at most every 75 ms).
// Variants whose example is cheap per token get a larger window, projection or chunk there (a
// variant added to the registry runs with the default size).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError, attentionVariants, createRuntime, type ProxyRuntime, type Runtime } from '../../src/index';
import { proxyWorkerUrl, random, tensor } from './helpers';

/** Heads, tokens and option overrides of each variant's long call (headDim 64, batch 1). */
const LONG: Record<string, { heads: number; n: number; options?: Record<string, unknown> }> = {
  attention: { heads: 32, n: 1024 },
  slidingWindowAttention: { heads: 32, n: 2048, options: { window: 512 } },
  segmentedAttention: { heads: 32, n: 384 }, // summaries: a token sees a summary of every other segment
  lshAttention: { heads: 32, n: 2048, options: { chunkLength: 128 } },
  linformerAttention: { heads: 32, n: 1024, options: { k: 512 } },
  routingAttention: { heads: 32, n: 2048 },
};
const DEFAULT_LONG = { heads: 32, n: 1024 };
const HEAD_DIM = 64;

type Method = (...args: unknown[]) => unknown;
const call = (rt: Runtime | ProxyRuntime, method: string, ...args: unknown[]): unknown => (rt as unknown as Record<string, Method>)[method]!(...args);

/** Every Float32Array of a result (nested in result objects) as its bits, for exact comparison. */
function bits(value: unknown): unknown {
  if (value instanceof Float32Array) return new Uint32Array(value.buffer, value.byteOffset, value.length);
  if (Array.isArray(value)) return value.map(bits);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bits(v)]));
  return value;
}

let rt: Runtime;
let px: ProxyRuntime;
beforeAll(async () => {
  rt = await createRuntime();
  px = await createRuntime({ proxy: true, proxyWorkerUrl });
});
afterAll(() => {
  rt.dispose();
  px.dispose();
});

describe.each(attentionVariants().map((v) => [v.method, v] as const))('proxy runtime, %s: abort and progress between units', (method, variant) => {
  const { heads, n, options: extra } = LONG[method] ?? DEFAULT_LONG;
  const rnd = random(heads * n);
  const [q, k, v] = [0, 1, 2].map(() => tensor([1, heads, n, HEAD_DIM], rnd));
  const options = { ...variant.example(n, HEAD_DIM), ...extra };

  it('onProgress: done strictly increasing, one total, ending at done === total', async () => {
    const seen: [number, number][] = [];
    await call(px, method, q, k, v, { ...options, onProgress: (done: number, total: number) => seen.push([done, total]) });
    expect(seen.length).toBeGreaterThan(1);
    const total = seen[0]![1];
    expect(total).toBeGreaterThan(1);
    for (const [i, [done, t]] of seen.entries()) {
      expect(t).toBe(total);
      if (i > 0) expect(done).toBeGreaterThan(seen[i - 1]![0]);
    }
    expect(seen[seen.length - 1]![0]).toBe(total);
  });

  it('aborted at the first progress event: ABORTED between units, before the last; the next call equals in-thread', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const e = (await (call(px, method, q, k, v, {
      ...options,
      signal: controller.signal,
      onProgress: (done: number) => {
        seen.push(done);
        controller.abort();
      },
    }) as Promise<unknown>).catch((x: unknown) => x)) as AttentionError;
    expect(e).toBeInstanceOf(AttentionError);
    expect(e.code).toBe('ABORTED');
    expect(seen).toHaveLength(1);
    // The worker's message: stopped after `done` of `total` units, i.e. before the call would have finished.
    const [, done, total] = /after (\d+) of (\d+) units/.exec(e.message)!.map(Number);
    expect(done).toBeGreaterThanOrEqual(seen[0]!);
    expect(done).toBeLessThan(total!);

    const small = random(5);
    const [sq, sk, sv] = [0, 1, 2].map(() => tensor([2, 4, 24, 16], small));
    const smallOptions = variant.example(24, 16);
    expect(bits(await call(px, method, sq, sk, sv, smallOptions))).toEqual(bits(call(rt, method, sq, sk, sv, smallOptions)));
  });
});
