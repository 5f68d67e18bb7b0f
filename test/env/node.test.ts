// Node: the packed package, installed under node_modules, loads through ESM `import` and CommonJS
// `require` (each in a fresh process, resolving the "exports" map's node/import and node/require
// conditions) and computes the causal attention of fixtures/case.mjs, checked here against the
// float64 reference. The Node example (examples/node/attention.mjs) runs against it too. The
// core entry, `wasm-attention/core`, loads the same two ways (dist/core.js, dist/core.cjs). The
// proxy runtime (fixtures/proxy.mjs) computes the case in its worker as in-thread.

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CASE_SHAPE, type CaseReport, expectedCase, expectedLowPrecision, type Install, lowPrecisionDifferences, installPackedPackage, lastJson, maxAbsError, type ProxyReport, proxyProblems, root, run,
} from './helpers';

let install: Install;

beforeAll(() => {
  install = installPackedPackage();
  copyFileSync(join(root, 'examples', 'node', 'attention.mjs'), join(install.dir, 'example.mjs'));
}, 120_000);

afterAll(() => install?.cleanup());

describe('Node (packed package)', () => {
  it('ESM import resolves dist/index.js and computes the case', async () => {
    const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: install.dir, timeout: 30_000 });
    const r = lastJson<CaseReport>(stdout);
    expect(r.env).toBe('node');
    expect(r.resolved).toMatch(/node_modules\/wasm-attention\/dist\/index\.js$/);
    expect(r.shape).toEqual(CASE_SHAPE);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
    expect(r.isa).toBe('simd128'); // Node 20 validates relaxed SIMD only behind a flag
    expect(lowPrecisionDifferences(r.lowPrecision, await expectedLowPrecision('simd128'))).toEqual([]);
  });

  it('ESM import under --experimental-wasm-relaxed-simd picks the relaxed binary', async () => {
    const { stdout } = await run(process.execPath, ['--experimental-wasm-relaxed-simd', 'esm.mjs'], { cwd: install.dir, timeout: 30_000 });
    const r = lastJson<CaseReport>(stdout);
    expect(r.isa).toBe('relaxed');
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
    expect(lowPrecisionDifferences(r.lowPrecision, await expectedLowPrecision('relaxed'))).toEqual([]);
  });

  it('CommonJS require resolves dist/index.cjs and computes the case', async () => {
    const { stdout } = await run(process.execPath, ['cjs.cjs'], { cwd: install.dir, timeout: 30_000 });
    const r = lastJson<CaseReport>(stdout);
    expect(r.env).toBe('node-cjs');
    expect(r.resolved).toMatch(/node_modules\/wasm-attention\/dist\/index\.cjs$/);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
  });

  it('createRuntime({ proxy: true }) finds dist/proxy-worker.js beside the entry: results equal in-thread, progress, abort between heads', async () => {
    const { stdout } = await run(process.execPath, ['proxy.mjs'], { cwd: install.dir, timeout: 60_000 });
    const r = lastJson<ProxyReport>(stdout);
    expect(r.env).toBe('node');
    expect(proxyProblems(r)).toEqual([]);
  });

  it('ESM import of wasm-attention/core resolves dist/core.js and computes the case', async () => {
    const { stdout } = await run(process.execPath, ['core.mjs'], { cwd: install.dir, timeout: 30_000 });
    const r = lastJson<CaseReport & { coreOnly: boolean }>(stdout);
    expect(r.env).toBe('node');
    expect(r.resolved).toMatch(/node_modules\/wasm-attention\/dist\/core\.js$/);
    expect(r.coreOnly).toBe(true);
    expect(r.isa).toBe('simd128');
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
  });

  it('CommonJS require of wasm-attention/core resolves dist/core.cjs and computes the case', async () => {
    const { stdout } = await run(process.execPath, ['core.cjs'], { cwd: install.dir, timeout: 30_000 });
    const r = lastJson<CaseReport>(stdout);
    expect(r.resolved).toMatch(/node_modules\/wasm-attention\/dist\/core\.cjs$/);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
  });

  it('threads: 2 from the installed package runs on two threads with the same result', async () => {
    // (A file, not `node --input-type=module -e`: Node workers inherit the parent's execArgv, and
    // a worker given --input-type fails to start.)
    const { stdout } = await run(process.execPath, ['threads.mjs'], { cwd: install.dir, timeout: 30_000 });
    const r = lastJson<CaseReport & { splitThreads: number; splitDiff: number }>(stdout);
    expect(r.threads).toBe(2);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
    expect(r.splitThreads).toBe(2);
    expect(r.splitDiff).toBe(0); // the split is over heads and query tiles: same arithmetic
  });

  it('the Node example runs and checks itself', async () => {
    const { stdout } = await run(process.execPath, ['example.mjs'], { cwd: install.dir, timeout: 60_000 });
    const r = lastJson<{ maxError: number; heads: number; seq: number }>(stdout);
    expect(r.maxError).toBeLessThan(1e-5);
  });
});
