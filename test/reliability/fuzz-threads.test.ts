// Fuzzing fresh threaded runtimes: STEPS (default 36) seeded random steps, each on a NEW runtime
// (createRuntime({ threads }) with 2, 3 or 4 threads) whose FIRST call is the one checked, after
// optionally growing its memory (a 1-16 MiB tensor) between pool start and that call. The call
// is large enough for the pool to split it (over 2 M multiply-adds) and is one of
//   attention               random GQA shape, causal (either alignment) or not, a left/right
//                           window, per-batch key lengths, softcap, scale;
//   matmul                  random [M, K] × [K, N] or × [N, K]ᵀ (row-split products);
//   slidingWindowAttention  random window sides, dilation, causal alignment, key lengths.
// The output must equal a one-thread runtime's bit for bit (the split is over heads, whole query
// tiles and product rows: the same arithmetic) and the float64 reference within 2e-5 (1e-4 for
// matmul). The step (method, threads, growth, shapes, options) is printed on failure; the seed is
// fixed (FUZZ_THREADS_SEED overrides it, FUZZ_THREADS_STEPS the step count), so runs repeat.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { rng } from '../helpers/numeric';
import { referenceAttention, referenceMatmul } from '../reference/attention';
import { referenceSlidingWindow } from '../reference/sliding-window';

const SEED = Number(process.env.FUZZ_THREADS_SEED ?? 20250111);
const STEPS = Number(process.env.FUZZ_THREADS_STEPS ?? 36);
const workerUrl = new URL('../../dist/worker.js', import.meta.url);

/** One checked call: what to run on a runtime, and its float64 reference. */
interface Step {
  describe: string;
  run(rt: Runtime): Float32Array;
  reference(): ArrayLike<number>;
  tolerance: number;
}

const tensorOf = (shape: number[], next: () => number): Tensor =>
  ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 4 - 2), shape });
const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)];
const between = (next: () => number, lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));

/** Random attention over enough rows and heads for the pool to split (≥ 2 M multiply-adds). */
function attentionStep(next: () => number): Step {
  const batch = between(next, 1, 2);
  const kvHeads = pick(next, [1, 2, 4]);
  const qHeads = kvHeads * pick(next, [1, 2]);
  const d = pick(next, [16, 32, 40, 64]);
  const nq = between(next, 130, 300);
  const nk = between(next, 100, 320);
  const q = tensorOf([batch, qHeads, nq, d], next);
  const k = tensorOf([batch, kvHeads, nk, d], next);
  const v = tensorOf([batch, kvHeads, nk, d], next);
  const options: Record<string, unknown> = {};
  const causal = pick(next, [false, true, 'top-left', 'bottom-right'] as const);
  if (causal) options.causal = causal;
  if (next() < 0.3) options.window = { left: between(next, 0, 80), ...(causal ? {} : { right: between(next, 0, 80) }) };
  if (next() < 0.3) options.keyLengths = Array.from({ length: batch }, () => between(next, 1, nk));
  if (next() < 0.2) options.softcap = 5 + next() * 20;
  if (next() < 0.2) options.scale = 0.05 + next() * 0.3;
  return {
    describe: `attention q [${q.shape}] k/v [${k.shape}] ${JSON.stringify(options)}`,
    run: (rt) => rt.attention(q, k, v, options).data,
    reference: () => referenceAttention(q, k, v, options).output,
    tolerance: 2e-5,
  };
}

/** Random matrix product with enough rows for the pool to split. */
function matmulStep(next: () => number): Step {
  const m = between(next, 160, 400);
  const kd = between(next, 60, 160);
  const n = between(next, 50, 130);
  const transposeB = next() < 0.5;
  const a = tensorOf([m, kd], next);
  const b = tensorOf(transposeB ? [n, kd] : [kd, n], next);
  return {
    describe: `matmul a [${a.shape}] b [${b.shape}] transposeB ${transposeB}`,
    run: (rt) => rt.matmul(a, b, { transposeB }).data,
    reference: () => referenceMatmul(a, b, { transposeB }).data,
    tolerance: 1e-4,
  };
}

/** Random sliding-window attention (many heads of banded work for the pool). */
function slidingStep(next: () => number): Step {
  const batch = between(next, 1, 2);
  const heads = pick(next, [4, 6, 8]);
  const d = pick(next, [32, 64]);
  const n = between(next, 256, 512);
  const q = tensorOf([batch, heads, n, d], next);
  const k = tensorOf([batch, heads, n, d], next);
  const v = tensorOf([batch, heads, n, d], next);
  const causal = pick(next, [false, true, 'top-left'] as const);
  const left = between(next, 8, 96);
  const right = causal ? 0 : between(next, 0, 96);
  const dilation = pick(next, [1, 1, 2, 3]);
  const keyLengths = next() < 0.3 ? Array.from({ length: batch }, () => between(next, 1, n)) : undefined;
  const options = { window: { left, right }, dilation, ...(causal ? { causal } : {}), ...(keyLengths ? { keyLengths } : {}) };
  return {
    describe: `slidingWindowAttention q/k/v [${q.shape}] ${JSON.stringify(options)}`,
    run: (rt) => rt.slidingWindowAttention(q, k, v, options).data,
    reference: () => referenceSlidingWindow(q, k, v, { left, right, dilation, causal, keyLengths }),
    tolerance: 2e-5,
  };
}

const FAMILIES = [attentionStep, matmulStep, slidingStep];

describe('fuzz: fresh threaded runtimes, first call', () => {
  let one: Runtime;
  beforeAll(() => {
    one = createRuntimeSync();
  });
  afterAll(() => one.dispose());

  it(`${STEPS} seeded steps: a fresh 2-4 thread runtime's first call (after a growth or not) equals one thread bit for bit and the float64 reference`, async () => {
    console.log(`[fuzz-threads] seed ${SEED} (reproduce: FUZZ_THREADS_SEED=${SEED}), ${STEPS} steps (FUZZ_THREADS_STEPS)`);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          family: fc.integer({ min: 0, max: FAMILIES.length - 1 }),
          threads: fc.integer({ min: 2, max: 4 }),
          growMiB: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 16 })),
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        }),
        async ({ family, threads, growMiB, seed }) => {
          const step = FAMILIES[family](rng(seed));
          const where = `${step.describe}, ${threads} threads, ${growMiB ? `grown by ${growMiB} MiB first` : 'not grown'} (data seed ${seed})`;
          const key = `${FAMILIES[family].name} × ${threads} threads`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          const want = step.run(one);
          const rt = await createRuntime({ threads, workerUrl });
          let got: Float32Array;
          try {
            if (rt.threads !== threads) throw new Error(`${where}: asked for ${threads} threads, got ${rt.threads}`);
            const ballast = growMiB ? rt.tensor([(growMiB << 20) / 4]) : undefined;
            got = step.run(rt);
            ballast?.dispose();
          } finally {
            rt.dispose();
          }
          const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
          const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
          let differ = 0;
          for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
          if (differ) throw new Error(`${where}: ${differ} of ${got.length} floats differ from one thread`);
          const ref = step.reference();
          let worst = 0;
          for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
          if (!(worst <= step.tolerance)) throw new Error(`${where}: ${worst} from the float64 reference (tolerance ${step.tolerance})`);
        },
      ),
      { seed: SEED, numRuns: STEPS, endOnFailure: true },
    );
    console.log(`[fuzz-threads] steps by family and threads: ${[...seen.entries()].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
    expect([...seen.values()].reduce((s, n) => s + n, 0)).toBe(STEPS);
  }, 180_000);
});
