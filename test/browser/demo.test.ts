// Chromium: the browser demo (examples/browser, built by scripts/build-demo.mjs with esbuild and
// served with COOP/COEP headers as `npm run demo:web` does). For every variant the page lists
// (the list follows what the runtime offers), the test selects it, waits for the run, takes a
// screenshot of the first heatmap canvas and checks that it is drawn (decoded in the browser:
// many coloured, non-black pixels), and checks the sparsity the page reports where it is known
// exactly (full, causal, sliding window). Full-page screenshots go to test-results/browser/.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { Runtime } from '../../src/index';
import { root } from '../env/helpers';
import { launchChromium } from './chromium';

type Server = Awaited<ReturnType<typeof startServer>>;
interface DemoReport { variant: string; n: number; heads: number; density: number; ms: number; isa: string; threads: number }

const shots = join(root, 'test-results', 'browser');
let server: Server;
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { cwd: root, stdio: 'pipe', timeout: 60_000 });
  mkdirSync(shots, { recursive: true });
  server = await startServer({ root: join(root, 'examples', 'browser'), isolated: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/`);
  await waitForRun();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function waitForRun(): Promise<DemoReport> {
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', null, { timeout: 30_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  const status = await page.locator('#status').textContent();
  expect(state, status ?? '').toBe('done');
  return page.evaluate(() => (window as unknown as { demo: DemoReport }).demo);
}

/** Sets a control and waits for the run it starts. */
async function choose(id: string, value: string): Promise<DemoReport> {
  await page.evaluate(() => {
    document.body.dataset.state = 'waiting';
  });
  await page.selectOption(`#${id}`, value);
  return waitForRun();
}

/** Decodes a PNG screenshot in the page: pixel count, non-black pixels, distinct colours. */
async function inspectPng(png: Buffer): Promise<{ pixels: number; nonBlack: number; colours: number }> {
  return page.evaluate(async (b64) => {
    const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
    const bitmap = await createImageBitmap(blob);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    let nonBlack = 0;
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] + data[i + 1] + data[i + 2] > 30) nonBlack++;
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    return { pixels: data.length / 4, nonBlack, colours: colours.size };
  }, png.toString('base64'));
}

describe('browser demo (examples/browser)', () => {
  it('lists the variants the runtime offers, full/causal/window first', async () => {
    const ids = await page.locator('#variant option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
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
    const ids = await page.locator('#variant option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    const n = 128;
    const w = 8; // the page's default window
    for (const id of ids) {
      const r = await choose('variant', id);
      expect(r.variant).toBe(id);
      expect(r.n).toBe(n);
      expect(await page.locator('canvas.heatmap').count()).toBe(r.heads);
      const png = await page.locator('canvas.heatmap').first().screenshot();
      const img = await inspectPng(png);
      expect(img.nonBlack / img.pixels, `${id}: heatmap mostly black`).toBeGreaterThan(0.05);
      expect(img.colours, `${id}: heatmap has too few colours`).toBeGreaterThan(20);
      const sparsity = await inspectPng(await page.locator('#sparsity').screenshot());
      expect(sparsity.colours, `${id}: sparsity pattern blank`).toBeGreaterThan(1);
      await page.screenshot({ path: join(shots, `demo-${id}.png`), fullPage: true });
      if (id === 'full') expect(r.density).toBe(1);
      if (id === 'causal') expect(r.density).toBeCloseTo((n + 1) / (2 * n), 10);
      if (id === 'window') expect(r.density).toBeCloseTo((n * (2 * w + 1) - w * (w + 1)) / (n * n), 10);
      // Sparse variants leave keys out; Linformer (projections) and hierarchical (its document level
      // reaches every token) have dense effective weights.
      if (!['full', 'linformer', 'hierarchical'].includes(id)) expect(r.density, id).toBeLessThan(1);
    }
    expect(errors).toEqual([]);
  });

  it('runs on two threads (the page is crossOriginIsolated)', async () => {
    await choose('variant', 'full');
    const r = await choose('threads', '2');
    expect(r.threads).toBe(2);
    expect(r.isa).toBe('relaxed');
    await choose('threads', '1');
  });
});
