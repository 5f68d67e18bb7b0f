// reference/recurrent-memory.ts — float64 oracle of Transformer-XL attention with a recurrent
// memory (rt.recurrentMemoryAttention), written after the reference implementation
// (kimiyoung/transformer-xl, pytorch/mem_transformer.py: RelPartialLearnableMultiHeadAttn,
// _rel_shift, PositionalEmbedding, _update_mems, same_length and clamp_len in _forward), in plain
// loops. Independent of src/. Per segment of qlen tokens with mlen positions in memory:
//   klen = mlen + qlen;  pos_seq = klen − 1 … 0, clamped to clamp_len when clamp_len > 0;
//   R[t] = [sin(pos_seq[t]·ω) | cos(pos_seq[t]·ω)], ω_c = 1/10000^(2c/dModel);  r = R·W_rᵀ;
//   AC[i][j] = (q_i + u)·k_j (keys [mem ; seg]);  BD⁰[i][t] = (q_i + v)·r_t;
//   BD = _rel_shift(BD⁰): pad a zero column in front, view as (klen + 1, qlen), drop the first row,
//        view as (qlen, klen) — done literally on the flattened array;
//   score = scale·(AC + BD), masked (−∞) where j > i + mlen, and with same_length also where
//   j ≤ i − mask_shift_len (mask_len = klen − mem_len; mask_shift_len = qlen − mask_len if
//   mask_len > 0 else qlen); softmax over j; output Σ_j p_ij·v_j.
// Memory: the keys/values of [mem ; seg][max(0, klen − mem_len) : klen] (Transformer-XL keeps
// hidden states and projects them; keys and values are those projections).

import type { RefTensor } from './sparse';

export interface ReferenceTxlConfig {
  heads: number;
  headDim: number;
  valueDim: number;
  memoryLength: number;
  batch: number;
  /** W_r [heads·headDim, dModel] */
  positionWeights?: RefTensor;
  u?: ArrayLike<number>; // [heads·headDim]
  v?: ArrayLike<number>;
  sameLength?: boolean;
  clampLen?: number;
  scale?: number;
}

export class ReferenceTxl {
  private memK: number[][][]; // [b·H + h][row][d]
  private memV: number[][][];
  constructor(private readonly c: ReferenceTxlConfig) {
    this.memK = Array.from({ length: c.batch * c.heads }, () => []);
    this.memV = Array.from({ length: c.batch * c.heads }, () => []);
  }

  forward(q: RefTensor, k: RefTensor, v: RefTensor, update = true): Float64Array {
    const { heads: H, headDim: D, valueDim: Dv, memoryLength: M, batch: B } = this.c;
    const qlen = q.shape[2];
    const mlen = this.memK[0].length;
    const klen = mlen + qlen;
    const scale = this.c.scale ?? 1 / Math.sqrt(D);
    const out = new Float64Array(B * H * qlen * Dv);
    // r = R·W_rᵀ, rows t = 0 … klen − 1 (position klen − 1 − t, clamped)
    let r: Float64Array | undefined;
    const W = this.c.positionWeights;
    if (W) {
      const dModel = W.shape[1];
      const half = dModel / 2;
      r = new Float64Array(klen * H * D);
      for (let t = 0; t < klen; t++) {
        let pos = klen - 1 - t;
        if ((this.c.clampLen ?? 0) > 0) pos = Math.min(pos, this.c.clampLen!);
        const pe = new Float64Array(dModel);
        for (let cc = 0; cc < half; cc++) {
          const invFreq = 1 / 10000 ** ((2 * cc) / dModel);
          pe[cc] = Math.sin(pos * invFreq);
          pe[half + cc] = Math.cos(pos * invFreq);
        }
        for (let o = 0; o < H * D; o++) {
          let acc = 0;
          for (let x = 0; x < dModel; x++) acc += pe[x] * W.data[o * dModel + x];
          r[t * H * D + o] = acc;
        }
      }
    }
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const x = b * H + h;
        const K: number[][] = [...this.memK[x]];
        const V: number[][] = [...this.memV[x]];
        for (let j = 0; j < qlen; j++) {
          K.push(Array.from({ length: D }, (_, d) => k.data[((x * qlen) + j) * D + d]));
          V.push(Array.from({ length: Dv }, (_, d) => v.data[((x * qlen) + j) * Dv + d]));
        }
        const qi = (i: number, d: number): number => q.data[(x * qlen + i) * D + d];
        // BD⁰ and its relative shift
        const flat = new Float64Array(qlen * (klen + 1));
        if (r) {
          for (let i = 0; i < qlen; i++) {
            for (let t = 0; t < klen; t++) {
              let acc = 0;
              for (let d = 0; d < D; d++) acc += (qi(i, d) + (this.c.v ? this.c.v[h * D + d] : 0)) * r[t * H * D + h * D + d];
              flat[i * (klen + 1) + 1 + t] = acc;
            }
          }
        }
        const BD = (i: number, j: number): number => flat[qlen + i * klen + j];
        const maskLen = klen - M;
        const shift = maskLen > 0 ? qlen - maskLen : qlen;
        for (let i = 0; i < qlen; i++) {
          const s = new Float64Array(klen).fill(-Infinity);
          let max = -Infinity;
          for (let j = 0; j < klen; j++) {
            if (j > i + mlen) continue;
            if (this.c.sameLength && j <= i - shift) continue;
            let ac = 0;
            for (let d = 0; d < D; d++) ac += (qi(i, d) + (this.c.u ? this.c.u[h * D + d] : 0)) * K[j][d];
            s[j] = scale * (ac + (r ? BD(i, j) : 0));
            max = Math.max(max, s[j]);
          }
          let sum = 0;
          for (let j = 0; j < klen; j++) sum += s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
          for (let j = 0; j < klen; j++) {
            if (s[j] === -Infinity) continue;
            const p = Math.exp(s[j] - max) / sum;
            for (let e = 0; e < Dv; e++) out[(x * qlen + i) * Dv + e] += p * V[j][e];
          }
        }
        if (update) {
          const beg = Math.max(0, klen - M);
          this.memK[x] = K.slice(beg, klen);
          this.memV[x] = V.slice(beg, klen);
        }
      }
    }
    return out;
  }
}
