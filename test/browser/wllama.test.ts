// Chromium: llama.cpp's WebAssembly build (@wllama/wllama) as the oracle of the GGUF conversion.
// stories260K converted to GGUF by test/helpers/gguf-models.ts (F32 weights), run by wllama with
// an F32 KV cache and flash attention off, generates exactly the 256 ids llama2.c's run.c
// generates greedily from BOS (test/fixtures/stories260K/greedy-tokens.txt): tensor names, layouts,
// metadata and the Q/K order (not permuted) are what llama.cpp expects. Also: two threads give the
// same ids, and the ASCII prompt tokenizes to the token count the bench assumes.
// Quantized files: stories260K's first greedy step is nearly a tie (its two best tokens differ by
// 0.0002 in log-probability), so any rounding changes the ids and ids cannot check Q8_0 / Q4_0.
// Their first step's log-probabilities can: llama.cpp's top 5 must match a float64 forward pass of
// BOS over the weights dequantized from the same file (at position 0 attention returns V, so the
// pass is a few matrix-vector products), with the activations rounded to Q8_0 blocks before each
// product with a quantized weight, as ggml does. That proves llama.cpp reads the blocks as written.
// The pass is ill-conditioned where an activation lands within 1e-4 of a quantum of a rounding
// midpoint (the Q8_0 file has one at 8e-6: float32 sums in ggml may fall on either side, and the
// model is sensitive enough for one quantum to move a log-probability by 0.1), so the reference
// is computed both ways for such near-ties and the closer one counts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLlmPage, type LlmJob, type LlmPage, openLlmPage, serveModel } from '../../bench/llm/page';
import { parseGguf } from '../../examples/llama/gguf';
import { BOS, checkpointToGguf, type ModelType, promptOfTokens } from '../helpers/gguf-models';
import { dequantizeQ4_0, dequantizeQ8_0, f16BitsToF32, f32ToF16Bits } from '../helpers/gguf-quantize';
import { writeGguf } from '../helpers/gguf-writer';
import { checkpoint, greedyTokens } from '../llama/fixture';

let dir: string;
let llm: LlmPage;
const models: Partial<Record<ModelType, string>> = {};
const files: Partial<Record<ModelType, Uint8Array>> = {};

/** A tensor of the file as float64 values (dequantized), and whether it was quantized. */
function weights(file: Uint8Array, name: string): { values: Float64Array; quantized: boolean } {
  const t = parseGguf(file).tensor(name)!;
  const bytes = t.bytes.slice();
  if (t.type.name === 'F32') return { values: Float64Array.from(new Float32Array(bytes.buffer)), quantized: false };
  return { values: Float64Array.from(t.type.name === 'Q8_0' ? dequantizeQ8_0(bytes) : dequantizeQ4_0(bytes)), quantized: true };
}

/**
 * Activations rounded to Q8_0 blocks as ggml rounds them before a product with a quantized weight
 * (d = amax/127 stored as f16, q = round(x/d), halves away from zero); with `flipNearTies`, values
 * within 1e-4 of a midpoint go to the other neighbour.
 */
function activationsQ8_0(input: Float64Array, flipNearTies: boolean): Float64Array {
  const out = new Float64Array(input.length);
  for (let b = 0; b < input.length; b += 32) {
    const x = Float32Array.from(input.subarray(b, b + 32));
    const amax = x.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const stored = f16BitsToF32(f32ToF16Bits(d));
    x.forEach((xi, j) => {
      const v = Math.abs(Math.fround(xi * id));
      const low = Math.floor(v);
      let q = v - low >= 0.5 ? low + 1 : low; // |x/d| rounded, halves up (away from zero)
      if (flipNearTies && Math.abs(v - low - 0.5) < 1e-4) q = q === low ? low + 1 : low;
      out[b + j] = Math.sign(xi) * q * stored;
    });
  }
  return out;
}

/** log-softmax of the logits after BOS at position 0, in float64, from the file's weights. */
function firstStepLogprobs(file: Uint8Array, flipNearTies = false): Float64Array {
  const { dim, hiddenDim: hidden, nLayers, nHeads, nKvHeads, vocabSize } = checkpoint().config;
  const headSize = dim / nHeads;
  const w = (name: string) => weights(file, name);
  const matvec = ({ values: m, quantized }: { values: Float64Array; quantized: boolean }, input: Float64Array, rows: number) => {
    const x = quantized ? activationsQ8_0(input, flipNearTies) : input;
    return Float64Array.from({ length: rows }, (_, r) => x.reduce((a, xi, i) => a + m[r * x.length + i] * xi, 0));
  };
  const rmsnorm = (x: Float64Array, { values: g }: { values: Float64Array }) => {
    const scale = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + 1e-5);
    return x.map((v, i) => v * scale * g[i]);
  };
  let x = w('token_embd.weight').values.slice(BOS * dim, (BOS + 1) * dim);
  for (let l = 0; l < nLayers; l++) {
    const p = `blk.${l}.`;
    const v = matvec(w(`${p}attn_v.weight`), rmsnorm(x, w(`${p}attn_norm.weight`)), nKvHeads * headSize);
    // One key: every query head's attention output is the V of its key/value head.
    const heads = Float64Array.from({ length: dim }, (_, i) => v[Math.floor(Math.floor(i / headSize) / (nHeads / nKvHeads)) * headSize + (i % headSize)]);
    const o = matvec(w(`${p}attn_output.weight`), heads, dim);
    x = x.map((xi, i) => xi + o[i]);
    const h = rmsnorm(x, w(`${p}ffn_norm.weight`));
    const gate = matvec(w(`${p}ffn_gate.weight`), h, hidden);
    const up = matvec(w(`${p}ffn_up.weight`), h, hidden);
    const down = matvec(w(`${p}ffn_down.weight`), gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]), dim);
    x = x.map((xi, i) => xi + down[i]);
  }
  const logits = matvec(w('token_embd.weight'), rmsnorm(x, w('output_norm.weight')), vocabSize);
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((a, z) => a + Math.exp(z - max), 0));
  return logits.map((z) => z - lse);
}

const job = (model: string, extra: Partial<LlmJob> = {}): LlmJob => ({
  engine: 'wllama', model, threads: 1, contextLength: 512, kvCache: 'f32', flashAttention: false, ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wllama-page-'));
  await buildLlmPage(dir);
  for (const type of ['F32', 'Q8_0', 'Q4_0'] as ModelType[]) {
    const path = join(dir, `stories260K-${type}.gguf`);
    files[type] = writeGguf(checkpointToGguf(checkpoint(), type));
    writeFileSync(path, files[type]!);
    models[type] = serveModel(dir, path);
  }
  llm = await openLlmPage(dir, { isolated: true });
});

afterAll(async () => {
  await llm?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('wllama (llama.cpp in WebAssembly) on GGUF files written here', () => {
  it('stories260K, F32 weights, F32 cache, flash attention off: the 256 greedy ids of llama2.c run.c', async () => {
    const result = await llm.run(job(models.F32!, { greedy: 256 }));
    expect(result.threads).toBe(1);
    expect(result.greedy!.slice(0, 16)).toEqual(greedyTokens().slice(0, 16));
    expect(result.greedy).toEqual(greedyTokens());
    expect(llm.errors).toEqual([]);
  });

  it('two threads (a crossOriginIsolated page) give the same ids', async () => {
    // 32 ids: ggml's threads wait for each other at every step, and on a loaded two-core machine a
    // decode step of this tiny model took 100–400 ms with two threads.
    const result = await llm.run(job(models.F32!, { greedy: 32, threads: 2 }));
    expect(result.threads).toBe(2);
    expect(result.greedy).toEqual(greedyTokens().slice(0, 32));
    console.log(`[wllama 2 threads] load ${result.loadMs.toFixed(0)} ms`);
  });

  it('times prefill and decode: the 127-letter ASCII prompt is 128 tokens with BOS', async () => {
    const prompt = { text: promptOfTokens(127), ids: [BOS, ...Array.from(promptOfTokens(127), (c) => 131 + c.charCodeAt(0) - 0x21)] };
    const result = await llm.run(job(models.F32!, { timing: { prompt, decodeTokens: 32, repeats: 1 } }));
    // The engine checks prompt_n against prompt.ids.length (128) and that nothing was cached.
    expect(result.prefill).toEqual([{ tokens: 128, ms: expect.any(Number) }]);
    expect(result.decode![0].tokens).toBe(32);
    expect(result.prefill![0].ms).toBeGreaterThan(0);
  });

  it.each(['F32', 'Q8_0', 'Q4_0'] as ModelType[])('stories260K in %s: the first step\'s top-5 log-probabilities match a float64 pass over the file\'s weights', async (type) => {
    const result = await llm.run(job(models[type]!, { greedy: 256 }));
    expect(result.greedy).toHaveLength(256);
    expect(result.firstStep).toHaveLength(5);
    const worst = Math.min(...[false, true].map((flip) => {
      const reference = firstStepLogprobs(files[type]!, flip);
      return Math.max(...result.firstStep!.map(({ id, logprob }) => Math.abs(logprob - reference[id])));
    }));
    console.log(`[wllama ${type}] first step: top-5 log-probabilities within ${worst.toExponential(2)} of float64; ` +
      `the first ${(result.greedy!.findIndex((id, i) => id !== greedyTokens()[i]) + 257) % 257} greedy ids equal llama2.c's`);
    expect(worst).toBeLessThan(1e-4);
  });
});
