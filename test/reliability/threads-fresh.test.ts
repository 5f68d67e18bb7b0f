// Fresh threaded runtimes, first call, under load: for 2, 3 and 4 threads, RUNS fresh runtimes
// (createRuntime({ threads })) each make ONE attention call (q [1,4,256,64], k/v [1,2,300,64],
// causal: GQA heads split into row chunks over the threads) while a child process keeps another
// core busy; every output must be bit-identical with a one-thread runtime's. Every other runtime
// first grows its memory between starting its pool and that first call (an 8 MiB tensor), so
// every worker's first view of memory predates a growth.
//
// This is the case where a worker's view of the shared memory could be stale on its first job
// (it then copied no parameter block and left whole row chunks at 0, or computed them from the
// wrong block, with no error): 3-13 of 100 fresh 2-thread runtimes mismatched under load. The
// full 400 × {2, 3, 4} version is `npm run soak:threads`.
//
// Data from a fixed seed; RUNS (default 40, so the file stays near a minute on the loaded 2-core
// machine: 84 s with 60) per thread count from THREADS_FRESH_RUNS.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type Tensor } from '../../src/index';
import { busyCore } from '../helpers/busy-core';
import { rng } from '../helpers/numeric';
import { referenceAttention } from '../reference/attention';

const RUNS = Number(process.env.THREADS_FRESH_RUNS ?? 40);
const workerUrl = new URL('../../dist/worker.js', import.meta.url);

const next = rng(20240601);
const tensor = (shape: number[]): Tensor => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 4 - 2), shape });
const q = tensor([1, 4, 256, 64]);
const k = tensor([1, 2, 300, 64]);
const v = tensor([1, 2, 300, 64]);

/** Number of floats whose bits differ. */
function bitsDiffering(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  return n;
}

describe('fresh threaded runtimes: the first call equals one thread, bit for bit, under load', () => {
  let want: Float32Array;
  let stopLoad: () => void;
  beforeAll(() => {
    const one = createRuntimeSync();
    want = one.attention(q, k, v, { causal: true }).data;
    one.dispose();
    // the one-thread result itself is right (so bit-identity with it means right)
    const ref = referenceAttention(q, k, v, { causal: true }).output;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - ref[i]));
    expect(worst).toBeLessThan(2e-5);
    stopLoad = busyCore();
  });
  afterAll(() => stopLoad?.());

  it.each([2, 3, 4])(`${RUNS} fresh %i-thread runtimes (every other one grown before its first call)`, async (threads) => {
    const wrong: string[] = [];
    for (let r = 0; r < RUNS; r++) {
      const rt = await createRuntime({ threads, workerUrl });
      try {
        expect(rt.threads).toBe(threads);
        const grown = r % 2 === 1;
        const ballast = grown ? rt.tensor([(8 << 20) / 4]) : undefined;
        try {
          const got = rt.attention(q, k, v, { causal: true }).data;
          const n = bitsDiffering(got, want);
          if (n) wrong.push(`run ${r}${grown ? ' (grown)' : ''}: ${n} of ${got.length} floats differ`);
        } catch (error) {
          wrong.push(`run ${r}${grown ? ' (grown)' : ''}: threw ${(error as Error).message}`);
        }
        ballast?.dispose();
      } finally {
        rt.dispose();
      }
    }
    expect(wrong, wrong.join('\n')).toEqual([]);
  }, 120_000);
});
