// Chromium: this library's GGUF model (examples/llama/model.ts on dist/browser.js) in the LLM page
// beside wllama (llama.cpp in WebAssembly), the same file and thread count. On stories260K
// converted to GGUF (F32), both generate llama2.c run.c's 256 greedy ids from BOS, the first
// steps' top-5 log-probabilities agree, and two threads give the same ids; a timed job runs.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLlmPage, type LlmJob, type LlmPage, openLlmPage, serveModel } from '../../bench/llm/page';
import { BOS, checkpointToGguf } from '../helpers/gguf-models';
import { writeGguf } from '../helpers/gguf-writer';
import { checkpoint, greedyTokens } from '../llama/fixture';

let dir: string;
let llm: LlmPage;
let model: string;

const job = (engine: string, extra: Partial<LlmJob> = {}): LlmJob => ({
  engine, model, threads: 1, contextLength: 512, kvCache: 'f32', flashAttention: false, ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llm-engines-'));
  await buildLlmPage(dir);
  const path = join(dir, 'stories260K-F32.gguf');
  writeFileSync(path, writeGguf(checkpointToGguf(checkpoint(), 'F32')));
  model = serveModel(dir, path);
  llm = await openLlmPage(dir, { isolated: true });
});

afterAll(async () => {
  await llm?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('wasm-attention beside wllama in one Chromium page', () => {
  it('stories260K F32: both engines generate llama2.c\'s 256 greedy ids; first-step log-probabilities agree', async () => {
    const ours = await llm.run(job('wasm-attention', { greedy: 256 }));
    const theirs = await llm.run(job('wllama', { greedy: 256 }));
    expect(ours.greedy).toEqual(greedyTokens());
    expect(theirs.greedy).toEqual(ours.greedy);
    expect(ours.firstStep!.map((t) => t.id)).toEqual(theirs.firstStep!.map((t) => t.id));
    const worst = Math.max(...ours.firstStep!.map((t, i) => Math.abs(t.logprob - theirs.firstStep![i].logprob)));
    expect(worst).toBeLessThan(1e-4);
    expect(ours.memoryBytes).toBeGreaterThan(0);
    expect(llm.errors).toEqual([]);
  });

  it('two threads give the same ids, and a timed job reports prefill and decode', async () => {
    const result = await llm.run(job('wasm-attention', { greedy: 32, threads: 2 }));
    expect(result.threads).toBe(2);
    expect(result.greedy).toEqual(greedyTokens().slice(0, 32));
    const prompt = { text: 'abcdefg', ids: [BOS, ...greedyTokens().slice(0, 7)] };
    const timed = await llm.run(job('wasm-attention', { timing: { prompt, decodeTokens: 16, repeats: 1 } }));
    expect(timed.prefill).toEqual([{ tokens: 8, ms: expect.any(Number) }]);
    expect(timed.decode).toEqual([{ tokens: 16, ms: expect.any(Number) }]);
    expect(llm.errors).toEqual([]);
  });
});
