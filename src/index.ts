// wasm-attention — public API.
export { createRuntime, createRuntimeSync, Runtime, type RuntimeOptions } from './create-runtime';
export type { AttentionOptions, AttentionWithWeights } from './attention/sdpa';
export type {
  OnnxAttentionAttributes, OnnxAttentionInputs, OnnxAttentionOptions, OnnxAttentionOutputs,
} from './attention/onnx';
export type { MaskData } from './attention/mask';
export type { MatmulOptions } from './ops/matmul';
export { WasmTensor, type Tensor, type TensorLike, type TensorData } from './tensor';
// ── exports for layers and positions (issue 4) ──
// ── exports for long-sequence variants (issue 5) ──
export { AttentionError, type AttentionErrorCode, type Isa, detectIsa, isaSupported } from './runtime/index';
