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
import { Kernels } from './kernels/instance';
import { matmul, type MatmulOptions } from './ops/matmul';
import { type PackedMatrix, packMatrix, type PackMatrixOptions } from './ops/packed';
import { softmax } from './ops/softmax';
import { booleanOption, optionKeys, readOptions } from './attention/options';
import {
  AttentionError, formatValue, type InstantiateOptions, type Isa, type KernelExports, WASM_MAX_BYTES, type WorkerPool,
} from './runtime/index';
import { createTensor, type Tensor, type TensorLike, type WasmTensor } from './tensor';

/** Options of `createRuntime` / `createRuntimeSync` (both entries). */
export interface RuntimeOptions extends InstantiateOptions {
  /**
   * Upper bound on the Wasm memory this runtime may grow to: an integer number of bytes, at least
   * 65536 (one 64 KiB WebAssembly page, what the kernels start with). Default and maximum 4 GiB.
   */
  maxMemoryBytes?: number;
  /**
   * Threads to split work over (heads and query tiles), the calling thread included: a number, or
   * 'auto' for the machine's core count. Default 1. Needs shared memory: Node, or a browser page
   * that is `crossOriginIsolated` (COOP/COEP headers). Where threads cannot run (no shared
   * memory, or no worker starts) the runtime warns once, saying why, and uses one thread
   * (`rt.threads` is then 1). Only `createRuntime` (async) can start threads.
   */
  threads?: number | 'auto';
  /**
   * Where the pool's worker script is. Default: dist/worker.js beside this bundle, then (in
   * browsers) the bundle's embedded copy through a blob: URL. When given, the only source tried.
   */
  workerUrl?: string | URL;
  /**
   * Debugging aid: put guard words around every Wasm allocation and verify them after every
   * kernel call, throwing MEMORY_CORRUPTION on a write outside a buffer. Slow; for tests.
   * true or false (default false).
   */
  guardAllocations?: boolean;
}

const RUNTIME_KEYS = optionKeys<RuntimeOptions>({ maxMemoryBytes: true, threads: true, workerUrl: true, guardAllocations: true, isa: true, module: true });

/** Smallest `maxMemoryBytes`: one 64 KiB WebAssembly page, the memory the kernels start with. */
export const MIN_MEMORY_BYTES = 65536;

/**
 * The options of createRuntime / createRuntimeSync (`where`), read once (own properties only,
 * unknown keys rejected) and checked — everything but `module` and whether the engine supports
 * `isa`, which instantiation checks. Returns a plain snapshot the factory and the constructor read.
 */
export function readRuntimeOptions(options: unknown, where: string): RuntimeOptions {
  const o = readOptions<RuntimeOptions>(options, RUNTIME_KEYS, 'options', where);
  maxMemoryOption(o);
  booleanOption(o.guardAllocations, 'options.guardAllocations', false);
  const threads = o.threads;
  if (threads !== undefined && threads !== 'auto' && !(typeof threads === 'number' && Number.isInteger(threads) && threads >= 1 && threads <= 256)) {
    throw new AttentionError('INVALID_OPTION', `options.threads must be an integer from 1 to 256 or 'auto', got ${formatValue(threads)}`);
  }
  const url = o.workerUrl;
  if (url !== undefined && typeof url !== 'string' && !(typeof URL === 'function' && url instanceof URL)) {
    throw new AttentionError('INVALID_OPTION', `options.workerUrl must be a string or a URL, got ${formatValue(url)}`);
  }
  if (o.isa !== undefined && o.isa !== 'relaxed' && o.isa !== 'simd128') {
    throw new AttentionError('INVALID_OPTION', `options.isa must be 'relaxed' or 'simd128', got ${formatValue(o.isa)}`);
  }
  return o;
}

/** `options.maxMemoryBytes`, checked: an integer of at least MIN_MEMORY_BYTES (default and maximum 4 GiB). */
export function maxMemoryOption(options: RuntimeOptions): number {
  const max = options.maxMemoryBytes ?? WASM_MAX_BYTES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < MIN_MEMORY_BYTES) {
    throw new AttentionError(
      'INVALID_OPTION',
      `options.maxMemoryBytes must be an integer number of bytes ≥ ${MIN_MEMORY_BYTES} (one 64 KiB WebAssembly page: the kernels start with one page and cannot run in less), got ${formatValue(max)}`,
    );
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
    this.kernels = new Kernels(exports, maxMemoryOption(options), booleanOption(options.guardAllocations, 'options.guardAllocations', false));
  }

  /** @internal attaches the worker pool created by createRuntime */
  attachPool(pool: WorkerPool): void {
    this.liveKernels().pool = pool;
  }

  /** @internal the kernels, for pool creation */
  get kernelsForPool(): Kernels {
    return this.liveKernels();
  }

  /** Threads this runtime splits work over (1 = no worker pool). */
  get threads(): number {
    return this.liveKernels().threads;
  }

  /** @internal the kernels; throws DISPOSED after dispose() (for the operations of subclasses) */
  protected liveKernels(): Kernels {
    if (!this.kernels) throw new AttentionError('DISPOSED', 'this Runtime was disposed');
    return this.kernels;
  }

  /**
   * @internal runs one operation on the kernels (Kernels.operation): workspaces it grew are kept
   * only if it succeeds, so a rejected call leaves the runtime's memory as it was.
   */
  protected operation<T>(body: (kernels: Kernels) => T): T {
    const kernels = this.liveKernels();
    return kernels.operation(() => body(kernels));
  }

  /** The kernel binary in use: 'relaxed' (fused multiply-add) or 'simd128'. */
  get isa(): Isa {
    return this.liveKernels().isa;
  }

  /** Current size of this runtime's Wasm memory in bytes. */
  get memoryBytes(): number {
    return this.liveKernels().arena.byteLength;
  }

  /**
   * A float32 tensor in Wasm memory, zeroed or filled from `values` (a typed array of any numeric
   * type, or an array of numbers; another element throws INVALID_ARGUMENT naming its index). Pass
   * it as an input or `out` of any operation for zero-copy; `dispose()` it when done.
   */
  tensor(shape: readonly number[], values?: ArrayLike<number>): WasmTensor {
    const kernels = this.liveKernels();
    // An operation: memory taken back from idle workspaces for it is restored if it still fails.
    const t = kernels.operation(() => createTensor(kernels.arena, shape, values, (disposed) => this.live.delete(disposed)));
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
    this.kernels.markDisposed();
    this.kernels = undefined;
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
