// workerd-core.ts — the `wasm-attention/core` entry for Cloudflare Workers and workerd (the
// `workerd` condition of "./core"): the API of src/core.ts on the precompiled kernel modules of
// workerd-kernels.ts (workerd forbids compiling bytes).

import { CoreRuntime, type RuntimeOptions } from './core-runtime';
import { createRuntimeOf, createRuntimeSyncOf } from './runtime-factory';
import { withPrecompiledModule } from './workerd-kernels';

export * from './core';
export { detectIsa, isaSupported } from './workerd-kernels';

/**
 * Creates a core runtime on the precompiled kernel module that matches `options.isa` (default:
 * relaxed; workerd compiled both binaries when the Worker was loaded). One thread.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<CoreRuntime> {
  return createRuntimeOf(CoreRuntime, withPrecompiledModule(options, 'createRuntime'));
}

/** Synchronous createRuntime (instantiating a precompiled module is allowed in workerd). */
export function createRuntimeSync(options: RuntimeOptions = {}): CoreRuntime {
  return createRuntimeSyncOf(CoreRuntime, withPrecompiledModule(options, 'createRuntimeSync'));
}
