// The runtime layer: instantiation, memory arena, errors.
export { Arena, WASM_MAX_BYTES } from './arena';
export { AttentionError, formatShape, type AttentionErrorCode } from './errors';
export {
  detectIsa, exportedConstant, instantiateKernels, instantiateKernelsSync, isaSupported,
  type InstantiateOptions, type Isa, type KernelExports,
} from './instantiate';
