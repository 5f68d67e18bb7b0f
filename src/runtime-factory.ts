// runtime-factory.ts — creating a runtime of a given class (CoreRuntime for `wasm-attention/core`,
// Runtime for the full entry): instantiate the kernels, and with `threads` > 1 the shared-memory
// twin plus a worker pool. Both entries' createRuntime / createRuntimeSync are one line over these.

import { type CoreRuntime, maxMemoryOption, readRuntimeOptions, type RuntimeOptions } from './core-runtime';
import {
  AttentionError, checkForcedIsa, formatValue, instantiateKernels, instantiateKernelsSync, instantiateSharedKernels, type KernelExports,
  threadsAvailable, WorkerPool,
} from './runtime/index';

/** A runtime class: CoreRuntime or a subclass with the same constructor. */
export type RuntimeClass<R extends CoreRuntime> = new (exports: KernelExports, options: RuntimeOptions) => R;

/** Warnings already given (each reason once per process). */
const warnedNoThreads = new Set<string>();

function warnOnce(message: string): void {
  if (warnedNoThreads.has(message)) return;
  warnedNoThreads.add(message);
  console.warn(`wasm-attention: ${message}`);
}

async function resolveThreads(option: RuntimeOptions['threads']): Promise<number> {
  if (option === undefined) return 1;
  if (option === 'auto') {
    const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
    if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
    try {
      const os = await import('node:os');
      return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
    } catch {
      return 1;
    }
  }
  if (typeof option !== 'number' || !Number.isInteger(option) || option < 1 || option > 256) {
    throw new AttentionError('INVALID_OPTION', `options.threads must be an integer from 1 to 256 or 'auto', got ${String(option)}`);
  }
  return option;
}

/** createRuntime for the class `Runtime`: any environment; starts a worker pool for `threads` > 1. */
export async function createRuntimeOf<R extends CoreRuntime>(Runtime: RuntimeClass<R>, optionsIn: RuntimeOptions = {}): Promise<R> {
  const options = readRuntimeOptions(optionsIn, 'createRuntime');
  const threads = await resolveThreads(options.threads);
  if (threads > 1) {
    if (options.module !== undefined) {
      warnOnce('threads need the embedded kernels (options.module was given); running on one thread');
    } else if (!threadsAvailable()) {
      warnOnce('threads need SharedArrayBuffer and workers (browsers: a crossOriginIsolated page with COOP/COEP headers); running on one thread');
    } else {
      const isa = checkForcedIsa(options.isa);
      const shared = await instantiateSharedKernels(isa, maxMemoryOption(options));
      const rt = new Runtime(shared.exports, options);
      const kernels = rt.kernelsForPool;
      try {
        const pool = await WorkerPool.create(
          threads, shared.module, shared.memory, kernels.arena, shared.exports, kernels.paramsBytes, options.workerUrl,
        );
        rt.attachPool(pool);
        return rt;
      } catch (error) {
        rt.dispose();
        // Threads are a speed option: when no worker starts (a worker script that does not load,
        // a CSP that refuses it), the runtime runs on one thread and says why, as it does where
        // the host has no shared memory. Anything else (e.g. OUT_OF_MEMORY) is the caller's error.
        if (!(error instanceof AttentionError) || error.code !== 'UNSUPPORTED') throw error;
        warnOnce(`${error.message}; running on one thread`);
      }
    }
  }
  return new Runtime(await instantiateKernels(options), options);
}

/** createRuntimeSync for the class `Runtime`: Node, Deno, Bun (browsers restrict synchronous compiles). One thread. */
export function createRuntimeSyncOf<R extends CoreRuntime>(Runtime: RuntimeClass<R>, optionsIn: RuntimeOptions = {}): R {
  const options = readRuntimeOptions(optionsIn, 'createRuntimeSync');
  if (options.threads !== undefined && options.threads !== 1) {
    throw new AttentionError('INVALID_OPTION', `options.threads above 1 needs createRuntime (async): worker threads start asynchronously; got ${formatValue(options.threads)}`);
  }
  return new Runtime(instantiateKernelsSync(options), options);
}
