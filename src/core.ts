// core.ts — the `wasm-attention/core` entry: the essentials in a bundle of under 50 KB of
// minified JavaScript (plus the embedded kernels): createRuntime / createRuntimeSync returning a
// CoreRuntime — tensors, rt.attention, rt.onnxAttention, rt.matmul, rt.packMatrix, rt.softmax,
// threads. No layers, KV caches, positions, nor long-sequence or structured variants (the full
// entry, src/index.ts, has them); test/layering.test.ts keeps them out of this import graph.

/**
 * `import { createRuntime } from 'wasm-attention/core'`: the essential runtime (CoreRuntime:
 * tensors, attention, the ONNX `Attention` operator, matmul, softmax, threads) in a bundle under
 * 50 KB of minified JavaScript. Use the full entry, `wasm-attention`, for layers, KV caches,
 * positions and the long-sequence and structured variants.
 * @module wasm-attention/core
 */

import { CoreRuntime, type RuntimeOptions } from './core-runtime';
import { createRuntimeOf, createRuntimeSyncOf } from './runtime-factory';

export { CoreRuntime, type RuntimeOptions } from './core-runtime';
export type { AttentionOptions, AttentionWithWeights } from './attention/sdpa';
export type {
  OnnxAttentionAttributes, OnnxAttentionInputs, OnnxAttentionOptions, OnnxAttentionOutputs,
} from './attention/onnx';
export type { MaskData } from './attention/mask';
export type { MatmulOptions } from './ops/matmul';
export { PackedMatrix, type PackMatrixOptions } from './ops/packed';
export { WasmTensor, type Tensor, type TensorLike, type TensorData } from './tensor';
export { AttentionError, type AttentionErrorCode, type Isa, detectIsa, isaSupported } from './runtime/index';

/** Creates a core runtime in any environment (browsers, workers, Deno, Bun, Node, workerd). */
export function createRuntime(options: RuntimeOptions = {}): Promise<CoreRuntime> {
  return createRuntimeOf(CoreRuntime, options);
}

/** Creates a core runtime synchronously (Node, Deno, Bun; browsers restrict synchronous compiles). One thread. */
export function createRuntimeSync(options: RuntimeOptions = {}): CoreRuntime {
  return createRuntimeSyncOf(CoreRuntime, options);
}
