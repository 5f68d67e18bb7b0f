// quantized-matmul.ts — rt.matmul(a, qb) with a QuantizedMatrix: C = A·B (+ bias), A float32
// [M, K] or [batch, M, K] (every batch entry shares B), B read in place in its format:
//   int8          qd8_f32_qc8w_gemm (activations quantized per row on the fly, int32 sums)
//   q8_0 / q4_0   qd8_f32_q8_0_gemm / qd8_f32_q4_0_gemm (activations in blocks of 32)
//   matmulnbits   qd8_f32_qb4w_gemm
//   f16           f32_f16w_gemm (converted to f32 on the fly; f32 arithmetic)
// The kernels pick their decode path themselves (one row at a time below 4 rows). Rows go to the
// kernel in chunks so the activations' workspace stays bounded; with a worker pool each chunk's
// product is split over output columns (src/kernels/quantized.ts).

import type { Kernels } from '../kernels/instance';
import { type QuantizedProductCall, quantizedKernels } from '../kernels/quantized';
import { AttentionError, f32At, formatShape } from '../runtime/index';
import {
  checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, viewOut, viewTensor, type WasmTensor, writeOut,
} from '../tensor';
import { assertLive, optionKeys, readOptions } from '../attention/options';
import type { QuantizedMatrix } from './quantized-matrix';

/** Options of `rt.matmul` with a QuantizedMatrix. */
export interface QuantizedMatmulOptions {
  /** Added to every row of the result, shape [N]. */
  bias?: TensorLike;
  /** Write the result here (a WasmTensor, zero-copy, or a Tensor of the result shape); see MatmulOptions.out. */
  out?: WasmTensor | Tensor;
}

const KEYS = optionKeys<QuantizedMatmulOptions>({ bias: true, out: true });
const F32 = [Float32Array] as const;

/** Rows handed to one kernel call (bounds the quantized-activation workspace). */
const ROWS_PER_CALL = 1024;

export function quantizedMatmul(kernels: Kernels, aIn: TensorLike, qb: QuantizedMatrix, optionsIn: unknown = {}): Tensor {
  const arena = kernels.arena;
  if (optionsIn !== undefined && optionsIn !== null && typeof optionsIn === 'object' && Object.hasOwn(optionsIn, 'transposeB')) {
    throw new AttentionError('INVALID_OPTION', 'options.transposeB does not apply to a QuantizedMatrix (its layout was fixed when it was made)');
  }
  const options = readOptions<QuantizedMatmulOptions>(optionsIn, KEYS, 'options', 'rt.matmul');
  qb.assertUsable('b', kernels);
  const a = viewTensor(aIn, 'a', F32, arena);
  if (a.shape.length !== 2 && a.shape.length !== 3) {
    throw new AttentionError('SHAPE_MISMATCH', `a must be [M, K] or [batch, M, K], got ${formatShape(a.shape)}`);
  }
  const { k, n } = qb;
  const [m, ak] = a.shape.slice(-2);
  if (ak !== k) {
    throw new AttentionError('SHAPE_MISMATCH', `a ${formatShape(a.shape)} must have K = ${k} columns to multiply b (a ${qb.type} matrix [${k}, ${n}])`);
  }
  const rows = (a.shape.length === 3 ? a.shape[0] : 1) * m;
  const outShape = [...a.shape.slice(0, -1), n];
  checkElementCount(rows * n, 'result');
  const bias = options.bias === undefined ? undefined : viewTensor(options.bias, 'options.bias', F32, arena);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== n)) {
    throw new AttentionError('SHAPE_MISMATCH', `options.bias must be [${n}], got ${formatShape(bias.shape)}`);
  }
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena, 'the result shape');
  if (rows === 0) return out?.result ?? { data: new Float32Array(0), shape: outShape };
  const scope = new Scope(arena);
  try {
    // The caller's code (getters) has run: the runtime and every resident input must still be alive.
    assertLive(kernels, { a: aIn, 'options.bias': options.bias, 'options.out': options.out });
    qb.assertUsable('b', kernels);
    const ap = scope.place(a);
    const biasPtr = bias ? scope.place(bias) : 0;
    const cp = outputBlock(scope, out, rows * n, 'result', [a, bias]);
    quantizedProduct(kernels, qb, { a: ap, lda: k, w: qb.parts.w, c: cp, ldc: n, bias: biasPtr, m: rows, n, k });
    return writeOut(arena, out, cp, outShape);
  } finally {
    scope.close();
  }
}

/**
 * C = A·B (+ bias) for A at call.a (call.m rows, stride call.lda) and a live QuantizedMatrix of
 * this runtime, in row chunks (the multi-head layer's low-precision projections use it too).
 */
export function quantizedProduct(kernels: Kernels, qb: QuantizedMatrix, call: QuantizedProductCall): void {
  for (let r0 = 0; r0 < call.m; r0 += ROWS_PER_CALL) {
    product(kernels, qb, {
      ...call, a: f32At(call.a, r0 * call.lda), c: f32At(call.c, r0 * call.ldc), m: Math.min(ROWS_PER_CALL, call.m - r0),
    });
  }
}

function product(kernels: Kernels, qb: QuantizedMatrix, call: QuantizedProductCall): void {
  const q = quantizedKernels(kernels);
  switch (qb.type) {
    case 'int8': return q.int8Product(call);
    case 'q8_0': return q.blockProduct('q8_0', call);
    case 'q4_0': return q.blockProduct('q4_0', call);
    case 'matmulnbits': return q.blockProduct('qb4w', call, { scales: qb.parts.scales, zeroPoints: qb.parts.zeroPoints });
    case 'f16': return q.f16Product(call, qb.transB ? qb.k : qb.n, qb.transB);
  }
}
