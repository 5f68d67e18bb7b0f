// head-layout.ts — the one model of where the heads of a [batch, heads, seq, dim]-like tensor are
// in Wasm memory: a HeadLayout (the byte address of element (0, 0, 0, 0) and three strides in
// elements), built for [batch, heads, seq, dim] (bhsd) or [batch, seq, heads, dim] (bshd, also
// ONNX's 3-D [batch, seq, heads·dim]). headAt / rowAt give byte addresses; every variant finds its
// heads through it.

import { AttentionError, f32At, formatValue } from '../runtime/index';

/** How q, k, v and the output are laid out: [batch, heads, seq, dim] or [batch, seq, heads, dim]. */
export type TensorLayout = 'bhsd' | 'bshd';

/** The `layout` option of a method that reads both layouts (default 'bhsd'). */
export function layoutOption(value: unknown): TensorLayout {
  if (value === undefined) return 'bhsd';
  if (value !== 'bhsd' && value !== 'bshd') throw new AttentionError('INVALID_OPTION', `options.layout must be 'bhsd' or 'bshd', got ${formatValue(value)}`);
  return value;
}

/** [batch, heads, seq, dim] of a 4-D shape written in `layout`. */
export function bhsdOf(shape: readonly number[], layout: TensorLayout): number[] {
  return layout === 'bhsd' ? [...shape] : [shape[0], shape[2], shape[1], shape[3]];
}

/** The shape [batch, heads, seq, dim] as written in `layout`. */
export function shapeIn(layout: TensorLayout, batch: number, heads: number, seq: number, dim: number): number[] {
  return layout === 'bhsd' ? [batch, heads, seq, dim] : [batch, seq, heads, dim];
}

/** A shape's description for error messages, e.g. `[batch, heads, nq, headDim]` or `[batch, nq, heads, headDim] (layout 'bshd')`. */
export function describeShape(layout: TensorLayout, seq: string, heads: string, dim: string): string {
  return layout === 'bshd' ? `[batch, ${seq}, ${heads}, ${dim}] (layout 'bshd')` : `[batch, ${heads}, ${seq}, ${dim}]`;
}

/** Where the (b, h) slice of a [B, H, S, D]-like tensor starts and how its rows are spaced. */
export interface HeadLayout {
  /** byte address of element (0, 0, 0, 0) */
  ptr: number;
  /** elements between consecutive batch entries */
  batchStride: number;
  /** elements between consecutive heads */
  headStride: number;
  /** elements between consecutive sequence positions */
  rowStride: number;
}

/** Strides of a tensor in `layout` viewed as [batch, heads, seq, dim]. */
export function layoutOf(layout: TensorLayout, ptr: number, heads: number, seq: number, dim: number): HeadLayout {
  return layout === 'bhsd' ? bhsdLayout(ptr, heads, seq, dim) : bshdLayout(ptr, heads, seq, dim);
}

/** Strides of a 4-D [batch, heads, seq, dim] tensor. */
export function bhsdLayout(ptr: number, heads: number, seq: number, dim: number): HeadLayout {
  return { ptr, batchStride: heads * seq * dim, headStride: seq * dim, rowStride: dim };
}

/** Strides of a [batch, seq, heads, dim] tensor (or 3-D [batch, seq, heads·dim]) viewed as [batch, heads, seq, dim]. */
export function bshdLayout(ptr: number, heads: number, seq: number, dim: number): HeadLayout {
  return { ptr, batchStride: seq * heads * dim, headStride: dim, rowStride: heads * dim };
}

/** The byte address of row 0 of head (b, h). */
export function headAt(layout: HeadLayout, b: number, h: number): number {
  return f32At(layout.ptr, b * layout.batchStride + h * layout.headStride);
}

/** The byte address of row r of head (b, h). */
export function rowAt(layout: HeadLayout, b: number, h: number, r: number): number {
  return f32At(layout.ptr, b * layout.batchStride + h * layout.headStride + r * layout.rowStride);
}

/** The byte address of head (b, h) of a dense [batch, heads, seq, dim] tensor at `ptr`. */
export function headPtr(ptr: number, b: number, h: number, heads: number, seq: number, dim: number): number {
  return headAt(bhsdLayout(ptr, heads, seq, dim), b, h);
}
