// masks.ts — the layer's masks in the additive form the fused kernel reads.
//
//   mask            this library's convention (as rt.attention / ONNX): Uint8Array 1 = attend, or
//                   an additive Float32Array; broadcast NumPy-style to [batch, heads, nq, nk].
//   keyPaddingMask  PyTorch's `key_padding_mask` convention, named explicitly: [batch, nk] with
//                   Uint8Array 1 (true) = IGNORE this key, or an additive Float32Array.
// Both together are summed into one block [batch, mh, mq, nk] (mh, mq ∈ {1, full}); −∞ wins.

import { type CheckedMask, checkMask, type MaskData, type PlacedMask, placeMask } from '../attention/mask';
import { type Arena, AttentionError, formatShape } from '../runtime/index';
import { type Scope, type TensorLike, type TensorView, viewData, viewTensor } from '../tensor';

export interface MaskInputs {
  mask?: TensorLike<MaskData>;
  keyPaddingMask?: TensorLike<MaskData>;
}

/** The layer's masks, read once and validated by checkMasks, ready for composeMask. */
export interface CheckedMasks {
  /** options.mask, when given */
  mask?: CheckedMask;
  /** options.keyPaddingMask, when given: [batch, keys] */
  keyPaddingMask?: TensorView<MaskData>;
  /** the call's [batch, heads, q, k] */
  dims: { batch: number; heads: number; q: number; k: number };
}

/** Reads the masks once and validates their types and shapes without touching Wasm memory. */
export function checkMasks(inputs: MaskInputs, dims: { batch: number; heads: number; q: number; k: number }, arena: Arena): CheckedMasks {
  const mask = inputs.mask === undefined ? undefined : checkMask(inputs.mask, 'options.mask', dims, 'exact', arena);
  // Every field own and present: an absent one would be read through a polluted Object.prototype.
  if (inputs.keyPaddingMask === undefined) return { mask, keyPaddingMask: undefined, dims };
  const kpm = viewTensor<MaskData>(inputs.keyPaddingMask, 'options.keyPaddingMask', [Uint8Array, Float32Array], arena);
  if (kpm.shape.length !== 2 || kpm.shape[0] !== dims.batch || kpm.shape[1] !== dims.k) {
    throw new AttentionError('SHAPE_MISMATCH', `options.keyPaddingMask must be [batch = ${dims.batch}, keys = ${dims.k}] (true = ignore the key), got ${formatShape(kpm.shape)}`);
  }
  return { mask, keyPaddingMask: kpm, dims };
}

/** Places the masks checked by checkMasks as one additive block (undefined when there is none). */
export function composeMask(scope: Scope, masks: CheckedMasks): PlacedMask | undefined {
  const { dims } = masks;
  const base = masks.mask === undefined ? undefined : placeMask(scope, masks.mask);
  if (masks.keyPaddingMask === undefined) return base;
  const kpm = masks.keyPaddingMask;
  const nk = dims.k;
  const mh = base && base.headStride !== 0 ? dims.heads : 1;
  const mq = base && base.rowStride !== 0 ? dims.q : 1;
  const rows = dims.batch * mh * mq;
  const ptr = scope.alloc(Math.max(1, rows * nk), 'options.keyPaddingMask');
  const out = scope.arenaF32(ptr, rows * nk);
  const src = viewData(kpm);
  const isBool = src instanceof Uint8Array;
  const pad = (b: number, j: number): number => {
    const raw = src[b * dims.k + j];
    return isBool ? (raw ? -Infinity : 0) : raw;
  };
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
