// workerd.ts — the package entry for Cloudflare Workers and workerd (the `workerd` export
// condition, which wrangler and esbuild's `conditions: ['workerd']` pick).
//
// workerd forbids compiling WebAssembly from bytes at run time, so this entry does not carry the
// embedded base64 kernels: it imports the shipped binaries as precompiled modules (wrangler's
// CompiledWasm rule, or `wasm = embed "…"` modules in a workerd config) and hands one to the
// runtime as `module`. scripts/build-js.mjs bundles it to dist/workerd.js with the two `.wasm`
// imports left as written (they resolve to dist/wasm/) and the embedded bytes stubbed out.
// Everything else is the same API as src/index.ts.

import relaxedKernels from './wasm/relaxed.wasm';
import simd128Kernels from './wasm/simd128.wasm';
import {
  createRuntime as createRuntimeFromModule, createRuntimeSync as createRuntimeSyncFromModule, type Runtime,
  type RuntimeOptions,
} from './create-runtime';
import { AttentionError, formatValue, type Isa } from './runtime/index';

export * from './index';

function withModule(options: RuntimeOptions): RuntimeOptions {
  if (typeof options !== 'object' || options === null) {
    throw new AttentionError('INVALID_OPTION', `options must be an object, got ${String(options)}`);
  }
  if (options.module !== undefined) return options;
  const isa = options.isa ?? 'relaxed';
  if (isa !== 'relaxed' && isa !== 'simd128') {
    throw new AttentionError('INVALID_OPTION', `options.isa must be 'relaxed' or 'simd128', got ${formatValue(isa)}`);
  }
  return { ...options, module: isa === 'relaxed' ? relaxedKernels : simd128Kernels };
}

/**
 * Creates a runtime on the precompiled kernel module that matches `options.isa` (default:
 * relaxed; workerd compiled both binaries when the Worker was loaded). One thread.
 */
export function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  return createRuntimeFromModule(withModule(options));
}

/** Synchronous createRuntime (instantiating a precompiled module is allowed in workerd). */
export function createRuntimeSync(options: RuntimeOptions = {}): Runtime {
  return createRuntimeSyncFromModule(withModule(options));
}

/** Both binaries were compiled when the Worker loaded, so each is supported here. */
export function isaSupported(isa: Isa): boolean {
  return isa === 'relaxed' || isa === 'simd128';
}

/** The binary createRuntime uses by default here: relaxed. */
export function detectIsa(): Isa {
  return 'relaxed';
}
