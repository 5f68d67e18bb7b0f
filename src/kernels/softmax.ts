// softmax.ts — the row-softmax family (assembly/softmax.ts).

import type { KernelAccess, Kernels } from './instance';

/** In-place softmax of `rows` rows of `cols` floats at `x`, row stride `stride` elements. */
export interface SoftmaxRowsCall {
  x: number;
  rows: number;
  cols: number;
  stride: number;
}

/** The softmax kernel of one instance. */
export class SoftmaxKernels {
  constructor(private readonly access: KernelAccess) {}

  /** Softmax of each row in place (a row of −∞ only becomes zeros). */
  rows(call: SoftmaxRowsCall): void {
    this.access.exports.f32_softmax_rows(call.x, call.rows, call.cols, call.stride);
  }
}

const make = (access: KernelAccess) => new SoftmaxKernels(access);

/** The softmax kernel of `kernels`' instance (made on first use). */
export function softmaxKernels(kernels: Kernels): SoftmaxKernels {
  return kernels.family(make);
}
