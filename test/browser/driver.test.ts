// The driver interface (driver.ts) behaves the same in every engine: evaluate() passes its argument
// and awaits a returned promise, a page exception becomes a rejected evaluate(), waitFor() polls
// and times out, screenshots are PNGs of what is shown, and errors the page raises after load are
// reported. The other browser tests rely on exactly these. And the browsers stay off the network:
// with their traffic proxy pointed at a logging proxy, a page's request to another host arrives
// there, and Firefox and WebKit send nothing of their own; Chromium does (update and sign-in
// checks), which is why its proxy is a closed port by default.

import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { type BrowserDriver, type BrowserPage, pollUntil } from './driver';
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

/** How long a browser is watched for requests of its own. */
const QUIET_MS = 15_000;

/** A loopback proxy that answers nothing and records each request's first line. */
async function loggingProxy(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((socket) => {
    socket.once('data', (d) => {
      requests.push(d.toString('latin1').split('\r\n')[0]);
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

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

  it(`sends what is not for loopback to its traffic proxy${engine === 'chromium' ? '' : ', and nothing of its own'}`, async () => {
    const proxy = await loggingProxy();
    const watched = await launchBrowser(engine, { trafficProxy: proxy.url });
    try {
      const p = await watched.newPage();
      await p.goto(`${server.url}/driver.html`);
      await p.evaluate(() => fetch('http://example.invalid/from-the-page').then(() => 'answered', () => 'refused'));
      await pollUntil(async () => proxy.requests.some((r) => r.includes('example.invalid')), 'the page\'s request at the proxy', 10_000);
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      const own = proxy.requests.filter((r) => !r.includes('example.invalid'));
      if (engine === 'chromium') console.log(`Chromium's own requests in ${QUIET_MS / 1000} s (to the closed port by default): ${JSON.stringify(own)}`);
      else expect(own).toEqual([]);
    } finally {
      await watched.close();
      await proxy.close();
    }
  });
});
