// core-runtime.ts — CoreRuntime: one kernel instance, one arena, and the essential operations
// (tensors, attention, the ONNX operator, matmul, softmax). The `wasm-attention/core` entry hands
// it out; the full entry's Runtime (create-runtime.ts) extends it with layers, positions and the
// long-sequence and structured variants. Nothing here may import src/layers, src/position or
// those variants (test/layering.test.ts checks the whole import graph of the core entry).

import { attention, type AttentionOptions, type AttentionWithWeights } from './attention/sdpa';
import {
  onnxAttention, type OnnxAttentionAttributes, type OnnxAttentionInputs, type OnnxAttentionOptions,
  type OnnxAttentionOutputs,
} from './attention/onnx';
import { Kernels } from './kernels';
import { matmul, type MatmulOptions } from './ops/matmul';
import { type PackedMatrix, packMatrix, type PackMatrixOptions } from './ops/packed';
import { softmax } from './ops/softmax';
import {
  AttentionError, formatValue, type InstantiateOptions, type Isa, type KernelExports, WASM_MAX_BYTES, type WorkerPool,
} from './runtime/index';
import { checkElementCount, checkShapeFits, shapeSize, type Tensor, type TensorLike, WasmTensor } from './tensor';

/** Options of `createRuntime` / `createRuntimeSync` (both entries). */
export interface RuntimeOptions extends InstantiateOptions {
  /** Upper bound on the Wasm memory this runtime may grow to (bytes). Default and maximum 4 GiB. */
  maxMemoryBytes?: number;
  /**
   * Threads to split work over (heads and query tiles), the calling thread included: a number, or
   * 'auto' for the machine's core count. Default 1. Needs shared memory: Node, or a browser page
   * that is `crossOriginIsolated` (COOP/COEP headers); elsewhere the runtime warns once and
   * uses one thread. Only `createRuntime` (async) can start threads.
   */
  threads?: number | 'auto';
  /** Where the pool's worker script is (default: dist/worker.js beside this bundle). */
  workerUrl?: string | URL;
  /**
   * Debugging aid: put guard words around every Wasm allocation and verify them after every
   * kernel call, throwing MEMORY_CORRUPTION on a write outside a buffer. Slow; for tests.
   */
  guardAllocations?: boolean;
}

/** `options.maxMemoryBytes`, checked (default 4 GiB). */
export function maxMemoryOption(options: RuntimeOptions): number {
  const max = options.maxMemoryBytes ?? WASM_MAX_BYTES;
  if (typeof max !== 'number' || !Number.isFinite(max) || max <= 0) {
    throw new AttentionError('INVALID_OPTION', `options.maxMemoryBytes must be a positive number, got ${String(max)}`);
  }
  return max;
}

/**
 * The essential attention runtime: one instance of the kernels with its own Wasm memory, with
 * tensors, attention, the ONNX `Attention` operator, matrix products and softmax. What
 * `wasm-attention/core` creates; the full entry's `Runtime` extends it. Create with
 * `await createRuntime()`; free with `dispose()`. Not shared between threads.
 */
export class CoreRuntime {
  private kernels: Kernels | undefined;
  private readonly live = new Set<WasmTensor>();

  /** @internal use createRuntime */
  constructor(exports: KernelExports, options: RuntimeOptions) {
    this.kernels = new Kernels(exports, maxMemoryOption(options), options.guardAllocations === true);
  }

  /** @internal attaches the worker pool created by createRuntime */
  attachPool(pool: WorkerPool): void {
    this.k().pool = pool;
  }

  /** @internal the kernels, for pool creation */
  get kernelsForPool(): Kernels {
    return this.k();
  }

  /** Threads this runtime splits work over (1 = no worker pool). */
  get threads(): number {
    return this.k().threads;
  }

  /** @internal the kernels; throws DISPOSED after dispose() (for the operations of subclasses) */
  protected k(): Kernels {
    if (!this.kernels) throw new AttentionError('DISPOSED', 'this Runtime was disposed');
    return this.kernels;
  }

  /**
   * @internal runs one operation on the kernels (Kernels.operation): workspaces it grew are kept
   * only if it succeeds, so a rejected call leaves the runtime's memory as it was.
   */
  protected operation<T>(body: (kernels: Kernels) => T): T {
    const kernels = this.k();
    return kernels.operation(() => body(kernels));
  }

  /** The kernel binary in use: 'relaxed' (fused multiply-add) or 'simd128'. */
  get isa(): Isa {
    return this.k().isa;
  }

  /** Current size of this runtime's Wasm memory in bytes. */
  get memoryBytes(): number {
    return this.k().arena.byteLength;
  }

  /**
   * A float32 tensor in Wasm memory, zeroed or filled from `values`. Pass it as an input or `out`
   * of any operation for zero-copy; `dispose()` it when done.
   */
  tensor(shape: readonly number[], values?: ArrayLike<number>): WasmTensor {
    const kernels = this.k();
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new AttentionError('SHAPE_MISMATCH', `shape must be an array of non-negative integers, got ${formatValue(shape)}`);
    }
    const size = shapeSize(shape);
    checkElementCount(size, 'tensor');
    checkShapeFits(shape, 'tensor');
    if (values !== undefined && (typeof values !== 'object' || values === null || typeof values.length !== 'number')) {
      throw new AttentionError('INVALID_ARGUMENT', `values must be an array of ${size} numbers, got ${String(values)}`);
    }
    if (values !== undefined && values.length !== size) {
      throw new AttentionError('SHAPE_MISMATCH', `values has ${values.length} elements but shape [${shape.join(', ')}] needs ${size}`);
    }
    // An operation: memory taken back from idle workspaces for it is restored if it still fails.
    const ptr = kernels.operation(() => kernels.arena.alloc(size * 4));
    const t = new WasmTensor(kernels.arena, shape, ptr, (disposed) => this.live.delete(disposed));
    if (values) t.data.set(values);
    else t.data.fill(0);
    this.live.add(t);
    return t;
  }

  /** Scaled dot-product attention on [batch, heads, seq, headDim] tensors; see AttentionOptions. */
  attention(q: TensorLike, k: TensorLike, v: TensorLike, options: AttentionOptions & { returnWeights: true }): AttentionWithWeights;
  attention(q: TensorLike, k: TensorLike, v: TensorLike, options?: AttentionOptions): Tensor;
  attention(q: TensorLike, k: TensorLike, v: TensorLike, options?: AttentionOptions): Tensor | AttentionWithWeights {
    return this.operation((kernels) => attention(kernels, q, k, v, options));
  }

  /** The ONNX `Attention` operator (opsets 23–25), with ONNX input, attribute and output names. */
  onnxAttention(inputs: OnnxAttentionInputs, attributes?: OnnxAttentionAttributes, options?: OnnxAttentionOptions): OnnxAttentionOutputs {
    return this.operation((kernels) => onnxAttention(kernels, inputs, attributes, options));
  }

  /** Matrix product A·B or A·Bᵀ (+ bias); see MatmulOptions. `b` may be a PackedMatrix. */
  matmul(a: TensorLike, b: TensorLike | PackedMatrix, options?: MatmulOptions): Tensor {
    return this.operation((kernels) => matmul(kernels, a, b, options));
  }

  /**
   * Packs `b` ([K, N], or [N, K] with transposeB) once into the GEMM kernel's layout, for a B used
   * in many products (layer weights): `rt.matmul(x, packed)` then skips packing. Dispose it when done.
   */
  packMatrix(b: TensorLike, options?: PackMatrixOptions): PackedMatrix {
    return this.operation((kernels) => packMatrix(kernels, b, options));
  }

  /** Softmax over the last axis. */
  softmax(x: TensorLike): Tensor {
    return this.operation((kernels) => softmax(kernels, x));
  }

  /** Frees everything; later calls (and tensors of this runtime) throw DISPOSED. Idempotent. */
  dispose(): void {
    if (!this.kernels) return;
    this.kernels.pool?.dispose();
    for (const t of [...this.live]) t.dispose();
    this.live.clear();
    this.kernels = undefined;
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
