// isaSupported decides from tiny probe modules (src/runtime/feature-probe.ts) instead of
// validating the 22 KB kernel binaries: each probe must validate exactly when its binary does.
// This process runs with --experimental-wasm-relaxed-simd (vitest.config.ts), where both do;
// test/package.test.ts checks the built package without the flag, where relaxed must not.
// The relaxed probe holds f32x4.relaxed_madd and the two relaxed int8 dot products, so the relaxed
// binary must use no other relaxed-SIMD instruction (Binaryen's disassembly, through
// assemblyscript, checks that).
// Also: the fast base64 decoder gives the same bytes as the portable one, and every runtime of a
// process instantiates one compiled module per binary (V8's optimized code is then shared too).

import { readFileSync } from 'node:fs';
import binaryen from 'assemblyscript/binaryen';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntime, createRuntimeSync } from '../src/index';
import { RELAXED_PROBE, SIMD128_PROBE } from '../src/runtime/feature-probe';
import { decodeBase64, decodeBase64Portable, isaSupported, kernelBytes } from '../src/runtime/instantiate';
import { RELAXED_WASM_BASE64, SIMD128_WASM_BASE64 } from '../src/runtime/wasm-bytes.generated';

describe('ISA probes', () => {
  it('are a few dozen bytes, and valid modules that compile where their feature exists', () => {
    expect(SIMD128_PROBE.length).toBeLessThan(64);
    expect(RELAXED_PROBE.length).toBeLessThan(80);
    expect(WebAssembly.validate(SIMD128_PROBE)).toBe(true);
    expect(WebAssembly.validate(RELAXED_PROBE)).toBe(true);
    expect(() => new WebAssembly.Module(RELAXED_PROBE)).not.toThrow();
  });

  it.each(['simd128', 'relaxed'] as const)('isaSupported(%s) agrees with validating the binary', (isa) => {
    expect(isaSupported(isa)).toBe(WebAssembly.validate(kernelBytes(isa) as BufferSource));
  });

  it('the relaxed binary uses no relaxed-SIMD instruction but the probe\'s three', () => {
    const ops = (isa: 'relaxed' | 'simd128') => {
      const module = binaryen.readBinary(kernelBytes(isa));
      module.setFeatures(binaryen.Features.All);
      const text = module.emitText();
      module.dispose();
      return new Set([...text.matchAll(/\((\w+\.(?:relaxed_\w+|dot_i8x16_i7x16\w*))/g)].map((m) => m[1]));
    };
    // Binaryen uses the proposal's earlier names: relaxed_fma for relaxed_madd, and the int8 dot
    // products without "relaxed_".
    const names: Record<string, string> = {
      'f32x4.relaxed_fma': 'f32x4.relaxed_madd',
      'i16x8.dot_i8x16_i7x16_s': 'i16x8.relaxed_dot_i8x16_i7x16_s',
      'i32x4.dot_i8x16_i7x16_add_s': 'i32x4.relaxed_dot_i8x16_i7x16_add_s',
    };
    expect([...ops('relaxed')].map((op) => names[op] ?? op).sort()).toEqual([
      'f32x4.relaxed_madd', 'i16x8.relaxed_dot_i8x16_i7x16_s', 'i32x4.relaxed_dot_i8x16_i7x16_add_s',
    ]);
    expect([...ops('simd128')]).toEqual([]);
  });

  it('rejects unknown names', () => {
    expect(isaSupported('avx2' as never)).toBe(false);
  });
});

describe('base64 decoding of the embedded kernels', () => {
  it.each([['simd128', SIMD128_WASM_BASE64], ['relaxed', RELAXED_WASM_BASE64]] as const)('%s: fast path = portable path = dist/wasm file', (isa, b64) => {
    const fast = decodeBase64(b64);
    expect(fast).toEqual(decodeBase64Portable(b64));
    expect(Buffer.from(fast).equals(readFileSync(new URL(`../dist/wasm/${isa}.wasm`, import.meta.url)))).toBe(true);
    expect(Buffer.from(kernelBytes(isa)).equals(Buffer.from(fast))).toBe(true);
  });
});

// The pool's workers run the built worker (as in test/threads.test.ts).
const workerUrl = new URL('../dist/worker.js', import.meta.url);

describe('compiled kernel modules', () => {
  afterEach(() => vi.restoreAllMocks());

  it('are compiled once per binary and shared by every runtime, sync and async, 1 and 2 threads', async () => {
    // Warm the cache for both binaries and their shared-memory twins.
    for (const isa of ['simd128', 'relaxed'] as const) {
      createRuntimeSync({ isa }).dispose();
      (await createRuntime({ isa, threads: 2, workerUrl })).dispose();
    }
    const ModuleClass = WebAssembly.Module;
    const compileSync = vi.spyOn(WebAssembly, 'Module');
    const compileAsync = vi.spyOn(WebAssembly, 'compile');
    const instantiate = vi.spyOn(WebAssembly, 'instantiate');
    for (const isa of ['simd128', 'relaxed'] as const) {
      const a = createRuntimeSync({ isa });
      const b = await createRuntime({ isa });
      const c = await createRuntime({ isa, threads: 2, workerUrl });
      // Each runtime still has its own instance and memory.
      const x = a.tensor([4], new Float32Array([1, 2, 3, 4]));
      const y = b.tensor([4], new Float32Array([5, 6, 7, 8]));
      expect(Array.from(x.data)).toEqual([1, 2, 3, 4]);
      expect(Array.from(y.data)).toEqual([5, 6, 7, 8]);
      expect(c.threads).toBe(2);
      expect(Array.from(c.softmax({ data: new Float32Array([0, 0]), shape: [2] }).data)).toEqual([0.5, 0.5]);
      a.dispose();
      b.dispose();
      c.dispose();
    }
    expect(compileSync).not.toHaveBeenCalled();
    expect(compileAsync).not.toHaveBeenCalled();
    // instantiate is called with a module, never with bytes (bytes would compile again).
    for (const [source] of instantiate.mock.calls) expect(source).toBeInstanceOf(ModuleClass);
    expect(instantiate).toHaveBeenCalled();
  });
});
