// workspaces.ts — the kernels' reusable scratch memory: one workspace for the calling thread and
// one per pool worker, kept across calls so steady-state calls do not allocate them again.
//
// Kept, but never at the cost of a later call or of a failed one:
//   • every public call runs as one operation; what an operation grew is kept only if it
//     returns — when it throws, both kinds of workspace go back to their sizes before it, so a
//     rejected call leaves the arena's blocks and bytes as it found them;
//   • this is the arena's reclaimer: when memory cannot grow under maxBytes, the workspaces kept
//     from earlier calls are trimmed to what the operation in progress has asked for (to nothing
//     between operations), and the allocation is retried.
// Trimming may move this thread's workspace: a caller takes its address right before the kernel
// call that uses it. Pool workspaces are only resized between jobs.

import type { Arena } from './arena';
import type { WorkerPool } from './pool';

/** The reusable workspaces of one kernel instance and its worker pool. */
export class Workspaces {
  private readonly arena: Arena;
  private readonly poolOf: () => WorkerPool | undefined;
  private ptr = 0;
  private bytes = 0;
  /** 1 while an operation runs (nested ones run as part of the outermost). */
  private depth = 0;
  /** The largest workspace (this thread's, each pool worker's) the operation in progress asked for. */
  private need = 0;
  private poolNeed = 0;
  private trimming = false;

  /** `poolOf` gives the worker pool once the runtime has one. */
  constructor(arena: Arena, poolOf: () => WorkerPool | undefined) {
    this.arena = arena;
    this.poolOf = poolOf;
    arena.setReclaimer(() => this.releaseIdle());
  }

  /**
   * Runs one public operation. What it grew is kept only if it returns; when it throws, the
   * workspaces go back to their sizes before it (an oversized call cannot leave a capped
   * runtime full). Nested operations run as part of the outermost one.
   */
  operation<T>(run: () => T): T {
    if (this.depth > 0) return run();
    const mainBefore = this.bytes;
    const poolBefore = this.poolOf()?.workspaceSize ?? 0;
    this.depth = 1;
    try {
      return run();
    } catch (error) {
      this.restore(mainBefore, poolBefore);
      throw error;
    } finally {
      this.depth = 0;
      this.need = 0;
      this.poolNeed = 0;
    }
  }

  /**
   * This thread's workspace, at least `bytes` (grown if needed: the old block is released first
   * so its space can serve the new one; on OUT_OF_MEMORY the old one is put back). Take the
   * address right before the kernel call that uses it.
   */
  main(bytes: number): number {
    this.need = Math.max(this.need, bytes);
    if (bytes > this.bytes) {
      const oldBytes = this.bytes;
      try {
        this.set(bytes);
      } catch (error) {
        this.set(oldBytes); // its space was just freed, so it fits
        throw error;
      }
    }
    return this.ptr;
  }

  /** Makes sure every worker of `pool` has a workspace of at least `bytes`. */
  reservePool(pool: WorkerPool, bytes: number): void {
    this.poolNeed = Math.max(this.poolNeed, bytes);
    pool.reserveWorkspace(bytes);
  }

  /** Puts the workspaces back to these sizes (best effort: a size that no longer fits is dropped). */
  private restore(main: number, poolBytes: number): void {
    this.trimming = true; // no reclaiming while restoring
    try {
      if (this.bytes !== main) {
        this.set(0);
        try {
          this.set(main);
        } catch {
          // its space was given away meanwhile: the next call reserves again
        }
      }
      const pool = this.poolOf();
      if (pool && pool.workspaceSize !== poolBytes) {
        try {
          if (pool.workspaceSize > poolBytes) pool.trimWorkspace(poolBytes);
          else pool.reserveWorkspace(poolBytes);
        } catch {
          // as above
        }
      }
    } finally {
      this.trimming = false;
    }
  }

  /**
   * The arena's reclaimer (memory cannot grow further): shrinks the workspaces kept from earlier
   * calls to what the operation in progress has asked for. True if it freed something.
   */
  private releaseIdle(): boolean {
    if (this.trimming) return false;
    this.trimming = true;
    try {
      let freed = false;
      const pool = this.poolOf();
      if (pool && pool.workspaceSize > this.poolNeed) {
        pool.trimWorkspace(this.poolNeed);
        freed = true;
      }
      if (this.bytes > this.need) {
        const need = this.need;
        this.set(0);
        try {
          this.set(need); // fits where the larger block was
        } catch {
          // dropped: the next main() reserves it again
        }
        freed = true;
      }
      return freed;
    } finally {
      this.trimming = false;
    }
  }

  /** Replaces this thread's workspace by a block of `bytes` (0: none). */
  private set(bytes: number): void {
    if (this.ptr) this.arena.release(this.ptr);
    this.ptr = 0;
    this.bytes = 0;
    if (bytes === 0) return;
    this.ptr = this.arena.alloc(bytes);
    this.bytes = bytes;
  }
}
