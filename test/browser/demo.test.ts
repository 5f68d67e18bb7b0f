// Chromium, Firefox and WebKit: the browser demo (examples/browser, built by scripts/build-demo.mjs
// with esbuild and served with COOP/COEP headers as `npm run demo:web` does).
//  - Real attention: the tiny Llama's weights the page draws (causal upper triangle dark in the
//    screenshot, rows summing to 1) equal, for one layer and head, a float64 computation here in
//    Node on the same ids (hidden states from examples/tiny-llama's model, projections, RoPE and
//    softmax written independently of the page's code).
//  - Variants: for every variant the page lists (the list follows what the runtime offers), the test
//    selects it, waits for the run, takes a screenshot of the first heatmap canvas and checks that
//    it is drawn (decoded in the browser: many coloured, non-black pixels), and checks the computed
//    fraction the page reports where it is known exactly (full, causal, sliding windows,
//    segmented) and that the sparsity panel draws that share bright (the heatmaps' colour rule).
//  - Legends and axis labels are present; invalid input shows the range and runs nothing.
// Page screenshots go to test-results/browser/.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { createRuntime, Runtime } from '../../src/index';
import { parseLlama2cCheckpoint } from '../../examples/tiny-llama/loader';
import { TinyLlama } from '../../examples/tiny-llama/model';
import { root } from '../env/helpers';
import type { BrowserPage } from './driver';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { useBrowser } from './use-browser';
import { pngStats } from './png';

type Server = Awaited<ReturnType<typeof startServer>>;
interface DemoReport { variant: string; n: number; heads: number; density: number; drawn: number; patternFrom: string; outside: number; ms: number; runs: number; isa: string; threads: number }
interface RealReport { ids: number[]; n: number; layer: number; head: number; weights: number[]; maxRowSumError: number; upperMax: number; runs: number }

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

async function waitForReal(page: BrowserPage): Promise<RealReport> {
  await page.waitFor(() => ['done', 'error', 'invalid'].includes(document.getElementById('real')!.dataset.state!), undefined, 60_000);
  const { state, status } = await page.evaluate(() => ({ state: document.getElementById('real')!.dataset.state, status: document.getElementById('real-status')?.textContent }));
  expect(state, status ?? '').toBe('done');
  return page.evaluate(() => (window as unknown as { realAttention: RealReport }).realAttention);
}

/** Sets a control of the real-attention view and waits for its redraw. */
async function chooseReal(page: BrowserPage, id: string, value: string): Promise<RealReport> {
  await page.evaluate(({ id, value }) => {
    document.getElementById('real')!.dataset.state = 'waiting';
    const select = document.getElementById(id) as HTMLSelectElement;
    select.value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  }, { id, value });
  return waitForReal(page);
}

/**
 * Float64 oracle of the tiny Llama's attention weights at `layer`, `head` over `ids`: the layer's
 * input h = RMSNorm(x) is recorded from examples/tiny-llama's model run (its attention layer's
 * forward wrapped); q = Wq·h, k = Wk·h, RoPE as llama2.c's run.c, causal softmax(q·k/√d), all in
 * float64 here.
 */
async function oracleWeights(ids: number[], layer: number, head: number): Promise<Float64Array> {
  const checkpoint = parseLlama2cCheckpoint(readFileSync(join(root, 'test/fixtures/stories260K/stories260K.bin')));
  const c = checkpoint.config;
  const rt = await createRuntime();
  const model = new TinyLlama(rt as unknown as ConstructorParameters<typeof TinyLlama>[0], checkpoint, { maxLength: ids.length });
  const attention = (model as unknown as { layers: Array<{ attention: { forward: (...a: unknown[]) => unknown } }> }).layers[layer].attention;
  let h: Float32Array | undefined;
  const forward = attention.forward.bind(attention);
  attention.forward = (x: unknown, o: unknown) => {
    h = Float32Array.from((x as { data: Float32Array }).data);
    return forward(x, o);
  };
  model.forward(ids);
  model.dispose();
  rt.dispose();
  const n = ids.length;
  const d = c.headSize;
  const kvHead = Math.floor(head / (c.nHeads / c.nKvHeads));
  const w = checkpoint.layers[layer];
  const rows = (m: Float32Array, row0: number) => Array.from({ length: n }, (_, t) => {
    const out = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < c.dim; j++) s += m[(row0 + i) * c.dim + j] * h![t * c.dim + j];
      out[i] = s;
    }
    for (let i = 0; i < d; i += 2) {
      const angle = t / 10000 ** (i / d);
      const [a, b] = [out[i], out[i + 1]];
      out[i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
    }
    return out;
  });
  const q = rows(w.wq, head * d);
  const k = rows(w.wk, kvHead * d);
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const s = Array.from({ length: i + 1 }, (_, j) => q[i].reduce((acc, x, t) => acc + x * k[j][t], 0) / Math.sqrt(d));
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((x, j) => { p[i * n + j] = x / z; });
  }
  return p;
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
    await waitForReal(page);
  });

  it('draws the tiny Llama\'s real attention: causal, rows summing to 1, equal to a float64 oracle', async () => {
    const first = await waitForReal(page);
    expect(first.n).toBe(48);
    expect(first.ids[0]).toBe(1);
    const shot = await page.screenshot({ selector: '#real canvas.heatmap' });
    writeFileSync(join(shots, `demo-${engine}-real.png`), await page.screenshot({ fullPage: true }));
    // The drawn canvas: its upper triangle (keys after the query) is black, the rest is not.
    const tri = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('#real canvas.heatmap')!;
      const n = canvas.width;
      const data = canvas.getContext('2d')!.getImageData(0, 0, n, n).data;
      let upperLit = 0;
      let lowerLit = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        const o = 4 * (i * n + j);
        const lit = data[o] + data[o + 1] + data[o + 2] > 30;
        if (j > i) upperLit += lit ? 1 : 0; else lowerLit += lit ? 1 : 0;
      }
      return { upperLit, lowerLit, n };
    });
    expect(tri.n).toBe(48);
    expect(tri.upperLit, 'causal upper triangle must be dark').toBe(0);
    expect(tri.lowerLit, 'lower triangle drawn').toBeGreaterThan(0.3 * (48 * 49) / 2);
    const img = await pngStats(page, shot);
    expect(img.colours).toBeGreaterThan(20);
    const r = await chooseReal(page, 'real-layer', '3');
    const report = await chooseReal(page, 'real-head', '5');
    expect([report.layer, report.head]).toEqual([3, 5]);
    expect(r.runs).toBe(first.runs); // changing layer/head redraws, it does not regenerate
    expect(report.upperMax).toBe(0);
    expect(report.maxRowSumError).toBeLessThan(1e-4);
    const oracle = await oracleWeights(report.ids, 3, 5);
    let maxErr = 0;
    for (let i = 0; i < oracle.length; i++) maxErr = Math.max(maxErr, Math.abs(oracle[i] - report.weights[i]));
    expect(maxErr, 'page weights vs float64 oracle').toBeLessThan(1e-3);
    // The weights are not trivial: some row puts most of its weight off the diagonal.
    expect(report.weights.some((x, i) => i % 48 < Math.floor(i / 48) && x > 0.3)).toBe(true);
  });

  it('labels the axes and gives every heatmap a colour-scale legend with value ticks', async () => {
    const text = await page.evaluate(() => ({
      figures: document.querySelectorAll('.heatmap-figure').length,
      legends: document.querySelectorAll('.heatmap-figure .legend').length,
      ticks: Array.from(document.querySelectorAll('#real .legend-tick'), (e) => e.textContent),
      axes: Array.from(document.querySelectorAll('#real .axis-title'), (e) => e.textContent),
      axisTicks: Array.from(document.querySelectorAll('#real .ticks-x .tick'), (e) => e.textContent),
      rule: document.getElementById('colour-rule')?.textContent ?? '',
    }));
    expect(text.figures).toBeGreaterThan(1);
    expect(text.legends).toBe(text.figures);
    expect(text.ticks.length).toBe(5);
    expect(text.ticks[4]).toBe('0');
    expect(Number(text.ticks[0])).toBeGreaterThan(0);
    expect(text.axes).toEqual(['query position', 'key position']);
    expect(text.axisTicks[0]).toBe('0');
    expect(text.axisTicks.at(-1)).toBe('47');
    expect(text.rule).toMatch(/dark = 0/);
  });

  it('refuses invalid input with the allowed range and runs nothing', async () => {
    const before = await choose(page, 'variant', 'window');
    await page.evaluate(() => {
      const input = document.getElementById('window') as HTMLInputElement;
      input.value = '-3';
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.waitFor(() => document.body.dataset.state === 'invalid', undefined, 10_000);
    const shown = await page.evaluate(() => ({
      text: document.getElementById('validation')!.textContent,
      hidden: document.getElementById('validation')!.hidden,
      runs: (window as unknown as { demo: { runs: number } }).demo.runs,
    }));
    expect(shown.hidden).toBe(false);
    expect(shown.text).toContain('Window: an integer from 0 to 127');
    expect(shown.runs).toBe(before.runs);
    await page.evaluate(() => {
      const input = document.getElementById('seq') as HTMLInputElement;
      input.value = '5000';
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.waitFor(() => document.getElementById('validation')!.textContent!.includes('Sequence length'), undefined, 10_000);
    expect(await page.evaluate(() => document.getElementById('validation')!.textContent)).toContain('Sequence length: an integer from 8 to 1024');
    // The real-attention view's token count likewise.
    const realRuns = await page.evaluate(() => (window as unknown as { realAttention: { runs: number } }).realAttention.runs);
    await page.evaluate(() => {
      const input = document.getElementById('real-n') as HTMLInputElement;
      input.value = '1000';
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.waitFor(() => document.getElementById('real')!.dataset.state === 'invalid', undefined, 10_000);
    expect(await page.evaluate(() => document.getElementById('real-validation')!.textContent)).toContain('Tokens: an integer from 2 to 128');
    expect(await page.evaluate(() => (window as unknown as { realAttention: { runs: number } }).realAttention.runs)).toBe(realRuns);
    // Valid values again: both views run.
    await page.evaluate(() => {
      (document.getElementById('window') as HTMLInputElement).value = '8';
    });
    const after = await choose(page, 'seq', '128');
    expect(after.runs).toBe(before.runs + 1);
    expect((await chooseReal(page, 'real-n', '48')).runs).toBe(realRuns + 1);
    expect(await page.evaluate(() => document.getElementById('real-validation')!.hidden)).toBe(true);
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
    // A registry variant the page has no controls for is listed under its method, with its example options.
    expect(ids).toContain('routedAttention');
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
      expect(await page.evaluate(() => document.querySelectorAll('#heads-grid canvas.heatmap').length)).toBe(r.heads);
      const img = await pngStats(page, await page.screenshot({ selector: '#heads-grid canvas.heatmap' }));
      expect(img.nonBlack / (img.width * img.height), `${id}: heatmap mostly black`).toBeGreaterThan(0.05);
      expect(img.colours, `${id}: heatmap has too few colours`).toBeGreaterThan(20);
      // The sparsity panel draws head 0's computed pairs bright on black (the heatmaps' rule).
      const sparsity = await pngStats(page, await page.screenshot({ selector: '#sparsity' }));
      const computed = 1 - sparsity.dark / (sparsity.width * sparsity.height);
      expect(computed, `${id}: sparsity pattern blank`).toBeGreaterThan(0);
      expect(Math.abs(computed - r.drawn), `${id}: sparsity pattern drawn`).toBeLessThan(0.03);
      writeFileSync(join(shots, `demo-${engine}-${id}.png`), await page.screenshot({ fullPage: true }));
      const exact: Record<string, number> = {
        full: 1,
        causal: (n + 1) / (2 * n),
        window: (n * (2 * w + 1) - w * (w + 1)) / (n * n),
        'window-causal': (n * (w + 1) - (w * (w + 1)) / 2) / (n * n),
        segmented: (n / 32) * 32 * 32 / (n * n),
      };
      if (id in exact) {
        expect(r.density, `${id}: computed fraction`).toBeCloseTo(exact[id], 10);
        expect(r.drawn, `${id}: drawn fraction`).toBeCloseTo(exact[id], 10);
        expect(r.patternFrom).toBe('definition');
      }
      // The drawn pattern holds in the weights the library returned: no pair outside it has weight
      // (pooled and projected variants excepted: their effective weights are dense).
      if (!['linformer', 'hierarchical'].includes(id)) expect(r.outside, `${id}: weights outside the computed pairs`).toBe(0);
      // Every variant but full leaves scores out: hierarchical counts its pooled scores, Linformer
      // its n·k projected ones.
      if (id === 'hierarchical') expect(r.density).toBeCloseTo((n * 32 + 16) / (n * n), 10);
      if (id === 'linformer') expect(r.density).toBeCloseTo(16 / n, 10);
      if (id !== 'full') expect(r.density, id).toBeLessThan(1);
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
