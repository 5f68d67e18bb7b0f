// mask.ts — turns a caller's mask (boolean: true = attend, or additive float) of rank 1–4 into
// the additive float32 form the fused kernel reads, placed in Wasm memory once per call.
//
// Broadcasting follows NumPy: dimensions align from the right against (batch, heads, q, k);
// a leading dimension of 1 (or a missing one) is shared. The stored block has shape
// (mb, mh, mq, nk) with mb ∈ {1, batch}, mh ∈ {1, heads}, mq ∈ {1, q}; a shared dimension gets
// stride 0, so nothing is expanded except the key axis.
//   keyAxis 'exact'  — the last dimension must be nk (or 1, broadcast over keys).
//   keyAxis 'pad'    — ONNX: a last dimension shorter than nk is padded with "masked out"
//                      (false / −∞), as the ONNX reference pads attn_mask.

import { type Arena, AttentionError, formatShape } from '../runtime/index';
import { checkElementCount, type Scope, type TensorView, viewData, viewTensor } from '../tensor';

/** Where a normalized mask lives and how to step through it. */
export interface PlacedMask {
  ptr: number;
  /** element strides for batch and head (0 = shared) and between query rows (0 = one row) */
  batchStride: number;
  headStride: number;
  rowStride: number;
}

/** Accepted mask element types: boolean (1 = attend) or additive float. */
export type MaskData = Uint8Array | Float32Array;

/** A caller's mask, read once and validated by checkMask, ready for placeMask. */
export interface CheckedMask {
  /** the mask read once */
  view: TensorView<MaskData>;
  /** its shape right-aligned to [mb, mh, mq, mk] */
  layout: number[];
  /** the argument's name in messages */
  name: string;
  /** the call's [batch, heads, q, k] */
  dims: { batch: number; heads: number; q: number; k: number };
  /** how the key axis may differ from k (see the file header) */
  keyAxis: 'exact' | 'pad';
}

/**
 * Reads a mask once and validates it (element type, rank, broadcast, key axis, size, runtime of a
 * WasmTensor) without touching Wasm memory, so callers can reject a bad mask before they reserve
 * anything; placeMask then places what was read here.
 */
export function checkMask(
  mask: unknown,
  name: string,
  dims: { batch: number; heads: number; q: number; k: number },
  keyAxis: 'exact' | 'pad',
  arena: Arena,
): CheckedMask {
  const view = viewTensor<MaskData>(mask, name, [Float32Array, Uint8Array], arena);
  return { view, layout: maskLayout(view, name, dims, keyAxis), name, dims, keyAxis };
}

/** The mask's shape right-aligned to [mb, mh, mq, mk], validated (see checkMask). */
function maskLayout(
  view: TensorView<MaskData>,
  name: string,
  dims: { batch: number; heads: number; q: number; k: number },
  keyAxis: 'exact' | 'pad',
): number[] {
  const rank = view.shape.length;
  if (rank < 1 || rank > 4) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must have rank 1 to 4 (broadcast to [batch, heads, q, k] = ${formatShape([dims.batch, dims.heads, dims.q, dims.k])}), got ${formatShape(view.shape)}`);
  }
  const full = [1, 1, 1, 1];
  for (let i = 0; i < rank; i++) full[4 - rank + i] = view.shape[i];
  const [mb, mh, mq, mk] = full;
  const target = [dims.batch, dims.heads, dims.q, dims.k];
  for (let axis = 0; axis < 3; axis++) {
    if (full[axis] !== 1 && full[axis] !== target[axis]) {
      throw new AttentionError('SHAPE_MISMATCH', `${name} of shape ${formatShape(view.shape)} does not broadcast to [batch, heads, q, k] = ${formatShape(target)}`);
    }
  }
  const keyOk = keyAxis === 'pad' ? mk >= 1 && mk <= dims.k : mk === dims.k || mk === 1;
  if (!keyOk) {
    const want = keyAxis === 'pad' ? `between 1 and ${dims.k}` : `${dims.k} or 1`;
    throw new AttentionError('SHAPE_MISMATCH', `${name} of shape ${formatShape(view.shape)}: last dimension must be ${want} (keys), got ${mk}`);
  }
  checkElementCount(mb * mh * mq * dims.k, name);
  return full;
}

/** Writes a mask checked by checkMask into a block of `scope` in the kernel's additive form. */
export function placeMask(scope: Scope, mask: CheckedMask): PlacedMask {
  const { view, dims, keyAxis } = mask;
  const [mb, mh, mq, mk] = mask.layout;
  const rows = mb * mh * mq;
  const nk = dims.k;
  const ptr = scope.alloc(rows * nk, mask.name);
  const out = scope.arenaF32(ptr, rows * nk);
  const src = viewData(view);
  const isBool = src instanceof Uint8Array;
  const broadcastKeys = keyAxis === 'exact' && mk === 1 && nk !== 1;
  for (let r = 0; r < rows; r++) {
    const o = r * nk;
    for (let j = 0; j < nk; j++) {
      let value: number;
      if (j >= mk && !broadcastKeys) value = -Infinity;
      else {
        const raw = src[r * mk + (broadcastKeys ? 0 : j)];
        value = isBool ? (raw ? 0 : -Infinity) : raw;
      }
      out[o + j] = value;
    }
  }
  return {
    ptr,
    batchStride: mb === 1 ? 0 : mh * mq * nk,
    headStride: mh === 1 ? 0 : mq * nk,
    rowStride: mq === 1 ? 0 : nk,
  };
}
