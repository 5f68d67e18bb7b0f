// random.ts — the seeded-random family (assembly/random.ts): Gaussian numbers bit-identical in every
// engine (LSH rotations, Linformer projections).

import type { KernelAccess, Kernels } from './instance';

/** `n` normal numbers of standard deviation `scale` from `seed`, written as f32 at `out`. */
export interface RandnCall {
  seed: number;
  n: number;
  scale: number;
  out: number;
}

/** The random-number kernel of one instance. */
export class RandomKernels {
  constructor(private readonly access: KernelAccess) {}

  /** Fills `call.out` with seeded normal numbers. */
  normal(call: RandnCall): void {
    this.access.exports.f32_randn(call.seed >>> 0, call.n, call.scale, call.out);
  }
}

const make = (access: KernelAccess) => new RandomKernels(access);

/** The random-number kernel of `kernels`' instance (made on first use). */
export function randomKernels(kernels: Kernels): RandomKernels {
  return kernels.family(make);
}
