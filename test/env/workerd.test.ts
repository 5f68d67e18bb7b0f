// workerd (the `workerd` npm package, Cloudflare's Workers runtime): the Cloudflare Worker example
// (examples/cloudflare-worker) is bundled with its build.mjs against the packed package — the
// `workerd` export condition selects dist/workerd.js, whose two .wasm imports become Wasm modules
// of the workerd config (compiled at load: workerd forbids compiling bytes at run time, so the
// embedded base64 kernels must not be in the bundle). workerd serves it on a free loopback port;
// the test POSTs the case of fixtures/case.mjs and checks the answer against the float64
// reference. workerd is killed in afterAll; every step has a time limit. The same Worker importing
// `wasm-attention/core` (its `workerd` condition: dist/core.workerd.js) is bundled and served by a
// second workerd and must compute the same case. A third Worker runs case.mjs's low-precision
// paths on both binaries, which must agree with Node's (lowPrecisionDifferences in helpers.ts).

import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bin, CASE_SHAPE, caseInputs, expectedCase, expectedLowPrecision, fixtures, freePort, type Install, installPackedPackage, kill,
  type LowPrecisionReport, lowPrecisionDifferences, maxAbsError, root, run,
} from './helpers';

let install: Install;
let workerd: ChildProcess | undefined;
let base = '';
let log = '';
let coreWorkerd: ChildProcess | undefined;
let coreBase = '';
let coreOutput = () => '';

async function waitForServer(url: string, ms: number, child = () => workerd, output = () => log): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const exited = child()?.exitCode;
    if (exited !== null && exited !== undefined) throw new Error(`workerd exited (${exited}):\n${output()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`workerd did not answer within ${ms} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Builds the Worker in `dir` (the example's build.mjs) and serves it with its own workerd. */
async function serveWorker(dir: string): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  await run(process.execPath, ['build.mjs'], { cwd: dir, timeout: 60_000 });
  const port = await freePort();
  let output = '';
  const child = spawn(bin('workerd'), ['serve', 'config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await waitForServer(url, 30_000, () => child, () => output);
  return { url, child, output: () => output };
}

beforeAll(async () => {
  install = installPackedPackage();
  // The example's build.mjs imports esbuild, as a Worker project would have it installed.
  symlinkSync(join(root, 'node_modules', 'esbuild'), join(install.dir, 'node_modules', 'esbuild'), 'dir');
  cpSync(join(root, 'examples', 'cloudflare-worker'), join(install.dir, 'worker'), { recursive: true });
  await run(process.execPath, ['build.mjs'], { cwd: join(install.dir, 'worker'), timeout: 60_000 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  workerd = spawn(bin('workerd'), ['serve', 'config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: join(install.dir, 'worker'), stdio: ['ignore', 'pipe', 'pipe'],
  });
  workerd.stdout!.on('data', (d) => (log += d));
  workerd.stderr!.on('data', (d) => (log += d));
  await waitForServer(base, 30_000);
}, 120_000);

afterAll(async () => {
  await kill(workerd);
  await kill(coreWorkerd);
  install?.cleanup();
}, 30_000);

describe('workerd (Cloudflare Worker example, packed package)', () => {
  it('bundles the workerd entry: .wasm imports, no embedded base64 kernels', () => {
    const bundle = readFileSync(join(install.dir, 'worker', 'dist', 'worker.js'), 'utf8');
    expect(bundle).toContain('node_modules/wasm-attention/dist/workerd.js');
    expect(bundle).toMatch(/import [\w$]+ from "\.\/wasm\/relaxed\.wasm"/);
    expect(bundle).toMatch(/import [\w$]+ from "\.\/wasm\/simd128\.wasm"/);
    expect(bundle).not.toMatch(/[A-Za-z0-9+/]{4096}/);
  });

  it('GET answers with the binary in use (relaxed SIMD, precompiled)', async () => {
    const r = await fetch(base, { signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(200);
    expect((await r.json()).isa).toBe('relaxed');
  });

  it('POST computes the case', async () => {
    const { q, k, v } = caseInputs();
    const body = JSON.stringify({ shape: CASE_SHAPE, q: Array.from(q.data), k: Array.from(k.data), v: Array.from(v.data), causal: true });
    const r = await fetch(base, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
    expect(r.status, log).toBe(200);
    const json = (await r.json()) as { isa: string; shape: number[]; output: number[] };
    expect(json.shape).toEqual(CASE_SHAPE);
    expect(maxAbsError(json.output, expectedCase())).toBeLessThan(1e-6);
  });

  it('bad input is a 400 with a code (arrays that do not match the shape are rejected before any tensor is built)', async () => {
    const body = JSON.stringify({ shape: [1, 1, 2, 3], q: [1, 0, 0, 1], k: [1, 0, 0, 1], v: [1, 0, 0, 1] });
    const r = await fetch(base, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(400);
    expect((await r.json()).code).toBe('INVALID_BODY');
  });
});

describe('workerd, wasm-attention/core (the example Worker importing the core entry)', () => {
  beforeAll(async () => {
    const dir = join(install.dir, 'worker-core');
    cpSync(join(root, 'examples', 'cloudflare-worker'), dir, { recursive: true });
    const source = join(dir, 'src', 'worker.js');
    writeFileSync(source, readFileSync(source, 'utf8').replace("from 'wasm-attention';", "from 'wasm-attention/core';"));
    const served = await serveWorker(dir);
    [coreBase, coreWorkerd, coreOutput] = [served.url, served.child, served.output];
  }, 120_000);

  it('bundles dist/core.workerd.js: .wasm imports, no embedded base64 kernels, no layers', () => {
    const bundle = readFileSync(join(install.dir, 'worker-core', 'dist', 'worker.js'), 'utf8');
    expect(bundle).toContain('node_modules/wasm-attention/dist/core.workerd.js');
    expect(bundle).toMatch(/import [\w$]+ from "\.\/wasm\/relaxed\.wasm"/);
    expect(bundle).not.toMatch(/[A-Za-z0-9+/]{4096}/);
    expect(bundle).not.toMatch(/multiHeadAttention|lshAttention/);
  });

  it('POST computes the case with the relaxed binary', async () => {
    const { q, k, v } = caseInputs();
    const body = JSON.stringify({ shape: CASE_SHAPE, q: Array.from(q.data), k: Array.from(k.data), v: Array.from(v.data), causal: true });
    const r = await fetch(coreBase, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
    expect(r.status, coreOutput()).toBe(200);
    const json = (await r.json()) as { isa: string; shape: number[]; output: number[] };
    expect(json.isa).toBe('relaxed');
    expect(json.shape).toEqual(CASE_SHAPE);
    expect(maxAbsError(json.output, expectedCase())).toBeLessThan(1e-6);
  });
});

describe('workerd, the low-precision paths (a Worker running case.mjs\'s runLowPrecision)', () => {
  let lowWorkerd: ChildProcess | undefined;
  let lowBase = '';
  let lowOutput = () => '';
  beforeAll(async () => {
    const dir = join(install.dir, 'worker-low');
    cpSync(join(root, 'examples', 'cloudflare-worker'), dir, { recursive: true });
    cpSync(join(fixtures, 'case.mjs'), join(dir, 'src', 'case.mjs'));
    writeFileSync(join(dir, 'src', 'worker.js'), [
      "import { createRuntime } from 'wasm-attention';",
      "import { runLowPrecision } from './case.mjs';",
      'export default {',
      '  async fetch() {',
      "    return Response.json({ relaxed: await runLowPrecision(createRuntime), simd128: await runLowPrecision(createRuntime, { isa: 'simd128' }) });",
      '  },',
      '};',
    ].join('\n'));
    const served = await serveWorker(dir);
    [lowBase, lowWorkerd, lowOutput] = [served.url, served.child, served.output];
  }, 120_000);

  afterAll(async () => {
    await kill(lowWorkerd);
  }, 30_000);

  it('int8 / q8_0 / q4_0 / f16 products, 8-bit attention and f16 / int8 KV caches agree with Node, both binaries', async () => {
    const r = await fetch(lowBase, { signal: AbortSignal.timeout(20_000) });
    expect(r.status, lowOutput()).toBe(200);
    const json = (await r.json()) as Record<'relaxed' | 'simd128', LowPrecisionReport>;
    expect(lowPrecisionDifferences(json.relaxed, await expectedLowPrecision('relaxed'))).toEqual([]);
    expect(lowPrecisionDifferences(json.simd128, await expectedLowPrecision('simd128'))).toEqual([]);
  });
});
