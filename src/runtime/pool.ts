// pool.ts — a pool of worker threads over the runtime's shared Wasm memory.
//
// Node: worker_threads. Browsers: module Workers, only when `crossOriginIsolated` (shared memory
// needs COOP/COEP headers), from dist/worker.js beside the bundle or, when that does not load, the
// bundle's embedded copy (see workerSources). The main thread takes part in every job, so a pool of `threads`
// has threads − 1 workers. A job is a list of parameter blocks (see tasks.ts); run() returns
// when every block has been computed. Workers are unref'd in Node so they never keep a process
// alive; dispose() stops them.

import { Arena } from './arena';
import { AttentionError } from './errors';
import type { KernelExports } from './instantiate';
import { CONTROL, controlBytes, runTasks } from './tasks';

interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

declare const __dirname: string | undefined;
/** dist/worker.js's source, embedded by scripts/build-js.mjs in the bundles that may run in a browser. */
declare const __WORKER_SOURCE__: string | undefined;

/**
 * Where dist/worker.js lives: beside this bundle. ES modules resolve it against the bundle's own
 * URL (import.meta.url) and never look at `__dirname`: `node -e` and CommonJS shims define a
 * global one (the current directory, or anything). The CommonJS bundles have no import.meta
 * (esbuild makes it an empty object) and use their own `__dirname`, the module wrapper's
 * parameter, which no global can shadow.
 */
function defaultWorkerUrl(): string | URL {
  const bundleUrl: unknown = import.meta.url;
  if (typeof bundleUrl === 'string' && bundleUrl !== '') return new URL('./worker.js', bundleUrl);
  if (typeof __dirname === 'string') return `${__dirname}/worker.js`;
  throw new AttentionError('UNSUPPORTED', 'cannot locate worker.js: this bundle knows neither its URL (import.meta.url) nor its directory (__dirname); pass options.workerUrl');
}

/** Where a pool's workers may come from, in the order they are tried. */
interface WorkerSource {
  url: string | URL;
  /** how the error message names it */
  label: string;
  /** an object URL this runtime made (revoked once the workers have loaded) */
  made?: boolean;
}

/**
 * The workers' sources: options.workerUrl alone when given; else dist/worker.js beside this bundle
 * and then, in browsers (not Node), the copy of it embedded in this bundle through a blob: URL —
 * for bundlers that leave dist/worker.js out (esbuild, Rollup, webpack) and pages that cannot
 * serve it. A Content-Security-Policy without blob: in worker-src refuses that copy.
 */
function workerSources(workerUrl: string | URL | undefined): WorkerSource[] {
  if (workerUrl !== undefined) return [{ url: workerUrl, label: 'options.workerUrl' }];
  const sources: WorkerSource[] = [];
  let besideError: unknown;
  try {
    sources.push({ url: defaultWorkerUrl(), label: 'beside this bundle' });
  } catch (error) {
    besideError = error;
  }
  const inline = typeof __WORKER_SOURCE__ === 'string' ? __WORKER_SOURCE__ : undefined;
  if (inline !== undefined && !isNode()) {
    try {
      sources.push({ url: URL.createObjectURL(new Blob([inline], { type: 'text/javascript' })), label: "this bundle's embedded copy of worker.js", made: true });
    } catch {
      // a host without Blob or object URLs: the script beside the bundle is the only source
    }
  }
  if (sources.length === 0) throw besideError;
  return sources;
}

const isNode = (): boolean =>
  !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** True when this environment can run a threaded pool (shared memory and workers). */
export function threadsAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  if (isNode()) return true;
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  return g.crossOriginIsolated === true && typeof g.Worker === 'function';
}

/** Threads over one shared Wasm memory: `threads − 1` workers plus the calling thread. */
export class WorkerPool {
  /** Threads taking part in a job, the main thread included. */
  readonly threads: number;
  private readonly workers: WorkerLike[];
  private readonly arena: Arena;
  private readonly memory: WebAssembly.Memory;
  private readonly control: number;
  private readonly exports: KernelExports;
  private workspaceBytes = 0;
  private disposed = false;

  private constructor(threads: number, workers: WorkerLike[], arena: Arena, memory: WebAssembly.Memory, control: number, exports: KernelExports) {
    this.threads = threads;
    this.workers = workers;
    this.arena = arena;
    this.memory = memory;
    this.control = control;
    this.exports = exports;
  }

  /**
   * Starts `threads − 1` workers on `memory` (which must be shared) running `module`.
   * paramsBytes: size of one parameter block (the largest kernel's).
   */
  static async create(
    threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, arena: Arena,
    exports: KernelExports, paramsBytes: number, workerUrl?: string | URL,
  ): Promise<WorkerPool> {
    const sources = workerSources(workerUrl);
    try {
      return await WorkerPool.start(threads, sources, module, memory, arena, exports, paramsBytes);
    } finally {
      // Every worker has loaded its script (or failed) by now: the embedded copy's URL can go.
      for (const { url, made } of sources) if (made) URL.revokeObjectURL(String(url));
    }
  }

  /** create()'s work: the workers from the first of `sources` that starts. */
  private static async start(
    threads: number, sources: WorkerSource[], module: WebAssembly.Module, memory: WebAssembly.Memory, arena: Arena,
    exports: KernelExports, paramsBytes: number,
  ): Promise<WorkerPool> {
    const workerCount = threads - 1;
    // Allocate everything first: an allocation may grow memory, and the view is taken after.
    const control = arena.alloc(controlBytes(workerCount));
    const slots = Array.from({ length: workerCount }, () => arena.alloc(paramsBytes));
    const i32 = new Int32Array(memory.buffer);
    i32.fill(0, control >> 2, (control + controlBytes(workerCount)) >> 2);
    slots.forEach((params, w) => { i32[(control >> 2) + CONTROL.SLOTS + 2 * w] = params; });
    const workers: WorkerLike[] = [];
    /** Starts worker `w` from `url`; resolves once it is ready. */
    const start = async (url: string | URL, w: number): Promise<void> => {
      const { worker, firstMessage } = await spawn(url);
      workers.push(worker);
      worker.postMessage({ module, memory, control, index: w });
      const msg = (await firstMessage) as { ready?: number; error?: string };
      if (msg.error !== undefined) throw new AttentionError('UNSUPPORTED', `worker ${w} failed to start: ${msg.error}`);
    };
    // The first worker tries each source in turn; the others start from the one that worked.
    const failures: string[] = [];
    let chosen: WorkerSource | undefined;
    for (const source of sources) {
      try {
        if (workerCount > 0) await start(source.url, 0);
        chosen = source;
        break;
      } catch (error) {
        for (const worker of workers.splice(0)) void worker.terminate();
        if (error instanceof AttentionError) throw error;
        failures.push(`from ${String(source.url)} (${source.label}): ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (!chosen) {
      throw new AttentionError(
        'UNSUPPORTED',
        `could not start worker threads ${failures.join('; ')}. ` +
          'If a bundler moved or left out dist/worker.js, copy it (exported as wasm-attention/worker.js) to where your app serves it and pass options.workerUrl; ' +
          'or ask for threads: 1.',
      );
    }
    try {
      await Promise.all(Array.from({ length: workerCount - 1 }, (_, i) => start(chosen.url, i + 1)));
    } catch (error) {
      for (const worker of workers) void worker.terminate();
      if (error instanceof AttentionError) throw error;
      throw new AttentionError('UNSUPPORTED', `could not start worker threads from ${String(chosen.url)} (${chosen.label}): ${error instanceof Error ? error.message : String(error)}; or ask for threads: 1.`);
    }
    return new WorkerPool(threads, workers, arena, memory, control, exports);
  }

  /** Bytes of each worker's workspace (0 before the first threaded job). */
  get workspaceSize(): number {
    return this.workspaceBytes;
  }

  /**
   * Makes sure every worker has a workspace of at least `bytes`. On OUT_OF_MEMORY the workspaces
   * are left as they were.
   */
  reserveWorkspace(bytes: number): void {
    if (bytes > this.workspaceBytes) this.resizeWorkspaces(bytes);
  }

  /**
   * Shrinks every worker's workspace to `bytes` (0 frees them), giving memory back when a call
   * failed or a capped runtime needs it. Only between jobs (no worker reads them then).
   */
  trimWorkspace(bytes: number): void {
    if (bytes < this.workspaceBytes) this.resizeWorkspaces(bytes);
  }

  /**
   * Replaces the workspaces by blocks of `bytes`: the old ones are released first, so under a
   * tight maxMemoryBytes their space can serve the new ones. If an allocation fails, blocks of
   * the old size are put back (their space was just freed) and the error is rethrown.
   */
  private resizeWorkspaces(bytes: number): void {
    const old = this.workspaceBytes;
    this.releaseWorkspaces();
    try {
      this.allocateWorkspaces(bytes);
    } catch (error) {
      this.releaseWorkspaces();
      this.allocateWorkspaces(old);
      throw error;
    }
  }

  private releaseWorkspaces(): void {
    const slots = new Int32Array(this.memory.buffer, this.control, controlBytes(this.workers.length) >> 2);
    for (let w = 0; w < this.workers.length; w++) {
      const at = CONTROL.SLOTS + 2 * w + 1;
      if (slots[at]) this.arena.release(slots[at]);
      slots[at] = 0;
    }
    this.workspaceBytes = 0;
  }

  private allocateWorkspaces(bytes: number): void {
    if (bytes === 0) return;
    for (let w = 0; w < this.workers.length; w++) {
      const ptr = this.arena.alloc(bytes); // may grow memory: take the view afterwards
      new Int32Array(this.memory.buffer, this.control, controlBytes(this.workers.length) >> 2)[CONTROL.SLOTS + 2 * w + 1] = ptr;
    }
    this.workspaceBytes = bytes;
  }

  /**
   * Runs a job on every thread and returns when all `count` blocks are done. The main thread
   * uses `mainParams` and `mainWorkspace`. Throws if any task threw.
   */
  run(kind: number, tasks: number, count: number, stride: number, wsOffset: number, mainParams: number, mainWorkspace: number): void {
    if (this.disposed) throw new AttentionError('DISPOSED', 'the worker pool was disposed');
    const c = this.control >> 2;
    const i32 = new Int32Array(this.memory.buffer);
    i32[c + CONTROL.KIND] = kind;
    i32[c + CONTROL.TASKS] = tasks;
    i32[c + CONTROL.COUNT] = count;
    i32[c + CONTROL.STRIDE] = stride;
    i32[c + CONTROL.WS_OFFSET] = wsOffset;
    // Every address the job touches lies below this (memory grows only between jobs, on this
    // thread); a worker whose view of memory is shorter refreshes it before taking part.
    i32[c + CONTROL.MEMORY_BYTES] = i32.byteLength;
    Atomics.store(i32, c + CONTROL.NEXT, 0);
    Atomics.store(i32, c + CONTROL.DONE, 0);
    Atomics.store(i32, c + CONTROL.FAILED, 0);
    Atomics.add(i32, c + CONTROL.GENERATION, 1);
    Atomics.notify(i32, c + CONTROL.GENERATION);
    const failedHere = runTasks(this.exports, i32, this.control, mainParams, mainWorkspace);
    const workers = this.workers.length;
    for (;;) {
      const done = Atomics.load(i32, c + CONTROL.DONE);
      if (done >= workers) break;
      try {
        Atomics.wait(i32, c + CONTROL.DONE, done, 100);
      } catch {
        // Browser main threads may not block: spin instead (the wait is short).
      }
    }
    const failed = failedHere + Atomics.load(i32, c + CONTROL.FAILED);
    if (failed) {
      throw new AttentionError(
        'UNSUPPORTED',
        `${failed} failure(s) among ${count} kernel task(s) in the worker pool (a kernel trapped, or a worker could not see the job's memory): the call's output is incomplete`,
      );
    }
  }

  /** Stops the workers. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.control >> 2;
    const i32 = new Int32Array(this.memory.buffer);
    Atomics.store(i32, c + CONTROL.SHUTDOWN, 1);
    Atomics.add(i32, c + CONTROL.GENERATION, 1);
    Atomics.notify(i32, c + CONTROL.GENERATION);
    for (const worker of this.workers) void worker.terminate();
  }
}

async function spawn(url: string | URL): Promise<{ worker: WorkerLike; firstMessage: Promise<unknown> }> {
  if (isNode()) {
    const { Worker } = await import('node:worker_threads');
    // No inherited flags: the parent's (e.g. --input-type with -e) may not apply to a worker script,
    // and none is needed — V8 flags such as --experimental-wasm-relaxed-simd are process-wide and
    // the worker receives an already compiled module.
    const worker = new Worker(url, { execArgv: [] });
    worker.unref();
    const firstMessage = new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return { worker, firstMessage };
  }
  const WorkerCtor = (globalThis as unknown as { Worker: new (u: string | URL, o: unknown) => WorkerLike & { addEventListener(t: string, h: (e: { data?: unknown; message?: string }) => void, o?: unknown): void } }).Worker;
  const worker = new WorkerCtor(url, { type: 'module' });
  const firstMessage = new Promise<unknown>((resolve, reject) => {
    worker.addEventListener('message', (e) => resolve(e.data), { once: true });
    // A script that fails to load gives an error event without a message (browsers say no more).
    worker.addEventListener('error', (e) => reject(new Error(e.message || 'the worker script did not load or threw at start')), { once: true });
  });
  return { worker, firstMessage };
}
