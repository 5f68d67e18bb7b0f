// onnx.ts — rt.onnxAttention: exactly the ONNX `Attention` operator (opsets 23–25).
//
// Semantics (onnx/reference/ops/op_attention.py and the operator spec):
//   • 3-D inputs [B, S, H·D] need q_num_heads and kv_num_heads; 4-D inputs are [B, H, S, D].
//   • present_key/value = concat(past, new) along the sequence; past is always 4-D.
//   • scale defaults to 1/√(Q head size); scores = scale·Q·Kᵀ, then softcap·tanh(s/softcap)
//     when softcap > 0, then the mask (boolean: true = attend, float: added). A mask whose last
//     dimension is shorter than the total key length is padded with "masked out".
//   • Causal is bottom-right aligned: query i sees keys j ≤ i + offset, offset = past length when
//     past_key is given, else nonpad_kv_seqlen[b] − q length when that is given, else 0.
//   • left_window_size / right_window_size (opset 25, −1 = unbounded) restrict keys to
//     [i + offset − left, i + offset + right] around the same position.
//   • nonpad_kv_seqlen[b] (opset 24) removes keys at or past that index.
//   • GQA: q_num_heads must be a multiple of kv_num_heads; query head h reads kv head ⌊h/group⌋.
//   • A query row with no visible key yields zeros; masked-out NaN/∞ never leak.
//   • qk_matmul_output_mode: 0 scale·Q·Kᵀ, 1 after softcap, 2 after softcap and mask (−∞ where
//     removed), 3 softmax probabilities.
//   • softmax_precision: accepted (FLOAT, FLOAT16, DOUBLE, BFLOAT16); softmax runs in float32,
//     at least as precise as FLOAT16/BFLOAT16 and within float32 rounding of DOUBLE.

import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { AttentionError, formatShape, formatValue, wordIndex } from '../runtime/index';
import { checkElementCount, Scope, type Tensor, type TensorLike, type TensorView, viewTensor } from '../tensor';
import { type HeadLayout, bhsdLayout, bshdLayout, runAttention } from './run-heads';
import { checkMask, type MaskData, placeMask } from './mask';
import {
  assertLive, booleanOption, finiteOption, integerOption, lengthsOption, nonNegativeOption, optionKeys, readOptions,
} from './options';

/** Inputs of the ONNX Attention operator, by their ONNX names. */
export interface OnnxAttentionInputs {
  /** [B, Hq, Sq, D] or [B, Sq, Hq·D] */
  Q: TensorLike;
  /** [B, Hkv, Sk, D] or [B, Sk, Hkv·D] */
  K: TensorLike;
  /** [B, Hkv, Sk, Dv] or [B, Sk, Hkv·Dv] */
  V: TensorLike;
  /** Boolean (Uint8Array, 1 = attend) or additive float mask, broadcastable to [B, Hq, Sq, total]. */
  attn_mask?: TensorLike<MaskData>;
  /** [B, Hkv, P, D] */
  past_key?: TensorLike;
  /** [B, Hkv, P, Dv] */
  past_value?: TensorLike;
  /** [B] valid key count per batch entry (int64 as BigInt64Array, or Int32Array / number[]). */
  nonpad_kv_seqlen?: {
    /** One count per batch entry. */
    readonly data: BigInt64Array | Int32Array | readonly number[];
    /** [B] (optional). */
    readonly shape?: readonly number[];
    /** [B] (optional; onnxruntime's name). */
    readonly dims?: readonly number[] };
}

/** Attributes of the ONNX Attention operator, by their ONNX names. */
export interface OnnxAttentionAttributes {
  /** 1: causal, bottom-right aligned (query i sees keys j ≤ i + past length). Default 0. */
  is_causal?: number;
  /** Multiplier of Q·Kᵀ. Default 1/√(Q head size). */
  scale?: number;
  /** softcap·tanh(s/softcap) on the scores before the mask when > 0. Default 0 (none). */
  softcap?: number;
  /** Query heads; required with 3-D inputs [B, S, H·D]. */
  q_num_heads?: number;
  /** Key/value heads (q_num_heads must be a multiple); required with 3-D inputs. */
  kv_num_heads?: number;
  /** Which scores qk_matmul_output holds: 0 scale·Q·Kᵀ, 1 after softcap, 2 after softcap and mask, 3 softmax. Default 0. */
  qk_matmul_output_mode?: number;
  /** ONNX data type of the softmax (FLOAT, FLOAT16, DOUBLE, BFLOAT16): accepted; softmax runs in float32. */
  softmax_precision?: number;
  /** Keys before the aligned position a query sees (opset 25); −1 = unbounded. Default −1. */
  left_window_size?: number;
  /** Keys after the aligned position a query sees (opset 25); −1 = unbounded. Default −1. */
  right_window_size?: number;
}

/** Which optional outputs to compute. */
export interface OnnxAttentionOptions {
  /** Compute qk_matmul_output. Default: when qk_matmul_output_mode is given. */
  qkMatmulOutput?: boolean;
}

/** Outputs of the ONNX Attention operator. */
export interface OnnxAttentionOutputs {
  /** The attention output, in the layout of Q (3-D or 4-D). */
  Y: Tensor;
  /** concat(past_key, K) along the sequence, [B, Hkv, P + Sk, D]. */
  present_key: Tensor;
  /** concat(past_value, V) along the sequence, [B, Hkv, P + Sk, Dv]. */
  present_value: Tensor;
  /** The scores selected by qk_matmul_output_mode, [B, Hq, Sq, P + Sk], when requested. */
  qk_matmul_output?: Tensor;
}

const F32 = [Float32Array] as const;
const SOFTMAX_PRECISIONS = new Set([1, 10, 11, 16]); // FLOAT, FLOAT16, DOUBLE, BFLOAT16
const INPUT_KEYS = optionKeys<OnnxAttentionInputs>({
  Q: true, K: true, V: true, attn_mask: true, past_key: true, past_value: true, nonpad_kv_seqlen: true,
});
const ATTRIBUTE_KEYS = optionKeys<OnnxAttentionAttributes>({
  is_causal: true, scale: true, softcap: true, q_num_heads: true, kv_num_heads: true, qk_matmul_output_mode: true,
  softmax_precision: true, left_window_size: true, right_window_size: true,
});
const OPTION_KEYS = optionKeys<OnnxAttentionOptions>({ qkMatmulOutput: true });

function splitHeads(view: TensorView, name: string, heads: number, headsName: string): { seq: number; dim: number } {
  const [, seq, hidden] = view.shape;
  if (hidden % heads !== 0) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} hidden size ${hidden} (shape ${formatShape(view.shape)}) is not divisible by ${headsName} = ${heads}`);
  }
  return { seq, dim: hidden / heads };
}

export function onnxAttention(
  kernels: Kernels,
  inputs: OnnxAttentionInputs,
  attributes: OnnxAttentionAttributes = {},
  options: OnnxAttentionOptions = {},
): OnnxAttentionOutputs {
  const arena = kernels.arena;
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new AttentionError('INVALID_ARGUMENT', `inputs must be an object { Q, K, V, … }, got ${String(inputs)}`);
  }
  // From here on inputs, attributes and options are snapshots: each key read once, own properties only.
  inputs = readOptions<OnnxAttentionInputs>(inputs, INPUT_KEYS, 'inputs', 'rt.onnxAttention') as OnnxAttentionInputs;
  attributes = readOptions<OnnxAttentionAttributes>(attributes, ATTRIBUTE_KEYS, 'attributes', 'rt.onnxAttention');
  options = readOptions<OnnxAttentionOptions>(options, OPTION_KEYS, 'options', 'rt.onnxAttention');
  booleanOption(options.qkMatmulOutput, 'options.qkMatmulOutput', false);
  const Q = viewTensor(inputs.Q, 'inputs.Q', F32, arena);
  const K = viewTensor(inputs.K, 'inputs.K', F32, arena);
  const V = viewTensor(inputs.V, 'inputs.V', F32, arena);
  const rank = Q.shape.length;
  if ((rank !== 3 && rank !== 4) || K.shape.length !== rank || V.shape.length !== rank) {
    throw new AttentionError('SHAPE_MISMATCH', `inputs.Q, K and V must all be 3-D or all 4-D, got Q ${formatShape(Q.shape)}, K ${formatShape(K.shape)}, V ${formatShape(V.shape)}`);
  }
  const isCausal = integerOption(attributes.is_causal, 'attributes.is_causal', 0, 0);
  if (isCausal > 1) throw new AttentionError('INVALID_OPTION', `attributes.is_causal must be 0 or 1, got ${isCausal}`);
  const mode = integerOption(attributes.qk_matmul_output_mode, 'attributes.qk_matmul_output_mode', 0, 0);
  if (mode > 3) throw new AttentionError('INVALID_OPTION', `attributes.qk_matmul_output_mode must be 0, 1, 2 or 3, got ${mode}`);
  if (attributes.softmax_precision !== undefined && !SOFTMAX_PRECISIONS.has(attributes.softmax_precision)) {
    throw new AttentionError('INVALID_OPTION', `attributes.softmax_precision must be 1 (FLOAT), 10 (FLOAT16), 11 (DOUBLE) or 16 (BFLOAT16), got ${String(attributes.softmax_precision)}`);
  }
  const softcap = nonNegativeOption(attributes.softcap, 'attributes.softcap', 0);
  const leftWindow = integerOption(attributes.left_window_size, 'attributes.left_window_size', -1, -1);
  const rightWindow = integerOption(attributes.right_window_size, 'attributes.right_window_size', -1, -1);

  const batch = Q.shape[0];
  let qHeads: number, kvHeads: number, nq: number, nNew: number, dh: number, dv: number;
  if (rank === 3) {
    if (attributes.q_num_heads === undefined || attributes.kv_num_heads === undefined) {
      throw new AttentionError('INVALID_OPTION', 'attributes.q_num_heads and attributes.kv_num_heads are required for 3-D inputs');
    }
    qHeads = integerOption(attributes.q_num_heads, 'attributes.q_num_heads', 0, 1);
    kvHeads = integerOption(attributes.kv_num_heads, 'attributes.kv_num_heads', 0, 1);
    const qs = splitHeads(Q, 'inputs.Q', qHeads, 'q_num_heads');
    const ks = splitHeads(K, 'inputs.K', kvHeads, 'kv_num_heads');
    const vs = splitHeads(V, 'inputs.V', kvHeads, 'kv_num_heads');
    nq = qs.seq;
    dh = qs.dim;
    if (ks.dim !== dh) throw new AttentionError('SHAPE_MISMATCH', `inputs.K head size ${ks.dim} must equal inputs.Q head size ${dh}`);
    if (vs.seq !== ks.seq) throw new AttentionError('SHAPE_MISMATCH', `inputs.V length ${vs.seq} must equal inputs.K length ${ks.seq}`);
    nNew = ks.seq;
    dv = vs.dim;
  } else {
    [, qHeads, nq, dh] = Q.shape;
    [, kvHeads, nNew] = K.shape;
    dv = V.shape[3];
    if (K.shape[3] !== dh) throw new AttentionError('SHAPE_MISMATCH', `inputs.K head size must equal inputs.Q's (${dh}), got K ${formatShape(K.shape)}`);
    if (V.shape[1] !== kvHeads || V.shape[2] !== nNew) {
      throw new AttentionError('SHAPE_MISMATCH', `inputs.V must be [${batch}, ${kvHeads}, ${nNew}, Dv] like inputs.K, got ${formatShape(V.shape)}`);
    }
    for (const [attr, val] of [['q_num_heads', qHeads], ['kv_num_heads', kvHeads]] as const) {
      const given = attributes[attr];
      if (given !== undefined && given !== val) {
        throw new AttentionError('INVALID_OPTION', `attributes.${attr} = ${formatValue(given)} contradicts the 4-D input shapes (${val})`);
      }
    }
  }
  if (K.shape[0] !== batch || V.shape[0] !== batch) {
    throw new AttentionError('SHAPE_MISMATCH', `inputs.Q, K and V must share the batch size: Q ${formatShape(Q.shape)}, K ${formatShape(K.shape)}, V ${formatShape(V.shape)}`);
  }
  if (kvHeads === 0 || qHeads % kvHeads !== 0) {
    throw new AttentionError('SHAPE_MISMATCH', `q_num_heads (${qHeads}) must be a multiple of kv_num_heads (${kvHeads})`);
  }

  // Past cache.
  const hasPastK = inputs.past_key !== undefined && inputs.past_key !== null;
  const hasPastV = inputs.past_value !== undefined && inputs.past_value !== null;
  if (hasPastK !== hasPastV) throw new AttentionError('INVALID_ARGUMENT', 'inputs.past_key and inputs.past_value must be given together');
  let pastLen = 0;
  let pastK: TensorView | undefined;
  let pastV: TensorView | undefined;
  if (hasPastK) {
    pastK = viewTensor(inputs.past_key, 'inputs.past_key', F32, arena);
    pastV = viewTensor(inputs.past_value, 'inputs.past_value', F32, arena);
    pastLen = pastK.shape[2];
    const wantK = [batch, kvHeads, pastLen, dh];
    const wantV = [batch, kvHeads, pastLen, dv];
    if (pastK.shape.length !== 4 || pastK.shape.some((d, i) => d !== wantK[i])) {
      throw new AttentionError('SHAPE_MISMATCH', `inputs.past_key must be [batch, kv_num_heads, past, head_size] = ${formatShape(wantK)}, got ${formatShape(pastK.shape)}`);
    }
    if (pastV.shape.length !== 4 || pastV.shape.some((d, i) => d !== wantV[i])) {
      throw new AttentionError('SHAPE_MISMATCH', `inputs.past_value must be ${formatShape(wantV)}, got ${formatShape(pastV.shape)}`);
    }
  }
  const nk = pastLen + nNew;

  let nonpad: number[] | undefined;
  if (inputs.nonpad_kv_seqlen !== undefined && inputs.nonpad_kv_seqlen !== null) {
    const np = inputs.nonpad_kv_seqlen;
    const shape = np.shape ?? np.dims;
    if (shape !== undefined && (shape.length !== 1 || shape[0] !== batch)) {
      throw new AttentionError('SHAPE_MISMATCH', `inputs.nonpad_kv_seqlen must have shape [${batch}], got ${formatShape(shape)}`);
    }
    nonpad = lengthsOption(np.data, 'inputs.nonpad_kv_seqlen', batch, nk);
  }
  const scale = finiteOption(attributes.scale, 'attributes.scale', 1 / Math.sqrt(dh));
  const right = isCausal ? (rightWindow < 0 ? 0 : Math.min(rightWindow, 0)) : rightWindow;
  const wantQk = options.qkMatmulOutput ?? attributes.qk_matmul_output_mode !== undefined;

  const ySize = batch * qHeads * nq * dv;
  const pkSize = batch * kvHeads * nk * dh;
  const pvSize = batch * kvHeads * nk * dv;
  const qkSize = batch * qHeads * nq * nk;
  checkElementCount(ySize, 'output Y');
  checkElementCount(pkSize, 'output present_key');
  checkElementCount(pvSize, 'output present_value');
  if (wantQk) checkElementCount(qkSize, 'output qk_matmul_output');
  const attnMask = inputs.attn_mask;
  const maskIn = attnMask === undefined || attnMask === null
    ? undefined
    : checkMask(attnMask, 'inputs.attn_mask', { batch, heads: qHeads, q: nq, k: nk }, 'pad', arena);

  const yShape = rank === 3 ? [batch, nq, qHeads * dv] : [batch, qHeads, nq, dv];
  if (ySize + pkSize + pvSize + (wantQk ? qkSize : 0) === 0) {
    // Nothing to write (batch and heads may claim any count): the empty outputs at once.
    const empty = (shape: number[]): Tensor => ({ data: new Float32Array(0), shape });
    const result: OnnxAttentionOutputs = {
      Y: empty(yShape), present_key: empty([batch, kvHeads, nk, dh]), present_value: empty([batch, kvHeads, nk, dv]),
    };
    if (wantQk) result.qk_matmul_output = empty([batch, qHeads, nq, nk]);
    return result;
  }
  // Some output is non-empty, so batch is at most its element count.
  const keyLens = nonpad ?? new Array<number>(batch).fill(nk);
  const offsets = keyLens.map((len) => (hasPastK ? pastLen : nonpad ? len - nq : 0));
  const scope = new Scope(arena);
  try {
    // The caller's code (getters) has run: the runtime and every resident input must still be alive.
    assertLive(kernels, {
      'inputs.Q': inputs.Q, 'inputs.K': inputs.K, 'inputs.V': inputs.V, 'inputs.past_key': inputs.past_key,
      'inputs.past_value': inputs.past_value, 'inputs.attn_mask': inputs.attn_mask,
    });
    attentionKernels(kernels).reserve(nk, dh, dv);
    const qp = scope.place(Q);
    const layoutOf = (ptr: number, heads: number, seq: number, dim: number): HeadLayout =>
      rank === 3 ? bshdLayout(ptr, heads, seq, dim) : bhsdLayout(ptr, heads, seq, dim);
    // present = concat(past, new) in [B, Hkv, nk, D]; without a past, 4-D inputs are used in place.
    const present = (view: TensorView, past: TensorView | undefined, dim: number, name: string): number => {
      if (!past && rank === 4) return scope.place(view);
      if (batch * kvHeads * nk * dim === 0) return scope.alloc(0, name); // nothing to copy per head
      const newPtr = scope.place(view);
      const pastPtr = past ? scope.place(past) : 0;
      const dst = scope.alloc(batch * kvHeads * nk * dim, name);
      const src = layoutOf(newPtr, kvHeads, nNew, dim);
      const all = arena.f32(0, wordIndex(arena.byteLength));
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < kvHeads; h++) {
          const d0 = wordIndex(dst) + ((b * kvHeads + h) * nk) * dim;
          if (past) {
            const p0 = wordIndex(pastPtr) + ((b * kvHeads + h) * pastLen) * dim;
            all.copyWithin(d0, p0, p0 + pastLen * dim);
          }
          for (let s = 0; s < nNew; s++) {
            const s0 = wordIndex(src.ptr) + b * src.batchStride + h * src.headStride + s * src.rowStride;
            all.copyWithin(d0 + (pastLen + s) * dim, s0, s0 + dim);
          }
        }
      }
      return dst;
    };
    const kp = present(K, pastK, dh, 'present_key');
    const vp = present(V, pastV, dv, 'present_value');
    const yp = scope.alloc(ySize, 'Y');
    const wp = wantQk ? scope.alloc(qkSize, 'qk_matmul_output') : 0;
    const mask = maskIn === undefined ? undefined : placeMask(scope, maskIn);
    runAttention(kernels, {
      batch, qHeads, kvHeads, nq, nk, dh, dv,
      q: layoutOf(qp, qHeads, nq, dh),
      k: bhsdLayout(kp, kvHeads, nk, dh),
      v: bhsdLayout(vp, kvHeads, nk, dv),
      o: layoutOf(yp, qHeads, nq, dv),
      scale, softcap, mask, offsets, keyLens,
      left: leftWindow,
      right,
      weights: wantQk ? { ptr: wp, mode: mode as 0 | 1 | 2 | 3 } : undefined,
    });
    const result: OnnxAttentionOutputs = {
      Y: { data: arena.f32(yp, ySize).slice(), shape: yShape },
      present_key: { data: arena.f32(kp, pkSize).slice(), shape: [batch, kvHeads, nk, dh] },
      present_value: { data: arena.f32(vp, pvSize).slice(), shape: [batch, kvHeads, nk, dv] },
    };
    if (wantQk) result.qk_matmul_output = { data: arena.f32(wp, qkSize).slice(), shape: [batch, qHeads, nq, nk] };
    return result;
  } finally {
    scope.close();
  }
}
