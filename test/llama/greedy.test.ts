// The stories260K checkpoint through the library's public API (examples/tiny-llama/model.ts:
// rt.multiHeadAttention with RoPE and GQA, rt.kvCache, rt.matmul): greedy decoding from BOS must
// reproduce the 256 ids of llama2.c's run.c exactly, on both kernel binaries; a 64-token prompt
// prefilled in one call must give the next-token logits of feeding it token by token; and the
// logits must match a float64 evaluation of run.c's forward pass (test/reference/llama.ts).

import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from 'wasm-attention';
import { argmax, TinyLlama } from '../../examples/tiny-llama/model';
import { isaSupported, type Isa } from '../../src/index';
import { ReferenceLlama } from '../reference/llama';
import { BOS, checkpoint, greedyTokens, runtime } from './fixture';

const isas = (['relaxed', 'simd128'] as Isa[]).filter((isa) => isaSupported(isa));
const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

function model(isa: Isa, maxLength?: number): TinyLlama {
  const rt = runtime(isa);
  runtimes.push(rt);
  return new TinyLlama(rt, checkpoint(), { maxLength });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe.each(isas)('stories260K on the %s binary', (isa) => {
  it('greedy decoding from BOS reproduces all 256 ids of llama2.c run.c', () => {
    const want = greedyTokens();
    expect(want).toHaveLength(256);
    const llama = model(isa);
    const { tokens, decodeSteps } = llama.generate([BOS], 256);
    expect(decodeSteps).toBe(255);
    const matching = tokens.filter((t, i) => t === want[i]).length;
    expect(matching, `first mismatch at ${tokens.findIndex((t, i) => t !== want[i])}`).toBe(256);
    expect(tokens).toEqual(want);
    expect(llama.position).toBe(256); // BOS + 255 generated tokens were run
    // A second sequence after reset() is the same.
    llama.reset();
    expect(llama.generate([BOS], 32).tokens).toEqual(want.slice(0, 32));
  });

  it('a 64-token prompt prefilled in one call gives the logits of feeding it token by token (within 1e-4)', () => {
    const prompt = [BOS, ...greedyTokens().slice(0, 63)];
    const llama = model(isa);
    const prefill = llama.forward(prompt);
    expect(llama.position).toBe(64);
    llama.reset();
    let stepped: Float32Array = new Float32Array(0);
    for (const t of prompt) stepped = llama.forward([t]);
    const diff = maxAbsDiff(prefill, stepped);
    console.log(`[${isa}] prefill(64) vs 64 steps: max |logit difference| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
    expect(argmax(prefill)).toBe(greedyTokens()[63]);
    // Every position's logits, too (allLogits), and a prefill continued by a second chunk.
    llama.reset();
    const all = llama.forward(prompt, { allLogits: true });
    expect(all).toHaveLength(64 * 512);
    llama.reset();
    const rows: Float32Array[] = prompt.map((t) => llama.forward([t]));
    let allDiff = 0;
    rows.forEach((r, i) => (allDiff = Math.max(allDiff, maxAbsDiff(all.subarray(i * 512, (i + 1) * 512), r))));
    expect(allDiff).toBeLessThan(1e-4);
    llama.reset();
    llama.forward(prompt.slice(0, 40));
    const chunked = llama.forward(prompt.slice(40));
    expect(maxAbsDiff(chunked, stepped)).toBeLessThan(1e-4);
  });

  it('logits match a float64 evaluation of run.c forward pass (first 96 positions of the greedy sequence)', () => {
    const seq = [BOS, ...greedyTokens().slice(0, 95)];
    const llama = model(isa);
    const ref = new ReferenceLlama(checkpoint());
    let worst = 0;
    for (const t of seq) {
      const got = llama.forward([t]);
      const want = ref.step(t);
      worst = Math.max(worst, maxAbsDiff(got, want));
    }
    console.log(`[${isa}] decode steps vs float64: max |logit error| ${worst.toExponential(2)}`);
    // float32 products and sums through 5 layers (|logits| up to 22): observed ≤ 8e-5 on both binaries.
    expect(worst).toBeLessThan(2e-4);
  });
});

describe('TinyLlama API', () => {
  it('rejects bad tokens, overflowing the cache, and use after dispose', () => {
    const llama = model(isas[0], 8);
    expect(() => llama.forward([])).toThrow(/at least one token/);
    expect(() => llama.forward([512])).toThrow(/not an id in \[0, 512\)/);
    expect(() => llama.forward([1.5])).toThrow(/not an id/);
    expect(() => llama.generate([BOS], 9)).toThrow(/do not fit in maxLength 8/);
    expect(llama.generate([BOS], 8).tokens).toEqual(greedyTokens().slice(0, 8));
    expect(() => llama.forward([BOS])).toThrow(/do not fit/);
    llama.truncate(4);
    expect(llama.position).toBe(4);
    llama.dispose();
    llama.dispose();
    expect(() => llama.forward([BOS])).toThrow(/disposed/);
  });

  it('stops after a stop token and reports it', () => {
    const want = greedyTokens();
    const llama = model(isas[0]);
    const seen: number[] = [];
    const r = llama.generate([BOS], 100, { stopTokens: [want[5]], onToken: (id) => seen.push(id) });
    const stopAt = want.indexOf(want[5]);
    expect(r.tokens).toEqual(want.slice(0, stopAt + 1));
    expect(seen).toEqual(r.tokens);
  });
});
