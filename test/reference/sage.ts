// reference/sage.ts — the quantization of 8-bit attention (SageAttention), written from the math of
// assembly/sage.ts's header, so the kernel can be compared against a float64 attention that applies
// *the same* quantization. Independent of src/ (no imports from it).
//
// Per (batch b, kv head g), over keys j < keyLen[b] (the rest are padding: code 0, no part in μ or
// any scale):
//   μ[x]      = (Σ_j k[j][x]) · fround(1/keyLen)        (f32 sums in key order, as the kernel)
//   K̃[j]     = fround(k[j] − μ)
//   block c   = keys [64c, 64c + 64): sk = fround(max|K̃| / 127), kc[j] = nearest(fround(K̃[j] · fround(127 / max|K̃|)))
// Per (batch, query head), tile t = query rows [4t, 4t + 4):
//   Q̃[i]     = fround(q[i] · scale)
//   sq        = fround(fround(max|q| · |scale|) / 127), qc[i] = nearest(fround(Q̃[i] · fround(127 / that max)))
// Scores:     s[i][j] = fround(Σ qc·kc) · fround(sq · sk) + Q̃[i]·μ
// Softcap is applied to s, then the caller's mask (boolean → −∞, additive → added); the softmax,
// visibility (causal, window, key lengths) and P·V are test/reference/attention.ts's, in float64,
// run over these scores (passed to it as an additive mask over zero queries and keys).
// `smooth: false` skips μ (the mutation the accuracy tests must catch).

import { referenceAttention, type ReferenceAttentionOptions, type RefTensor } from './attention';

const fr = Math.fround;
const BLOCK = 64;

/** Round half to even (Wasm's f32.nearest). */
export function nearestEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** fround(127 / amax), 0 when amax is 0. */
const invScale = (amax: number): number => (amax > 0 ? fr(127 / amax) : 0);

export interface SageReferenceOptions extends ReferenceAttentionOptions {
  /** Subtract K's mean before quantizing (default true). */
  smooth?: boolean;
}

/**
 * Float64 attention over the scores of the int8 quantization above (same masks, causal, window,
 * key lengths, softcap and grouped-query heads as referenceAttention).
 */
export function sageReferenceAttention(q: RefTensor, k: RefTensor, v: RefTensor, opts: SageReferenceOptions = {}): Float64Array {
  const [B, Hq, nq, D] = q.shape;
  const [, Hkv, nk] = k.shape;
  const group = Hq / Hkv;
  const scale = fr(opts.scale ?? (D > 0 ? 1 / Math.sqrt(D) : 1));
  const smooth = opts.smooth ?? true;
  // Quantized keys per (b, g): codes (nk·D), block scales, μ.
  const kCodes: Int32Array[] = [];
  const kScales: number[][] = [];
  const means: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const keyLen = opts.keyLengths ? opts.keyLengths[b] : nk;
    for (let g = 0; g < Hkv; g++) {
      const base = (b * Hkv + g) * nk * D;
      const mean = new Float64Array(D);
      if (smooth && keyLen > 0) {
        for (let j = 0; j < keyLen; j++) for (let x = 0; x < D; x++) mean[x] = fr(mean[x] + k.data[base + j * D + x]);
        const inv = fr(1 / keyLen);
        for (let x = 0; x < D; x++) mean[x] = fr(mean[x] * inv);
      }
      const codes = new Int32Array(nk * D);
      const scales: number[] = [];
      for (let c0 = 0; c0 < nk; c0 += BLOCK) {
        const c1 = Math.min(nk, keyLen, c0 + BLOCK);
        let amax = 0;
        for (let j = c0; j < c1; j++) for (let x = 0; x < D; x++) amax = Math.max(amax, Math.abs(fr(k.data[base + j * D + x] - mean[x])));
        scales.push(fr(amax / 127));
        const inv = invScale(amax);
        for (let j = c0; j < c1; j++) {
          for (let x = 0; x < D; x++) codes[j * D + x] = nearestEven(fr(fr(k.data[base + j * D + x] - mean[x]) * inv));
        }
      }
      kCodes.push(codes);
      kScales.push(scales);
      means.push(mean);
    }
  }
  const softcap = opts.softcap ?? 0;
  const scores = new Float64Array(B * Hq * nq * nk);
  const qt = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kv = b * Hkv + Math.floor(h / group);
      const codes = kCodes[kv];
      const mean = means[kv];
      const qBase = (b * Hq + h) * nq * D;
      for (let t0 = 0; t0 < nq; t0 += 4) {
        const t1 = Math.min(nq, t0 + 4);
        let amaxQ = 0;
        for (let i = t0; i < t1; i++) for (let x = 0; x < D; x++) amaxQ = Math.max(amaxQ, Math.abs(q.data[qBase + i * D + x]));
        const amax = fr(amaxQ * Math.abs(scale));
        const sq = fr(amax / 127);
        const inv = invScale(amax);
        for (let i = t0; i < t1; i++) {
          let qm = 0;
          const qc = new Int32Array(D);
          for (let x = 0; x < D; x++) {
            qt[x] = fr(q.data[qBase + i * D + x] * scale);
            qm += qt[x] * mean[x];
            qc[x] = nearestEven(fr(qt[x] * inv));
          }
          for (let j = 0; j < nk; j++) {
            let dot = 0;
            for (let x = 0; x < D; x++) dot += qc[x] * codes[j * D + x];
            let s = fr(dot) * fr(sq * kScales[kv][Math.floor(j / BLOCK)]) + qm;
            if (softcap > 0) s = softcap * Math.tanh(s / softcap);
            scores[((b * Hq + h) * nq + i) * nk + j] = s;
          }
        }
      }
    }
  }
  // Combine with the caller's mask: boolean → −∞ where 0; additive → added.
  const mask = opts.mask;
  let combined = scores;
  if (mask) {
    const extra = referenceMaskDense(mask, [B, Hq, nq, nk]);
    combined = scores.map((s, idx) => (extra[idx] === -Infinity ? -Infinity : s + extra[idx]));
  }
  const zerosQ = { data: new Float64Array(B * Hq * nq), shape: [B, Hq, nq, 1] };
  const zerosK = { data: new Float64Array(B * Hkv * nk), shape: [B, Hkv, nk, 1] };
  return referenceAttention(zerosQ, zerosK, v, {
    ...opts, scale: 1, softcap: 0, mask: { data: combined, shape: [B, Hq, nq, nk] },
  }).output;
}

/** A mask (boolean → 0 / −∞, additive as is) broadcast right-aligned to `target`, dense. */
function referenceMaskDense(mask: RefTensor, target: number[]): Float64Array {
  const boolMask = mask.data instanceof Uint8Array;
  const full = [1, 1, 1, 1];
  for (let a = 0; a < mask.shape.length; a++) full[4 - mask.shape.length + a] = mask.shape[a];
  const [B, H, nq, nk] = target;
  const out = new Float64Array(B * H * nq * nk);
  let o = 0;
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < nq; i++) for (let j = 0; j < nk; j++) {
    const idx = [b, h, i, j];
    let flat = 0;
    for (let a = 0; a < 4; a++) flat = flat * full[a] + (full[a] === 1 ? 0 : idx[a]);
    const m = mask.data[flat];
    out[o++] = boolMask ? (m === 0 ? -Infinity : 0) : m;
  }
  return out;
}
