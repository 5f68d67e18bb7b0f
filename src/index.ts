// wasm-attention — public API.
export { createRuntime, createRuntimeSync, Runtime, type RuntimeOptions } from './create-runtime';
export type { AttentionOptions, AttentionWithWeights } from './attention/sdpa';
export type {
  OnnxAttentionAttributes, OnnxAttentionInputs, OnnxAttentionOptions, OnnxAttentionOutputs,
} from './attention/onnx';
export type { MaskData } from './attention/mask';
export type { MatmulOptions } from './ops/matmul';
export { WasmTensor, type Tensor, type TensorLike, type TensorData } from './tensor';
export { AttentionError, type AttentionErrorCode, type Isa, detectIsa, isaSupported } from './runtime/index';
