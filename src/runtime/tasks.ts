// tasks.ts — the task loop every thread runs (the main thread and each worker alike).
//
// A job is an array of parameter blocks prepared by src/kernels.ts in shared Wasm memory. Each
// thread claims blocks with an atomic counter, copies the claimed block into its own parameter
// area, points it at its own workspace, and calls the kernel. The layout of the control block
// below is private to src/runtime (pool.ts writes it, worker.ts and runTasks read it).

import type { KernelExports } from './instantiate';

/** Int32 slots of the control block. */
export const CONTROL = {
  GENERATION: 0, //  bumped by the main thread to start a job; workers wait on it
  KIND: 1, //        which kernel: JOB_ATTENTION or JOB_GEMM
  TASKS: 2, //       byte address of the first parameter block
  COUNT: 3, //       number of blocks
  STRIDE: 4, //      bytes between blocks
  NEXT: 5, //        next unclaimed block (atomic)
  DONE: 6, //        workers that finished the current job (atomic)
  SHUTDOWN: 7, //    1: workers exit
  FAILED: 8, //      number of tasks that threw
  WS_OFFSET: 9, //   byte offset of the workspace field inside a block
  SLOTS: 16, //      per worker w: [SLOTS + 2w] params address, [SLOTS + 2w + 1] workspace address
} as const;

/** Bytes of the control block for `workers` workers. */
export const controlBytes = (workers: number): number => (CONTROL.SLOTS + 2 * Math.max(workers, 1)) * 4;

export const JOB_ATTENTION = 1;
export const JOB_GEMM = 2;

/**
 * Claims and runs tasks of the current job until none is left; returns how many threw.
 * i32: Int32Array over the whole memory; control: byte address of the control block.
 */
export function runTasks(exports: KernelExports, i32: Int32Array, control: number, params: number, workspace: number): number {
  const c = control >> 2;
  const kind = i32[c + CONTROL.KIND];
  const tasks = i32[c + CONTROL.TASKS];
  const count = i32[c + CONTROL.COUNT];
  const stride = i32[c + CONTROL.STRIDE];
  const wsOffset = i32[c + CONTROL.WS_OFFSET];
  const kernel = kind === JOB_ATTENTION ? exports.f32_attn_online : exports.f32_gemm;
  const u8 = new Uint8Array(i32.buffer);
  let failed = 0;
  for (;;) {
    const t = Atomics.add(i32, c + CONTROL.NEXT, 1);
    if (t >= count) break;
    const src = tasks + t * stride;
    u8.copyWithin(params, src, src + stride);
    i32[(params + wsOffset) >> 2] = workspace;
    try {
      kernel(params);
    } catch {
      failed++;
    }
  }
  return failed;
}
