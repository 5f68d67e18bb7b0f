// random.ts — the seeded-random family (assembly/random.ts): Gaussian numbers bit-identical in every
// engine (LSH rotations, Linformer projections), through the RANDOM_* parameter block (written in the
// instance's shared block).

import type { KernelAccess, Kernels } from './instance';
import { type Layout, ParamWriter, readLayout } from './params';

/** `n` normal numbers of standard deviation `scale` from `seed`, written as f32 at `out`. */
export interface RandnCall {
  seed: number;
  n: number;
  scale: number;
  out: number;
}

const FIELDS = ['SEED', 'N', 'SCALE', 'OUT'];

/** The random-number kernel of one instance. */
export class RandomKernels {
  private readonly layout: Layout;
  private readonly writer: ParamWriter;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'RANDOM', FIELDS);
    this.writer = new ParamWriter(access.arena);
  }

  /** Fills `call.out` with seeded normal numbers. */
  normal(call: RandnCall): void {
    const L = this.layout;
    const params = this.access.params;
    // the seed's 32 bits as an i32 field (the kernel reads them as u32)
    this.writer.at(params).int(L.SEED, call.seed | 0).int(L.N, call.n).float(L.SCALE, call.scale).int(L.OUT, call.out);
    this.access.exports.f32_randn(params);
  }
}

const make = (access: KernelAccess) => new RandomKernels(access);

/** The random-number kernel of `kernels`' instance (made on first use). */
export function randomKernels(kernels: Kernels): RandomKernels {
  return kernels.family(make);
}
