// variant.ts — scaffolding shared by the attention-variant test files: random tensors, one
// runtime per kernel binary (disposed after the file), typed-error assertions, and the property
// test against a float64 reference with its arena-leak check (checkProperty).

import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { AttentionError, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { arenaStats, mismatch, uniformF32 } from './numeric';

/** A [shape] float32 tensor of uniform values in [lo, hi) drawn from `next`. */
export function randomTensor(shape: number[], next: () => number, lo = -2, hi = 2): Tensor {
  return { data: uniformF32(shape.reduce((a, b) => a * b, 1), next, lo, hi), shape };
}

/**
 * Call at the top level of a test file: returns `runtime(isa)`, which makes one runtime per
 * binary on first use, all disposed when the file's tests end.
 */
export function useRuntimes(): (isa: 'simd128' | 'relaxed') => Runtime {
  const runtimes = new Map<string, Runtime>();
  afterAll(() => runtimes.forEach((rt) => rt.dispose()));
  return (isa) => {
    let rt = runtimes.get(isa);
    if (!rt) runtimes.set(isa, (rt = createRuntimeSync({ isa })));
    return rt;
  };
}

/** Asserts that `fn` throws an AttentionError with `code` whose message contains `fragment`. */
export function expectCode(fn: () => unknown, code: string, fragment: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AttentionError);
    expect((e as AttentionError).code, (e as Error).message).toBe(code);
    expect((e as Error).message).toContain(fragment);
    return;
  }
  throw new Error('expected an AttentionError');
}

/** One comparison of a variant's property test: a library output and its float64 reference. */
export interface PropertyOutcome {
  got: Tensor;
  want: ArrayLike<number>;
  /** what to print beside the case when they differ (default: the case) */
  label?: unknown;
  /** which output this is, when a call has several (e.g. 'level 1', 'centroids') */
  what?: string;
  /** tolerances of this output, when they differ from the test's */
  atol?: number;
  rtol?: number;
}

/**
 * The property test every variant file runs: `numRuns` cases drawn from `cases` (fast-check,
 * fixed `seed`); for each, `compute(c)` calls the library and the float64 reference, which must
 * agree within atol + rtol·|ref| everywhere; and the runtime's arena must hold as many blocks
 * after the call as after `warmUp()` (which reserves the kernels' kept workspaces) — a leak fails.
 */
export function checkProperty<C>(rt: Runtime, spec: {
  warmUp(): void;
  cases: fc.Arbitrary<C>;
  compute(c: C): PropertyOutcome | PropertyOutcome[];
  atol: number;
  rtol: number;
  numRuns: number;
  seed: number;
}): void {
  spec.warmUp();
  const before = arenaStats(rt).blocks;
  fc.assert(
    fc.property(spec.cases, (c) => {
      for (const { got, want, label, what, atol, rtol } of [spec.compute(c)].flat()) {
        const bad = mismatch(got.data, want, atol ?? spec.atol, rtol ?? spec.rtol, got.shape);
        if (bad) throw new Error(`${JSON.stringify(label ?? c)}: ${what ? `${what}: ` : ''}${bad}`);
      }
      expect(arenaStats(rt).blocks, 'arena blocks after the call').toBe(before);
    }),
    { numRuns: spec.numRuns, seed: spec.seed },
  );
}
