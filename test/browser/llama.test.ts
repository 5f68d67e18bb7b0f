// Chromium, Firefox and WebKit: the tiny-llama page (examples/browser/llama.html, built by
// scripts/build-demo.mjs and served as `npm run demo:web` serves it). It loads llama2.c's
// stories260K checkpoint over HTTP, generates 256 ids greedily from BOS on wasm-attention, and
// must produce exactly the ids llama2.c's run.c produces (test/fixtures/stories260K/greedy-tokens.txt),
// on both kernel binaries where the engine has them (WebKit validates no relaxed SIMD: simd128 only,
// and asking for relaxed there is refused).

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { root } from '../env/helpers';
import type { BrowserDriver, BrowserPage } from './driver';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { useBrowser } from './use-browser';

interface LlamaReport { isa: string; prompt: number[]; tokens: number[]; prefillTokensPerSecond: number; decodeTokensPerSecond: number; matches?: number }
interface Outcome { state?: string; status?: string | null; report?: LlamaReport; ids?: string | null; stats?: string | null; wrong: number }

const greedy = readFileSync(join(root, 'test', 'fixtures', 'stories260K', 'greedy-tokens.txt'), 'utf8').trim().split(/\s+/).map(Number);
const shots = join(root, 'test-results', 'browser');
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { cwd: root, stdio: 'pipe', timeout: 60_000 });
  mkdirSync(shots, { recursive: true });
  server = await startServer({ root: join(root, 'examples', 'browser'), isolated: true });
});

afterAll(async () => {
  await server?.close();
});

/** Opens the page with `query`, waits for the run and returns what it shows; `use(page)` before closing it. */
async function open(browser: BrowserDriver, query: string, use?: (page: BrowserPage) => Promise<void>): Promise<Outcome & { errors: string[] }> {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/llama.html${query}`);
    await page.waitFor(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', undefined, 60_000);
    const outcome = await page.evaluate((): Outcome => ({
      state: document.body.dataset.state,
      status: document.getElementById('status')?.textContent,
      report: (window as unknown as { llama?: LlamaReport }).llama,
      ids: document.getElementById('ids')?.textContent,
      stats: document.getElementById('stats')?.textContent,
      wrong: document.querySelectorAll('#ids .wrong').length,
    }));
    await use?.(page);
    return { ...outcome, errors: await page.pageErrors() };
  } finally {
    await page.close();
  }
}

describe.each(selectedEngines())('%s: tiny-llama page (examples/browser/llama.html)', (engine) => {
  const facts = ENGINE_FACTS[engine];
  const browser = useBrowser(engine);
  const isas = facts.defaultIsa === 'relaxed' ? ['relaxed', 'simd128'] : ['simd128'];

  it.each(isas)('generates llama2.c run.c greedy ids from BOS (%s kernels)', async (isa) => {
    const r = await open(browser(), `?isa=${isa}`, async (page) => {
      writeFileSync(join(shots, `llama-${engine}-${isa}.png`), await page.screenshot({ fullPage: true }));
    });
    expect(r.state, r.status ?? '').toBe('done');
    const report = r.report!;
    expect(report.isa).toBe(isa);
    expect(report.prompt).toEqual([1]);
    expect(report.tokens.slice(0, 16)).toEqual(greedy.slice(0, 16));
    expect(report.tokens).toEqual(greedy);
    expect(report.matches).toBe(256);
    expect(report.decodeTokensPerSecond).toBeGreaterThan(0);
    // What the page shows: the ids and tokens/s.
    expect(r.ids?.trim().split(/\s+/).map(Number)).toEqual(greedy);
    expect(r.stats).toMatch(/decode 255 steps in [\d.]+ ms \(\d+ tokens\/s\)/);
    expect(r.wrong).toBe(0);
    console.log(`[${engine} ${isa}] decode ${report.decodeTokensPerSecond.toFixed(0)} tokens/s`);
    expect(r.errors).toEqual([]);
  });

  if (facts.defaultIsa === 'simd128') {
    it('asked for the relaxed kernels, says the engine does not support them', async () => {
      const r = await open(browser(), '?isa=relaxed');
      expect(r.state).toBe('error');
      expect(r.status).toMatch(/relaxed/);
    });
  }

  it('continues a given prompt (ids from the URL) like the greedy sequence', async () => {
    const r = await open(browser(), `?prompt=${[1, ...greedy.slice(0, 9)].join(',')}&steps=20`);
    expect(r.state, r.status ?? '').toBe('done');
    expect(r.report!.tokens).toEqual(greedy.slice(9, 29));
    expect(r.report!.matches).toBeUndefined();
  });
});
