// examples/llama/model.ts end to end: stories260K converted to GGUF gives llama2.c's greedy ids and
// the logits of the llama2.c-checkpoint path and of the float64 reference; small seeded `qwen2`
// (q/k/v biases, NeoX RoPE, GQA, untied output) and `llama` models agree with the float64
// reference (test/reference/llama-family.ts), and dropping the biases or pairing RoPE the other way
// would not; one and two threads give the same ids.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from 'wasm-attention';
import { ggufModelConfig, ggufModelTensors } from '../../examples/llama/config';
import { type GgufFile, type GgufTensor, parseGguf } from '../../examples/llama/gguf';
import { LlamaModel } from '../../examples/llama/model';
import { modelFileFormat, weightsFromCheckpoint, weightsFromGguf } from '../../examples/llama/weights';
import { TinyLlama } from '../../examples/tiny-llama/model';
import { createRuntime } from '../../src/index';
import { checkpointToGguf, type ModelType } from '../helpers/gguf-models';
import { dequantizeQ4_0, dequantizeQ8_0, f16BitsToF32 } from '../helpers/gguf-quantize';
import { writeGguf } from '../helpers/gguf-writer';
import { ReferenceLlama } from '../reference/llama';
import { type ActivationRounding, type MatrixName, type ReferenceConfig, ReferenceLlamaFamily, type ReferenceWeights } from '../reference/llama-family';
import { quantizeQd8b32Row } from '../reference/quant';
import { BOS, checkpoint, checkpointBytes, greedyTokens, runtime } from './fixture';
import { smallModel } from './small-models';

/** max |a − b| over max(b) − min(b): the disagreement in units of the logits' range. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < b.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    lo = Math.min(lo, b[i]);
    hi = Math.max(hi, b[i]);
  }
  return max / (hi - lo);
}

const storiesGguf = (type: ModelType) => parseGguf(writeGguf(checkpointToGguf(checkpoint(), type)), { name: `stories260K-${type}.gguf` });

/** A GGUF tensor's values, widened by the test helpers (not by the example's dequantize.ts). */
function floatsOf(t: GgufTensor): Float32Array {
  switch (t.type.name) {
    case 'F32': return new Float32Array(t.bytes.slice().buffer);
    case 'F16': return Float32Array.from(new Uint16Array(t.bytes.slice().buffer), f16BitsToF32);
    case 'Q8_0': return dequantizeQ8_0(t.bytes);
    case 'Q4_0': return dequantizeQ4_0(t.bytes);
    default: throw new Error(`no test widening of ${t.type.name}`);
  }
}

/** The reference's configuration and weights of a `llama` GGUF file. */
function referenceOfGguf(file: GgufFile): { config: ReferenceConfig; weights: ReferenceWeights } {
  const c = ggufModelConfig(file);
  const t = ggufModelTensors(c, file.tensor);
  const config: ReferenceConfig = {
    dim: c.dim, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headSize: c.headSize, hiddenDim: c.hiddenDim, vocabSize: c.vocabSize,
    ropeBase: c.ropeBase, ropeDim: c.ropeDim, ropeStyle: c.ropeStyle, rmsEps: c.rmsEps,
  };
  const weights: ReferenceWeights = {
    embedding: floatsOf(t.tokenEmbedding), outputNorm: floatsOf(t.outputNorm), output: floatsOf(t.output),
    blocks: t.layers.map((l) => ({
      attnNorm: floatsOf(l.attnNorm), q: floatsOf(l.q), k: floatsOf(l.k), v: floatsOf(l.v), o: floatsOf(l.o),
      ffnNorm: floatsOf(l.ffnNorm), gate: floatsOf(l.gate), up: floatsOf(l.up), down: floatsOf(l.down),
    })),
  };
  return { config, weights };
}

/** The float64 reference's logits at every position of `tokens`. */
function referenceLogits(config: ReferenceConfig, weights: ReferenceWeights, tokens: number[], rounding?: ActivationRounding): Float64Array[] {
  const ref = new ReferenceLlamaFamily(config, weights, rounding);
  return tokens.map((t) => ref.step(t));
}

describe('LlamaModel on stories260K as GGUF', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = runtime();
  });
  afterAll(() => rt.dispose());

  it('F32: the 256 greedy ids from BOS are llama2.c run.c\'s', () => {
    const model = new LlamaModel(rt, weightsFromGguf(storiesGguf('F32')));
    try {
      expect(model.config.ropeStyle).toBe('interleaved');
      expect(model.generate([BOS], 256).tokens).toEqual(greedyTokens());
    } finally {
      model.dispose();
    }
  });

  it('F32: logits at every position agree with the llama2.c checkpoint path and the float64 reference', () => {
    const tokens = [BOS, ...greedyTokens().slice(0, 39)];
    const model = new LlamaModel(rt, weightsFromGguf(storiesGguf('F32')), { classifierSliceRows: 200 });
    const tiny = new TinyLlama(rt, checkpoint());
    const reference = new ReferenceLlama(checkpoint());
    try {
      const vocab = model.config.vocabSize;
      const prefill = model.forward(tokens, { allLogits: true });
      const tinyPrefill = tiny.forward(tokens, { allLogits: true });
      for (let p = 0; p < tokens.length; p++) {
        const ours = prefill.subarray(p * vocab, (p + 1) * vocab);
        const want = reference.step(tokens[p]);
        // The two f32 paths run the same products; only the epsilon differs (the file's f32 1e-5).
        expect(relativeError(ours, tinyPrefill.subarray(p * vocab, (p + 1) * vocab)), `position ${p}`).toBeLessThan(1e-5);
        expect(relativeError(ours, want), `position ${p}`).toBeLessThan(1e-4);
      }
      // Decode steps (matrix-vector products, the cache) give the prefill's logits too.
      model.reset();
      model.forward(tokens.slice(0, 20));
      for (let p = 20; p < tokens.length; p++) {
        expect(relativeError(model.forward([tokens[p]]), prefill.subarray(p * vocab, (p + 1) * vocab)), `step ${p}`).toBeLessThan(1e-5);
      }
    } finally {
      model.dispose();
      tiny.dispose();
    }
  });

  it('the checkpoint (.bin) through weightsFromCheckpoint, with packed weights, gives the same ids; files are told apart by their magic', () => {
    expect(modelFileFormat(writeGguf(checkpointToGguf(checkpoint(), 'F32')))).toBe('gguf');
    expect(modelFileFormat(checkpointBytes())).toBe('llama2c');
    const model = new LlamaModel(rt, weightsFromCheckpoint(checkpoint()), { packWeights: true });
    try {
      expect(model.generate([BOS], 64).tokens).toEqual(greedyTokens().slice(0, 64));
    } finally {
      model.dispose();
    }
  });

  // F16 weights are converted exactly and multiplied in f32. Q8_0 and Q4_0 weights are read in place
  // by the block kernels, which quantize each product's input to blocks of 32 on the fly (as
  // llama.cpp's vec_dot_q8_0_q8_0 / q4_0_q8_0 do): the reference rounds those inputs the same way
  // (test/reference/quant.ts's qd8b32), so only float32-vs-float64 rounding remains — and an input
  // rounding to the other side of a code boundary, now and then. Without that rounding the
  // activations' quantization alone moves stories260K's logits by up to ~12% of their range.
  const QUANTIZED: Record<string, MatrixName[]> = { F16: [], Q8_0: ['q', 'k', 'v', 'o', 'gate', 'up', 'output'], Q4_0: ['q', 'k', 'v', 'o', 'gate', 'up', 'output'] };
  it.each(['F16', 'Q8_0', 'Q4_0'] as ModelType[])('%s: logits agree with the float64 reference on the file\'s weights, widened independently', (type) => {
    const file = storiesGguf(type);
    const { config, weights } = referenceOfGguf(file);
    const tokens = [BOS, ...greedyTokens().slice(0, 15)];
    const round = (row: Float32Array) => {
      const q = quantizeQd8b32Row(row);
      return Float64Array.from(q.codes, (c, i) => c * q.d[i >> 5]);
    };
    // ffn_down (row length 172) stays F32 in the block-format files, as llama.cpp's converter keeps it
    if (type !== 'F16') expect(file.tensor('blk.0.ffn_down.weight')!.type.name).toBe('F32');
    const want = referenceLogits(config, weights, tokens, { matrices: new Set(QUANTIZED[type]), round });
    const model = new LlamaModel(rt, weightsFromGguf(file), { maxLength: 64, classifierSliceRows: 200 });
    try {
      const prefill = model.forward(tokens, { allLogits: true });
      const v = config.vocabSize;
      for (let p = 0; p < tokens.length; p++) expect(relativeError(prefill.subarray(p * v, (p + 1) * v), want[p]), `position ${p}`).toBeLessThan(1e-3);
    } finally {
      model.dispose();
    }
  });

  it('two threads give the ids of one', async () => {
    const rt2 = await createRuntime({ threads: 2, workerUrl: new URL('../../dist/worker.js', import.meta.url) });
    const model = new LlamaModel(rt2 as unknown as Runtime, weightsFromGguf(storiesGguf('F32')));
    try {
      const prompt = [BOS, ...greedyTokens().slice(0, 31)];
      expect(model.generate(prompt, 32).tokens).toEqual(greedyTokens().slice(31, 63));
    } finally {
      model.dispose();
      rt2.dispose();
    }
  });
});

describe.each([
  { architecture: 'qwen2', biases: true, tied: false },
  { architecture: 'llama', biases: false, tied: true },
] as const)('LlamaModel on a small $architecture model against the float64 reference', (spec) => {
  const small = smallModel({ ...spec, seed: 7 });
  const tokens = [1, 40, 77, 200, 131, 5, 250, 99, 12, 160, 33, 71, 64, 180];
  const prefillRows = 9;
  let rt: Runtime;
  let want: Float64Array[];
  let got: Float32Array[];
  beforeAll(() => {
    rt = runtime();
    want = referenceLogits(small.config, small.weights, tokens);
    // The classifier in slices of 100 rows (256 = 100 + 100 + 56): slices and the tail are placed right.
    const model = new LlamaModel(rt, weightsFromGguf(parseGguf(small.gguf)), { classifierSliceRows: 100 });
    try {
      const v = small.config.vocabSize;
      const prefill = model.forward(tokens.slice(0, prefillRows), { allLogits: true });
      got = Array.from({ length: prefillRows }, (_, p) => prefill.slice(p * v, (p + 1) * v));
      for (let p = prefillRows; p < tokens.length; p++) got.push(model.forward([tokens[p]]));
    } finally {
      model.dispose();
    }
  });
  afterAll(() => rt.dispose());

  const TOLERANCE = 1e-5;

  it('agrees at every position (prefill, then decode steps)', () => {
    for (let p = 0; p < tokens.length; p++) expect(relativeError(got[p], want[p]), `position ${p}`).toBeLessThan(TOLERANCE);
  });

  it('would not agree with the other RoPE pairing' + (spec.biases ? ' or without the biases' : ''), () => {
    const other: ReferenceConfig = { ...small.config, ropeStyle: small.config.ropeStyle === 'halves' ? 'interleaved' : 'halves' };
    const mutations: Array<[string, ReferenceConfig, ReferenceWeights]> = [['RoPE pairing', other, small.weights]];
    if (spec.biases) {
      const blocks = small.weights.blocks.map(({ qBias: _q, kBias: _k, vBias: _v, ...b }) => b);
      mutations.push(['no biases', small.config, { ...small.weights, blocks }]);
    }
    for (const [what, config, weights] of mutations) {
      const mutated = referenceLogits(config, weights, tokens);
      const worst = Math.max(...tokens.map((_, p) => relativeError(got[p], mutated[p])));
      expect(worst, what).toBeGreaterThan(100 * TOLERANCE);
    }
  });
});
