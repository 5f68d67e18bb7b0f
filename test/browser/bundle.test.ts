// Chromium: pages served from a local HTTP server load the packed package's ESM bundles
// (dist/browser.js — the `browser` export condition — and dist/index.js, and the same two of
// `wasm-attention/core`: dist/core.browser.js, dist/core.js) and compute the causal
// attention of test/env/fixtures/case.mjs, which the test checks against the float64 reference.
//  - plain server: relaxed SIMD by default, simd128 when forced, and `threads: 2` falls back to
//    one thread with a warning (the page is not crossOriginIsolated);
//  - server with COOP/COEP headers: `threads: 2` gives rt.threads === 2, the pool's worker comes
//    from the default URL (dist/worker.js beside the bundle), and a call large enough to be split
//    over the threads equals the one-thread result.

import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { CASE_SHAPE, type CaseReport, expectedCase, type Install, installPackedPackage, maxAbsError } from '../env/helpers';
import { launchChromium } from './chromium';

type Server = Awaited<ReturnType<typeof startServer>>;

let install: Install;
let plain: Server;
let isolated: Server;
let browser: Browser;

beforeAll(async () => {
  install = installPackedPackage();
  cpSync(join(import.meta.dirname, 'pages'), install.dir, { recursive: true });
  plain = await startServer({ root: install.dir });
  isolated = await startServer({ root: install.dir, isolated: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await plain?.close();
  await isolated?.close();
  install?.cleanup();
});

/** Opens a page, waits for window.report, and returns it (page errors fail the test). */
async function report<T>(url: string, onPage?: (page: Page) => void): Promise<T> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  onPage?.(page);
  try {
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { report?: unknown }).report !== undefined, null, { timeout: 30_000 });
    const r = await page.evaluate(() => (window as unknown as { report: T & { error?: string } }).report);
    expect(errors).toEqual([]);
    expect(r.error).toBeUndefined();
    return r;
  } finally {
    await page.close();
  }
}

describe.each(['browser', 'index', 'core.browser', 'core'])('Chromium, dist/%s.js', (entry) => {
  it('computes the case (relaxed SIMD by default, simd128 when forced); threads fall back without COOP/COEP', async () => {
    const r = await report<{ crossOriginIsolated: boolean; best: CaseReport; simd128: CaseReport; fallback: CaseReport; warnings: string[] }>(
      `${plain.url}/case.html?entry=${entry}`,
    );
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.best.isa).toBe('relaxed');
    expect(r.best.shape).toEqual(CASE_SHAPE);
    expect(maxAbsError(r.best.output, expectedCase())).toBeLessThan(1e-6);
    expect(r.simd128.isa).toBe('simd128');
    expect(maxAbsError(r.simd128.output, expectedCase())).toBeLessThan(1e-6);
    expect(r.fallback.threads).toBe(1);
    expect(maxAbsError(r.fallback.output, expectedCase())).toBeLessThan(1e-6);
    expect(r.warnings.join('\n')).toMatch(/crossOriginIsolated/);
  });

  it('runs two threads on a crossOriginIsolated page (COOP/COEP), worker from the default URL', async () => {
    const workers: string[] = [];
    const r = await report<CaseReport & { crossOriginIsolated: boolean; splitThreads: number; splitDiff: number }>(
      `${isolated.url}/threads.html?entry=${entry}`,
      (page) => page.on('worker', (w) => workers.push(w.url())),
    );
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.threads).toBe(2);
    expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
    expect(r.splitThreads).toBe(2);
    expect(r.splitDiff).toBe(0);
    expect(workers.length).toBeGreaterThan(0);
    for (const url of workers) expect(url).toBe(`${isolated.url}/node_modules/wasm-attention/dist/worker.js`);
  });
});
