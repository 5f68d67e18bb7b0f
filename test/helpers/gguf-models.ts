// gguf-models.ts — GGUF Llama models for tests and benchmarks, written with gguf-writer.ts:
//   - llama2.c's stories260K checkpoint (test/fixtures/stories260K) converted to GGUF in F32, F16,
//     Q8_0 or Q4_0, as llama.cpp's convert-llama2c-to-ggml does: tensors renamed, Q and K NOT
//     permuted (llama2.c's RoPE already rotates consecutive pairs, llama.cpp's `llama` RoPE mode;
//     see examples/llama/config.ts), 1-D tensors (norms) kept F32;
//   - synthetic Llamas with seeded random weights at realistic sizes (SYNTHETIC_LLAMAS), for speed
//     tests: deterministic from their seed, generated tensor by tensor into a file.
// A matrix whose rows (ne0) are not a multiple of the 32-value block of Q8_0/Q4_0 (stories260K's
// ffn_down: rows of 172) is written in `fallback` (F32 unless asked otherwise; llama.cpp's
// converter falls back to F16).
//
// Vocabulary: ASCII only, so that every token's text is valid UTF-8 on its own (wllama returns
// generated text as JSON; byte tokens <0x80>–<0xFF> alone are invalid UTF-8 and break it):
//   0 <unk> (unknown) · 1 <s> (BOS, control) · 2 </s> (EOS, control) · 3–130 the byte tokens
//   <0x00>–<0x7F> · the 94 printable characters '!'–'~' (space excluded) · then "~0", "~1", … (base
//   36) up to the vocabulary size. tokenizer.ggml.model "llama" (SentencePiece), no space prefix:
//   a prompt of N characters without '~' and spaces tokenizes to exactly N tokens (+ BOS), since no
//   two of its characters merge into a longer piece (see promptOfTokens).

import type { LlamaCheckpoint } from '../../examples/tiny-llama/loader';
import type { GgmlTypeName } from '../../examples/llama/ggml-types';
import type { GgufValue } from '../../examples/llama/gguf';
import { gv, type GgufSpec, type GgufTensorSpec, writeGgufFile } from './gguf-writer';

/** The tensor types models are written in. */
export type ModelType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

/** A Llama's shape, for the metadata and tensor list. */
export interface LlamaShape {
  /** embedding_length */
  dim: number;
  /** feed_forward_length */
  hiddenDim: number;
  /** block_count */
  nLayers: number;
  /** query heads */
  nHeads: number;
  /** key/value heads */
  nKvHeads: number;
  /** tokens (the ASCII vocabulary's size) */
  vocabSize: number;
  /** context_length */
  contextLength: number;
  /** rope.freq_base (default 10000) */
  ropeBase?: number;
  /** RMSNorm epsilon (default 1e-5) */
  rmsEps?: number;
  /** No output.weight: the classifier is token_embd (default true). */
  tied?: boolean;
}

/** Token ids of the ASCII vocabulary. */
export const UNK = 0;
export const BOS = 1;
export const EOS = 2;

/** llama.cpp's token types (llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** The ASCII vocabulary of `size` tokens (see the header): texts, scores and token types. */
export function asciiVocabulary(size: number): { tokens: string[]; scores: Float32Array; types: Int32Array } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control];
  for (let b = 0; b < 128; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.byte);
  }
  for (let c = 0x21; c <= 0x7e; c++) {
    tokens.push(String.fromCharCode(c));
    types.push(TOKEN_TYPE.normal);
  }
  for (let i = 0; tokens.length < size; i++) {
    tokens.push(`~${i.toString(36)}`);
    types.push(TOKEN_TYPE.normal);
  }
  tokens.length = size;
  types.length = size;
  // SentencePiece scores rank merges; no prompt of ours merges, so any decreasing order does.
  const scores = Float32Array.from(tokens, (_, i) => (i < 131 ? 0 : -(i - 130)));
  return { tokens, scores, types: Int32Array.from(types) };
}

/**
 * A prompt string that the ASCII vocabulary tokenizes to exactly `n` tokens (BOS not counted):
 * n letters cycling a–z. No two letters form a piece, so each is one token.
 */
export function promptOfTokens(n: number): string {
  return Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
}

/** llama.cpp's metadata for a `llama` model of this shape with the ASCII vocabulary. */
export function llamaMetadata(shape: LlamaShape, name: string): Array<[string, GgufValue]> {
  const headSize = shape.dim / shape.nHeads;
  const vocab = asciiVocabulary(shape.vocabSize);
  return [
    ['general.architecture', gv.str('llama')],
    ['general.name', gv.str(name)],
    ['llama.context_length', gv.u32(shape.contextLength)],
    ['llama.embedding_length', gv.u32(shape.dim)],
    ['llama.block_count', gv.u32(shape.nLayers)],
    ['llama.feed_forward_length', gv.u32(shape.hiddenDim)],
    ['llama.attention.head_count', gv.u32(shape.nHeads)],
    ['llama.attention.head_count_kv', gv.u32(shape.nKvHeads)],
    ['llama.rope.dimension_count', gv.u32(headSize)],
    ['llama.rope.freq_base', gv.f32(shape.ropeBase ?? 10000)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(shape.rmsEps ?? 1e-5)],
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.strings(vocab.tokens)],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'float32', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', gv.u32(UNK)],
    ['tokenizer.ggml.bos_token_id', gv.u32(BOS)],
    ['tokenizer.ggml.eos_token_id', gv.u32(EOS)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.ggml.add_eos_token', gv.bool(false)],
    ['tokenizer.ggml.add_space_prefix', gv.bool(false)],
  ];
}

/** The stored type of a tensor: 1-D → F32; rows not made of whole blocks → fallback. */
export function storedType(type: ModelType, dims: number[], fallback: ModelType = 'F32'): ModelType {
  if (dims.length === 1) return 'F32';
  if ((type === 'Q8_0' || type === 'Q4_0') && dims[0] % 32 !== 0) return fallback;
  return type;
}

/** Where each of a layer's weights comes from: a function of the layer index. */
export interface LlamaWeightSource {
  tokenEmbedding: () => Float32Array;
  outputNorm: () => Float32Array;
  output?: () => Float32Array;
  layer: (l: number, which: 'attn_norm' | 'attn_q' | 'attn_k' | 'attn_v' | 'attn_output' | 'ffn_norm' | 'ffn_gate' | 'ffn_up' | 'ffn_down') => Float32Array;
}

/** The GGUF tensor list of a `llama` model (llama.cpp's names and order), data given lazily. */
export function llamaTensors(shape: LlamaShape, source: LlamaWeightSource, type: ModelType, fallback: ModelType = 'F32'): GgufTensorSpec[] {
  const { dim, hiddenDim, vocabSize } = shape;
  const kvDim = (dim / shape.nHeads) * shape.nKvHeads;
  const tensor = (name: string, dims: number[], data: () => Float32Array): GgufTensorSpec => ({
    name, dims, type: storedType(type, dims, fallback), data,
  });
  const list = [tensor('token_embd.weight', [dim, vocabSize], source.tokenEmbedding), tensor('output_norm.weight', [dim], source.outputNorm)];
  if (!(shape.tied ?? true)) list.push(tensor('output.weight', [dim, vocabSize], source.output!));
  const layerDims = {
    attn_norm: [dim], attn_q: [dim, dim], attn_k: [dim, kvDim], attn_v: [dim, kvDim], attn_output: [dim, dim],
    ffn_norm: [dim], ffn_gate: [dim, hiddenDim], ffn_up: [dim, hiddenDim], ffn_down: [hiddenDim, dim],
  } as const;
  for (let l = 0; l < shape.nLayers; l++) {
    for (const [which, dims] of Object.entries(layerDims)) {
      list.push(tensor(`blk.${l}.${which}.weight`, [...dims], () => source.layer(l, which as keyof typeof layerDims)));
    }
  }
  return list;
}

/** The stories260K shape of a llama2.c checkpoint's config. */
export function checkpointShape(cp: LlamaCheckpoint): LlamaShape {
  const c = cp.config;
  return {
    dim: c.dim, hiddenDim: c.hiddenDim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads,
    vocabSize: c.vocabSize, contextLength: c.seqLen, tied: c.sharedClassifier,
  };
}

/**
 * A llama2.c checkpoint as a GGUF spec: llama2.c's (out, in) row-major matrices are ggml's
 * [in, out] tensors byte for byte; Q and K are not permuted (see the header).
 */
export function checkpointToGguf(cp: LlamaCheckpoint, type: ModelType, options: { fallback?: ModelType; name?: string } = {}): GgufSpec {
  const shape = checkpointShape(cp);
  const names = {
    attn_norm: 'rmsAtt', attn_q: 'wq', attn_k: 'wk', attn_v: 'wv', attn_output: 'wo',
    ffn_norm: 'rmsFfn', ffn_gate: 'w1', ffn_up: 'w3', ffn_down: 'w2',
  } as const;
  const source: LlamaWeightSource = {
    tokenEmbedding: () => cp.tokenEmbedding,
    outputNorm: () => cp.rmsFinal,
    output: () => cp.classifier,
    layer: (l, which) => cp.layers[l][names[which]],
  };
  return {
    metadata: llamaMetadata(shape, options.name ?? 'stories260K'),
    tensors: llamaTensors(shape, source, type, options.fallback),
  };
}

/** The synthetic models of the speed tests. */
export const SYNTHETIC_LLAMAS = {
  /** llama2.c's stories15M shape. */
  '15M': { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, contextLength: 256 },
  /** SmolLM-135M's shape (grouped-query attention, 3 KV heads). */
  '135M-gqa': { dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, contextLength: 2048 },
  /** llama2.c's stories110M shape. */
  '110M': { dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32000, contextLength: 1024 },
} as const satisfies Record<string, LlamaShape>;

/** The name of a synthetic model. */
export type SyntheticLlamaName = keyof typeof SYNTHETIC_LLAMAS;

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` values uniform in [center − spread, center + spread), from a seed. */
function seededValues(n: number, seed: number, center: number, spread: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = center + spread * (2 * random() - 1);
  return out;
}

/** Random weights for a shape: matrices uniform with standard deviation 0.02, norms near 1. */
export function syntheticSource(shape: LlamaShape, seed: number): LlamaWeightSource {
  const spread = 0.02 * Math.sqrt(3);
  const kvDim = (shape.dim / shape.nHeads) * shape.nKvHeads;
  const sizes = {
    attn_norm: shape.dim, attn_q: shape.dim * shape.dim, attn_k: shape.dim * kvDim, attn_v: shape.dim * kvDim,
    attn_output: shape.dim * shape.dim, ffn_norm: shape.dim, ffn_gate: shape.dim * shape.hiddenDim,
    ffn_up: shape.dim * shape.hiddenDim, ffn_down: shape.dim * shape.hiddenDim,
  };
  const order = Object.keys(sizes);
  const isNorm = (w: string) => w.endsWith('_norm');
  return {
    tokenEmbedding: () => seededValues(shape.vocabSize * shape.dim, seed * 1000 + 1, 0, spread),
    outputNorm: () => seededValues(shape.dim, seed * 1000 + 2, 1, 0.1),
    output: () => seededValues(shape.vocabSize * shape.dim, seed * 1000 + 3, 0, spread),
    layer: (l, which) => seededValues(sizes[which], seed * 1000 + 10 + l * order.length + order.indexOf(which), isNorm(which) ? 1 : 0, isNorm(which) ? 0.1 : spread),
  };
}

/** Writes a synthetic Llama to `path` (deterministic from `seed`); returns its size in bytes. */
export function writeSyntheticLlama(path: string, name: SyntheticLlamaName, type: ModelType, seed = 1): number {
  const shape = SYNTHETIC_LLAMAS[name];
  return writeGgufFile(path, {
    metadata: llamaMetadata(shape, `synthetic-${name}`),
    tensors: llamaTensors(shape, syntheticSource(shape, seed), type, 'F16'),
  });
}
