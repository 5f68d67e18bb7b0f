// create-runtime.ts — the Runtime object users hold: one kernel instance, one arena, every op.

import { attention, type AttentionOptions, type AttentionWithWeights } from './attention/sdpa';
import {
  onnxAttention, type OnnxAttentionAttributes, type OnnxAttentionInputs, type OnnxAttentionOptions,
  type OnnxAttentionOutputs,
} from './attention/onnx';
import { Kernels } from './kernels';
import { matmul, type MatmulOptions } from './ops/matmul';
import { softmax } from './ops/softmax';
import { PackedMatrix, packMatrix, type PackMatrixOptions } from './ops/packed';
// ── imports for layers and positions (issue 4) ──
import { KVCache, type KVCacheOptions } from './layers/kv-cache';
import { MultiHeadAttention, type MultiHeadAttentionConfig } from './layers/mha';
import { rope, type RopeOptions } from './position/rope';
// ── imports for long-sequence variants (issue 5) ──
import { slidingWindowAttention, type SlidingWindowOptions } from './attention/sliding-window';
import { globalLocalAttention, type GlobalLocalOptions } from './attention/global-local';
import { segmentedAttention, type SegmentedOptions } from './attention/segmented';
import { linformerAttention, type LinformerOptions, linformerProjections } from './attention/linformer';
import {
  lshAttention, lshHash, type LshBuckets, type LshHashOptions, type LshOptions, lshRotations, type LshRotationOptions,
} from './attention/lsh';
// ── imports for structured variants (issue 6) ──
import { hierarchicalAttention, type HierarchicalOptions, type HierarchicalResult } from './attention/hierarchical';
import {
  routedAttention, type RoutedOptions, type RoutedResult, routingAttention, routingCentroids, type RoutingCentroidOptions,
  type RoutingOptions, type RoutingResult,
} from './attention/routing';
import { RecurrentMemoryAttention, type RecurrentMemoryOptions } from './layers/recurrent-memory';
import {
  AttentionError, checkForcedIsa, formatValue, instantiateKernels, instantiateKernelsSync, instantiateSharedKernels,
  type InstantiateOptions, type Isa, type KernelExports, threadsAvailable, WASM_MAX_BYTES, WorkerPool,
} from './runtime/index';
import { checkElementCount, checkShapeFits, shapeSize, type Tensor, type TensorLike, WasmTensor } from './tensor';

/** Options of `createRuntime` / `createRuntimeSync`. */
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

let warnedNoThreads = false;

function warnOnce(message: string): void {
  if (warnedNoThreads) return;
  warnedNoThreads = true;
  console.warn(`wasm-attention: ${message}`);
}

async function resolveThreads(option: RuntimeOptions['threads']): Promise<number> {
  if (option === undefined) return 1;
  if (option === 'auto') {
    const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
    if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
    try {
      const os = await import('node:os');
      return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
    } catch {
      return 1;
    }
  }
  if (typeof option !== 'number' || !Number.isInteger(option) || option < 1 || option > 256) {
    throw new AttentionError('INVALID_OPTION', `options.threads must be an integer from 1 to 256 or 'auto', got ${String(option)}`);
  }
  return option;
}

/**
 * An attention runtime: one instance of the kernels with its own Wasm memory. Create with
 * `await createRuntime()`; free with `dispose()`. Not shared between threads.
 */
export class Runtime {
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

  private k(): Kernels {
    if (!this.kernels) throw new AttentionError('DISPOSED', 'this Runtime was disposed');
    return this.kernels;
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
    const ptr = kernels.arena.alloc(size * 4);
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
    return attention(this.k(), q, k, v, options);
  }

  /** The ONNX `Attention` operator (opsets 23–25), with ONNX input, attribute and output names. */
  onnxAttention(inputs: OnnxAttentionInputs, attributes?: OnnxAttentionAttributes, options?: OnnxAttentionOptions): OnnxAttentionOutputs {
    return onnxAttention(this.k(), inputs, attributes, options);
  }

  /** Matrix product A·B or A·Bᵀ (+ bias); see MatmulOptions. `b` may be a PackedMatrix. */
  matmul(a: TensorLike, b: TensorLike | PackedMatrix, options?: MatmulOptions): Tensor {
    return matmul(this.k(), a, b, options);
  }

  /**
   * Packs `b` ([K, N], or [N, K] with transposeB) once into the GEMM kernel's layout, for a B used
   * in many products (layer weights): `rt.matmul(x, packed)` then skips packing. Dispose it when done.
   */
  packMatrix(b: TensorLike, options?: PackMatrixOptions): PackedMatrix {
    return packMatrix(this.k(), b, options);
  }

  /** Softmax over the last axis. */
  softmax(x: TensorLike): Tensor {
    return softmax(this.k(), x);
  }

  // ── layers and positions (issue 4): add methods below this line ──
  /**
   * A multi-head attention layer (Q/K/V/O projections, weights copied into Wasm memory once):
   * self- and cross-attention, masks, GQA/MQA, KV caches, RoPE/ALiBi/T5/Shaw positions.
   * `dispose()` it when done.
   */
  multiHeadAttention(config: MultiHeadAttentionConfig): MultiHeadAttention {
    return new MultiHeadAttention(() => this.k(), config);
  }

  /** A key/value cache in Wasm memory (one per layer), linear or a ring buffer with `window`. `dispose()` it when done. */
  kvCache(options: KVCacheOptions): KVCache {
    return new KVCache(() => this.k(), options);
  }

  /** Rotary position embedding on [batch, heads, seq, headDim] or [batch, seq, heads·headDim] (ONNX RotaryEmbedding). */
  rope(x: TensorLike, options?: RopeOptions): Tensor {
    return rope(this.k(), x, options);
  }


  // ── long-sequence variants (issue 5): add methods below this line ──

  /**
   * Sliding-window (local) attention on [batch, heads, seq, headDim]: each query sees `left` keys
   * before and `right` after its position, every `dilation`-th key; O(n·w) time, O(n) memory.
   */
  slidingWindowAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: SlidingWindowOptions): Tensor {
    return slidingWindowAttention(this.k(), q, k, v, options);
  }

  /**
   * Longformer / BigBird attention (self-attention): a sliding window, global tokens chosen per
   * call (indices, scores, or top-k by query/key norm) that see and are seen by every token, and
   * optional seeded random key blocks; partial results merged exactly by log-sum-exp.
   */
  globalLocalAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: GlobalLocalOptions): Tensor {
    return globalLocalAttention(this.k(), q, k, v, options);
  }

  /**
   * Segmented (blocked) self-attention: segments of `segmentLength` tokens, overlapping by
   * `overlap`; a token attends the union of its segments (merged exactly by log-sum-exp) and,
   * with `summaries`, a mean-pooled summary token of every other segment.
   */
  segmentedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: SegmentedOptions): Tensor {
    return segmentedAttention(this.k(), q, k, v, options);
  }

  /**
   * Linformer (low-rank) attention: keys and values projected along the sequence by E, F of
   * shape (n, k) — the caller's, or seeded random — then full attention over the k projections.
   * O(n·k·d). Not causal (throws).
   */
  linformerAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: LinformerOptions): Tensor {
    return linformerAttention(this.k(), q, k, v, options);
  }

  /** The seeded projections E, F ([length, k], N(0, 1/k)) that rt.linformerAttention uses for `seed`. */
  linformerProjections(options: { length: number; k: number; seed?: number; shared?: boolean }): {
    /** E, projecting the keys: [length, k]. */
    e: Tensor;
    /** F, projecting the values: [length, k] (E itself when `shared`). */
    f: Tensor } {
    return linformerProjections(this.k(), options);
  }

  /**
   * Reformer LSH attention (self-attention): tokens hashed by random rotations, sorted by
   * (bucket, position), attention within chunks of the sorted order plus the previous chunk,
   * hashing rounds merged by log-sum-exp. Pass k = null with `sharedQK: true`.
   */
  lshAttention(q: TensorLike, k: TensorLike | null, v: TensorLike, options?: LshOptions): Tensor {
    return lshAttention(this.k(), q, k, v, options);
  }

  /** The seeded LSH rotations rt.lshAttention uses, [heads, headDim, rounds, buckets/2] (identical in every engine). */
  lshRotations(options: LshRotationOptions): Tensor {
    return lshRotations(this.k(), options);
  }

  /** LSH bucket ids of x [batch, heads, n, headDim]: [batch, heads, rounds, n], −1 past keyLengths. */
  lshHash(x: TensorLike, options: LshHashOptions): LshBuckets {
    return lshHash(this.k(), x, options);
  }

  // ── structured variants (issue 6): add methods below this line ──

  /**
   * Hierarchical attention (tokens → segments → … → document): attention within each level's
   * groups, outputs pooled by G ('mean', 'max' or a learned query) into the next level's inputs.
   * Returns every level's outputs, the document vector and the token-level combination.
   */
  hierarchicalAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: HierarchicalOptions): HierarchicalResult {
    return hierarchicalAttention(this.k(), q, k, v, options);
  }

  /**
   * Transformer-XL attention with a recurrent memory carried across calls: keys/values =
   * [memory ; segment], relative positions (u, v, W_r·R with sinusoidal R), sameLength, clampLen.
   * `dispose()` it when done.
   */
  recurrentMemoryAttention(config: RecurrentMemoryOptions): RecurrentMemoryAttention {
    return new RecurrentMemoryAttention(() => this.k(), config);
  }

  /**
   * Routing Transformer attention: queries and keys routed to k-means clusters (top-w tokens per
   * cluster), attention within clusters, outputs of tokens in several clusters averaged.
   */
  routingAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutingOptions & { returnCentroids: true }): RoutingResult;
  routingAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutingOptions): Tensor;
  routingAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutingOptions): Tensor | RoutingResult {
    return routingAttention(this.k(), q, k, v, options);
  }

  /** The seeded k-means centroids rt.routingAttention starts from: [heads, clusters, headDim]. */
  routingCentroids(q: TensorLike, k: TensorLike | null, options: RoutingCentroidOptions): Tensor {
    return routingCentroids(this.k(), q, k, options);
  }

  /**
   * Attention routed over paths: a routing matrix W_r gives each token a distribution over
   * attention paths (full, window, LSH, …) or heads; the output is the mixture.
   */
  routedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutedOptions & { returnRoutes: true }): RoutedResult;
  routedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutedOptions): Tensor;
  routedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutedOptions): Tensor | RoutedResult {
    return routedAttention(this.k(), q, k, v, options);
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

function maxMemoryOption(options: RuntimeOptions): number {
  const max = options.maxMemoryBytes ?? WASM_MAX_BYTES;
  if (typeof max !== 'number' || !Number.isFinite(max) || max <= 0) {
    throw new AttentionError('INVALID_OPTION', `options.maxMemoryBytes must be a positive number, got ${String(max)}`);
  }
  return max;
}

/** Creates a runtime in any environment (browsers, workers, Deno, Bun, Node, workerd). */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  if (typeof options !== 'object' || options === null) {
    throw new AttentionError('INVALID_OPTION', `options must be an object, got ${String(options)}`);
  }
  const threads = await resolveThreads(options.threads);
  if (threads > 1) {
    if (options.module !== undefined) {
      warnOnce('threads need the embedded kernels (options.module was given); running on one thread');
    } else if (!threadsAvailable()) {
      warnOnce('threads need SharedArrayBuffer and workers (browsers: a crossOriginIsolated page with COOP/COEP headers); running on one thread');
    } else {
      const isa = checkForcedIsa(options.isa);
      const shared = await instantiateSharedKernels(isa, maxMemoryOption(options));
      const rt = new Runtime(shared.exports, options);
      const kernels = rt.kernelsForPool;
      try {
        const pool = await WorkerPool.create(
          threads, shared.module, shared.memory, kernels.arena, shared.exports, kernels.paramsBytes, options.workerUrl,
        );
        rt.attachPool(pool);
      } catch (error) {
        rt.dispose();
        throw error;
      }
      return rt;
    }
  }
  return new Runtime(await instantiateKernels(options), options);
}

/** Creates a runtime synchronously (Node, Deno, Bun; browsers restrict synchronous compiles). One thread. */
export function createRuntimeSync(options: RuntimeOptions = {}): Runtime {
  if (options.threads !== undefined && options.threads !== 1) {
    throw new AttentionError('INVALID_OPTION', `options.threads needs createRuntime (async): worker threads start asynchronously; got ${String(options.threads)}`);
  }
  return new Runtime(instantiateKernelsSync(options), options);
}

