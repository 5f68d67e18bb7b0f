// Fuzzing fresh threaded runtimes: STEPS (default 36) seeded random steps, each on a NEW runtime
// (createRuntime({ threads }) with 2, 3 or 4 threads) whose FIRST call is the one checked, after
// optionally growing its memory (a 1-16 MiB tensor) between pool start and that call. The call
// is large enough for the pool to split it (over 2 M multiply-adds) and is one of
//   attention               random GQA shape, causal (either alignment) or not, a left/right
//                           window, per-batch key lengths, softcap, scale;
//   matmul                  random [M, K] × [K, N] or × [N, K]ᵀ (row-split products);
//   slidingWindowAttention  random window sides, dilation, causal alignment, key lengths;
//   quantized matmul        q8_0, q4_0 or int8 weights, decode (M = 1) to 40 rows, with or without
//                           bias (column-split products).
// The output must equal a one-thread runtime's bit for bit (the split is over heads, whole query
// tiles, product rows and columns: the same arithmetic) and the float64 reference within 2e-5
// (1e-4 for matmul; quantized: 1e-5 of the output range, the reference quantizing as the kernels do). The step (method, threads, growth, shapes, options) is printed on failure; the seed is
// fixed (FUZZ_THREADS_SEED overrides it, FUZZ_THREADS_STEPS the step count), so runs repeat.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type QuantizedMatrix, type Runtime, type Tensor } from '../../src/index';
import { rng } from '../helpers/numeric';
import { referenceAttention, referenceMatmul } from '../reference/attention';
import { blockProductRef, decodeQ4_0Row, decodeQ8_0Row, qc8wProductRef, quantizeQ4_0, quantizeQ8_0 } from '../reference/quant';
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

/** Random product with quantized weights (q8_0, q4_0 or int8), large enough to split over columns. */
function quantizedStep(next: () => number): Step {
  const type = pick(next, ['q8_0', 'q4_0', 'int8'] as const);
  const m = pick(next, [1, 1, 2, 3, between(next, 4, 40)]);
  const kd = 32 * between(next, 8, 40);
  const n = Math.max(between(next, 200, 900), Math.ceil(2 ** 21 / (m * kd)));
  const a = tensorOf([m, kd], next);
  const rows = tensorOf([n, kd], next).data;
  const bias = next() < 0.5 ? tensorOf([n], next) : undefined;
  let want: Float32Array;
  let make: (rt: Runtime) => QuantizedMatrix;
  if (type === 'int8') {
    const data = Int8Array.from({ length: kd * n }, () => between(next, -127, 127));
    const scales = Float32Array.from({ length: n }, () => 0.001 + next() * 0.01);
    want = qc8wProductRef(a.data, m, { k: kd, n, data, transB: false, ld: n, scale: scales }, { bias: bias?.data }).out;
    make = (rt) => rt.quantizedMatrix({ type, shape: [kd, n], data, scales });
  } else {
    const bytes = type === 'q8_0' ? quantizeQ8_0(rows, n, kd) : quantizeQ4_0(rows, n, kd);
    const decode = type === 'q8_0' ? decodeQ8_0Row : decodeQ4_0Row;
    want = blockProductRef(a.data, m, kd, Array.from({ length: n }, (_, j) => decode(bytes, kd, j)), { bias: bias?.data }).out;
    make = (rt) => rt.quantizedMatrix({ type, shape: [n, kd], data: bytes });
  }
  return {
    describe: `matmul a [${a.shape}] with ${type} weights (k ${kd}, n ${n})${bias ? ' + bias' : ''}`,
    run: (rt) => {
      const qb = make(rt);
      try {
        return rt.matmul(a, qb, bias ? { bias } : {}).data;
      } finally {
        qb.dispose();
      }
    },
    reference: () => want,
    tolerance: 1e-5 * want.reduce((r, x) => Math.max(r, Math.abs(x)), 0),
  };
}

const FAMILIES = [attentionStep, matmulStep, slidingStep, quantizedStep];

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
