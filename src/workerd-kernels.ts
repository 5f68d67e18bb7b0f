// workerd-kernels.ts — the precompiled kernel modules of the workerd entries (src/workerd.ts,
// src/workerd-core.ts). workerd forbids compiling WebAssembly from bytes at run time, so these
// entries do not carry the embedded base64 kernels: they import the shipped binaries as
// precompiled modules (wrangler's CompiledWasm rule, or `wasm = embed "…"` modules in a workerd
// config) and hand one to the runtime as `module`. scripts/build-js.mjs leaves the two `.wasm`
// imports as written (they resolve to dist/wasm/ beside the bundle) and stubs out the embedded bytes.

import relaxedKernels from './wasm/relaxed.wasm';
import simd128Kernels from './wasm/simd128.wasm';
import { readRuntimeOptions, type RuntimeOptions } from './core-runtime';
import type { Isa } from './runtime/index';

/** `options` of `where` (read once, checked) with `module` set to the precompiled binary of `options.isa` (default relaxed), unless given. */
export function withPrecompiledModule(optionsIn: RuntimeOptions, where: string): RuntimeOptions {
  const options = readRuntimeOptions(optionsIn, where);
  if (options.module !== undefined) return options;
  return { ...options, module: options.isa === 'simd128' ? simd128Kernels : relaxedKernels };
}

/** Both binaries were compiled when the Worker loaded, so each is supported here. */
export function isaSupported(isa: Isa): boolean {
  return isa === 'relaxed' || isa === 'simd128';
}

/** The binary createRuntime uses by default here: relaxed. */
export function detectIsa(): Isa {
  return 'relaxed';
}
