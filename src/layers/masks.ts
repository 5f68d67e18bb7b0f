// masks.ts — the layer's masks in the additive form the fused kernel reads.
//
//   mask            this library's convention (as rt.attention / ONNX): Uint8Array 1 = attend, or
//                   an additive Float32Array; broadcast NumPy-style to [batch, heads, nq, nk].
//   keyPaddingMask  PyTorch's `key_padding_mask` convention, named explicitly: [batch, nk] with
//                   Uint8Array 1 (true) = IGNORE this key, or an additive Float32Array.
// Both together are summed into one block [batch, mh, mq, nk] (mh, mq ∈ {1, full}); −∞ wins.

import { type MaskData, type PlacedMask, placeMask } from '../attention/mask';
import { AttentionError, formatShape } from '../runtime/index';
import { type Scope, type TensorLike, viewTensor } from '../tensor';

export interface MaskInputs {
  mask?: TensorLike<MaskData>;
  keyPaddingMask?: TensorLike<MaskData>;
}

/** Validates the masks' types and shapes without touching Wasm memory (same rules as composeMask). */
export function checkMasks(inputs: MaskInputs, dims: { batch: number; heads: number; q: number; k: number }): void {
  if (inputs.mask !== undefined) {
    const view = viewTensor<MaskData>(inputs.mask, 'options.mask', [Float32Array, Uint8Array]);
    const rank = view.shape.length;
    const target = [dims.batch, dims.heads, dims.q, dims.k];
    const full = [1, 1, 1, 1];
    for (let i = 0; i < rank; i++) full[4 - rank + i] = view.shape[i];
    const ok = rank >= 1 && rank <= 4 && full.every((d, a) => d === 1 || d === target[a]);
    if (!ok) {
      throw new AttentionError('SHAPE_MISMATCH', `options.mask of shape ${formatShape(view.shape)} does not broadcast to [batch, heads, q, keys] = ${formatShape(target)}`);
    }
  }
  if (inputs.keyPaddingMask !== undefined) {
    const kpm = viewTensor<MaskData>(inputs.keyPaddingMask, 'options.keyPaddingMask', [Uint8Array, Float32Array]);
    if (kpm.shape.length !== 2 || kpm.shape[0] !== dims.batch || kpm.shape[1] !== dims.k) {
      throw new AttentionError('SHAPE_MISMATCH', `options.keyPaddingMask must be [batch = ${dims.batch}, keys = ${dims.k}] (true = ignore the key), got ${formatShape(kpm.shape)}`);
    }
  }
}

export function composeMask(
  scope: Scope,
  inputs: MaskInputs,
  dims: { batch: number; heads: number; q: number; k: number },
): PlacedMask | undefined {
  const base = inputs.mask === undefined ? undefined : placeMask(scope, inputs.mask, 'options.mask', dims, 'exact');
  if (inputs.keyPaddingMask === undefined) return base;
  const kpm = viewTensor<MaskData>(inputs.keyPaddingMask, 'options.keyPaddingMask', [Uint8Array, Float32Array]);
  if (kpm.shape.length !== 2 || kpm.shape[0] !== dims.batch || kpm.shape[1] !== dims.k) {
    throw new AttentionError('SHAPE_MISMATCH', `options.keyPaddingMask must be [batch = ${dims.batch}, keys = ${dims.k}] (true = ignore the key), got ${formatShape(kpm.shape)}`);
  }
  const src = kpm.data ?? (inputs.keyPaddingMask as { data: Float32Array }).data;
  const isBool = src instanceof Uint8Array;
  const pad = (b: number, j: number): number => {
    const raw = src[b * dims.k + j];
    return isBool ? (raw ? -Infinity : 0) : raw;
  };
  const nk = dims.k;
  const mh = base && base.headStride !== 0 ? dims.heads : 1;
  const mq = base && base.rowStride !== 0 ? dims.q : 1;
  const rows = dims.batch * mh * mq;
  const ptr = scope.alloc(Math.max(1, rows * nk), 'options.keyPaddingMask');
  const out = scope.arenaF32(ptr, rows * nk);
  const m = base ? scope.arenaF32(base.ptr, 0) : undefined;
  const mView = base ? new Float32Array(m!.buffer) : undefined;
  for (let b = 0; b < dims.batch; b++) {
    for (let h = 0; h < mh; h++) {
      for (let i = 0; i < mq; i++) {
        const o = ((b * mh + h) * mq + i) * nk;
        const mo = base ? base.ptr / 4 + b * base.batchStride + h * base.headStride + i * base.rowStride : 0;
        for (let j = 0; j < nk; j++) {
          const p = pad(b, j);
          const add = mView ? mView[mo + j] : 0;
          out[o + j] = p === -Infinity || add === -Infinity ? -Infinity : p + add;
        }
      }
    }
  }
  return { ptr, batchStride: mh * mq * nk, headStride: mh === 1 ? 0 : mq * nk, rowStride: mq === 1 ? 0 : nk };
}
