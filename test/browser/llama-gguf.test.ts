// Chromium, Firefox and WebKit: the Llama page (examples/browser/llama.html) with a model file other
// than its default checkpoint — stories260K converted to GGUF (F32), chosen in the page's file input
// (a File set on it and its change event, as a user's choice does) or named by ?model=URL — gives
// llama2.c run.c's greedy ids; a truncated GGUF file is reported with its GgufError code.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { root } from '../env/helpers';
import { checkpointToGguf } from '../helpers/gguf-models';
import { writeGguf } from '../helpers/gguf-writer';
import { checkpoint } from '../llama/fixture';
import type { BrowserPage } from './driver';
import { selectedEngines } from './engines';
import { useBrowser } from './use-browser';

interface Report { model: string; format: string; tokens: number[]; matches?: number; memoryBytes: number }

const greedy = readFileSync(join(root, 'test', 'fixtures', 'stories260K', 'greedy-tokens.txt'), 'utf8').trim().split(/\s+/).map(Number);
const dist = join(root, 'examples', 'browser', 'dist');
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { cwd: root, stdio: 'pipe', timeout: 60_000 });
  const gguf = writeGguf(checkpointToGguf(checkpoint(), 'F32'));
  writeFileSync(join(dist, 'stories260K-F32.gguf'), gguf);
  writeFileSync(join(dist, 'stories260K-cut.gguf'), gguf.subarray(0, 40_000));
  server = await startServer({ root: join(root, 'examples', 'browser'), isolated: true });
});

afterAll(async () => {
  await server?.close();
});

/** Waits until the page has run the model `name` (or failed). */
async function settled(page: BrowserPage, name: string): Promise<void> {
  await page.waitFor((model: string) => {
    const report = (window as unknown as { llama?: { model: string } }).llama;
    return document.body.dataset.state === 'error' || (document.body.dataset.state === 'done' && report?.model === model);
  }, name, 60_000);
}

async function outcome(page: BrowserPage): Promise<{ state?: string; status?: string | null; report?: Report }> {
  return page.evaluate(() => ({
    state: document.body.dataset.state,
    status: document.getElementById('status')?.textContent,
    report: (window as unknown as { llama?: Report }).llama,
  }));
}

describe.each(selectedEngines())('%s: the Llama page with a GGUF file', (engine) => {
  const browser = useBrowser(engine);

  it('a GGUF file chosen in the file input: llama2.c\'s 256 greedy ids from BOS', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${server.url}/llama.html`);
      await settled(page, 'stories260K.bin');
      await page.evaluate(async () => {
        const bytes = await (await fetch('./dist/stories260K-F32.gguf')).arrayBuffer();
        const input = document.getElementById('model') as HTMLInputElement;
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'stories260K-F32.gguf'));
        input.files = transfer.files;
        input.dispatchEvent(new Event('change'));
      });
      await settled(page, 'stories260K-F32.gguf');
      const r = await outcome(page);
      expect(r.state, r.status ?? '').toBe('done');
      expect(r.report!.format).toBe('gguf');
      expect(r.report!.tokens).toEqual(greedy);
      expect(r.report!.memoryBytes).toBeGreaterThan(0);
      expect(await page.pageErrors()).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('?model=URL loads a GGUF file; a truncated one is reported by its code', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${server.url}/llama.html?model=./dist/stories260K-F32.gguf&steps=32`);
      await settled(page, 'stories260K-F32.gguf');
      const r = await outcome(page);
      expect(r.state, r.status ?? '').toBe('done');
      expect(r.report!.tokens).toEqual(greedy.slice(0, 32));
      await page.goto(`${server.url}/llama.html?model=./dist/stories260K-cut.gguf`);
      await settled(page, 'stories260K-cut.gguf');
      const cut = await outcome(page);
      expect(cut.state).toBe('error');
      expect(cut.status).toMatch(/^TRUNCATED: stories260K-cut\.gguf is truncated/);
    } finally {
      await page.close();
    }
  });
});
