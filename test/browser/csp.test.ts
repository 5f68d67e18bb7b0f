// Security in Chromium, Firefox and WebKit: the library works under a strict Content-Security-Policy.
// A local server sends the policy with every response (page, bundle, worker script); the page
// (pages/csp.html, its script pages/csp.js — no inline script) loads dist/browser.js, computes an
// attention that the test checks against the float64 reference, and records every
// `securitypolicyviolation` event:
//   • `script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'` — works, no violation: no eval, no
//     new Function, no blob: or data: workers;
//   • `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'none'`
//     — works too: the kernels are embedded, nothing is fetched;
//   • the first policy plus COOP/COEP (crossOriginIsolated) with `threads: 2` — the pool's worker
//     (dist/worker.js, same origin) starts and the result equals the one-thread result (WebKitGTK,
//     without SharedArrayBuffer: one thread and the same result; with JSC_useSharedArrayBuffer=1:
//     two threads);
//   • control: `script-src 'self'` without 'wasm-unsafe-eval' — compiling Wasm is refused, and
//     createRuntime rejects with AttentionError UNSUPPORTED naming 'wasm-unsafe-eval' (so the
//     policy really is enforced in the runs above).
// Console errors are those the driver sees (driver.ts: in WebKit, console.error() calls after load).

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceAttention } from '../reference/attention';
import type { BrowserDriver } from './driver';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { useBrowser } from './use-browser';

const ROOT = join(import.meta.dirname, '..', '..');
const PAGES = join(import.meta.dirname, 'pages');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };

const CSP = "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";
const STRICT = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'none'";
const NO_WASM = "script-src 'self'; worker-src 'self'";
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };

/** Serves pages/ at / and the repository's dist/ at /dist/, every response with `headers`. */
function serve(headers: Record<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/favicon.ico') {
      res.writeHead(204, headers).end();
      return;
    }
    const base = path.startsWith('/dist/') ? ROOT : PAGES;
    const file = normalize(join(base, path));
    if (!file.startsWith(base + sep) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

interface Report {
  isa?: string;
  threads?: number;
  crossOriginIsolated?: boolean;
  shape?: number[];
  output?: number[];
  checksum?: number;
  violations: string[];
  error?: string;
  createError?: { name: string; code?: string; isAttentionError: boolean; message: string };
}

const servers: Array<{ close(): Promise<void> }> = [];

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'browser.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run test:browser does)');
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function run(browser: BrowserDriver, headers: Record<string, string>, query: string): Promise<{ report: Report; consoleErrors: string[] }> {
  const server = await serve(headers);
  servers.push(server);
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/csp.html?${query}`);
    await page.waitFor(() => (window as unknown as { report?: unknown }).report !== undefined, undefined, 60_000);
    const report = await page.evaluate(() => (window as unknown as { report: Report }).report);
    // Firefox and WebKit request /favicon.ico themselves; under default-src 'none' that request is
    // refused (img-src). It is the browser's, not the page's: left out of violations and errors.
    const notFavicon = (s: string) => !/img-src.*\/favicon\.ico|\/favicon\.ico.*img-src/.test(s);
    report.violations = report.violations?.filter(notFavicon);
    return { report, consoleErrors: [...await page.pageErrors(), ...await page.consoleErrors()].filter(notFavicon) };
  } finally {
    await page.close();
  }
}

/** The page's attention: q, k, v [1, 2, 9, 8] from sin(), causal. */
function expected(): Float64Array {
  const shape = [1, 2, 9, 8];
  const fill = (t: number) => ({ data: Float32Array.from({ length: 144 }, (_, i) => Math.sin(0.37 * i + 1.3 * t)), shape });
  return referenceAttention(fill(0), fill(1), fill(2), { causal: true }).output;
}

function maxError(got: number[] | undefined, want: Float64Array): number {
  expect(got?.length).toBe(want.length);
  return Math.max(...want.map((w, i) => Math.abs(got![i] - w)));
}

describe.each(selectedEngines())("%s under Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'", (engine) => {
  const facts = ENGINE_FACTS[engine];
  const browser = useBrowser(engine);
  let oneThreadChecksum: number | undefined;

  it.each([
    ['browser', CSP],
    ['index', CSP],
    ['browser', STRICT],
  ])('dist/%s.js computes attention under %s, with no violation', async (entry, policy) => {
    const { report, consoleErrors } = await run(browser(), { 'Content-Security-Policy': policy }, `entry=${entry}`);
    expect(report.error).toBeUndefined();
    expect(report.createError).toBeUndefined();
    expect(report.violations).toEqual([]);
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
    expect(report.isa).toBe(facts.defaultIsa);
    expect(report.threads).toBe(1);
    expect(report.shape).toEqual([1, 2, 9, 8]);
    expect(maxError(report.output, expected())).toBeLessThan(1e-6);
    oneThreadChecksum ??= report.checksum;
  });

  const threads = facts.threadsOnIsolatedPage ? 2 : 1;
  it(`threads: 2 on a crossOriginIsolated page under the policy: ${threads === 2 ? 'the pool worker (same origin) runs' : 'one thread (no SharedArrayBuffer)'}, results equal one thread`, async () => {
    const { report, consoleErrors } = await run(browser(), { 'Content-Security-Policy': CSP, ...ISOLATION }, 'entry=browser&threads=2');
    expect(report.error).toBeUndefined();
    expect(report.violations).toEqual([]);
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
    expect(report.crossOriginIsolated).toBe(true);
    expect(report.threads).toBe(threads);
    expect(maxError(report.output, expected())).toBeLessThan(1e-6);
    expect(report.checksum).toBe(oneThreadChecksum);
  });

  // WebKit compiles the bytes and refuses only at instantiation (a CompileError naming
  // 'wasm-unsafe-eval'): src/runtime/instantiate.ts reports that like a refused compilation.
  it("control: without 'wasm-unsafe-eval' compiling is refused and createRuntime rejects with AttentionError UNSUPPORTED", async () => {
    const { report } = await run(browser(), { 'Content-Security-Policy': NO_WASM }, 'entry=browser');
    expect(report.createError, JSON.stringify(report)).toBeDefined();
    expect(report.createError!.message).toContain("'wasm-unsafe-eval'");
    // Chromium and Firefox fire securitypolicyviolation for the refused compile; WebKit does not.
    if (engine !== 'webkit') expect(report.violations.length).toBeGreaterThan(0);
    expect(report.createError!.isAttentionError).toBe(true);
    expect(report.createError!.code).toBe('UNSUPPORTED');
  });
});

describe.runIf(selectedEngines().includes('webkit'))('webkit with JSC_useSharedArrayBuffer=1 under the policy', () => {
  const browser = useBrowser('webkit', { sharedArrayBuffer: true });

  it('threads: 2 on a crossOriginIsolated page: the pool worker (same origin) runs, results equal one thread', async () => {
    const one = await run(browser(), { 'Content-Security-Policy': CSP }, 'entry=browser');
    const two = await run(browser(), { 'Content-Security-Policy': CSP, ...ISOLATION }, 'entry=browser&threads=2');
    for (const { report, consoleErrors } of [one, two]) {
      expect(report.error).toBeUndefined();
      expect(report.violations).toEqual([]);
      expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
    }
    expect(one.report.threads).toBe(1);
    expect(two.report.crossOriginIsolated).toBe(true);
    expect(two.report.threads).toBe(2);
    expect(maxError(two.report.output, expected())).toBeLessThan(1e-6);
    expect(two.report.checksum).toBe(one.report.checksum);
  });
});
