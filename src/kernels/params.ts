// params.ts — kernel parameter blocks, the one calling convention of every kernel family here.
// Every Wasm kernel that TypeScript calls and that reads or writes memory takes one argument, the
// address of its parameter block in Wasm memory; the module exports each field's byte offset as a
// constant (<PREFIX>_<FIELD>, e.g. ATTN_NQ, MERGE_LSE_ACC, KV_CONVERT_MEAN), so the two sides
// cannot drift. Three kinds of export keep plain arguments: the pure size queries
// (*_workspace_bytes, *_packed_b_bytes: they read no memory, take 2–3 sizes and return a byte
// count), pool_task_load (the worker pool's own copy of a task's parameter block into the
// worker's, which cannot itself take one) and f32_exp (called only by the specs). readLayout reads
// the offsets once per instance; ParamWriter writes fields by byte offset (no shifts at call
// sites). kernelBytes checks a size a kernel computed.

import { type Arena, AttentionError, exportedConstant, type KernelExports, wordIndex, wordsIn } from '../runtime/index';

/** Byte offsets of a parameter block's fields, and its size (PARAMS_BYTES). */
export interface Layout {
  readonly [field: string]: number;
}

/** The layout of the block with constants `<prefix>_<field>` (each field, and PARAMS_BYTES). */
export function readLayout(exports: KernelExports, prefix: string, fields: readonly string[]): Layout {
  const layout: Record<string, number> = {};
  for (const f of [...fields, 'PARAMS_BYTES']) layout[f] = exportedConstant(exports, `${prefix}_${f}`);
  return layout;
}

/** Writes one parameter block's 32-bit fields by their byte offsets; `at(block)` before each block. */
export class ParamWriter {
  private i32: Int32Array = new Int32Array(0);
  private f32: Float32Array = new Float32Array(0);
  private base = 0;

  constructor(private readonly arena: Arena) {}

  /** Starts writing the block at byte address `block` (the views are refreshed if memory grew). */
  at(block: number): this {
    const views = this.arena.wordViews();
    this.i32 = views.i32;
    this.f32 = views.f32;
    this.base = wordIndex(block);
    return this;
  }

  /** Zeroes `bytes` bytes of the block (fields a call leaves out read as 0). */
  clear(bytes: number): this {
    this.i32.fill(0, this.base, this.base + wordsIn(bytes));
    return this;
  }

  /** An i32 field (addresses, sizes, strides, flags) at byte offset `offset`. */
  int(offset: number, value: number): this {
    this.i32[this.base + wordsIn(offset)] = value;
    return this;
  }

  /** An f32 field at byte offset `offset`. */
  float(offset: number, value: number): this {
    this.f32[this.base + wordsIn(offset)] = value;
    return this;
  }

  /** Every i32 field of `fields` (layout field name → value). */
  ints(layout: Layout, fields: Readonly<Record<string, number>>): this {
    for (const name of Object.keys(fields)) this.int(layout[name], fields[name]); // own keys only: a polluted prototype adds none
    return this;
  }
}

/**
 * A byte count computed by a kernel export. The kernels compute sizes in 32-bit `usize`, which
 * JavaScript receives as a signed i32: 2 GiB and more came back negative (and 4 GiB and more
 * wrapped), so a huge workspace looked already reserved and the kernel wrote past it (a Wasm trap
 * or corrupted memory). `bound` is a float64 upper bound of the same formula: below 4 GiB the
 * kernel's value is exact when read unsigned; otherwise the request cannot fit → OUT_OF_MEMORY.
 */
export function kernelBytes(wasmBytes: number, bound: number, what: string): number {
  if (!(bound < 2 ** 32)) {
    throw new AttentionError('OUT_OF_MEMORY', `${what} needs about ${bound} bytes, more than a 4 GiB Wasm memory holds`);
  }
  return wasmBytes >>> 0;
}
