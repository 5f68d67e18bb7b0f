// reference/lsh.ts — float64 oracle of Reformer LSH attention (rt.lshAttention), from the
// definition (independent of src/), following the Reformer paper §3 and trax's
// efficient_attention.py:
//   hash:   y = x·R_r (R: [d, rounds, half] of head h), bucket = argmax([y, −y]) (first maximum;
//           factorized buckets: per factor, combined as trax's hash_vecs)
//   sort:   per round, valid tokens (position < len) ordered by (bucket, position)
//   chunks: sorted order cut into chunks of L; chunk c sees its own keys and those of chunk c − 1
//           (chunk 0 sees the last chunk; a single chunk only itself); non-shared QK: query chunk c
//           against chunks c − 1, c of the keys sorted by their own buckets
//   scores: scale·q·k; shared QK: k_j = q_j / √(mean(q_j²) + 1e-6), and −1e5 on the token's own key;
//           causal: keys at later positions are excluded
//   rounds: o = Σ_r o_r·exp(ℓ_r − logsumexp ℓ), ℓ_r the round's log-sum-exp; padding rows are 0.
// referenceLshBuckets hashes in float64 and also returns each decision's margin (best minus
// second best of [y, −y]), so tests can tell genuine disagreements from float32 near-ties.

import { attendOne, mergeLse, type RefKey, rowOffset, type RefTensor } from './sparse';

/**
 * Buckets [B, H, rounds, n] (−1 past lengths) and margins, hashing x with rotations
 * [H or 1, d, rounds, Σ halves]; `halves` factorizes the buckets (default: one factor, the last
 * dimension): id_f = argmax([y_f, −y_f]) over factor f's columns, bucket = Σ id_f·Π_{f'<f} 2·halves[f'].
 * The margin is the smallest best-minus-second-best gap over the factors.
 */
export function referenceLshBuckets(
  x: RefTensor, rotations: RefTensor, keyLengths?: ArrayLike<number>, halvesIn?: number[],
): { buckets: Int32Array; margins: Float64Array } {
  const [B, H, n, D] = x.shape;
  const perHead = rotations.shape.length === 4;
  const [, rounds, width] = perHead ? rotations.shape.slice(1) : rotations.shape;
  const halves = halvesIn ?? [width];
  const buckets = new Int32Array(B * H * rounds * n).fill(-1);
  const margins = new Float64Array(B * H * rounds * n).fill(Infinity);
  for (let b = 0; b < B; b++) {
    const len = keyLengths ? keyLengths[b] : n;
    for (let h = 0; h < H; h++) {
      const rb = perHead ? h * D * rounds * width : 0;
      for (let i = 0; i < len; i++) {
        for (let r = 0; r < rounds; r++) {
          let bucket = 0;
          let product = 1;
          let col = 0;
          let margin = Infinity;
          for (const half of halves) {
            const vals: number[] = [];
            for (let c = 0; c < half; c++) {
              let y = 0;
              for (let t = 0; t < D; t++) y += x.data[rowOffset(b, h, i, H, n, D) + t] * rotations.data[rb + (t * rounds + r) * width + col + c];
              vals.push(y);
            }
            const all = [...vals, ...vals.map((y) => -y)];
            let best = 0;
            for (let c = 1; c < all.length; c++) if (all[c] > all[best]) best = c;
            margin = Math.min(margin, all[best] - Math.max(...all.filter((_, c) => c !== best)));
            bucket += best * product;
            product *= 2 * half;
            col += half;
          }
          const at = ((b * H + h) * rounds + r) * n + i;
          buckets[at] = bucket;
          margins[at] = margin;
        }
      }
    }
  }
  return { buckets, margins };
}

export interface ReferenceLshOptions {
  /** bucket ids [B, H, rounds, n] of the queries (and of the keys, when not shared) */
  queryBuckets: Int32Array;
  keyBuckets?: Int32Array;
  rounds: number;
  chunkLength: number;
  sharedQK?: boolean;
  causal?: boolean;
  keyLengths?: ArrayLike<number>;
  scale?: number;
}

/** Positions 0..len−1 ordered by (bucket, position). */
function sortedOrder(ids: Int32Array, at: number, len: number): number[] {
  return Array.from({ length: len }, (_, i) => i).sort((a, b) => ids[at + a] - ids[at + b] || a - b);
}

export function referenceLsh(q: RefTensor, k: RefTensor | null, v: RefTensor, o: ReferenceLshOptions): Float64Array {
  const [B, H, n, D] = q.shape;
  const Hkv = v.shape[1];
  const Dv = v.shape[3];
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const L = o.chunkLength;
  const out = new Float64Array(B * H * n * Dv);
  for (let b = 0; b < B; b++) {
    const len = o.keyLengths ? o.keyLengths[b] : n;
    if (len === 0) continue;
    const nChunks = Math.ceil(len / L);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / Hkv));
      // keys: the length-normalized queries (shared) or k
      const keyRow = (j: number): { data: ArrayLike<number>; off: number } => {
        if (!o.sharedQK) return { data: k!.data, off: rowOffset(b, kvh, j, Hkv, n, D) };
        const off = rowOffset(b, h, j, H, n, D);
        let ms = 0;
        for (let x = 0; x < D; x++) ms += q.data[off + x] ** 2;
        const inv = 1 / Math.sqrt(ms / D + 1e-6);
        return { data: Array.from({ length: D }, (_, x) => q.data[off + x] * inv), off: 0 };
      };
      const keyCache = Array.from({ length: len }, (_, j) => keyRow(j));
      const acc: Array<{ out: Float64Array; lse: number }> = Array.from({ length: len }, () => ({ out: new Float64Array(Dv), lse: -Infinity }));
      for (let r = 0; r < o.rounds; r++) {
        const at = ((b * H + h) * o.rounds + r) * n;
        const qOrder = sortedOrder(o.queryBuckets, at, len);
        const kOrder = o.sharedQK ? qOrder : sortedOrder(o.keyBuckets!, at, len);
        for (let c = 0; c < nChunks; c++) {
          const chunkKeys: number[] = [];
          const prev = nChunks === 1 ? -1 : (c + nChunks - 1) % nChunks;
          if (prev >= 0) chunkKeys.push(...kOrder.slice(prev * L, prev * L + L));
          chunkKeys.push(...kOrder.slice(c * L, c * L + L));
          for (const i of qOrder.slice(c * L, c * L + L)) {
            const keys: RefKey[] = [];
            for (const j of chunkKeys) {
              if (o.causal && j > i) continue;
              const kr = keyCache[j];
              keys.push({
                k: kr.data, kOff: kr.off, v: v.data, vOff: rowOffset(b, kvh, j, Hkv, n, Dv),
                bias: o.sharedQK && j === i ? -1e5 : 0,
              });
            }
            const part = attendOne(q.data, rowOffset(b, h, i, H, n, D), keys, D, Dv, scale);
            acc[i] = r === 0 ? part : mergeLse(acc[i], part);
          }
        }
      }
      for (let i = 0; i < len; i++) out.set(acc[i].out, rowOffset(b, h, i, H, n, Dv));
    }
  }
  return out;
}
