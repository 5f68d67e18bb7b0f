// Chromium: the tiny-llama page (examples/browser/llama.html, built by scripts/build-demo.mjs and
// served as `npm run demo:web` serves it). It loads llama2.c's stories260K checkpoint over HTTP,
// generates 256 ids greedily from BOS on wasm-attention, and must produce exactly the ids
// llama2.c's run.c produces (test/fixtures/stories260K/greedy-tokens.txt), on both kernel binaries.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { root } from '../env/helpers';
import { launchChromium } from './chromium';

interface LlamaReport { isa: string; prompt: number[]; tokens: number[]; prefillTokensPerSecond: number; decodeTokensPerSecond: number; matches?: number }

const greedy = readFileSync(join(root, 'test', 'fixtures', 'stories260K', 'greedy-tokens.txt'), 'utf8').trim().split(/\s+/).map(Number);
const shots = join(root, 'test-results', 'browser');
let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { cwd: root, stdio: 'pipe', timeout: 60_000 });
  mkdirSync(shots, { recursive: true });
  server = await startServer({ root: join(root, 'examples', 'browser'), isolated: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(query: string): Promise<{ page: Page; report: LlamaReport; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/llama.html${query}`);
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', null, { timeout: 30_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  expect(state, (await page.locator('#status').textContent()) ?? '').toBe('done');
  const report = await page.evaluate(() => (window as unknown as { llama: LlamaReport }).llama);
  return { page, report, errors };
}

describe('tiny-llama page (examples/browser/llama.html)', () => {
  it.each(['relaxed', 'simd128'])('generates llama2.c run.c greedy ids from BOS (%s kernels)', async (isa) => {
    const { page, report, errors } = await open(`?isa=${isa}`);
    expect(report.isa).toBe(isa);
    expect(report.prompt).toEqual([1]);
    expect(report.tokens.slice(0, 16)).toEqual(greedy.slice(0, 16));
    expect(report.tokens).toEqual(greedy);
    expect(report.matches).toBe(256);
    expect(report.decodeTokensPerSecond).toBeGreaterThan(0);
    // What the page shows: the ids and tokens/s.
    expect((await page.locator('#ids').textContent())?.trim().split(/\s+/).map(Number)).toEqual(greedy);
    expect(await page.locator('#stats').textContent()).toMatch(/decode 255 steps in [\d.]+ ms \(\d+ tokens\/s\)/);
    expect(await page.locator('#ids .wrong').count()).toBe(0);
    await page.screenshot({ path: join(shots, `llama-${isa}.png`), fullPage: true });
    console.log(`[chromium ${isa}] decode ${report.decodeTokensPerSecond.toFixed(0)} tokens/s`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('continues a given prompt (ids from the URL) like the greedy sequence', async () => {
    const { page, report } = await open(`?prompt=${[1, ...greedy.slice(0, 9)].join(',')}&steps=20`);
    expect(report.tokens).toEqual(greedy.slice(9, 29));
    expect(report.matches).toBeUndefined();
    await page.close();
  });
});
