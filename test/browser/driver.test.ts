// The driver interface (driver.ts) behaves the same in every engine: evaluate() passes its argument
// and awaits a returned promise, a page exception becomes a rejected evaluate(), waitFor() polls
// and times out, screenshots are PNGs of what is shown, and errors the page raises after load are
// reported. The other browser tests rely on exactly these.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import type { BrowserDriver, BrowserPage } from './driver';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { launchBrowser } from './launch';
import { pngStats } from './png';

let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer({ root: join(import.meta.dirname, 'pages') });
});
afterAll(async () => {
  await server?.close();
});

describe.each(selectedEngines())('%s: the driver', (engine) => {
  let browser: BrowserDriver;
  let page: BrowserPage;

  beforeAll(async () => {
    browser = await launchBrowser(engine);
    page = await browser.newPage({ width: 800, height: 600 });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it(`evaluates functions with an argument, awaiting promises (${ENGINE_FACTS[engine].label})`, async () => {
    await page.goto(`${server.url}/driver.html`);
    expect(browser.version).toMatch(/\d/);
    expect(await page.evaluate((x) => x.a * 2 + x.b.length, { a: 20, b: [1, 2] })).toBe(42);
    expect(await page.evaluate(() => new Promise((resolve) => setTimeout(() => resolve('later'), 50)))).toBe('later');
    expect(await page.evaluate(() => [1.5, 'x', true, null, { n: -0.25 }])).toEqual([1.5, 'x', true, null, { n: -0.25 }]);
    await expect(page.evaluate(() => {
      throw new Error('thrown in the page');
    })).rejects.toThrow(/thrown in the page/);
  });

  it('waits for a condition, and times out on one that never holds', async () => {
    await page.goto(`${server.url}/driver.html`);
    await page.waitFor(() => (window as unknown as { ready?: boolean }).ready === true, undefined, 10_000);
    await expect(page.waitFor((v) => v === 2, 1, 500)).rejects.toThrow();
  });

  it('takes screenshots of an element and of the page', async () => {
    await page.goto(`${server.url}/driver.html`);
    const square = await pngStats(page, await page.screenshot({ selector: '#square' }));
    expect(square.centre).toEqual([255, 0, 0]);
    expect(square.width).toBeGreaterThanOrEqual(40);
    const whole = await pngStats(page, await page.screenshot());
    expect(whole.width).toBeGreaterThan(square.width);
  });

  it('reports errors the page raises: uncaught, unhandled rejections, console.error', async () => {
    await page.goto(`${server.url}/driver.html?fail=1`);
    await page.waitFor(() => (window as unknown as { ready?: boolean }).ready === true, undefined, 10_000);
    const errors = (await page.pageErrors()).join('\n');
    expect(errors).toMatch(/driver self-test: uncaught/);
    expect(errors).toMatch(/driver self-test: rejection/);
    expect((await page.consoleErrors()).join('\n')).toMatch(/driver self-test: console.error/);
  });
});
