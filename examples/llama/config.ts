// config.ts — the configuration and weight tensors of a Llama-family model in a GGUF file
// (general.architecture `llama` or `qwen2`), checked against each other, tensors not converted.
//
// Keys read (<arch> is general.architecture), as llama.cpp's loader reads them:
//   <arch>.embedding_length             dim                         required
//   <arch>.block_count                  layers                      required
//   <arch>.attention.head_count         query heads                 required
//   <arch>.attention.head_count_kv      key/value heads (GQA)       default: head_count
//   <arch>.feed_forward_length          FFN hidden size             required
//   <arch>.context_length               trained context             required
//   <arch>.attention.layer_norm_rms_epsilon  RMSNorm epsilon        required
//   <arch>.rope.freq_base               RoPE base                   default 10000
//   <arch>.attention.key_length         head size                   default dim / head_count
//   <arch>.rope.dimension_count         rotated dims per head       default: the head size
//   tokenizer.ggml.tokens               vocabulary (its length)     default: token_embd's rows
//   tokenizer.ggml.bos_token_id / eos_token_id                      optional
// (head_count and feed_forward_length may be per-layer arrays in GGUF; equal entries are accepted.)
// Tensors (dims in ggml order, ne0 = row length = the input size of a weight):
//   token_embd.weight [dim, vocab] · output_norm.weight [dim] · output.weight [dim, vocab]
//   (absent: the classifier is token_embd, "tied") · per layer N, blk.N.: attn_norm.weight [dim],
//   attn_q.weight [dim, heads·head], attn_k.weight / attn_v.weight [dim, kvHeads·head],
//   attn_output.weight [heads·head, dim], ffn_norm.weight [dim], ffn_gate.weight / ffn_up.weight
//   [dim, hidden], ffn_down.weight [hidden, dim]; attn_q/k/v.bias [out] where present (Qwen2 has
//   them).
//
// RoPE — what llama.cpp computes for these files (llama_model_rope_type in llama-model.cpp):
//   `llama` → LLAMA_ROPE_TYPE_NORM: rotates pairs of CONSECUTIVE values (x[2i], x[2i+1]) of each head
//             by pos·base^(−2i/ropeDim) — Meta's original formulation and llama2.c's run.c.
//             Hugging Face checkpoints store Q and K for rotate-half RoPE instead (HF's converter
//             permuted Meta's rows); llama.cpp's convert_hf_to_gguf.py undoes that with
//             LlamaModel.permute(w, n_head, n_head_kv): w.reshape(n_head, 2, rows/n_head/2, cols)
//             .swapaxes(1, 2).reshape(rows, cols) (n_head_kv heads for K), i.e. within each head
//             the row order [0, d/2, 1, d/2+1, …] becomes consecutive pairs. So a `llama` GGUF's
//             Q/K rows are in Meta's order, and the model must rotate consecutive pairs
//             (wasm-attention's `rope` position with `interleaved: true`). llama2.c checkpoints are
//             already in Meta's order: they go into GGUF without any permutation (llama.cpp's
//             convert-llama2c-to-ggml copies them as they are).
//   `qwen2` → LLAMA_ROPE_TYPE_NEOX: rotates (x[i], x[i + ropeDim/2]) (rotate-half, GPT-NeoX style);
//             the converter does not permute Qwen2 weights (`interleaved: false`).
// `ropeStyle` below says which: 'interleaved' or 'halves'.
//
// Errors: GgufError (gguf.ts) with MISSING_KEY / INVALID_KEY (a key absent, of the wrong type or
// out of range), UNSUPPORTED_ARCHITECTURE, MISSING_TENSOR, INVALID_TENSOR (dims not those the
// configuration implies).

import { GgufError, type GgufHeader, type GgufTensorInfo, type GgufValue } from './gguf';

/** The architectures this file reads. */
export type GgufArchitecture = 'llama' | 'qwen2';
/** RoPE pairing: consecutive values (llama) or the two halves of the head (qwen2, NeoX). */
export type RopeStyle = 'interleaved' | 'halves';

/** A model's configuration from GGUF metadata. */
export interface GgufModelConfig {
  /** general.architecture */
  architecture: GgufArchitecture;
  /** embedding_length */
  dim: number;
  /** block_count */
  nLayers: number;
  /** attention.head_count: query heads */
  nHeads: number;
  /** attention.head_count_kv: key/value heads */
  nKvHeads: number;
  /** Values per head (key_length, or dim / nHeads). */
  headSize: number;
  /** nKvHeads · headSize */
  kvDim: number;
  /** feed_forward_length */
  hiddenDim: number;
  /** context_length: positions the model was trained on */
  contextLength: number;
  /** rope.freq_base */
  ropeBase: number;
  /** Rotated values per head (≤ headSize). */
  ropeDim: number;
  /** Which values RoPE rotates together (see the header). */
  ropeStyle: RopeStyle;
  /** attention.layer_norm_rms_epsilon */
  rmsEps: number;
  /** Tokens in the vocabulary (rows of token_embd). */
  vocabSize: number;
  /** No output.weight: the classifier is the token embedding. */
  tiedEmbedding: boolean;
  /** tokenizer.ggml.bos_token_id, if present */
  bosTokenId?: number;
  /** tokenizer.ggml.eos_token_id, if present */
  eosTokenId?: number;
}

/** One block's tensors (GGUF names blk.N.*). */
export interface GgufLayerTensors<T> {
  /** attn_norm.weight [dim] */
  attnNorm: T;
  /** attn_q.weight [dim, heads·head] */
  q: T;
  /** attn_k.weight [dim, kvHeads·head] */
  k: T;
  /** attn_v.weight [dim, kvHeads·head] */
  v: T;
  /** attn_q.bias (qwen2) */
  qBias?: T;
  /** attn_k.bias (qwen2) */
  kBias?: T;
  /** attn_v.bias (qwen2) */
  vBias?: T;
  /** attn_output.weight [heads·head, dim] */
  o: T;
  /** ffn_norm.weight [dim] */
  ffnNorm: T;
  /** ffn_gate.weight [dim, hidden] (W1, under SiLU) */
  gate: T;
  /** ffn_up.weight [dim, hidden] (W3) */
  up: T;
  /** ffn_down.weight [hidden, dim] (W2) */
  down: T;
}

/** A model's tensors (`output` is `tokenEmbedding` itself when tied). */
export interface GgufModelTensors<T> {
  /** token_embd.weight [dim, vocab] */
  tokenEmbedding: T;
  /** output_norm.weight [dim] */
  outputNorm: T;
  /** output.weight [dim, vocab], or token_embd.weight when tied */
  output: T;
  /** blk.0 … blk.(nLayers − 1) */
  layers: Array<GgufLayerTensors<T>>;
}

const ARCHITECTURES: readonly string[] = ['llama', 'qwen2'];
const INTEGER_TYPES = new Set(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64']);

/** Reads metadata keys with the file name for messages. */
class Keys {
  constructor(private readonly metadata: Map<string, GgufValue>, private readonly name: string) {}

  private invalid(key: string, expected: string, v: GgufValue): GgufError {
    const shown = v.type === 'array' ? `an array of ${v.value.length} ${v.itemType}` : `${v.type} ${String(v.value)}`;
    return new GgufError('INVALID_KEY', `${this.name}: metadata '${key}' must be ${expected}, got ${shown}`);
  }

  private get(key: string, required: boolean): GgufValue | undefined {
    const v = this.metadata.get(key);
    if (v === undefined && required) throw new GgufError('MISSING_KEY', `${this.name} has no metadata '${key}', which a model needs`);
    return v;
  }

  string(key: string): string {
    const v = this.get(key, true)!;
    if (v.type !== 'string') throw this.invalid(key, 'a string', v);
    return v.value;
  }

  /** A positive integer (a scalar of any integer type, or a per-layer array whose entries agree). */
  count(key: string, fallback?: number): number {
    const v = this.get(key, fallback === undefined);
    if (v === undefined) return fallback!;
    const expected = 'a positive integer (or a per-layer array of equal ones)';
    let n: number | undefined;
    if (v.type === 'array' && INTEGER_TYPES.has(v.itemType) && v.value.length > 0) {
      const items = Array.from(v.value as ArrayLike<number | bigint>, Number);
      if (items.every((x) => x === items[0])) n = items[0];
    } else if (INTEGER_TYPES.has(v.type)) {
      n = Number(v.value);
    }
    if (n === undefined || !Number.isSafeInteger(n) || n < 1) throw this.invalid(key, expected, v);
    return n;
  }

  /** A positive finite number of a float (or integer) type. */
  positive(key: string, fallback?: number): number {
    const v = this.get(key, fallback === undefined);
    if (v === undefined) return fallback!;
    const n = v.type === 'float32' || v.type === 'float64' || INTEGER_TYPES.has(v.type) ? Number(v.value) : NaN;
    if (!(n > 0 && Number.isFinite(n))) throw this.invalid(key, 'a positive finite number', v);
    return n;
  }

  /** A token id (optional). */
  tokenId(key: string, vocabSize: number): number | undefined {
    const v = this.get(key, false);
    if (v === undefined) return undefined;
    const n = INTEGER_TYPES.has(v.type) ? Number(v.value) : NaN;
    if (!(Number.isInteger(n) && n >= 0 && n < vocabSize)) throw this.invalid(key, `a token id in [0, ${vocabSize})`, v);
    return n;
  }

  /** The length of a string array, if present. */
  arrayLength(key: string): number | undefined {
    const v = this.get(key, false);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.itemType !== 'string' || v.value.length === 0) throw this.invalid(key, 'a non-empty array of strings', v);
    return v.value.length;
  }
}

/**
 * The configuration of the `llama` or `qwen2` model in a GGUF file, from its metadata (and the
 * token embedding's dims where the vocabulary is absent). Throws GgufError.
 */
export function ggufModelConfig(header: GgufHeader, options: { name?: string } = {}): GgufModelConfig {
  const name = options.name ?? 'the GGUF file';
  const keys = new Keys(header.metadata, name);
  const arch = keys.string('general.architecture');
  if (!ARCHITECTURES.includes(arch)) {
    throw new GgufError('UNSUPPORTED_ARCHITECTURE', `${name} holds a '${arch}' model; this reader builds ${ARCHITECTURES.join(' and ')} models`);
  }
  const architecture = arch as GgufArchitecture;
  const dim = keys.count(`${arch}.embedding_length`);
  const nHeads = keys.count(`${arch}.attention.head_count`);
  const nKvHeads = keys.count(`${arch}.attention.head_count_kv`, nHeads);
  if (nHeads % nKvHeads !== 0) {
    throw new GgufError('INVALID_KEY', `${name}: ${arch}.attention.head_count_kv (${nKvHeads}) must divide head_count (${nHeads})`);
  }
  const headSize = keys.count(`${arch}.attention.key_length`, Number.isInteger(dim / nHeads) ? dim / nHeads : undefined);
  const ropeDim = keys.count(`${arch}.rope.dimension_count`, headSize);
  if (ropeDim > headSize || ropeDim % 2 !== 0) {
    throw new GgufError('INVALID_KEY', `${name}: ${arch}.rope.dimension_count must be even and at most the head size ${headSize}, got ${ropeDim}`);
  }
  const embedding = header.tensorInfos.find((t) => t.name === 'token_embd.weight');
  const vocabSize = keys.arrayLength('tokenizer.ggml.tokens') ?? embedding?.dims[1];
  if (vocabSize === undefined) throw new GgufError('MISSING_TENSOR', `${name} has neither tokenizer.ggml.tokens nor token_embd.weight: no vocabulary size`);
  return {
    architecture,
    dim,
    nLayers: keys.count(`${arch}.block_count`),
    nHeads,
    nKvHeads,
    headSize,
    kvDim: nKvHeads * headSize,
    hiddenDim: keys.count(`${arch}.feed_forward_length`),
    contextLength: keys.count(`${arch}.context_length`),
    ropeBase: keys.positive(`${arch}.rope.freq_base`, 10000),
    ropeDim,
    ropeStyle: architecture === 'llama' ? 'interleaved' : 'halves',
    rmsEps: keys.positive(`${arch}.attention.layer_norm_rms_epsilon`),
    vocabSize,
    tiedEmbedding: !header.tensorInfos.some((t) => t.name === 'output.weight'),
    bosTokenId: keys.tokenId('tokenizer.ggml.bos_token_id', vocabSize),
    eosTokenId: keys.tokenId('tokenizer.ggml.eos_token_id', vocabSize),
  };
}

/**
 * The model's tensors, looked up by name and checked against the configuration's dims.
 * `lookup` returns a tensor (or info) by name: `file.tensor` for parseGguf, `file.info` for
 * openGgufBlob. Throws GgufError MISSING_TENSOR or INVALID_TENSOR.
 */
export function ggufModelTensors<T extends GgufTensorInfo>(
  config: GgufModelConfig,
  lookup: (name: string) => T | undefined,
  options: { name?: string } = {},
): GgufModelTensors<T> {
  const name = options.name ?? 'the GGUF file';
  const { dim, vocabSize, hiddenDim, nHeads, headSize, kvDim } = config;
  const qDim = nHeads * headSize;
  const take = (tensorName: string, dims: number[], optional = false): T | undefined => {
    const t = lookup(tensorName);
    if (!t) {
      if (optional) return undefined;
      throw new GgufError('MISSING_TENSOR', `${name} has no tensor '${tensorName}', which a ${config.architecture} model needs`);
    }
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new GgufError('INVALID_TENSOR', `${name}: tensor '${tensorName}' has dims [${t.dims.join(', ')}], expected [${dims.join(', ')}] (ggml order, row length first)`);
    }
    return t;
  };
  const need = (tensorName: string, dims: number[]): T => take(tensorName, dims)!;
  const tokenEmbedding = need('token_embd.weight', [dim, vocabSize]);
  const layers = Array.from({ length: config.nLayers }, (_, l): GgufLayerTensors<T> => {
    const p = `blk.${l}.`;
    const layer: GgufLayerTensors<T> = {
      attnNorm: need(`${p}attn_norm.weight`, [dim]),
      q: need(`${p}attn_q.weight`, [dim, qDim]),
      k: need(`${p}attn_k.weight`, [dim, kvDim]),
      v: need(`${p}attn_v.weight`, [dim, kvDim]),
      o: need(`${p}attn_output.weight`, [qDim, dim]),
      ffnNorm: need(`${p}ffn_norm.weight`, [dim]),
      gate: need(`${p}ffn_gate.weight`, [dim, hiddenDim]),
      up: need(`${p}ffn_up.weight`, [dim, hiddenDim]),
      down: need(`${p}ffn_down.weight`, [hiddenDim, dim]),
    };
    const qBias = take(`${p}attn_q.bias`, [qDim], true);
    const kBias = take(`${p}attn_k.bias`, [kvDim], true);
    const vBias = take(`${p}attn_v.bias`, [kvDim], true);
    return { ...layer, ...(qBias && { qBias }), ...(kBias && { kBias }), ...(vBias && { vBias }) };
  });
  return {
    tokenEmbedding,
    outputNorm: need('output_norm.weight', [dim]),
    output: config.tiedEmbedding ? tokenEmbedding : need('output.weight', [dim, vocabSize]),
    layers,
  };
}
