// small-models.ts — small seeded `qwen2` and `llama` models written as GGUF (F32 tensors) with the
// same weights as plain arrays for the float64 reference (test/reference/llama-family.ts). Not a
// test file itself. Weights are large enough (q/k spread 0.15, biases 0.5) that attention is far
// from uniform, so the RoPE pairing and the biases change the logits clearly.

import type { GgufValue } from '../../examples/llama/gguf';
import { asciiVocabulary } from '../helpers/gguf-models';
import { type GgufTensorSpec, gv, writeGguf } from '../helpers/gguf-writer';
import type { ReferenceBlock, ReferenceConfig, ReferenceWeights } from '../reference/llama-family';

/** What to build. */
export interface SmallModelSpec {
  architecture: 'llama' | 'qwen2';
  /** q/k/v biases (qwen2 has them). */
  biases: boolean;
  /** No output.weight. */
  tied: boolean;
  seed: number;
}

/** A GGUF file and the same model for the reference. */
export interface SmallModel {
  gguf: Uint8Array;
  config: ReferenceConfig;
  weights: ReferenceWeights;
}

const SHAPE = { dim: 64, nHeads: 4, nKvHeads: 2, headSize: 16, hiddenDim: 96, nLayers: 2, vocabSize: 256, contextLength: 64 };

/** mulberry32: uniform in [0, 1) from a seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded small model (see the header). */
export function smallModel(spec: SmallModelSpec): SmallModel {
  const { dim, nHeads, nKvHeads, headSize, hiddenDim, nLayers, vocabSize, contextLength } = SHAPE;
  const arch = spec.architecture;
  const next = random(spec.seed);
  const values = (n: number, center: number, spread: number) => Float32Array.from({ length: n }, () => center + spread * (2 * next() - 1));
  const kvDim = nKvHeads * headSize;
  const config: ReferenceConfig = {
    dim, nHeads, nKvHeads, headSize, hiddenDim, vocabSize,
    ropeBase: arch === 'qwen2' ? 1e6 : 10000, ropeDim: headSize, ropeStyle: arch === 'qwen2' ? 'halves' : 'interleaved',
    // A large epsilon for qwen2 (rows have mean square ≈ 1/3 here), so that reading it matters.
    rmsEps: Math.fround(arch === 'qwen2' ? 0.03 : 1e-5),
  };
  const blocks: ReferenceBlock[] = Array.from({ length: nLayers }, () => ({
    attnNorm: values(dim, 1, 0.2),
    q: values(dim * dim, 0, 0.15),
    k: values(kvDim * dim, 0, 0.15),
    v: values(kvDim * dim, 0, 0.15),
    ...(spec.biases && { qBias: values(dim, 0, 0.5), kBias: values(kvDim, 0, 0.5), vBias: values(kvDim, 0, 0.5) }),
    o: values(dim * dim, 0, 0.1),
    ffnNorm: values(dim, 1, 0.2),
    gate: values(hiddenDim * dim, 0, 0.1),
    up: values(hiddenDim * dim, 0, 0.1),
    down: values(dim * hiddenDim, 0, 0.1),
  }));
  const embedding = values(vocabSize * dim, 0, 1);
  const weights: ReferenceWeights = {
    embedding, blocks, outputNorm: values(dim, 1, 0.2), output: spec.tied ? embedding : values(vocabSize * dim, 0, 0.2),
  };

  const vocab = asciiVocabulary(vocabSize);
  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', gv.str(arch)],
    [`${arch}.context_length`, gv.u32(contextLength)],
    [`${arch}.embedding_length`, gv.u32(dim)],
    [`${arch}.block_count`, gv.u32(nLayers)],
    [`${arch}.feed_forward_length`, gv.u32(hiddenDim)],
    [`${arch}.attention.head_count`, gv.u32(nHeads)],
    [`${arch}.attention.head_count_kv`, gv.u32(nKvHeads)],
    [`${arch}.rope.freq_base`, gv.f32(config.ropeBase)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gv.f32(config.rmsEps)],
    ['tokenizer.ggml.model', gv.str(arch === 'qwen2' ? 'gpt2' : 'llama')],
    ['tokenizer.ggml.tokens', gv.strings(vocab.tokens)],
    ['tokenizer.ggml.bos_token_id', gv.u32(1)],
    ['tokenizer.ggml.eos_token_id', gv.u32(2)],
  ];
  const f32 = (name: string, dims: number[], data: Float32Array): GgufTensorSpec => ({ name, dims, type: 'F32', data });
  const tensors = [f32('token_embd.weight', [dim, vocabSize], embedding), f32('output_norm.weight', [dim], weights.outputNorm)];
  if (!spec.tied) tensors.push(f32('output.weight', [dim, vocabSize], weights.output));
  blocks.forEach((b, l) => {
    const p = `blk.${l}.`;
    tensors.push(
      f32(`${p}attn_norm.weight`, [dim], b.attnNorm),
      f32(`${p}attn_q.weight`, [dim, dim], b.q),
      f32(`${p}attn_k.weight`, [dim, kvDim], b.k),
      f32(`${p}attn_v.weight`, [dim, kvDim], b.v),
      f32(`${p}attn_output.weight`, [dim, dim], b.o),
      f32(`${p}ffn_norm.weight`, [dim], b.ffnNorm),
      f32(`${p}ffn_gate.weight`, [dim, hiddenDim], b.gate),
      f32(`${p}ffn_up.weight`, [dim, hiddenDim], b.up),
      f32(`${p}ffn_down.weight`, [hiddenDim, dim], b.down),
    );
    if (b.qBias) tensors.push(f32(`${p}attn_q.bias`, [dim], b.qBias), f32(`${p}attn_k.bias`, [kvDim], b.kBias!), f32(`${p}attn_v.bias`, [kvDim], b.vBias!));
  });
  return { gguf: writeGguf({ metadata, tensors }), config, weights };
}
