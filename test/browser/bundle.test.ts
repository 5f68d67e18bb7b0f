// Chromium, Firefox and WebKit: pages served from a local HTTP server load the packed package's
// ESM bundles (dist/browser.js — the `browser` export condition — and dist/index.js, and the same
// two of `wasm-attention/core`: dist/core.browser.js, dist/core.js) and compute the causal
// attention of test/env/fixtures/case.mjs, which the test checks against the float64 reference.
//  - plain server: the engine's default binary (relaxed in Chromium and Firefox, simd128 in WebKit,
//    which does not ship relaxed SIMD), simd128 when forced, and `threads: 2` falls back to one
//    thread with a warning (the page is not crossOriginIsolated);
//  - server with COOP/COEP headers: `threads: 2` gives rt.threads === 2, the pool's worker comes
//    from the default URL (dist/worker.js beside the bundle), and a call large enough to be split
//    over the threads equals the one-thread result. WebKitGTK exposes no SharedArrayBuffer there:
//    the test asserts the runtime's fallback (one thread, the warning, the same results), and runs
//    the two-thread test again in a WebKit started with JSC_useSharedArrayBuffer=1.

import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { CASE_SHAPE, type CaseReport, expectedCase, type Install, installPackedPackage, maxAbsError } from '../env/helpers';
import type { BrowserDriver } from './driver';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { useBrowser } from './use-browser';
import { readReport } from './report';

type Server = Awaited<ReturnType<typeof startServer>>;
type ThreadsReport = CaseReport & {
  crossOriginIsolated: boolean; sharedArrayBuffer: boolean; splitThreads: number; splitDiff: number; workers: string[]; warnings: string[];
};

const ENTRIES = ['browser', 'index', 'core.browser', 'core'];

let install: Install;
let plain: Server;
let isolated: Server;

beforeAll(async () => {
  install = installPackedPackage();
  cpSync(join(import.meta.dirname, 'pages'), install.dir, { recursive: true });
  plain = await startServer({ root: install.dir });
  isolated = await startServer({ root: install.dir, isolated: true });
});

afterAll(async () => {
  await plain?.close();
  await isolated?.close();
  install?.cleanup();
});

/** The two-thread page in `browser`, checked for two threads and the worker's default URL. */
async function expectTwoThreads(browser: BrowserDriver, entry: string): Promise<void> {
  const r = await readReport<ThreadsReport>(browser, `${isolated.url}/threads.html?entry=${entry}`);
  expect(r.crossOriginIsolated).toBe(true);
  expect(r.threads).toBe(2);
  expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
  expect(r.splitThreads).toBe(2);
  expect(r.splitDiff).toBe(0);
  expect(r.workers.length).toBeGreaterThan(0);
  for (const url of r.workers) expect(url).toBe(`${isolated.url}/node_modules/wasm-attention/dist/worker.js`);
  expect(r.warnings).toEqual([]);
}

describe.each(selectedEngines())('%s', (engine) => {
  const facts = ENGINE_FACTS[engine];
  const browser = useBrowser(engine);

  describe.each(ENTRIES)('dist/%s.js', (entry) => {
    it(`computes the case (${facts.defaultIsa} by default, simd128 when forced); threads fall back without COOP/COEP`, async () => {
      const r = await readReport<{ crossOriginIsolated: boolean; best: CaseReport; simd128: CaseReport; fallback: CaseReport; warnings: string[] }>(
        browser(), `${plain.url}/case.html?entry=${entry}`,
      );
      expect(r.crossOriginIsolated).toBe(false);
      expect(r.best.isa).toBe(facts.defaultIsa);
      expect(r.best.shape).toEqual(CASE_SHAPE);
      expect(maxAbsError(r.best.output, expectedCase())).toBeLessThan(1e-6);
      expect(r.simd128.isa).toBe('simd128');
      expect(maxAbsError(r.simd128.output, expectedCase())).toBeLessThan(1e-6);
      expect(r.fallback.threads).toBe(1);
      expect(maxAbsError(r.fallback.output, expectedCase())).toBeLessThan(1e-6);
      expect(r.warnings.join('\n')).toMatch(/crossOriginIsolated/);
    });

    if (facts.threadsOnIsolatedPage) {
      it('runs two threads on a crossOriginIsolated page (COOP/COEP), worker from the default URL', async () => {
        await expectTwoThreads(browser(), entry);
      });
    } else {
      it('on a crossOriginIsolated page without SharedArrayBuffer, threads: 2 falls back to one thread with the warning', async () => {
        const r = await readReport<ThreadsReport>(browser(), `${isolated.url}/threads.html?entry=${entry}`);
        expect(r.crossOriginIsolated).toBe(true);
        expect(r.sharedArrayBuffer).toBe(false);
        expect(r.threads).toBe(1);
        expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
        expect(r.splitThreads).toBe(1);
        expect(r.splitDiff).toBe(0);
        expect(r.workers).toEqual([]);
        expect(r.warnings.join('\n')).toMatch(/threads need SharedArrayBuffer.*running on one thread/);
      });
    }
  });
});

describe.runIf(selectedEngines().includes('webkit'))('webkit with JSC_useSharedArrayBuffer=1', () => {
  const browser = useBrowser('webkit', { sharedArrayBuffer: true });

  it.each(ENTRIES)('dist/%s.js runs two threads on a crossOriginIsolated page, worker from the default URL', async (entry) => {
    await expectTwoThreads(browser(), entry);
  });
});
