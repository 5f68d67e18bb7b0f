// Bun (the `bun` npm package): a script imports the packed package by name from node_modules
// (Bun resolves it through the "exports" map: `node` → `import`), computes the causal attention
// of fixtures/case.mjs and prints it; checked here against the float64 reference. Bun ships
// relaxed SIMD, so the runtime must pick the relaxed binary. Also two threads (Bun's
// worker_threads over shared memory). The core entry (`wasm-attention/core`) computes the case too.
// The proxy runtime (fixtures/proxy.mjs) computes it in its worker as in-thread, and stops an
// aborted attention between heads.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, CASE_SHAPE, type CaseReport, expectedCase, expectedLowPrecision, type Install, lowPrecisionDifferences, installPackedPackage, lastJson, maxAbsError, type ProxyReport, proxyProblems, run } from './helpers';

let install: Install;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  install = installPackedPackage();
  env = { ...process.env, BUN_INSTALL_CACHE_DIR: join(install.dir, '.bun'), DO_NOT_TRACK: '1', NO_COLOR: '1' };
}, 120_000);

afterAll(() => install?.cleanup());

describe('Bun (packed package)', () => {
  it('imports the package, picks relaxed SIMD and computes the case', async () => {
    const { stdout } = await run(bin('bun'), ['esm.mjs'], { cwd: install.dir, env, timeout: 60_000 });
    const r = lastJson<CaseReport>(stdout);
    expect(r.env).toBe('bun');
    expect(r.resolved).toMatch(/node_modules\/wasm-attention\/dist\/index\.js$/);
    expect(r.isa).toBe('relaxed');
    expect(r.shape).toEqual(CASE_SHAPE);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
    // int8, q8_0, q4_0, f16 products, 8-bit attention, f16/int8 KV caches: as Node (V8) computes them —
    // the integer products bit for bit on JavaScriptCore too.
    expect(lowPrecisionDifferences(r.lowPrecision, await expectedLowPrecision('relaxed'))).toEqual([]);
  });

  it('imports wasm-attention/core (dist/core.js), picks relaxed SIMD and computes the case', async () => {
    const { stdout } = await run(bin('bun'), ['core.mjs'], { cwd: install.dir, env, timeout: 60_000 });
    const r = lastJson<CaseReport & { coreOnly: boolean }>(stdout);
    expect(r.env).toBe('bun');
    expect(r.resolved).toMatch(/node_modules\/wasm-attention\/dist\/core\.js$/);
    expect(r.coreOnly).toBe(true);
    expect(r.isa).toBe('relaxed');
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
  });

  it('runs two threads with the same result as one', async () => {
    const { stdout } = await run(bin('bun'), ['threads.mjs'], { cwd: install.dir, env, timeout: 60_000 });
    const r = lastJson<CaseReport & { splitThreads: number; splitDiff: number }>(stdout);
    expect(r.threads).toBe(2);
    expect(r.splitThreads).toBe(2);
    expect(r.splitDiff).toBe(0);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
  });

  it('runs createRuntime({ proxy: true }): results equal in-thread, progress, abort between heads', async () => {
    const { stdout } = await run(bin('bun'), ['proxy.mjs'], { cwd: install.dir, env, timeout: 60_000 });
    const r = lastJson<ProxyReport>(stdout);
    expect(r.env).toBe('bun');
    expect(proxyProblems(r)).toEqual([]);
  });
});
