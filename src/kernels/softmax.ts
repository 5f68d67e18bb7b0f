// softmax.ts — the row-softmax family (assembly/softmax.ts), through the SOFTMAX_* parameter block
// (written in the instance's shared block).

import type { KernelAccess, Kernels } from './instance';
import { type Layout, ParamWriter, readLayout } from './params';

/** In-place softmax of `rows` rows of `cols` floats at `x`, row stride `stride` elements. */
export interface SoftmaxRowsCall {
  x: number;
  rows: number;
  cols: number;
  stride: number;
}

const FIELDS = ['X', 'ROWS', 'COLS', 'STRIDE'];

/** The softmax kernel of one instance. */
export class SoftmaxKernels {
  private readonly layout: Layout;
  private readonly writer: ParamWriter;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'SOFTMAX', FIELDS);
    this.writer = new ParamWriter(access.arena);
  }

  /** Softmax of each row in place (a row of −∞ only becomes zeros). */
  rows(call: SoftmaxRowsCall): void {
    const L = this.layout;
    const params = this.access.params;
    this.writer.at(params).int(L.X, call.x).int(L.ROWS, call.rows).int(L.COLS, call.cols).int(L.STRIDE, call.stride);
    this.access.exports.f32_softmax_rows(params);
  }
}

const make = (access: KernelAccess) => new SoftmaxKernels(access);

/** The softmax kernel of `kernels`' instance (made on first use). */
export function softmaxKernels(kernels: Kernels): SoftmaxKernels {
  return kernels.family(make);
}
