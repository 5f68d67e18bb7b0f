// matmul.ts — rt.matmul: C = A·B or A·Bᵀ (+ bias) on the packed GEMM kernel.
// A is [M, K] or batched [batch, M, K]; B is [K, N] ([N, K] with transposeB), or batched with the
// same batch, or 2-D and shared by every batch entry, or a PackedMatrix (packed once). bias is [N].

import type { GemmCall } from '../kernels/gemm';
import { CHUNKS_PER_THREAD, type Kernels, TILE_ROWS } from '../kernels/instance';
import { gemmKernels } from '../kernels/gemm';
import { AttentionError, f32At, formatShape } from '../runtime/index';
import {
  checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, type TensorView, viewOut, viewTensor, type WasmTensor,
  writeOut,
} from '../tensor';
import { PackedMatrix } from './packed';
import { assertLive, booleanOption, optionKeys, readOptions } from '../attention/options';

/** Options of `rt.matmul`. */
export interface MatmulOptions {
  /** Multiply by Bᵀ: B is [N, K] (a PyTorch nn.Linear weight). Default false. */
  transposeB?: boolean;
  /** Added to every row of the result, shape [N]. */
  bias?: TensorLike;
  /**
   * Write the result here: a WasmTensor (zero-copy) or a Tensor of the result shape, read once. It
   * may be (or overlap) a, b or bias (`rt.matmul(t, t, { out: t })`): the result is then computed
   * into a temporary block and copied into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

const F32 = [Float32Array] as const;
const MATMUL_KEYS = optionKeys<MatmulOptions>({ transposeB: true, bias: true, out: true });

/** Products handed to the kernels at a time (bounds the call objects of a huge batch). */
const CALLS_PER_BATCH = 1024;

/**
 * Width of the column slices a decode-sized product (m < 4 rows: the kernel's matrix-vector path,
 * B read in place) is split into for the worker pool: about four per thread, a multiple of 32
 * columns, so every output column is computed as in one call (the kernel groups columns by 32, then
 * by fours from its first one) and the result does not depend on the thread count. n when the product is
 * not split (one thread, m ≥ 4, under 2 M multiply-adds).
 */
export function decodeColumnSlice(threads: number, m: number, n: number, k: number): number {
  if (threads < 2 || m >= TILE_ROWS || m * n * k < 1 << 21) return n;
  return Math.min(n, Math.ceil(n / (CHUNKS_PER_THREAD * threads) / 32) * 32);
}

export function matmul(kernels: Kernels, aIn: TensorLike, bIn: TensorLike | PackedMatrix, optionsIn: MatmulOptions = {}): Tensor {
  const arena = kernels.arena;
  const options = readOptions<MatmulOptions>(optionsIn, MATMUL_KEYS, 'options', 'rt.matmul');
  const a = viewTensor(aIn, 'a', F32, arena);
  const packed = bIn instanceof PackedMatrix ? bIn : undefined;
  if (packed) {
    packed.assertLive('b');
    if (packed.kernels !== kernels) throw new AttentionError('INVALID_ARGUMENT', 'b is a PackedMatrix of another runtime');
    if (options.transposeB !== undefined) {
      throw new AttentionError('INVALID_OPTION', 'options.transposeB does not apply to a PackedMatrix (it was fixed when packing)');
    }
  }
  const b: TensorView = packed
    ? { shape: [packed.k, packed.n] }
    : viewTensor(bIn as TensorLike, 'b', F32, arena);
  const transB = packed ? false : booleanOption(options.transposeB, 'options.transposeB', false);
  if (a.shape.length !== 2 && a.shape.length !== 3) {
    throw new AttentionError('SHAPE_MISMATCH', `a must be [M, K] or [batch, M, K], got ${formatShape(a.shape)}`);
  }
  if (b.shape.length !== 2 && b.shape.length !== a.shape.length) {
    throw new AttentionError('SHAPE_MISMATCH', `b must be 2-D or have a's rank (${a.shape.length}), got ${formatShape(b.shape)}`);
  }
  const batch = a.shape.length === 3 ? a.shape[0] : 1;
  const [m, k] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const bk = transB ? b1 : b0;
  const n = transB ? b0 : b1;
  if (bk !== k) {
    throw new AttentionError('SHAPE_MISMATCH', `b must be ${transB ? `[N, ${k}]` : `[${k}, N]`} to match a ${formatShape(a.shape)}, got ${formatShape(b.shape)}`);
  }
  const bBatched = b.shape.length === 3;
  if (bBatched && b.shape[0] !== batch) {
    throw new AttentionError('SHAPE_MISMATCH', `b's batch (${b.shape[0]}) must equal a's (${batch})`);
  }
  const outShape = a.shape.length === 3 ? [batch, m, n] : [m, n];
  checkElementCount(batch * m * n, 'result');
  const bias = options.bias === undefined ? undefined : viewTensor(options.bias, 'options.bias', F32, arena);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== n)) {
    throw new AttentionError('SHAPE_MISMATCH', `options.bias must be [${n}], got ${formatShape(bias.shape)}`);
  }
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena, 'the result shape');
  const size = batch * m * n;
  if (size === 0) return out?.result ?? { data: new Float32Array(0), shape: outShape };
  const scope = new Scope(arena);
  try {
    // The caller's code (getters) has run: the runtime and every resident input must still be alive.
    assertLive(kernels, { a: aIn, b: bIn, 'options.bias': options.bias, 'options.out': options.out });
    packed?.assertLive('b');
    gemmKernels(kernels).reserve(n, k);
    const ap = scope.place(a);
    const bp = packed ? packed.ptr : scope.place(b);
    const biasPtr = bias ? scope.place(bias) : 0;
    const cp = outputBlock(scope, out, batch * m * n, 'result', [a, b, bias]);
    if (k === 0) {
      // An empty inner dimension: every row is the bias (or zeros), with no kernel call per batch entry.
      const c = arena.f32(cp, size);
      if (!biasPtr) c.fill(0);
      else {
        const row = arena.f32(biasPtr, n);
        for (let r = 0; r < batch * m; r++) c.set(row, r * n);
      }
    } else {
      // One call per batch entry; with threads, row blocks of ≥ 64 rows so every thread gets work.
      // Calls go to the kernels in bounded batches (a call object per entry of a huge batch would
      // fill the JavaScript heap).
      const rowsPerCall = kernels.threads > 1
        ? Math.max(64, Math.ceil((m * batch) / (CHUNKS_PER_THREAD * kernels.threads) / TILE_ROWS) * TILE_ROWS)
        : m;
      let calls: GemmCall[] = [];
      for (let i = 0; i < batch; i++) {
        for (let r0 = 0; r0 < m; r0 += rowsPerCall) {
          // A tail of fewer than 4 rows joins this block: a block under 4 rows would take the
          // matrix-vector path and round differently from the single-thread result.
          const rows = m - r0 - rowsPerCall < 4 ? m - r0 : rowsPerCall;
          // Decode-sized rows split over columns instead (B's rows when transposed).
          const width = packed ? n : decodeColumnSlice(kernels.threads, rows, n, k);
          for (let n0 = 0; n0 < n; n0 += width) {
            calls.push({
              a: f32At(ap, (i * m * k + r0 * k)), lda: k,
              b: f32At(bp, ((bBatched ? i * k * n : 0) + (transB ? n0 * k : n0))), ldb: transB ? k : n,
              c: f32At(cp, (i * m * n + r0 * n + n0)), ldc: n,
              bias: biasPtr && f32At(biasPtr, n0), m: rows, n: Math.min(width, n - n0), k, transB, accumulate: false, bPacked: !!packed,
            });
          }
          if (rows !== rowsPerCall) break;
        }
        if (calls.length >= CALLS_PER_BATCH) {
          gemmKernels(kernels).runMany(calls);
          calls = [];
        }
      }
      if (calls.length) gemmKernels(kernels).runMany(calls);
    }
    return writeOut(arena, out, cp, outShape);
  } finally {
    scope.close();
  }
}
