// softmax.ts — rt.softmax: softmax over the last axis (−∞ → 0; an all −∞ row → zeros).

import type { Kernels } from '../kernels/instance';
import { softmaxKernels } from '../kernels/softmax';
import { AttentionError, formatShape } from '../runtime/index';
import { Scope, type Tensor, type TensorLike, viewData, viewTensor } from '../tensor';
import { assertLive } from '../attention/options';

export function softmax(kernels: Kernels, xIn: TensorLike): Tensor {
  const x = viewTensor(xIn, 'x', [Float32Array], kernels.arena);
  if (x.shape.length < 1) throw new AttentionError('SHAPE_MISMATCH', `x must have rank ≥ 1, got ${formatShape(x.shape)}`);
  const cols = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((p, d) => p * d, 1);
  const rows = cols === 0 ? 0 : size / cols;
  assertLive(kernels, { x: xIn });
  if (size === 0) return { data: new Float32Array(0), shape: x.shape };
  const scope = new Scope(kernels.arena);
  try {
    const ptr = scope.alloc(size, 'x');
    kernels.arena.f32(ptr, size).set(viewData(x));
    softmaxKernels(kernels).rows({ x: ptr, rows, cols, stride: cols });
    return { data: kernels.arena.f32(ptr, size).slice(), shape: x.shape };
  } finally {
    scope.close();
  }
}
