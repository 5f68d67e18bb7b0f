// weights.ts — one description of a Llama-family model's configuration and weights, whatever file
// it came from, for model.ts: a GGUF file (config.ts reads its metadata and finds its tensors,
// left in their ggml type) or a llama2.c checkpoint (examples/tiny-llama/loader.ts; its float32
// matrices are exactly ggml's F32 tensors: (out, in) row-major is ggml's [in, out]).
// Also: which format a file is, from its first bytes (the magic), so a CLI or a page can take
// either.

import type { LlamaCheckpoint } from '../tiny-llama/loader';
import { ggufModelConfig, ggufModelTensors, type GgufLayerTensors, type GgufModelConfig, type GgufModelTensors } from './config';
import { GGML_TYPES, type GgmlTypeInfo } from './ggml-types';
import type { GgufFile } from './gguf';

/** A tensor's bytes in its ggml type (not converted). */
export interface WeightTensor {
  /** e.g. `blk.0.attn_q.weight` */
  name: string;
  /** The element type and its block layout. */
  type: GgmlTypeInfo;
  /** ggml's ne, the row length first. */
  dims: number[];
  /** Product of the dims. */
  elements: number;
  /** The data (a view: of the file, or of the checkpoint's floats). */
  bytes: Uint8Array;
}

/** A model ready to build: its configuration and its tensors. */
export interface LlamaWeights {
  /** The file's name, for messages. */
  name: string;
  /** The configuration (a llama2.c checkpoint's expressed as the GGUF `llama` one). */
  config: GgufModelConfig;
  /** The tensors; `output` is `tokenEmbedding` when tied. */
  tensors: GgufModelTensors<WeightTensor>;
}

/** The model in a parsed GGUF file (config.ts's checks; throws GgufError). */
export function weightsFromGguf(file: GgufFile, name = 'the GGUF file'): LlamaWeights {
  const config = ggufModelConfig(file, { name });
  return { name, config, tensors: ggufModelTensors(config, file.tensor, { name }) };
}

/**
 * The model in a llama2.c checkpoint: architecture `llama` (RoPE on consecutive pairs, as run.c),
 * base 10000, RMSNorm epsilon 1e-5, BOS 1, no EOS; F32 tensors viewing the checkpoint's floats.
 */
export function weightsFromCheckpoint(cp: LlamaCheckpoint, name = 'the checkpoint'): LlamaWeights {
  const c = cp.config;
  const f32 = (tensorName: string, data: Float32Array, dims: number[]): WeightTensor => ({
    name: tensorName, type: GGML_TYPES.F32, dims, elements: data.length,
    bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
  const layers = cp.layers.map((w, l): GgufLayerTensors<WeightTensor> => {
    const p = `blk.${l}.`;
    return {
      attnNorm: f32(`${p}attn_norm.weight`, w.rmsAtt, [c.dim]),
      q: f32(`${p}attn_q.weight`, w.wq, [c.dim, c.nHeads * c.headSize]),
      k: f32(`${p}attn_k.weight`, w.wk, [c.dim, c.kvDim]),
      v: f32(`${p}attn_v.weight`, w.wv, [c.dim, c.kvDim]),
      o: f32(`${p}attn_output.weight`, w.wo, [c.nHeads * c.headSize, c.dim]),
      ffnNorm: f32(`${p}ffn_norm.weight`, w.rmsFfn, [c.dim]),
      gate: f32(`${p}ffn_gate.weight`, w.w1, [c.dim, c.hiddenDim]),
      up: f32(`${p}ffn_up.weight`, w.w3, [c.dim, c.hiddenDim]),
      down: f32(`${p}ffn_down.weight`, w.w2, [c.hiddenDim, c.dim]),
    };
  });
  const tokenEmbedding = f32('token_embd.weight', cp.tokenEmbedding, [c.dim, c.vocabSize]);
  return {
    name,
    config: {
      architecture: 'llama', dim: c.dim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads,
      headSize: c.headSize, kvDim: c.kvDim, hiddenDim: c.hiddenDim, contextLength: c.seqLen, ropeBase: 10000,
      ropeDim: c.headSize, ropeStyle: 'interleaved', rmsEps: 1e-5, vocabSize: c.vocabSize,
      tiedEmbedding: c.sharedClassifier, bosTokenId: 1,
    },
    tensors: {
      tokenEmbedding,
      outputNorm: f32('output_norm.weight', cp.rmsFinal, [c.dim]),
      output: c.sharedClassifier ? tokenEmbedding : f32('output.weight', cp.classifier, [c.dim, c.vocabSize]),
      layers,
    },
  };
}

/** What a model file is, by its first four bytes: "GGUF", or else a llama2.c checkpoint. */
export function modelFileFormat(bytes: Uint8Array): 'gguf' | 'llama2c' {
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  return magic === 'GGUF' ? 'gguf' : 'llama2c';
}

/** Bytes of every distinct tensor (a tied classifier counted once). */
export function tensorBytes(weights: LlamaWeights): number {
  const t = weights.tensors;
  const all = new Set<WeightTensor>([t.tokenEmbedding, t.outputNorm, t.output]);
  for (const layer of t.layers) for (const x of Object.values(layer)) all.add(x);
  let n = 0;
  for (const x of all) n += x.bytes.byteLength;
  return n;
}
