// reference/mha.ts — float64 oracle for the multi-head attention layer and the position encodings,
// written from the papers' formulas with plain loops. Independent of src/ (no imports from it);
// the attention core is test/reference/attention.ts.
//
// Layer (PyTorch nn.MultiheadAttention with batch_first=True, plus GQA and positions):
//   Q = x·W_qᵀ + b_q  ([B, S, H·Dh]),  K = c·W_kᵀ + b_k,  V = c·W_vᵀ + b_v  ([B, Sk, Hkv·Dh])
//   (weights in nn.Linear layout [out, in]; c = x for self-attention)
//   head h of Q is columns h·Dh … (h+1)·Dh − 1; query head h reads kv head ⌊h / (H / Hkv)⌋
//   RoPE: rotate pairs of Q and K heads by angle pos·base^(−2c/R) (rotate-half or interleaved)
//   bias(h, i, j) by d = j − p_i (p_i = queryOffset + i): ALiBi slope_h·d (or −slope_h·|d|),
//     T5 weights[bucket(d), h], Shaw scale·q_i·a_clip(d, k)
//   scores = cap(scale·q·k) + bias + mask (additive; −∞ removes), then softmax over visible keys
//   y = concat_h(O_h)·W_oᵀ + b_o
// Everything in float64; returns the output and the per-head probabilities.

import { referenceAttention, type RefCausal } from './attention';

export type RefRope = { type: 'rope'; rotaryDim: number; base: number; interleaved: boolean };
export type RefAlibi = { type: 'alibi'; slopes: number[]; symmetric: boolean };
export type RefT5 = { type: 't5'; weights: ArrayLike<number>; bidirectional: boolean; numBuckets: number; maxDistance: number };
export type RefShaw = { type: 'shaw'; embeddings: ArrayLike<number>; perHead: boolean; maxRelative: number };
export type RefPosition = RefRope | RefAlibi | RefT5 | RefShaw;

export interface RefMhaConfig {
  dModel: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  kdim: number;
  vdim: number;
  scale: number;
  softcap?: number;
  /** nn.Linear layout [out, in]; biases may be undefined (none) */
  wq: ArrayLike<number>;
  wk: ArrayLike<number>;
  wv: ArrayLike<number>;
  wo: ArrayLike<number>;
  bq?: ArrayLike<number>;
  bk?: ArrayLike<number>;
  bv?: ArrayLike<number>;
  bo?: ArrayLike<number>;
  position?: RefPosition;
}

export interface RefMhaOptions {
  /** cross-attention key input [B, Sk, kdim] and value input [B, Sk, vdim] */
  key?: ArrayLike<number>;
  value?: ArrayLike<number>;
  keySeq?: number;
  causal?: RefCausal;
  /** additive or boolean (Uint8Array, 1 = attend) mask broadcast to [B, H, S, nk] */
  mask?: { data: ArrayLike<number>; shape: number[] };
  /** [B, nk], true (1) = ignore */
  keyPaddingMask?: ArrayLike<number>;
  keyLengths?: number[];
  /** absolute position of the first query row (RoPE and relative biases); keys start at 0 */
  queryOffset?: number;
  /** shifts every RoPE position (queries and keys alike) by this much */
  ropeShift?: number;
}

/** y[m, o] = Σ_i x[m, i]·W[o, i] + b[o] (nn.Linear). */
export function refLinear(x: ArrayLike<number>, m: number, inDim: number, w: ArrayLike<number>, outDim: number, b?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(m * outDim);
  for (let r = 0; r < m; r++) {
    for (let o = 0; o < outDim; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) acc += x[r * inDim + i] * w[o * inDim + i];
      y[r * outDim + o] = acc;
    }
  }
  return y;
}

/** [B, S, heads·D] → [B, heads, S, D] */
export function splitHeads(t: ArrayLike<number>, B: number, S: number, heads: number, D: number): Float64Array {
  const out = new Float64Array(B * heads * S * D);
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) for (let h = 0; h < heads; h++) for (let d = 0; d < D; d++) {
    out[((b * heads + h) * S + s) * D + d] = t[(b * S + s) * heads * D + h * D + d];
  }
  return out;
}

/** RoPE in float64 on [B, heads, S, D] in place; positions[b·S + s]. */
export function refRope(t: Float64Array, B: number, heads: number, S: number, D: number, positions: ArrayLike<number>, p: { rotaryDim: number; base: number; interleaved: boolean }): void {
  const half = p.rotaryDim / 2;
  for (let b = 0; b < B; b++) for (let h = 0; h < heads; h++) for (let s = 0; s < S; s++) {
    const row = ((b * heads + h) * S + s) * D;
    const pos = positions[b * S + s];
    for (let c = 0; c < half; c++) {
      const angle = pos * Math.pow(p.base, (-2 * c) / p.rotaryDim);
      const i1 = p.interleaved ? row + 2 * c : row + c;
      const i2 = p.interleaved ? row + 2 * c + 1 : row + c + half;
      const x1 = t[i1];
      const x2 = t[i2];
      t[i1] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
      t[i2] = x1 * Math.sin(angle) + x2 * Math.cos(angle);
    }
  }
}

/** T5's bucket, transcribed from transformers' T5Attention._relative_position_bucket (float32 log steps). */
export function refT5Bucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let rel = 0;
  let nb = numBuckets;
  let rp = relativePosition;
  if (bidirectional) {
    nb = Math.floor(nb / 2);
    rel += rp > 0 ? nb : 0;
    rp = Math.abs(rp);
  } else {
    rp = -Math.min(rp, 0);
  }
  const maxExact = Math.floor(nb / 2);
  if (rp < maxExact) return rel + rp;
  const f = Math.fround;
  const large = maxExact + Math.trunc(f(f(f(Math.log(f(rp / maxExact))) / f(Math.log(maxDistance / maxExact))) * (nb - maxExact)));
  return rel + Math.min(large, nb - 1);
}

/** The ALiBi reference get_slopes (github.com/ofirpress/attention_with_linear_biases). */
export function refAlibiSlopes(n: number): number[] {
  const pow2 = (m: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(m) - 3));
    return Array.from({ length: m }, (_, i) => start * start ** i);
  };
  if (Number.isInteger(Math.log2(n))) return pow2(n);
  const c = 2 ** Math.floor(Math.log2(n));
  return [...pow2(c), ...refAlibiSlopes(2 * c).filter((_, i) => i % 2 === 0).slice(0, n - c)];
}

/** The additive bias [B, H, S, nk] of a relative position encoding (q: [B, H, S, Dh] after projection). */
export function refPositionBias(pos: RefPosition, q: Float64Array, B: number, H: number, S: number, nk: number, Dh: number, scale: number, queryOffset: number): Float64Array | undefined {
  if (pos.type === 'rope') return undefined;
  const bias = new Float64Array(B * H * S * nk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) for (let j = 0; j < nk; j++) {
    const d = j - (i + queryOffset);
    let v: number;
    if (pos.type === 'alibi') v = pos.symmetric ? -pos.slopes[h] * Math.abs(d) : pos.slopes[h] * d;
    else if (pos.type === 't5') v = pos.weights[refT5Bucket(d, pos.bidirectional, pos.numBuckets, pos.maxDistance) * H + h];
    else {
      const k = pos.maxRelative;
      const idx = Math.min(Math.max(d, -k), k) + k;
      const e = (pos.perHead ? h * (2 * k + 1) : 0) + idx;
      let dot = 0;
      for (let c = 0; c < Dh; c++) dot += q[((b * H + h) * S + i) * Dh + c] * pos.embeddings[e * Dh + c];
      v = scale * dot;
    }
    bias[((b * H + h) * S + i) * nk + j] = v;
  }
  return bias;
}

/** Mask broadcast (right-aligned) to [B, H, S, nk] as additive float64 (bool: 0 → −∞). */
function expandMask(mask: { data: ArrayLike<number>; shape: number[] }, B: number, H: number, S: number, nk: number): Float64Array {
  const full = [1, 1, 1, 1];
  for (let a = 0; a < mask.shape.length; a++) full[4 - mask.shape.length + a] = mask.shape[a];
  const isBool = mask.data instanceof Uint8Array;
  const out = new Float64Array(B * H * S * nk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) for (let j = 0; j < nk; j++) {
    const idx = [b, h, i, j];
    let flat = 0;
    for (let a = 0; a < 4; a++) flat = flat * full[a] + (full[a] === 1 ? 0 : idx[a]);
    const m = mask.data[flat];
    out[((b * H + h) * S + i) * nk + j] = isBool ? (m ? 0 : -Infinity) : m;
  }
  return out;
}

/** The layer in float64. x: [B, S, dModel]. */
export function referenceMha(cfg: RefMhaConfig, x: ArrayLike<number>, B: number, S: number, opts: RefMhaOptions = {}): { output: Float64Array; weights: Float64Array; nk: number } {
  const { dModel, numHeads: H, numKvHeads: Hkv, headDim: Dh } = cfg;
  const cross = opts.key !== undefined;
  const Sk = cross ? opts.keySeq! : S;
  const kIn = cross ? opts.key! : x;
  const vIn = cross ? opts.value! : x;
  const q = splitHeads(refLinear(x, B * S, dModel, cfg.wq, H * Dh, cfg.bq), B, S, H, Dh);
  const k = splitHeads(refLinear(kIn, B * Sk, cross ? cfg.kdim : dModel, cfg.wk, Hkv * Dh, cfg.bk), B, Sk, Hkv, Dh);
  const v = splitHeads(refLinear(vIn, B * Sk, cross ? cfg.vdim : dModel, cfg.wv, Hkv * Dh, cfg.bv), B, Sk, Hkv, Dh);
  const q0 = opts.queryOffset ?? 0;
  if (cfg.position?.type === 'rope') {
    const shift = opts.ropeShift ?? 0;
    const qPos = Array.from({ length: B * S }, (_, r) => shift + q0 + (r % S));
    const kPos = Array.from({ length: B * Sk }, (_, r) => shift + (r % Sk));
    refRope(q, B, H, S, Dh, qPos, cfg.position);
    refRope(k, B, Hkv, Sk, Dh, kPos, cfg.position);
  }
  const nk = Sk;
  let add: Float64Array | undefined;
  const combine = (m: Float64Array | undefined): void => {
    if (!m) return;
    if (!add) add = new Float64Array(B * H * S * nk);
    for (let i = 0; i < add.length; i++) add[i] = add[i] === -Infinity || m[i] === -Infinity ? -Infinity : add[i] + m[i];
  };
  if (cfg.position) combine(refPositionBias(cfg.position, q, B, H, S, nk, Dh, cfg.scale, q0));
  if (opts.mask) combine(expandMask(opts.mask, B, H, S, nk));
  if (opts.keyPaddingMask) {
    const m = new Float64Array(B * H * S * nk);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) for (let j = 0; j < nk; j++) {
      const p = opts.keyPaddingMask[b * nk + j];
      m[((b * H + h) * S + i) * nk + j] = opts.keyPaddingMask instanceof Uint8Array ? (p ? -Infinity : 0) : p;
    }
    combine(m);
  }
  const att = referenceAttention(
    { data: q, shape: [B, H, S, Dh] }, { data: k, shape: [B, Hkv, Sk, Dh] }, { data: v, shape: [B, Hkv, Sk, Dh] },
    {
      scale: cfg.scale, softcap: cfg.softcap, causal: opts.causal, keyLengths: opts.keyLengths,
      mask: add ? { data: add, shape: [B, H, S, nk] } : undefined, returnWeights: true,
    },
  );
  // [B, H, S, Dh] → [B, S, H·Dh], then the output projection.
  const o = new Float64Array(B * S * H * Dh);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) for (let d = 0; d < Dh; d++) {
    o[(b * S + s) * H * Dh + h * Dh + d] = att.output[((b * H + h) * S + s) * Dh + d];
  }
  return { output: refLinear(o, B * S, H * Dh, cfg.wo, dModel, cfg.bo), weights: att.weights!, nk };
}
