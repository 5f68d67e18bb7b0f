// runtime-options.test.ts — the options of createRuntime / createRuntimeSync, in both entries:
// read once (own properties only, unknown keys rejected: options.test.ts), and checked before
// anything is instantiated — a non-object, maxMemoryBytes below one 64 KiB Wasm page, junk flags,
// fractional threads, a workerUrl or isa of the wrong kind, and a module that is not the kernels
// (no exports, or imports it cannot get) give typed AttentionErrors, never a TypeError.

import { describe, expect, it } from 'vitest';
import * as core from '../src/core';
import { AttentionError, createRuntime, createRuntimeSync, type Tensor } from '../src/index';
import { mismatch, rng, uniformF32 } from './helpers/numeric';
import { referenceAttention } from './reference/attention';

const T = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed)), shape });
const q = T([1, 2, 5, 4], 1);
const k = T([1, 2, 6, 4], 2);
const v = T([1, 2, 6, 3], 3);

function expectError(fn: () => unknown, code: string, fragments: string[] = []): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected an AttentionError').toBeInstanceOf(AttentionError);
  expect((thrown as AttentionError).code, (thrown as Error).message).toBe(code);
  for (const f of fragments) expect((thrown as Error).message).toContain(f);
}

async function expectRejection(p: Promise<unknown>, code: string, fragments: string[] = []): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(AttentionError);
  await p.catch((e: AttentionError) => {
    expect(e.code, e.message).toBe(code);
    for (const f of fragments) expect(e.message).toContain(f);
  });
}

describe('createRuntime / createRuntimeSync options', () => {
  const wrongModule = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); // an empty module
  // (module (import "env" "f" (func))): instantiating it without imports fails
  const importing = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 9, 1, 3, 101, 110, 118, 1, 102, 0, 0]));

  it.each([
    ['the full entry', createRuntimeSync, createRuntime],
    ['the core entry', core.createRuntimeSync, core.createRuntime],
  ] as const)('give typed errors (%s)', async (_entry, sync, async) => {
    expectError(() => sync(42 as never), 'INVALID_OPTION', ['options must be an object', '42']);
    await expectRejection(async('x' as never), 'INVALID_OPTION', ['options must be an object', '"x"']);
    expectError(() => sync({ maxMemoryBytes: 1 }), 'INVALID_OPTION', ['options.maxMemoryBytes', '65536', 'page', 'got 1']);
    await expectRejection(async({ maxMemoryBytes: 1 }), 'INVALID_OPTION', ['options.maxMemoryBytes', '65536']);
    expectError(() => sync({ maxMemoryBytes: 1.5e6 + 0.5 }), 'INVALID_OPTION', ['options.maxMemoryBytes']);
    expectError(() => sync({ guardAllocations: 'yes' } as never), 'INVALID_OPTION', ['options.guardAllocations', '"yes"']);
    expectError(() => sync({ threads: 2.5 }), 'INVALID_OPTION', ['options.threads', '2.5']);
    await expectRejection(async({ threads: 2.5 }), 'INVALID_OPTION', ['options.threads', '2.5']);
    expectError(() => sync({ workerUrl: 5 } as never), 'INVALID_OPTION', ['options.workerUrl']);
    expectError(() => sync({ isa: 'avx' } as never), 'INVALID_OPTION', ['options.isa']);
    expectError(() => sync({ module: {} } as never), 'INVALID_OPTION', ['options.module', 'WebAssembly.Module']);
    expectError(() => sync({ module: wrongModule }), 'INVALID_ARGUMENT', ['options.module is not a wasm-attention kernel module', 'memory', 'heap_base']);
    await expectRejection(async({ module: wrongModule }), 'INVALID_ARGUMENT', ['options.module', 'lacks the exports']);
    expectError(() => sync({ module: importing }), 'INVALID_ARGUMENT', ['options.module', 'could not be instantiated']);
    await expectRejection(async({ module: importing }), 'INVALID_ARGUMENT', ['options.module', 'could not be instantiated']);
  });

  it('run at the smallest maxMemoryBytes (one 64 KiB page) and give exact results', () => {
    const r = createRuntimeSync({ isa: 'simd128', maxMemoryBytes: 65536 });
    try {
      const got = r.attention(q, k, v) as Tensor;
      expect(mismatch(got.data, referenceAttention(q, k, v).output, 2e-6, 1e-5)).toBeUndefined();
    } finally {
      r.dispose();
    }
  });
});
