// isaSupported decides from tiny probe modules (src/runtime/feature-probe.ts) instead of
// validating the 22 KB kernel binaries: each probe must validate exactly when its binary does.
// This process runs with --experimental-wasm-relaxed-simd (vitest.config.ts), where both do;
// test/package.test.ts checks the built package without the flag, where relaxed must not.
// The relaxed probe holds only f32x4.relaxed_madd, so the relaxed binary must use no other
// relaxed-SIMD instruction (Binaryen's disassembly, through assemblyscript, checks that).
// Also: the fast base64 decoder gives the same bytes as the portable one.

import { readFileSync } from 'node:fs';
import binaryen from 'assemblyscript/binaryen';
import { describe, expect, it } from 'vitest';
import { RELAXED_PROBE, SIMD128_PROBE } from '../src/runtime/feature-probe';
import { decodeBase64, decodeBase64Portable, isaSupported, kernelBytes } from '../src/runtime/instantiate';
import { RELAXED_WASM_BASE64, SIMD128_WASM_BASE64 } from '../src/runtime/wasm-bytes.generated';

describe('ISA probes', () => {
  it('are a few dozen bytes, and valid modules that compile where their feature exists', () => {
    expect(SIMD128_PROBE.length).toBeLessThan(64);
    expect(RELAXED_PROBE.length).toBeLessThan(64);
    expect(WebAssembly.validate(SIMD128_PROBE)).toBe(true);
    expect(WebAssembly.validate(RELAXED_PROBE)).toBe(true);
    expect(() => new WebAssembly.Module(RELAXED_PROBE)).not.toThrow();
  });

  it.each(['simd128', 'relaxed'] as const)('isaSupported(%s) agrees with validating the binary', (isa) => {
    expect(isaSupported(isa)).toBe(WebAssembly.validate(kernelBytes(isa) as BufferSource));
  });

  it('the relaxed binary uses no relaxed-SIMD instruction but the probe\'s f32x4.relaxed_madd', () => {
    const ops = (isa: 'relaxed' | 'simd128') => {
      const module = binaryen.readBinary(kernelBytes(isa));
      module.setFeatures(binaryen.Features.All);
      const text = module.emitText();
      module.dispose();
      return new Set([...text.matchAll(/\((\w+\.relaxed_\w+)/g)].map((m) => m[1]));
    };
    // Binaryen names relaxed_madd "relaxed_fma" (the proposal's earlier name)
    expect([...ops('relaxed')].map((op) => op.replace('relaxed_fma', 'relaxed_madd'))).toEqual(['f32x4.relaxed_madd']);
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
