// instance.ts — Kernels: the kernels of one Wasm instance. It owns what every kernel family shares:
// the exports (guard-checked in guard mode), the arena, the reusable workspaces, the worker pool and
// one parameter block, and it makes each family once (family(make)). The families are the modules
// beside this one — gemm.ts, attention.ts, softmax.ts, rope.ts, rows.ts, lsh.ts, random.ts,
// quantized.ts, kv.ts — each reached as `<family>Kernels(kernels)`, each owning its parameter-block
// layout. With runtime/tasks.ts (the pool's task loop), src/kernels/ is the only code that calls raw
// Wasm exports. Pointers are byte addresses in the arena; strides are in elements.

import {
  Arena, AttentionError, exportedConstant, type Isa, type KernelExports, withGuardChecks, WorkerPool, Workspaces,
} from '../runtime/index';

/** Rows of the kernels' register tiles (GEMM's 4×8 micro-kernel, attention's 4-row query tiles): row splits are whole tiles, so results do not depend on the thread count. */
export const TILE_ROWS = 4;

/** Tasks per thread a split for the worker pool aims at, to even out a loaded machine's threads. */
export const CHUNKS_PER_THREAD = 4;

/**
 * A job for the worker pool: `count` parameter blocks of `stride` bytes for the kernel of `kind`
 * (runtime/tasks.ts), each filled by `write(block, i)` with its workspace field (at `wsOffset`)
 * left for the pool to point at the running thread's workspace of `wsBytes`. The main thread
 * takes part with `mainParams`, a parameter block of at least `stride` bytes.
 */
export interface PoolJob {
  kind: number;
  count: number;
  stride: number;
  wsOffset: number;
  wsBytes: number;
  mainParams: number;
  write(block: number, i: number): void;
}

/** What a kernel family gets when it is made (Kernels.family). */
export interface KernelAccess {
  exports: KernelExports;
  arena: Arena;
  /** The instance's shared parameter block: as large as the largest block written into it (SHARED_PARAMS_BYTES). */
  params: number;
  /** This thread's workspace of at least `bytes`; take it right before the kernel call that uses it. */
  scratch(bytes: number): number;
  /** Threads available to split work over (1 without a pool). */
  threads(): number;
  /** Runs a job on the worker pool (see PoolJob); only when threads() > 1. */
  runJob(job: PoolJob): void;
  /** Another family of the same instance (made once). */
  family<T>(make: (access: KernelAccess) => T): T;
}

/** The kernels of one Wasm instance sharing one arena; see the file header. */
export class Kernels {
  readonly arena: Arena;
  readonly isa: Isa;
  /** Bytes of the shared parameter block: the module's SHARED_PARAMS_BYTES, the largest block written into it (assembly/params-shared.ts; the pool's blocks have this size too). */
  readonly paramsBytes: number;
  private readonly access: KernelAccess;
  /** This thread's and the pool workers' reusable workspaces (see runtime/workspaces.ts). */
  private readonly workspaces: Workspaces;
  private readonly families = new Map<(access: KernelAccess) => unknown, unknown>();
  private disposed = false;

  /** Worker pool sharing this memory, when the runtime was created with threads. */
  pool: WorkerPool | undefined;

  /**
   * guardAllocations: surround every arena block with guard words and verify all of them after
   * every kernel call (a debugging aid: slow; throws MEMORY_CORRUPTION on an out-of-bounds write).
   */
  constructor(exports: KernelExports, maxMemoryBytes: number, guardAllocations = false) {
    this.isa = exports.isa() === 2 ? 'relaxed' : 'simd128';
    this.arena = new Arena(exports.memory, exports.heap_base(), maxMemoryBytes, guardAllocations);
    this.paramsBytes = exportedConstant(exports, 'SHARED_PARAMS_BYTES');
    const params = this.arena.alloc(this.paramsBytes);
    this.workspaces = new Workspaces(this.arena, () => this.pool);
    this.access = {
      exports: guardAllocations ? withGuardChecks(exports, this.arena) : exports,
      arena: this.arena,
      params,
      scratch: (bytes) => this.workspaces.main(bytes),
      threads: () => this.threads,
      runJob: (job) => this.runJob(job),
      family: (make) => this.family(make),
    };
  }

  /**
   * Runs one public operation of the runtime: the workspaces it grew are kept only if it
   * returns, so a rejected call leaves the arena as it found it (Workspaces.operation).
   */
  operation<T>(run: () => T): T {
    return this.workspaces.operation(run);
  }

  /**
   * The kernel family `make` builds on this instance (made once, then cached). Each family module
   * exports its accessor, e.g. `gemmKernels(kernels)`; families outside the core entry (the
   * low-precision ones) are reached the same way, so the core entry does not carry them.
   */
  family<T>(make: (access: KernelAccess) => T): T {
    let f = this.families.get(make);
    if (f === undefined) {
      f = make(this.access);
      this.families.set(make, f);
    }
    return f as T;
  }

  /** Threads available to split work over (1 without a pool). */
  get threads(): number {
    return this.pool ? this.pool.threads : 1;
  }

  /** Marks these kernels' runtime as disposed: assertLive throws from then on. */
  markDisposed(): void {
    this.disposed = true;
  }

  /** Throws DISPOSED once the runtime owning these kernels was disposed (checked mid-call, after the caller's code ran). */
  assertLive(): void {
    if (this.disposed) throw new AttentionError('DISPOSED', 'this Runtime was disposed during the call');
  }

  /** Runs `job` on the pool (the main thread takes part); see PoolJob. */
  private runJob(job: PoolJob): void {
    const pool = this.pool;
    if (!pool) throw new AttentionError('UNSUPPORTED', 'this runtime has no worker pool');
    this.workspaces.reservePool(pool, job.wsBytes);
    const tasks = this.arena.alloc(job.stride * job.count);
    try {
      const mainWs = this.workspaces.main(job.wsBytes); // after the last allocation: its address is final
      for (let i = 0; i < job.count; i++) job.write(tasks + i * job.stride, i);
      pool.run(job.kind, tasks, job.count, job.stride, job.wsOffset, job.mainParams, mainWs);
      this.arena.verifyGuards();
    } finally {
      this.arena.release(tasks);
    }
  }
}
