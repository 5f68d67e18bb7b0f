// variant.ts — scaffolding shared by the attention-variant test files: random tensors, one
// runtime per kernel binary (disposed after the file), and typed-error assertions.

import { afterAll, expect } from 'vitest';
import { AttentionError, createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { uniformF32 } from './numeric';

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
