// sdpa.ts — rt.attention: scaled dot-product attention with idiomatic options on
// [batch, heads, seq, headDim] tensors (or [batch, seq, heads, headDim] with layout 'bshd', read
// through strides), on the fused online-softmax kernel.

import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { AttentionError, formatShape, formatValue } from '../runtime/index';
import {
  checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, type TensorView, viewOut, viewTensor,
  type WasmTensor, writeOut,
} from '../tensor';
import { bhsdOf, describeShape, layoutOf, layoutOption, shapeIn } from './head-layout';
import { runAttention, writesNothing } from './run-heads';
import { checkMask, type MaskData, placeMask } from './mask';
import {
  assertLive, booleanOption, finiteOption, integerOption, lengthsOption, nonNegativeOption, optionKeys, readOptions,
} from './options';

/** Options of `rt.attention`. */
export interface AttentionOptions {
  /** Multiplier of Q·Kᵀ. Default 1/√headDim. */
  scale?: number;
  /**
   * Causal masking. `true` or `'bottom-right'` (default alignment, as ONNX and FlashAttention with a
   * KV cache): query i of nq sees keys j ≤ i + (keyLength − nq). `'top-left'` (PyTorch's
   * `is_causal`): query i sees keys j ≤ i. The alignment also positions `window`.
   */
  causal?: boolean | 'bottom-right' | 'top-left';
  /**
   * Mask broadcastable (NumPy rules, aligned right) to [batch, heads, nq, nk]: a Uint8Array of
   * 0/1 where 1 means attend, or a Float32Array added to the scores (−∞ removes a key).
   */
  mask?: TensorLike<MaskData>;
  /** Valid keys per batch entry (the rest are padding), e.g. for variable-length batches. */
  keyLengths?: ArrayLike<number>;
  /** Caps the scores: softcap·tanh(s/softcap), applied before the mask (Gemma 2). 0 = none. */
  softcap?: number;
  /** Local attention: a query sees `left` keys before its position and `right` after (either may be omitted = unbounded). */
  window?: {
    /** Keys before the query's aligned position it may see (omitted: unbounded). */
    left?: number;
    /** Keys after the query's aligned position it may see (omitted: unbounded). */
    right?: number };
  /**
   * Layout of q, k, v and the output: `'bhsd'` (default) is [batch, heads, seq, headDim];
   * `'bshd'` is [batch, seq, heads, headDim] (PyTorch `batch_first`, flash-attn, onnxruntime's
   * 3-D inputs split into heads), read in place through strides — no transposing copy. Masks and
   * returned weights stay [batch, heads, nq, nk].
   */
  layout?: 'bhsd' | 'bshd';
  /** Also return the attention probabilities, shape [batch, heads, nq, nk] (materialized; `precision: 'f32'` only). */
  returnWeights?: boolean;
  /**
   * Arithmetic of Q·Kᵀ. `'f32'` (default): float32 throughout. `'int8'`: SageAttention — K is
   * smoothed (its mean over the keys subtracted), Q and K are quantized to int8 per block (4 query
   * rows, 64 keys) and Q·Kᵀ runs in integers; softmax and P·V stay float32. Output cosine
   * similarity to float32 ≥ 0.999 (measured ≥ 0.9999 on Gaussian data, also with outlier key
   * channels). Masks, causal, windows, key lengths, softcap and grouped-query heads work the same;
   * `returnWeights` is not available with `'int8'`.
   */
  precision?: 'f32' | 'int8';
  /**
   * Write the output here instead of a new array: a WasmTensor (zero-copy) or a Tensor of the
   * output shape, read once. It may be (or overlap) q, k or v: the output is then computed into a
   * temporary block and copied into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** `rt.attention` with `returnWeights: true`. */
export interface AttentionWithWeights {
  /** The attention output, [batch, heads, nq, valueDim]. */
  output: Tensor;
  /** The attention probabilities, [batch, heads, nq, nk]. */
  weights: Tensor;
}

const F32 = [Float32Array] as const;
export const ATTENTION_KEYS = optionKeys<AttentionOptions>({
  scale: true, causal: true, mask: true, keyLengths: true, softcap: true, window: true, layout: true, returnWeights: true, out: true,
  precision: true,
});
const WINDOW_KEYS = optionKeys<NonNullable<AttentionOptions['window']>>({ left: true, right: true });

/** `'f32'` or `'int8'` (default `'f32'`); anything else is INVALID_OPTION naming `name`. */
export function precisionOption(value: unknown, name: string): 'f32' | 'int8' {
  if (value === undefined) return 'f32';
  if (value !== 'f32' && value !== 'int8') throw new AttentionError('INVALID_OPTION', `${name} must be 'f32' or 'int8', got ${formatValue(value)}`);
  return value;
}

function expectRank4(view: TensorView, name: string, what: string): void {
  if (view.shape.length !== 4) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must be 4-D ${what}, got ${formatShape(view.shape)}`);
  }
}

export function attention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: AttentionOptions = {},
): Tensor | AttentionWithWeights {
  const arena = kernels.arena;
  const options = readOptions<AttentionOptions>(optionsIn, ATTENTION_KEYS, 'options', 'rt.attention');
  booleanOption(options.returnWeights, 'options.returnWeights', false);
  const layout = layoutOption(options.layout);
  const q = viewTensor(qIn, 'q', F32, arena);
  const k = viewTensor(kIn, 'k', F32, arena);
  const v = viewTensor(vIn, 'v', F32, arena);
  const bshd = layout === 'bshd';
  const dims = (seq: string, heads: string, dim: string) => describeShape(layout, seq, heads, dim);
  expectRank4(q, 'q', dims('nq', 'heads', 'headDim'));
  expectRank4(k, 'k', dims('nk', 'kvHeads', 'headDim'));
  expectRank4(v, 'v', dims('nk', 'kvHeads', 'valueDim'));
  const [batch, qHeads, nq, dh] = bhsdOf(q.shape, layout);
  const [kb, kvHeads, nk, kdh] = bhsdOf(k.shape, layout);
  const [vb, vHeads, vk, dv] = bhsdOf(v.shape, layout);
  // Every shape error names all three shapes and the layout they were read in.
  const shapes = `q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}: expected ` +
    (bshd ? dims('seq', 'heads', 'headDim') : "[batch, heads, seq, headDim] (or pass layout: 'bshd')");
  if (kb !== batch || vb !== batch) {
    throw new AttentionError('SHAPE_MISMATCH', `q, k and v must share the batch size: ${shapes}`);
  }
  if (kdh !== dh) throw new AttentionError('SHAPE_MISMATCH', `k's head size must equal q's (${dh}): ${shapes}`);
  if (vHeads !== kvHeads || vk !== nk) {
    const want = bshd ? `[${batch}, ${nk}, ${kvHeads}, valueDim]` : `[${batch}, ${kvHeads}, ${nk}, valueDim]`;
    throw new AttentionError('SHAPE_MISMATCH', `v must have k's heads and length ${want}, got ${formatShape(v.shape)}; ${shapes}`);
  }
  if (kvHeads === 0 || qHeads % kvHeads !== 0) {
    throw new AttentionError('SHAPE_MISMATCH', `k/v heads (${kvHeads}) must divide q heads (${qHeads}) for grouped-query attention: ${shapes}`);
  }
  const scale = finiteOption(options.scale, 'options.scale', dh > 0 ? 1 / Math.sqrt(dh) : 1);
  const softcap = nonNegativeOption(options.softcap, 'options.softcap', 0);
  const causal = options.causal ?? false;
  if (causal !== true && causal !== false && causal !== 'bottom-right' && causal !== 'top-left') {
    throw new AttentionError('INVALID_OPTION', `options.causal must be true, false, 'bottom-right' or 'top-left', got ${formatValue(causal)}`);
  }
  let left = -1;
  let right = -1;
  if (options.window !== undefined) {
    const window = readOptions<NonNullable<AttentionOptions['window']>>(options.window, WINDOW_KEYS, 'options.window', 'rt.attention');
    left = integerOption(window.left, 'options.window.left', -1, 0);
    right = integerOption(window.right, 'options.window.right', -1, 0);
  }
  if (causal) right = right < 0 ? 0 : Math.min(right, 0);
  const keyLengths = options.keyLengths === undefined
    ? undefined
    : lengthsOption(options.keyLengths, 'options.keyLengths', batch, nk);
  const topLeft = causal === 'top-left';
  const outShape = shapeIn(layout, batch, qHeads, nq, dv);
  checkElementCount(batch * qHeads * nq * dv, 'output');
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena);
  const wantWeights = options.returnWeights === true;
  const int8 = precisionOption(options.precision, 'options.precision') === 'int8';
  if (int8 && wantWeights) {
    throw new AttentionError('INVALID_OPTION', "options.returnWeights is not available with options.precision 'int8' (the weights would be float32 ones, not those the output used); use precision 'f32'");
  }
  if (wantWeights) checkElementCount(batch * qHeads * nq * nk, 'weights');
  const maskIn = options.mask === undefined ? undefined : checkMask(options.mask, 'options.mask', { batch, heads: qHeads, q: nq, k: nk }, 'exact', arena);

  assertLive(kernels, { q: qIn, k: kIn, v: vIn, 'options.mask': options.mask, 'options.out': options.out });
  if (writesNothing(batch * qHeads * nq, dv, wantWeights ? nk : 0)) {
    const output = out?.result ?? { data: new Float32Array(0), shape: outShape };
    return wantWeights ? { output, weights: { data: new Float32Array(0), shape: [batch, qHeads, nq, nk] } } : output;
  }
  const keyLens = keyLengths ?? new Array<number>(batch).fill(nk);
  const offsets = keyLens.map((len) => (topLeft ? 0 : len - nq));
  const scope = new Scope(arena);
  try {
    attentionKernels(kernels).reserve(nk, dh, dv, int8);
    const qp = scope.place(q);
    const kp = scope.place(k);
    const vp = scope.place(v);
    const op = outputBlock(scope, out, batch * qHeads * nq * dv, 'output', [q, k, v]);
    const mask = maskIn === undefined ? undefined : placeMask(scope, maskIn);
    const wp = wantWeights ? scope.alloc(batch * qHeads * nq * nk, 'weights') : 0;
    runAttention(kernels, {
      batch, qHeads, kvHeads, nq, nk, dh, dv,
      q: layoutOf(layout, qp, qHeads, nq, dh),
      k: layoutOf(layout, kp, kvHeads, nk, dh),
      v: layoutOf(layout, vp, kvHeads, nk, dv),
      o: layoutOf(layout, op, qHeads, nq, dv),
      scale, softcap, mask, offsets, keyLens, left, right,
      weights: wantWeights ? { ptr: wp, mode: 3 } : undefined,
      int8,
    });
    const output = writeOut(arena, out, op, outShape);
    if (!wantWeights) return output;
    const weights = { data: arena.f32(wp, batch * qHeads * nq * nk).slice(), shape: [batch, qHeads, nq, nk] };
    return { output, weights };
  } finally {
    scope.close();
  }
}
