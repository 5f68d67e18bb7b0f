// The runtime layer: instantiation, memory arena, worker pool, errors.
export { Arena, WASM_MAX_BYTES } from './arena';
export { AttentionError, formatShape, formatValue, type AttentionErrorCode } from './errors';
export {
  checkForcedIsa, detectIsa, exportedConstant, instantiateKernels, instantiateKernelsSync,
  instantiateSharedKernels, isaSupported,
  type InstantiateOptions, type Isa, type KernelExports, type SharedKernels,
} from './instantiate';
export { withGuardChecks } from './guard-checks';
export { threadsAvailable, WorkerPool } from './pool';
export { JOB_ATTENTION, JOB_F16W, JOB_GEMM, JOB_Q4_0, JOB_Q8_0, JOB_QB4W, JOB_QC8W, JOB_QS8_ATTENTION } from './tasks';
export { JOB_F16KV_ATTENTION, JOB_Q8KV_ATTENTION } from './tasks';
export { Workspaces } from './workspaces';
export { F32_BYTES, f32At, f32Bytes, I32_BYTES, wordIndex, wordsIn } from './bytes';
