// Chromium, Firefox and WebKit: the browser demo (examples/browser, built by scripts/build-demo.mjs
// with esbuild and served with COOP/COEP headers as `npm run demo:web` does). For every variant the
// page lists (the list follows what the runtime offers), the test selects it, waits for the run,
// takes a screenshot of the first heatmap canvas and checks that it is drawn (decoded in the
// browser: many coloured, non-black pixels), and checks the sparsity the page reports where it is
// known exactly (full, causal, sliding window) and that the sparsity pattern drawn matches it.
// Page screenshots go to test-results/browser/.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { Runtime } from '../../src/index';
import { root } from '../env/helpers';
import type { BrowserPage } from './driver';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { useBrowser } from './use-browser';
import { pngStats } from './png';

type Server = Awaited<ReturnType<typeof startServer>>;
interface DemoReport { variant: string; n: number; heads: number; density: number; ms: number; isa: string; threads: number }

const shots = join(root, 'test-results', 'browser');
let server: Server;

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { cwd: root, stdio: 'pipe', timeout: 60_000 });
  mkdirSync(shots, { recursive: true });
  server = await startServer({ root: join(root, 'examples', 'browser'), isolated: true });
});

afterAll(async () => {
  await server?.close();
});

async function waitForRun(page: BrowserPage): Promise<DemoReport> {
  await page.waitFor(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', undefined, 60_000);
  const { state, status } = await page.evaluate(() => ({ state: document.body.dataset.state, status: document.getElementById('status')?.textContent }));
  expect(state, status ?? '').toBe('done');
  return page.evaluate(() => (window as unknown as { demo: DemoReport }).demo);
}

/** Sets a control as a user would (its value, then `input` and `change`) and waits for the run it starts. */
async function choose(page: BrowserPage, id: string, value: string): Promise<DemoReport> {
  await page.evaluate(({ id, value }) => {
    document.body.dataset.state = 'waiting';
    const select = document.getElementById(id) as HTMLSelectElement;
    select.value = value;
    select.dispatchEvent(new Event('input', { bubbles: true }));
    select.dispatchEvent(new Event('change', { bubbles: true }));
  }, { id, value });
  return waitForRun(page);
}

const variantIds = (page: BrowserPage) => page.evaluate(() => Array.from(document.querySelectorAll<HTMLOptionElement>('#variant option'), (o) => o.value));

describe.each(selectedEngines())('%s: browser demo (examples/browser)', (engine) => {
  const facts = ENGINE_FACTS[engine];
  const browser = useBrowser(engine);
  let page: BrowserPage;

  beforeAll(async () => {
    page = await browser().newPage({ width: 1300, height: 1000 });
    await page.goto(`${server.url}/`);
    await waitForRun(page);
  });

  it('lists the variants the runtime offers, full/causal/window first', async () => {
    const ids = await variantIds(page);
    expect(ids.slice(0, 4)).toEqual(['full', 'causal', 'window', 'window-causal']);
    // A variant appears exactly when this build's Runtime has its method.
    const proto = Runtime.prototype as unknown as Record<string, unknown>;
    const needs: Record<string, string> = {
      dilated: 'slidingWindowAttention', 'global-local': 'globalLocalAttention', bigbird: 'globalLocalAttention',
      lsh: 'lshAttention', linformer: 'linformerAttention', segmented: 'segmentedAttention',
    };
    for (const [id, method] of Object.entries(needs)) expect(ids.includes(id), id).toBe(typeof proto[method] === 'function');
  });

  it('draws a heatmap per head and the sparsity pattern for every listed variant', async () => {
    const ids = await variantIds(page);
    const n = 128;
    const w = 8; // the page's default window
    for (const id of ids) {
      const r = await choose(page, 'variant', id);
      expect(r.variant).toBe(id);
      expect(r.n).toBe(n);
      expect(r.isa).toBe(facts.defaultIsa);
      expect(await page.evaluate(() => document.querySelectorAll('canvas.heatmap').length)).toBe(r.heads);
      const img = await pngStats(page, await page.screenshot({ selector: 'canvas.heatmap' }));
      expect(img.nonBlack / (img.width * img.height), `${id}: heatmap mostly black`).toBeGreaterThan(0.05);
      expect(img.colours, `${id}: heatmap has too few colours`).toBeGreaterThan(20);
      // The sparsity pattern draws head 0's computed pairs dark on a light ground.
      const sparsity = await pngStats(page, await page.screenshot({ selector: '#sparsity' }));
      const computed = sparsity.dark / (sparsity.width * sparsity.height);
      expect(computed, `${id}: sparsity pattern blank`).toBeGreaterThan(0);
      // Where every head has the same pattern, the dark share is the density (up to the scaling).
      if (['full', 'causal', 'window'].includes(id)) expect(Math.abs(computed - r.density), `${id}: sparsity pattern`).toBeLessThan(0.03);
      writeFileSync(join(shots, `demo-${engine}-${id}.png`), await page.screenshot({ fullPage: true }));
      if (id === 'full') expect(r.density).toBe(1);
      if (id === 'causal') expect(r.density).toBeCloseTo((n + 1) / (2 * n), 10);
      if (id === 'window') expect(r.density).toBeCloseTo((n * (2 * w + 1) - w * (w + 1)) / (n * n), 10);
      // Sparse variants leave keys out; Linformer (projections) and hierarchical (its document level
      // reaches every token) have dense effective weights.
      if (!['full', 'linformer', 'hierarchical'].includes(id)) expect(r.density, id).toBeLessThan(1);
    }
    expect(await page.pageErrors()).toEqual([]);
  });

  const threads = facts.threadsOnIsolatedPage ? 2 : 1;
  it(`runs on ${threads === 2 ? 'two threads (the page is crossOriginIsolated)' : 'one thread when asked for two (no SharedArrayBuffer)'}`, async () => {
    await choose(page, 'variant', 'full');
    const r = await choose(page, 'threads', '2');
    expect(r.threads).toBe(threads);
    expect(r.isa).toBe(facts.defaultIsa);
    await choose(page, 'threads', '1');
  });
});
