// create-runtime.ts — the full entry's Runtime: CoreRuntime (core-runtime.ts: tensors, attention,
// the ONNX operator, matmul, softmax) plus low precision, layers, positions and the helpers of the
// long-sequence and structured variants; the variant methods themselves are installed from the
// variant registry (attention/variants.ts); and createRuntime / createRuntimeSync returning it.

import { CoreRuntime, readRuntimeOptions, type RuntimeOptions } from './core-runtime';
import { createProxyRuntime, type ProxyRuntime } from './proxy/proxy-runtime';
import { AttentionError, formatValue } from './runtime/errors';
import { createRuntimeOf, createRuntimeSyncOf } from './runtime-factory';
import type { Tensor, TensorLike } from './tensor';
import type { MatmulOptions } from './ops/matmul';
import type { PackedMatrix } from './ops/packed';
import {
  QuantizedMatrix, type QuantizedMatrixData, quantizedMatrix, quantizeMatrix, type QuantizeMatrixOptions,
} from './ops/quantized-matrix';
import { quantizedMatmul, type QuantizedMatmulOptions } from './ops/quantized-matmul';
// ── imports for layers and positions ──
import { KVCache, type KVCacheOptions } from './layers/kv-cache';
import { MultiHeadAttention, type MultiHeadAttentionConfig } from './layers/mha';
import { rope, type RopeOptions } from './position/rope';
// ── the variant registry and the variants' helpers ──
import { type VariantMethods, variantEntries } from './attention/variants';
import { linformerProjections } from './attention/linformer';
import { lshHash, type LshBuckets, type LshHashOptions, lshRotations, type LshRotationOptions } from './attention/lsh';
import { routingCentroids, type RoutingCentroidOptions } from './attention/routing';
import { RecurrentMemoryAttention, type RecurrentMemoryOptions } from './layers/recurrent-memory';

export type { RuntimeOptions } from './core-runtime';

/** Runtime's attention-variant methods, typed and documented in attention/variants.ts (VariantMethods). */
export interface Runtime extends VariantMethods {}

/**
 * An attention runtime: one instance of the kernels with its own Wasm memory — every operation of
 * CoreRuntime plus layers, KV caches, positions and the long-sequence and structured variants.
 * Create with `await createRuntime()`; free with `dispose()`. Not shared between threads.
 */
export class Runtime extends CoreRuntime {
  // The variant methods, one per registry entry (full attention is CoreRuntime's own): each runs
  // its variant as one operation, like every other method.
  static {
    for (const variant of variantEntries()) {
      if (variant.method === 'attention') continue;
      const method = {
        [variant.method](this: Runtime, q: TensorLike, k: TensorLike | null, v: TensorLike, options: never): unknown {
          return this.operation((kernels) => variant.run(kernels, q, k, v, options));
        },
      }[variant.method];
      Object.defineProperty(Runtime.prototype, variant.method, { value: method, writable: true, configurable: true });
    }
  }

  // ── low precision ──

  /**
   * Matrix product A·B or A·Bᵀ (+ bias); see MatmulOptions. `b` may be a PackedMatrix, or a
   * QuantizedMatrix (rt.quantizeMatrix / rt.quantizedMatrix), read in place in its format.
   */
  override matmul(a: TensorLike, b: TensorLike | PackedMatrix | QuantizedMatrix, options?: MatmulOptions | QuantizedMatmulOptions): Tensor {
    if (b instanceof QuantizedMatrix) return this.operation((kernels) => quantizedMatmul(kernels, a, b, options));
    return super.matmul(a, b, options as MatmulOptions | undefined);
  }

  /**
   * Quantizes float32 weights `b` ([K, N], or [N, K] with transposeB) once into Wasm memory as
   * `int8` (one scale per output column), GGUF `q8_0` / `q4_0` blocks, or `f16`, for
   * `rt.matmul(x, qb)`. Dispose it when done. Accuracy: docs/low-precision.md.
   */
  quantizeMatrix(b: TensorLike, options: QuantizeMatrixOptions): QuantizedMatrix {
    return this.operation((kernels) => quantizeMatrix(kernels, b, options));
  }

  /**
   * Places weights already quantized in a model file (GGUF q8_0 / q4_0 blocks, ONNX MatMulNBits or
   * int8 with scales and zero points, f16 bits) in Wasm memory, byte for byte, for `rt.matmul`.
   */
  quantizedMatrix(data: QuantizedMatrixData): QuantizedMatrix {
    return this.operation((kernels) => quantizedMatrix(kernels, data));
  }

  // ── layers and positions ──
  /**
   * A multi-head attention layer (Q/K/V/O projections, weights copied into Wasm memory once):
   * self- and cross-attention, masks, GQA/MQA, KV caches, RoPE/ALiBi/T5/Shaw positions.
   * `dispose()` it when done.
   */
  multiHeadAttention(config: MultiHeadAttentionConfig): MultiHeadAttention {
    return this.operation(() => new MultiHeadAttention(() => this.liveKernels(), config));
  }

  /** A key/value cache in Wasm memory (one per layer), linear or a ring buffer with `window`. `dispose()` it when done. */
  kvCache(options: KVCacheOptions): KVCache {
    return this.operation(() => new KVCache(() => this.liveKernels(), options));
  }

  /** Rotary position embedding on [batch, heads, seq, headDim] or [batch, seq, heads·headDim] (ONNX RotaryEmbedding). */
  rope(x: TensorLike, options?: RopeOptions): Tensor {
    return this.operation((kernels) => rope(kernels, x, options));
  }


  // ── helpers of the long-sequence variants ──

  /** The seeded projections E, F ([length, k], N(0, 1/k)) that rt.linformerAttention uses for `seed`. */
  linformerProjections(options: { length: number; k: number; seed?: number; shared?: boolean }): {
    /** E, projecting the keys: [length, k]. */
    e: Tensor;
    /** F, projecting the values: [length, k] (E itself when `shared`). */
    f: Tensor } {
    return this.operation((kernels) => linformerProjections(kernels, options));
  }

  /** The seeded LSH rotations rt.lshAttention uses, [heads, headDim, rounds, buckets/2] (identical in every engine). */
  lshRotations(options: LshRotationOptions): Tensor {
    return this.operation((kernels) => lshRotations(kernels, options));
  }

  /** LSH bucket ids of x [batch, heads, n, headDim]: [batch, heads, rounds, n], −1 past keyLengths. */
  lshHash(x: TensorLike, options: LshHashOptions): LshBuckets {
    return this.operation((kernels) => lshHash(kernels, x, options));
  }

  // ── structured variants' helpers, recurrent memory ──

  /**
   * Transformer-XL attention with a recurrent memory carried across calls: keys/values =
   * [memory ; segment], relative positions (u, v, W_r·R with sinusoidal R), sameLength, clampLen.
   * `dispose()` it when done.
   */
  recurrentMemoryAttention(config: RecurrentMemoryOptions): RecurrentMemoryAttention {
    return this.operation(() => new RecurrentMemoryAttention(() => this.liveKernels(), config));
  }

  /** The seeded k-means centroids rt.routingAttention starts from: [heads, clusters, headDim]. */
  routingCentroids(q: TensorLike, k: TensorLike | null, options: RoutingCentroidOptions): Tensor {
    return this.operation((kernels) => routingCentroids(kernels, q, k, options));
  }

}

/** createRuntime's options for a runtime off the main thread (docs/proxy.md). */
export interface ProxyRuntimeOptions extends RuntimeOptions {
  /** Run every call in a dedicated worker; the methods return Promises. */
  proxy: true;
  /** Where the proxy's worker script is (default: proxy-worker.js beside this bundle). */
  proxyWorkerUrl?: string | URL;
}

/**
 * Creates a runtime in any environment (browsers, workers, Deno, Bun, Node, workerd). With
 * `proxy: true`, a ProxyRuntime whose compute methods run in a dedicated worker (docs/proxy.md).
 */
export function createRuntime(options: ProxyRuntimeOptions): Promise<ProxyRuntime>;
export function createRuntime(options?: RuntimeOptions): Promise<Runtime>;
export function createRuntime(options: RuntimeOptions | ProxyRuntimeOptions = {}): Promise<Runtime | ProxyRuntime> {
  if (options !== null && typeof options === 'object' && Object.prototype.hasOwnProperty.call(options, 'proxy')) {
    const { proxy, proxyWorkerUrl, ...rest } = options as ProxyRuntimeOptions;
    if (proxy !== true && proxy !== (false as unknown)) {
      return Promise.reject(new AttentionError('INVALID_OPTION', `options.proxy must be true or false, got ${formatValue(proxy)}`));
    }
    if (proxyWorkerUrl !== undefined && typeof proxyWorkerUrl !== 'string' && !(typeof URL === 'function' && proxyWorkerUrl instanceof URL)) {
      return Promise.reject(new AttentionError('INVALID_OPTION', `options.proxyWorkerUrl must be a string or a URL, got ${formatValue(proxyWorkerUrl)}`));
    }
    if (!proxy) return createRuntimeOf(Runtime, rest);
    try {
      const checked = readRuntimeOptions(rest, 'createRuntime');
      if (checked.module !== undefined) throw new AttentionError('INVALID_OPTION', 'options.module cannot cross to the proxy worker: a proxy runtime uses the embedded kernels');
      return createProxyRuntime({ ...checked, workerUrl: checked.workerUrl === undefined ? undefined : String(checked.workerUrl) }, proxyWorkerUrl);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return createRuntimeOf(Runtime, options);
}

/** Creates a runtime synchronously (Node, Deno, Bun; browsers restrict synchronous compiles). One thread. */
export function createRuntimeSync(options: RuntimeOptions = {}): Runtime {
  return createRuntimeSyncOf(Runtime, options);
}
