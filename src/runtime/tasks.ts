// tasks.ts — the task loop every thread runs (the main thread and each worker alike).
//
// A job is an array of parameter blocks prepared by src/kernels/ in shared Wasm memory. Each
// thread claims blocks with an atomic counter, copies the claimed block into its own parameter
// area and points it at its own workspace (both inside Wasm: pool_task_load), and calls the
// kernel. The layout of the control block below is private to src/runtime (pool.ts writes it,
// worker.ts and runTasks read it).
//
// Views of shared memory: JavaScript here touches only the control block, which is allocated
// before any worker starts and so lies inside every view a thread ever takes. Everything else
// (task blocks, parameter areas, workspaces, tensors) is touched by Wasm only, which checks
// bounds against the memory it sees. A worker's view may predate a growth (see worker.ts), so a
// job also records how big memory is (MEMORY_BYTES) and workers refresh their view to cover it.

import type { KernelExports } from './instantiate';
import { f32Bytes, wordIndex } from './bytes';

/** Int32 slots of the control block. */
export const CONTROL = {
  GENERATION: 0, //  bumped by the main thread to start a job; workers wait on it
  KIND: 1, //        which kernel: JOB_ATTENTION, JOB_GEMM, … (JOB_KERNELS)
  TASKS: 2, //       byte address of the first parameter block
  COUNT: 3, //       number of blocks
  STRIDE: 4, //      bytes between blocks
  NEXT: 5, //        next unclaimed block (atomic)
  DONE: 6, //        workers that finished the current job (atomic)
  SHUTDOWN: 7, //    1: workers exit
  FAILED: 8, //      number of tasks that threw, plus workers that could not take part
  WS_OFFSET: 9, //   byte offset of the workspace field inside a block
  MEMORY_BYTES: 10, // byte length of memory when the job started: every address it touches is below
  SLOTS: 16, //      per worker w: [SLOTS + 2w] params address, [SLOTS + 2w + 1] workspace address
} as const;

/** Bytes of the control block for `workers` workers. */
export const controlBytes = (workers: number): number => f32Bytes(CONTROL.SLOTS + 2 * Math.max(workers, 1));

/** Job kind: f32_attn_online tasks. */
export const JOB_ATTENTION = 1;
/** Job kind: f32_gemm tasks. */
export const JOB_GEMM = 2;
/** Job kind: qd8_f32_qc8w_gemm tasks (int8 weights in packed panels). */
export const JOB_QC8W = 3;
/** Job kind: qd8_f32_q8_0_gemm tasks (GGUF q8_0 blocks). */
export const JOB_Q8_0 = 4;
/** Job kind: qd8_f32_q4_0_gemm tasks (GGUF q4_0 blocks). */
export const JOB_Q4_0 = 5;
/** Job kind: qd8_f32_qb4w_gemm tasks (ONNX MatMulNBits blocks). */
export const JOB_QB4W = 6;
/** Job kind: f32_f16w_gemm tasks (f16 weights). */
export const JOB_F16W = 7;
/** Job kind: qs8_attn_online tasks (8-bit attention). */
export const JOB_QS8_ATTENTION = 8;

/** Job kind: f16kv_attn_online tasks (attention over an f16 KV cache). */
export const JOB_F16KV_ATTENTION = 9;
/** Job kind: q8kv_attn_online tasks (attention over an int8 KV cache). */
export const JOB_Q8KV_ATTENTION = 10;

/** The kernel export each job kind runs (index: kind); a kind not listed fails its tasks. */
const JOB_KERNELS: readonly string[] = [
  '', 'f32_attn_online', 'f32_gemm', 'qd8_f32_qc8w_gemm', 'qd8_f32_q8_0_gemm', 'qd8_f32_q4_0_gemm', 'qd8_f32_qb4w_gemm', 'f32_f16w_gemm',
  'qs8_attn_online', 'f16kv_attn_online', 'q8kv_attn_online',
];

/**
 * Claims and runs tasks of the current job until none is left; returns how many threw.
 * i32: an Int32Array over the memory (it must cover the control block; it need not cover the
 * rest); control: byte address of the control block; params, workspace: this thread's own
 * parameter block and workspace. A task whose block cannot be copied (outside the memory Wasm
 * sees) or whose kernel traps counts as failed; it never runs on a stale block.
 */
export function runTasks(exports: KernelExports, i32: Int32Array, control: number, params: number, workspace: number): number {
  const c = wordIndex(control);
  if (i32.length < c + CONTROL.SLOTS) {
    throw new RangeError(`the view of memory (${i32.byteLength} bytes) does not cover the pool's control block at ${control}`);
  }
  const kind = i32[c + CONTROL.KIND];
  const tasks = i32[c + CONTROL.TASKS];
  const count = i32[c + CONTROL.COUNT];
  const stride = i32[c + CONTROL.STRIDE];
  const wsOffset = i32[c + CONTROL.WS_OFFSET];
  const kernel = exports[JOB_KERNELS[kind] ?? ''] as ((params: number) => void) | undefined;
  let failed = 0;
  for (;;) {
    const t = Atomics.add(i32, c + CONTROL.NEXT, 1);
    if (t >= count) break;
    try {
      exports.pool_task_load(params, tasks + t * stride, stride, wsOffset, workspace);
      kernel!(params); // an unknown kind throws here: its tasks count as failed
    } catch {
      failed++;
    }
  }
  return failed;
}

/**
 * An Int32Array over all of `memory` covering at least its first `bytes` bytes. A worker's
 * `memory.buffer` may keep the length it had before the main thread grew the memory: V8 updates
 * another thread's buffer only when that thread handles an interrupt, and a worker whose
 * Atomics.wait returns at once (the job began before it went to sleep) may not have handled it
 * yet. memory.grow(0) refreshes this thread's buffer (and its instance) at once. Throws a
 * RangeError if even then the view is too short, so the caller never works on a stale view.
 */
export function viewCovering(memory: WebAssembly.Memory, bytes: number): Int32Array {
  let buffer = memory.buffer;
  if (buffer.byteLength < bytes) {
    memory.grow(0);
    buffer = memory.buffer;
    if (buffer.byteLength < bytes) {
      throw new RangeError(`this thread sees ${buffer.byteLength} bytes of shared memory after a refresh, the job needs ${bytes}`);
    }
  }
  return new Int32Array(buffer);
}
