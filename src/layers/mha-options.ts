// mha-options.ts — what rt.multiHeadAttention and layer.forward take: the public config, forward
// options and output types, and the option keys and input checks the layer (mha.ts) reads them with.

import type { MaskData } from '../attention/mask';
import type { PositionConfig } from '../position/bias';
import type { RopeOptions } from '../position/rope';
import { AttentionError, formatShape } from '../runtime/index';
import type { Tensor, TensorLike, TensorView, WasmTensor } from '../tensor';
import { optionKeys } from '../attention/options';
import type { KVCache } from './kv-cache';
import type { QuantizeType } from '../ops/quantized-matrix';
import type { MultiHeadAttentionWeights } from './weights';

/** Configuration of `rt.multiHeadAttention`. */
export interface MultiHeadAttentionConfig {
  /** Model width: x is [batch, seq, dModel]; the output too. */
  dModel: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (divides numHeads): < numHeads is grouped-query attention, 1 multi-query. Default numHeads. */
  numKvHeads?: number;
  /** Size of one head. Default dModel / numHeads. */
  headDim?: number;
  /** Width of the key input (the context) for cross-attention. Default dModel. */
  kdim?: number;
  /** Width of the value input. Default dModel. */
  vdim?: number;
  /** Projections have biases (PyTorch's default). Default true. */
  bias?: boolean;
  /** Multiplier of q·k. Default 1/√headDim (1 with a T5 position `unscaled: true`). */
  scale?: number;
  /** softcap·tanh(s/softcap) on the scores before biases and masks. Default 0 = none. */
  softcap?: number;
  /** Position encoding of self-attention: RoPE, ALiBi, T5 buckets or Shaw relative embeddings. */
  position?: PositionConfig;
  /** Projection weights (copied into Wasm memory once). */
  weights: MultiHeadAttentionWeights;
  /**
   * Also keep the weights pre-packed in the GEMM kernel's panel layout, so projections of 4 or
   * more rows skip packing them on every call (about 5–8% faster at BERT-base sizes). Costs a
   * second copy of the weights in Wasm memory. Default true.
   */
  packWeights?: boolean;
  /**
   * Storage of the projection weights: `'f32'` (default, as given), or quantized once at
   * construction — `'f16'`, `'int8'` (one scale per output column; activations quantized per row
   * on the fly), `'q8_0'` or `'q4_0'` (GGUF blocks of 32; input sizes must be multiples of 32).
   * The float32 copy is then freed (packWeights does not apply). Accuracy: docs/low-precision.md.
   */
  weightType?: 'f32' | QuantizeType;
}

/** Options of `layer.forward`. */
export interface MultiHeadAttentionForwardOptions {
  /**
   * Cross-attention: the encoder output [batch, keyLength, kdim] (keys and values from it),
   * `{ key, value }` ([batch, keyLength, kdim], [batch, keyLength, vdim]), or a KVCache filled by
   * `layer.projectContext` (keys and values already projected). Omit for self-attention.
   */
  context?: TensorLike | {
    /** Source of the keys, [batch, keyLength, kdim]. */
    key: TensorLike;
    /** Source of the values, [batch, keyLength, vdim]. */
    value: TensorLike } | KVCache;
  /** Broadcast to [batch, numHeads, seq, keys]: Uint8Array 1 = attend, or additive Float32Array. */
  mask?: TensorLike<MaskData>;
  /** PyTorch's key_padding_mask: [batch, keys], Uint8Array 1 (true) = IGNORE the key, or additive Float32Array. */
  keyPaddingMask?: TensorLike<MaskData>;
  /** Valid keys per batch entry (padding at the end), e.g. the lengths of a variable-length batch. Not with a cache. */
  keyLengths?: ArrayLike<number>;
  /**
   * Causal masking. Default false, or true with a self-attention `cache` (decoding). `true` /
   * 'bottom-right': query i of n sees keys up to its own position (with a cache: cached + i);
   * 'top-left' (PyTorch is_causal) differs only for cross-attention.
   */
  causal?: boolean | 'bottom-right' | 'top-left';
  /** Self-attention KV cache: the new keys/values are appended and every cached one is attended. */
  cache?: KVCache;
  /** RoPE positions (default: 0…, or the cache position): offset, per-batch offsets or ids [batch, seq]. */
  positions?: RopeOptions['positions'];
  /** Also return the attention probabilities. Default false. */
  needWeights?: boolean;
  /** With needWeights: average them over heads ([batch, seq, keys], PyTorch's default) or not ([batch, numHeads, seq, keys]). Default true. */
  averageWeights?: boolean;
  /**
   * Write the output here: a WasmTensor (zero-copy) or a Tensor of x's shape. Read once. It may be
   * (or overlap) an input: the output is then computed into a temporary block and copied into `out`
   * at the end.
   */
  out?: WasmTensor | Tensor;
}

/** `forward` with `needWeights: true`. */
export interface MultiHeadAttentionOutput {
  /** The layer output, x's shape. */
  output: Tensor;
  /** The attention probabilities, averaged over heads or per head (see averageWeights). */
  weights: Tensor;
}


/** A positive integer option (at most 2²⁴), else INVALID_OPTION naming it. */
export function posInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2 ** 24) {
    throw new AttentionError('INVALID_OPTION', `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export const CONFIG_KEYS = optionKeys<MultiHeadAttentionConfig>({
  dModel: true, numHeads: true, numKvHeads: true, headDim: true, kdim: true, vdim: true, bias: true, scale: true,
  softcap: true, position: true, weights: true, packWeights: true, weightType: true,
});
export const WEIGHT_TYPES = ['f32', 'f16', 'int8', 'q8_0', 'q4_0'] as const;
export const FORWARD_KEYS = optionKeys<MultiHeadAttentionForwardOptions>({
  context: true, mask: true, keyPaddingMask: true, keyLengths: true, causal: true, cache: true, positions: true,
  needWeights: true, averageWeights: true, out: true,
});
export const PAIR_KEYS = optionKeys<{ key: TensorLike; value: TensorLike }>({ key: true, value: true });

/** A `{ key, value }` context (read once already: a copy holds only own fields). */
export const isKeyValuePair = (context: unknown): boolean =>
  typeof context === 'object' && context !== null && 'key' in context && 'value' in context && !('data' in context);

/** Checks a layer input [batch, seq, width] (or unbatched [seq, width]), read once by viewTensor. */
export function checkLayerInput(
  view: TensorView, name: string, width: number, widthName: string, unbatched: boolean, batch?: number,
): { view: TensorView; batch: number; seq: number } {
  const rank = unbatched ? 2 : 3;
  const want = unbatched ? `[seq, ${widthName} = ${width}]` : `[batch${batch !== undefined ? ` = ${batch}` : ''}, seq, ${widthName} = ${width}]`;
  if (view.shape.length !== rank || view.shape[rank - 1] !== width || (!unbatched && batch !== undefined && view.shape[0] !== batch)) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must be ${want}, got ${formatShape(view.shape)}`);
  }
  return { view, batch: unbatched ? 1 : view.shape[0], seq: view.shape[rank - 2] };
}
