// wasm-attention — public API: everything of `wasm-attention/core` (src/core.ts) plus layers,
// positions and the long-sequence and structured variants.

/**
 * `import { createRuntime } from 'wasm-attention'`: the full API — everything of
 * `wasm-attention/core` plus multi-head attention layers, KV caches, positions (RoPE, ALiBi, T5,
 * Shaw, sinusoidal) and the long-sequence and structured attention variants.
 * @module wasm-attention
 */
export { createRuntime, createRuntimeSync, type ProxyRuntimeOptions, Runtime, type RuntimeOptions } from './create-runtime';
export { type Proxied, type ProxyCallOptions, type ProxyFn, type ProxyMethods, ProxyRuntime } from './proxy/proxy-runtime';
export type { ProxiedMethod } from './proxy/protocol';
export { CoreRuntime } from './core-runtime';
export type { AttentionOptions, AttentionWithWeights } from './attention/sdpa';
export type {
  OnnxAttentionAttributes, OnnxAttentionInputs, OnnxAttentionOptions, OnnxAttentionOutputs,
} from './attention/onnx';
export type { MaskData } from './attention/mask';
export type { MatmulOptions } from './ops/matmul';
export { PackedMatrix, type PackMatrixOptions } from './ops/packed';
export {
  QuantizedMatrix, type QuantizedMatrixData, type QuantizedType, type QuantizeMatrixOptions, type QuantizeType,
} from './ops/quantized-matrix';
export type { QuantizedMatmulOptions } from './ops/quantized-matmul';
export { WasmTensor, type Tensor, type TensorLike, type TensorData } from './tensor';
// ── exports for layers and positions ──
export {
  MultiHeadAttention, type MultiHeadAttentionConfig, type MultiHeadAttentionForwardOptions, type MultiHeadAttentionOutput,
} from './layers/mha';
export type { MultiHeadAttentionWeights } from './layers/weights';
export { KVCache, type KVCacheOptions, type KVCacheAttentionOptions, type KVCacheDtype } from './layers/kv-cache';
export type { PositionConfig, RopePosition, AlibiPosition, T5Position, ShawPosition } from './position/bias';
export type { RopeOptions, RopeParameters } from './position/rope';
export { alibiSlopes } from './position/alibi';
export { t5RelativeBucket } from './position/t5';
export { sinusoidalPositions, type SinusoidalOptions } from './position/sinusoidal';
// ── exports for long-sequence variants ──
export type { SlidingWindowOptions } from './attention/sliding-window';
export type { GlobalLocalOptions, GlobalTokens } from './attention/global-local';
export type { SegmentedOptions } from './attention/segmented';
export type { LinformerOptions } from './attention/linformer';
export type { LshBuckets, LshHashOptions, LshOptions, LshRotationOptions } from './attention/lsh';
// ── exports for structured variants ──
export type {
  HierarchicalAggregate, HierarchicalLevel, HierarchicalOptions, HierarchicalResult,
} from './attention/hierarchical';
export type { AttentionPath, RoutedOptions, RoutedResult, Router } from './attention/routed';
export { attentionVariants, type AttentionVariant, type PathOf, type PathOptions, type PathType, type VariantMethod, type VariantMethods } from './attention/variants';
export type { RoutingCentroidOptions, RoutingOptions, RoutingResult } from './attention/routing';
export {
  RecurrentMemoryAttention, type RecurrentMemoryForwardOptions, type RecurrentMemoryOptions, type RecurrentMemoryState,
} from './layers/recurrent-memory';
export { AttentionError, type AttentionErrorCode, type Isa, detectIsa, isaSupported } from './runtime/index';
