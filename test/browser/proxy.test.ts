// The proxy runtime (createRuntime({ proxy: true })) in Chromium, Firefox and WebKit, from the packed
// package's ESM bundles (dist/browser.js, dist/index.js), with no proxyWorkerUrl: the worker must be
// found beside the bundle (dist/proxy-worker.js, a module Worker). pages/proxy.html computes, in
// the proxy and in an in-thread runtime of the same bundle, attention and every variant of
// attentionVariants(); the test requires the results to be equal bit for bit. Then:
//   • a call whose signal was aborted before it started rejects with AttentionError ABORTED;
//   • a 12 × 2048 × 64 attention aborted at its first progress event rejects with ABORTED, and the
//     progress it reported counted (batch, head) pairs below the total;
//   • the next call equals the in-thread result (the runtime stays usable), a call with
//     `transfer: true` detaches the caller's array and gives the same result, and a call after
//     dispose() rejects with DISPOSED.
// Served twice: with COOP/COEP (shared memory: the abort stops the worker between heads, where the
// engine has SharedArrayBuffer — not WebKitGTK) and without (the abort terminates the worker and
// the next call starts a new one); `sharedAbort` must say which of the two happened.

import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { type Install, installPackedPackage } from '../env/helpers';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { readReport } from './report';
import { useBrowser } from './use-browser';

type Server = Awaited<ReturnType<typeof startServer>>;
interface Output { name: string; shape: number[]; bits: number[] }
interface ProxyReport {
  crossOriginIsolated: boolean;
  sharedAbort: boolean;
  workers: string[];
  compared: { name: string; want: Output[]; got: Output[] }[];
  abortedBefore: string;
  abortedDuring: string;
  progress: [number, number][];
  afterWant: number[];
  afterGot: number[];
  transferred: number[];
  detachedLength: number;
  afterDispose: string;
}

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

/** The checks every run of the page must pass. */
function expectProxyReport(r: ProxyReport, origin: string, entry: string): void {
  expect(r.workers).toContain(`${origin}/node_modules/wasm-attention/dist/proxy-worker.js`);
  expect(r.compared.length).toBeGreaterThanOrEqual(9);
  for (const c of r.compared) {
    expect(c.want.length, c.name).toBeGreaterThan(0);
    expect(c.got, `${c.name} (${entry})`).toEqual(c.want);
  }
  expect(r.abortedBefore).toBe('AttentionError:ABORTED');
  expect(r.abortedDuring).toBe('AttentionError:ABORTED');
  expect(r.progress.length).toBeGreaterThan(0);
  const [done, total] = r.progress[0]!;
  expect(total).toBe(12);
  expect(done).toBeGreaterThanOrEqual(0);
  expect(done).toBeLessThan(total);
  expect(r.afterGot).toEqual(r.afterWant);
  expect(r.transferred).toEqual(r.afterWant);
  expect(r.detachedLength).toBe(0);
  expect(r.afterDispose).toBe('AttentionError:DISPOSED');
}

describe.each(selectedEngines())('%s', (engine) => {
  const facts = ENGINE_FACTS[engine];
  const browser = useBrowser(engine);

  describe.each(['browser', 'index'])('dist/%s.js', (entry) => {
    it('without cross-origin isolation: equal to in-thread, the abort terminates the worker, usable after', async () => {
      const r = await readReport<ProxyReport>(browser(), `${plain.url}/proxy.html?entry=${entry}`, { timeoutMs: 120_000 });
      expect(r.crossOriginIsolated).toBe(false);
      expect(r.sharedAbort).toBe(false);
      expectProxyReport(r, plain.url, entry);
    });

    it(`with COOP/COEP: equal to in-thread, the abort ${facts.threadsOnIsolatedPage ? 'stops between heads (shared flag)' : 'terminates the worker (no SharedArrayBuffer)'}`, async () => {
      const r = await readReport<ProxyReport>(browser(), `${isolated.url}/proxy.html?entry=${entry}`, { timeoutMs: 120_000 });
      expect(r.crossOriginIsolated).toBe(true);
      expect(r.sharedAbort).toBe(facts.threadsOnIsolatedPage);
      expectProxyReport(r, isolated.url, entry);
    });
  });
});
