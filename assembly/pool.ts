// pool.ts — the one memory operation of the worker pool's task loop (src/runtime/tasks.ts).
//
// What:    copies a claimed task's parameter block (`bytes` bytes at `src`) into the calling
//          thread's own block at `dst`, then points the block's workspace field (`wsOffset`
//          bytes in) at that thread's workspace.
// Why in Wasm: a worker's JavaScript view of a shared memory grown by another thread may keep
//          the old length (V8 refreshes it only when the worker handles an interrupt), and a
//          typed-array copyWithin clamped to that stale length silently copies nothing, so the
//          task would run on the previous block. memory.copy checks bounds against the memory
//          the module itself sees, and traps (a failed task) if a block lies outside it.
// Shapes:  src, dst: usize // `bytes` bytes each, 4-byte aligned; the blocks do not overlap.

/** dst: usize // this thread's parameter block; src: usize // the claimed task's block */
export function pool_task_load(dst: usize, src: usize, bytes: usize, wsOffset: usize, workspace: usize): void {
  memory.copy(dst, src, bytes);
  store<u32>(dst + wsOffset, <u32>workspace);
}
