// workerd.ts — the package entry for Cloudflare Workers and workerd (the `workerd` export
// condition, which wrangler and esbuild's `conditions: ['workerd']` pick): the API of src/index.ts
// on the precompiled kernel modules of workerd-kernels.ts (workerd forbids compiling bytes).

import { createRuntimeOf, createRuntimeSyncOf } from './runtime-factory';
import { Runtime, type RuntimeOptions } from './create-runtime';
import { withPrecompiledModule } from './workerd-kernels';

export * from './index';
export { detectIsa, isaSupported } from './workerd-kernels';

/**
 * Creates a runtime on the precompiled kernel module that matches `options.isa` (default:
 * relaxed; workerd compiled both binaries when the Worker was loaded). One thread.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  return createRuntimeOf(Runtime, withPrecompiledModule(options, 'createRuntime'));
}

/** Synchronous createRuntime (instantiating a precompiled module is allowed in workerd). */
export function createRuntimeSync(options: RuntimeOptions = {}): Runtime {
  return createRuntimeSyncOf(Runtime, withPrecompiledModule(options, 'createRuntimeSync'));
}
