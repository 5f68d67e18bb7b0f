// page.ts — the Node side of the LLM page (test/browser/pages/wllama.html): builds it into a folder
// (esbuild bundles wllama-page.ts with @wllama/wllama; wllama's wasm is copied beside it), serves
// that folder with scripts/serve.mjs (COOP/COEP by default, so engines may use threads), opens it
// in the system Chromium (test/browser/chromium.ts) and runs jobs in it. Models are linked into
// the folder's models/ directory and fetched by the page over HTTP.
// Used by test/browser/wllama.test.ts and bench/llm/main.ts.

import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { launchChromium } from '../../test/browser/chromium';
import type { LlmJob, LlmResult } from '../../test/browser/pages/wllama-page';

export type { LlmJob, LlmResult } from '../../test/browser/pages/wllama-page';

/** The repository, from this file's place (pass it explicitly when running from a bundle). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Bundles the page into `dir` (llm-page.js, wllama.html, wllama.wasm, and this library's worker.js:
 * the page bundles dist/browser.js, so `npm run build` must have run); `root` is the repository.
 */
export async function buildLlmPage(dir: string, root = ROOT): Promise<void> {
  const pages = join(root, 'test', 'browser', 'pages');
  mkdirSync(join(dir, 'models'), { recursive: true });
  await build({
    entryPoints: [join(pages, 'wllama-page.ts')],
    outfile: join(dir, 'llm-page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
    nodePaths: [join(root, 'node_modules')],
    // This library as its browser bundle (npm run build), exactly as a user's bundler resolves it.
    alias: { 'wasm-attention': join(root, 'dist', 'browser.js') },
  });
  copyFileSync(join(pages, 'wllama.html'), join(dir, 'wllama.html'));
  // The runtime's worker pool loads worker.js from beside the bundle.
  copyFileSync(join(root, 'dist', 'worker.js'), join(dir, 'worker.js'));
  const require = createRequire(join(root, 'package.json'));
  const wllamaEsm = dirname(require.resolve('@wllama/wllama'));
  copyFileSync(join(wllamaEsm, 'wasm', 'wllama.wasm'), join(dir, 'wllama.wasm'));
}

/** Links the model file `path` into `dir`/models; returns its URL relative to the page. */
export function serveModel(dir: string, path: string): string {
  const name = basename(path);
  try {
    symlinkSync(resolve(path), join(dir, 'models', name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return `./models/${name}`;
}

/** An open LLM page. */
export interface LlmPage {
  page: Page;
  /** Runs a job in the page (rejects with the page's error, or after `timeoutMs`). */
  run(job: LlmJob, timeoutMs?: number): Promise<LlmResult>;
  /** Errors the page reported (uncaught exceptions, console errors). */
  errors: string[];
  close(): Promise<void>;
}

/** Serves `dir` and opens its page in a new Chromium. */
export async function openLlmPage(dir: string, options: { isolated?: boolean } = {}): Promise<LlmPage> {
  const server = await startServer({ root: dir, isolated: options.isolated ?? true });
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${server.url}/wllama.html`);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 30_000 });
    const opened = browser;
    return {
      page,
      errors,
      run: async (job, timeoutMs = 600_000) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the page did not finish ${job.engine} on ${job.model} in ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          return await Promise.race([page.evaluate((j) => window.llm.run(j), job), timeout]);
        } finally {
          clearTimeout(timer);
        }
      },
      close: async () => {
        await opened.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}
