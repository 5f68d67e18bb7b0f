// long-common.ts — what the long-sequence variants (sliding-window.ts, global-local.ts,
// segmented.ts, lsh.ts, linformer.ts) share: q/k/v validation, output placement, per-head
// pointers, a seeded integer PRNG and the liveness check before the run. (Their option checks are
// options.ts's, as every method's.)

import type { AttnCall } from '../kernels/attention';
import type { Kernels } from '../kernels/instance';
import { AttentionError, formatShape } from '../runtime/index';
import {
  checkElementCount, type OutTarget, outputBlock, Scope, type Tensor, type TensorData, type TensorLike, type TensorView,
  viewOut, viewTensor, type WasmTensor, writeOut,
} from '../tensor';
import { bhsdOf, describeShape, type HeadLayout, layoutOf, layoutOption, shapeIn, type TensorLayout } from './head-layout';
import { assertLive, finiteOption } from './options';

const F32 = [Float32Array] as const;

/** Sizes of a validated [batch, heads, seq, dim] attention call. */
export interface Dims {
  batch: number;
  qHeads: number;
  kvHeads: number;
  nq: number;
  nk: number;
  dh: number;
  dv: number;
}

/** How a variant's q, k, v and output are laid out (head-layout.ts). */
export type Layout = TensorLayout;

/** Validated views of q, k (absent for shared-QK LSH), v and the output destination. */
export interface Prepared {
  dims: Dims;
  /** the layout of q, k, v and the output */
  layout: Layout;
  q: TensorView<Float32Array>;
  k: TensorView<Float32Array> | undefined;
  v: TensorView<Float32Array>;
  scale: number;
  /** the caller's `out`, read once */
  out: OutTarget | undefined;
}

/** Where head (b, h) of q, k, v or the output of a prepared call is: its layout's strides at `ptr`. */
export function headLayoutOf(p: Prepared, ptr: number, heads: number, seq: number, dim: number): HeadLayout {
  return layoutOf(p.layout, ptr, heads, seq, dim);
}

function expectRank4(view: TensorView, name: string, what: string): void {
  if (view.shape.length !== 4) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must be 4-D ${what}, got ${formatShape(view.shape)}`);
  }
}

/**
 * Validates q [B, H, nq, dh], k [B, Hkv, nk, dh] (or none), v [B, Hkv, nk, dv] and the common
 * options `scale` and `out`, as rt.attention does. k may be absent only when `kOptional` (shared-QK
 * LSH); then v fixes Hkv and nk.
 */
export function prepare(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike | null | undefined,
  vIn: TensorLike,
  options: { scale?: number; out?: WasmTensor | Tensor; layout?: Layout },
  who: string,
  kOptional = false,
): Prepared {
  // Own property only: variants without a layout option have no such key (a polluted prototype's is not read).
  const layout = layoutOption(Object.hasOwn(options, 'layout') ? options.layout : undefined);
  const bshd = layout === 'bshd';
  const dims4 = (seq: string, heads: string, dim: string) => describeShape(layout, seq, heads, dim);
  const arena = kernels.arena;
  if (!kOptional && (kIn === null || kIn === undefined)) {
    throw new AttentionError('INVALID_ARGUMENT', `${who}: k must be a tensor { data, shape }, got ${String(kIn)}`);
  }
  const q = viewTensor(qIn, 'q', F32, arena);
  const k = kIn === null || kIn === undefined ? undefined : viewTensor(kIn, 'k', F32, arena);
  const v = viewTensor(vIn, 'v', F32, arena);
  expectRank4(q, 'q', dims4('nq', 'heads', 'headDim'));
  if (k) expectRank4(k, 'k', dims4('nk', 'kvHeads', 'headDim'));
  expectRank4(v, 'v', dims4('nk', 'kvHeads', 'valueDim'));
  const [batch, qHeads, nq, dh] = bhsdOf(q.shape, layout);
  const [vb, kvHeads, nk, dv] = bhsdOf(v.shape, layout);
  // Every shape error names all the shapes and the layout they were read in.
  const shapes = `q ${formatShape(q.shape)}, ${k ? `k ${formatShape(k.shape)}, ` : ''}v ${formatShape(v.shape)}: expected ` +
    (bshd ? dims4('seq', 'heads', 'headDim') : "[batch, heads, seq, headDim] (or pass layout: 'bshd')");
  if (vb !== batch || (k && k.shape[0] !== batch)) {
    throw new AttentionError('SHAPE_MISMATCH', `${who}: q, k and v must share the batch size: ${shapes}`);
  }
  if (k) {
    const [, kHeads, kLen, kdh] = bhsdOf(k.shape, layout);
    if (kdh !== dh) throw new AttentionError('SHAPE_MISMATCH', `${who}: k's head size must equal q's (${dh}): ${shapes}`);
    if (kHeads !== kvHeads || kLen !== nk) {
      const want = bshd ? `[${batch}, ${kLen}, ${kHeads}, valueDim]` : `[${batch}, ${kHeads}, ${kLen}, valueDim]`;
      throw new AttentionError('SHAPE_MISMATCH', `${who}: v must have k's heads and length ${want}, got ${formatShape(v.shape)}; ${shapes}`);
    }
  }
  if (kvHeads === 0 || qHeads % kvHeads !== 0) {
    throw new AttentionError('SHAPE_MISMATCH', `${who}: k/v heads (${kvHeads}) must divide q heads (${qHeads}) for grouped-query attention; ${shapes}`);
  }
  const scale = finiteOption(options.scale, 'options.scale', dh > 0 ? 1 / Math.sqrt(dh) : 1);
  const outShape = shapeIn(layout, batch, qHeads, nq, dv);
  checkElementCount(batch * qHeads * nq * dv, 'output');
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena);
  return { dims: { batch, qHeads, kvHeads, nq, nk, dh, dv }, layout, q, k, v, scale, out };
}

export { headPtr } from './head-layout';

/**
 * The output block of a prepared call: a resident `out` unless it shares memory with q, k, v or
 * one of `others` (the variant's other tensors read in place), else a fresh scope block.
 */
export function outputPtr(p: Prepared, scope: Scope, others: ReadonlyArray<TensorView<TensorData> | undefined> = []): number {
  const { batch, qHeads, nq, dv } = p.dims;
  return outputBlock(scope, p.out, batch * qHeads * nq * dv, 'output', [p.q, p.k, p.v, ...others]);
}

/**
 * True when a prepared call's output is empty (no batch entry, head, query or value column):
 * nothing is computed then, whatever the other dimensions claim.
 */
export function outputIsEmpty(p: Prepared): boolean {
  const { batch, qHeads, nq, dv } = p.dims;
  return batch * qHeads * nq * dv === 0;
}

/** The result of a call whose output is empty: the caller's `out`, or a zero-length tensor. Allocates nothing. */
export function emptyOutput(p: Prepared): Tensor {
  const { batch, qHeads, nq, dv } = p.dims;
  return p.out?.result ?? { data: new Float32Array(0), shape: shapeIn(p.layout, batch, qHeads, nq, dv) };
}

/** Copies the output into `out` (unless written there) and returns it, or a fresh Tensor, as rt.attention does. */
export function finishOutput(kernels: Kernels, p: Prepared, op: number): Tensor {
  const { batch, qHeads, nq, dv } = p.dims;
  return writeOut(kernels.arena, p.out, op, shapeIn(p.layout, batch, qHeads, nq, dv));
}

/** An attention call over whole rows with no range, mask or bias; the caller fills the rest. */
export function plainCall(fields: {
  q: number; qStride: number; k: number; kStride: number; v: number; vStride: number; o: number; oStride: number;
  nq: number; nk: number; dh: number; dv: number; scale: number; lse?: number;
}): AttnCall {
  return {
    ...fields,
    softcap: 0, mask: 0, maskStride: 0, offset: 0, left: -1, right: -1, keyLen: fields.nk,
    rel: 0, relStride: 0, relMax: 0, lse: fields.lse ?? 0,
  };
}

/** Fills `n` floats at `ptr` with `value`. */
export function fillF32(kernels: Kernels, ptr: number, n: number, value: number): void {
  if (n > 0) kernels.arena.f32(ptr, n).fill(value);
}

/** Zeros rows [r0, r1) of a (rows, dv) block with row stride `stride` (and their lse, when given). */
export function zeroRows(kernels: Kernels, o: number, stride: number, r0: number, r1: number, dv: number, lse = 0): void {
  if (r1 <= r0) return;
  const view = kernels.arena.f32(o, r1 * stride);
  for (let r = r0; r < r1; r++) view.fill(0, r * stride, r * stride + dv);
  if (lse) kernels.arena.f32(lse, r1).fill(-Infinity, r0, r1);
}

/**
 * A 32-bit hash of (seed, a, b): the seed of a derived stream (per head, per purpose). Integer
 * arithmetic only (Math.imul), so every JavaScript engine agrees.
 */
export function mixSeed(seed: number, a: number, b = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of [a, b]) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** mulberry32: a deterministic u32 stream (integer arithmetic only). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Throws DISPOSED when the runtime, q, k, v, `out` (the caller's options.out) or one of `more`
 * (argument name → the caller's value) was disposed by the caller's code during the call: run
 * after the last option is read, before anything is written.
 */
export function assertPreparedLive(kernels: Kernels, p: Prepared, out: unknown, more: Record<string, unknown> = {}): void {
  assertLive(kernels, { q: p.q.resident, k: p.k?.resident, v: p.v.resident, 'options.out': out, ...more });
}

/** The per-batch key lengths (default nk) from an optional `keyLengths` option; booleans. */

/** An allocation scope for one call (re-exported for the variant files). */
export { Scope };
