// rope.ts — the rotary-position family (assembly/rope.ts): RoPE in place on strided
// (rows, heads, headDim) blocks through f32_rope's parameter block (ROPE_* offsets).

import type { KernelAccess, Kernels } from './instance';
import { type Layout, ParamWriter, readLayout } from './params';

/**
 * RoPE in place on (rows, heads, headDim) at `x`: element (r, h, c) at
 * x + 4·(r·rowStride + h·headStride + c); cos/sin tables (P, rotaryDim/2) with row stride
 * tableStride; positions: (rows) i32 table rows.
 */
export interface RopeCall {
  x: number;
  rows: number;
  rowStride: number;
  heads: number;
  headStride: number;
  rotaryDim: number;
  interleaved: boolean;
  cos: number;
  sin: number;
  tableStride: number;
  positions: number;
}

const FIELDS = ['X', 'ROWS', 'ROW_STRIDE', 'HEADS', 'HEAD_STRIDE', 'DIM', 'INTERLEAVED', 'COS', 'SIN', 'TABLE_STRIDE', 'POSITIONS'];

/** The RoPE kernel of one instance; see the file header. */
export class RopeKernels {
  private readonly layout: Layout;
  private readonly writer: ParamWriter;
  /** This family's parameter block. */
  private readonly params: number;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'ROPE', FIELDS);
    this.writer = new ParamWriter(access.arena);
    this.params = access.arena.alloc(this.layout.PARAMS_BYTES);
  }

  /** Rotates `call`'s rows in place. */
  apply(call: RopeCall): void {
    const L = this.layout;
    this.writer.at(this.params)
      .int(L.X, call.x).int(L.ROWS, call.rows).int(L.ROW_STRIDE, call.rowStride).int(L.HEADS, call.heads)
      .int(L.HEAD_STRIDE, call.headStride).int(L.DIM, call.rotaryDim).int(L.INTERLEAVED, call.interleaved ? 1 : 0)
      .int(L.COS, call.cos).int(L.SIN, call.sin).int(L.TABLE_STRIDE, call.tableStride).int(L.POSITIONS, call.positions);
    this.access.exports.f32_rope(this.params);
  }
}

const make = (access: KernelAccess) => new RopeKernels(access);

/** The RoPE kernel of `kernels`' instance (made on first use). */
export function ropeKernels(kernels: Kernels): RopeKernels {
  return kernels.family(make);
}
