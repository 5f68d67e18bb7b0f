// The heads observer the proxy's worker installs (attention/heads-observer.ts), set here directly
// on an in-thread runtime, for every variant of the registry (and a routed call whose path is the
// full attention: run-heads.ts inside a path): deterministic, no worker, no timing.
//   • With an observer every unit 0 … total − 1 is announced, in order, against one total, and
//     the result is bit for bit the one without observer (the observed loops only regroup calls).
//   • An observer that throws ABORTED half-way stops the call with that error; the arena then
//     holds exactly the blocks and bytes it held before, memory has not grown, and the next call
//     (observer removed) gives the same bits again.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError, attentionVariants, createRuntime, type Runtime } from '../../src/index';
import { setHeadsObserver } from '../../src/attention/heads-observer';
import { arenaStats } from '../helpers/numeric';
import { random, tensor } from './helpers';

type Method = (...args: unknown[]) => unknown;
const run = (rt: Runtime, method: string, ...args: unknown[]): unknown => (rt as unknown as Record<string, Method>)[method]!(...args);

function bits(value: unknown): unknown {
  if (value instanceof Float32Array) return new Uint32Array(value.buffer, value.byteOffset, value.length);
  if (Array.isArray(value)) return value.map(bits);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bits(v)]));
  return value;
}

const N = 64;
const HEAD_DIM = 16;
const rnd = random(9);
const [q, k, v] = [0, 1, 2].map(() => tensor([2, 4, N, HEAD_DIM], rnd));
const cases: [string, string, Record<string, unknown>][] = [
  ...attentionVariants().map((variant) => [variant.method, variant.method, variant.example(N, HEAD_DIM)] as [string, string, Record<string, unknown>]),
  ['routedAttention (full and LSH paths)', 'routedAttention', {
    ...attentionVariants().find((variant) => variant.method === 'routedAttention')!.example(N, HEAD_DIM),
    paths: [{ type: 'full', causal: true }, { type: 'lsh', buckets: 4, chunkLength: 8, seed: 2 }],
  }],
];

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});
afterEach(() => setHeadsObserver(undefined));

describe.each(cases)('heads observer, %s', (_name, method, options) => {
  it('announces every unit in order against one total; same bits as without observer', () => {
    const want = bits(run(rt, method, q, k, v, options));
    const seen: [number, number][] = [];
    setHeadsObserver((done, total) => { seen.push([done, total]); });
    const got = bits(run(rt, method, q, k, v, options));
    setHeadsObserver(undefined);
    expect(got).toEqual(want);
    expect(seen.length).toBeGreaterThan(1);
    const total = seen[0]![1];
    for (const [i, [done, t]] of seen.entries()) {
      expect(t).toBe(total);
      if (i > 0) expect(done).toBeGreaterThanOrEqual(seen[i - 1]![0]);
    }
    expect([...new Set(seen.map(([done]) => done))]).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('an observer throwing ABORTED half-way stops the call; the arena is as before and the next call gives the same bits', () => {
    const want = bits(run(rt, method, q, k, v, options));
    const before = arenaStats(rt);
    const bytes = rt.memoryBytes;
    let stoppedAt = -1;
    setHeadsObserver((done, total) => {
      if (done >= total / 2) {
        stoppedAt = done;
        throw new AttentionError('ABORTED', `${method} was aborted after ${done} of ${total} units`);
      }
    });
    let error: unknown;
    try {
      run(rt, method, q, k, v, options);
    } catch (e) {
      error = e;
    }
    setHeadsObserver(undefined);
    expect(error).toBeInstanceOf(AttentionError);
    expect((error as AttentionError).code).toBe('ABORTED');
    expect(stoppedAt).toBeGreaterThan(0);
    expect(arenaStats(rt)).toEqual(before);
    expect(rt.memoryBytes).toBe(bytes);
    expect(bits(run(rt, method, q, k, v, options))).toEqual(want);
  });
});
