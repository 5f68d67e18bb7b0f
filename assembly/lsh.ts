// lsh.ts — kernels of LSH attention (Reformer): bucket ids, counting sort, length normalization
// and chunk masks. Random rotations come from random.ts, gathers and norms from rows.ts;
// everything else runs on the GEMM and fused attention kernels.
//
// What:    i32_lsh_buckets      bucket[r][i] = argmax over [y_r, −y_r] of y = x·R (rows of Y = X·R,
//                               computed beforehand on the GEMM kernel), optionally factorized
//          i32_counting_sort    stable order of keys in [0, nb): perm (sorted → position), inv
//          f32_lsh_normalize    dst_i = x_i / √(mean(x_i²) + 1e-6)   (trax `length_normalized`)
//          f32_lsh_chunk_mask   additive (nq, nk) mask of one LSH chunk from token positions
// Shapes:  row-major with row strides in elements; bucket ids, permutations and positions are i32.
// Determinism: bucket ids depend on Y = X·R, whose last bits may differ between the relaxed (fused
//          madd) and simd128 builds, so a vector sitting on a near-tie between two rotations may
//          hash differently across binaries; the argmax itself is exact (first maximum wins, like
//          numpy).
// Tails:   scalar loops after the vector part.
// Error:   f32_lsh_normalize: f32 sum of squares (relative error ≤ d·2⁻²⁴).
// Reference: N. Kitaev, Ł. Kaiser, A. Levskaya, "Reformer: The Efficient Transformer" (ICLR 2020),
//          §3 and the trax implementation (trax/layers/research/efficient_attention.py:
//          hash_vecs, length_normalized, mask_self_attention); A. Andoni et al., "Practical and
//          optimal LSH for angular distance" (2015) for random-rotation hashing.

import { sumSquares } from './rows';
import { zero4 } from './simd';

/**
 * LSH bucket ids from rotated vectors, possibly factorized (trax hash_vecs with a list of bucket
 * counts): round r's block of y is split into consecutive segments of halves[0], halves[1], …
 * columns; factor f's id is argmax over [y_f, −y_f] ∈ [0, 2·halves[f]) (the first maximum wins),
 * and bucket = Σ_f id_f · Π_{f' < f} 2·halves[f'] (the first factor is the least significant).
 * One factor is the plain argmax([xR, −xR]).
 * y: usize // (n, rounds·Σhalves), row stride ldy;  halves: usize // (nf) i32
 * out: usize // (rounds, n) i32
 */
export function i32_lsh_buckets(y: usize, ldy: i32, n: i32, rounds: i32, halves: usize, nf: i32, out: usize): void {
  let width = 0;
  for (let f = 0; f < nf; f++) width += load<i32>(halves + (<usize>f << 2));
  for (let i = 0; i < n; i++) {
    const row = y + ((<usize>i * <usize>ldy) << 2);
    for (let r = 0; r < rounds; r++) {
      let base = row + ((<usize>r * <usize>width) << 2);
      let bucket = 0;
      let product = 1;
      for (let f = 0; f < nf; f++) {
        const half = load<i32>(halves + (<usize>f << 2));
        let best: f32 = load<f32>(base);
        let idx = 0;
        for (let c = 1; c < half; c++) {
          const v = load<f32>(base + (<usize>c << 2));
          if (v > best) {
            best = v;
            idx = c;
          }
        }
        for (let c = 0; c < half; c++) {
          const v = -load<f32>(base + (<usize>c << 2));
          if (v > best) {
            best = v;
            idx = half + c;
          }
        }
        bucket += idx * product;
        product *= 2 * half;
        base += <usize>half << 2;
      }
      store<i32>(out + ((<usize>r * <usize>n + <usize>i) << 2), bucket);
    }
  }
}

/**
 * Stable counting sort of n keys in [0, nb): perm[s] = the position of the s-th smallest key
 * (ties in position order, i.e. sorted by (key, position)); inv[perm[s]] = s.
 * keys: usize // (n) i32;  counts: usize // (nb + 1) i32 scratch;  perm, inv: usize // (n) i32
 */
export function i32_counting_sort(keys: usize, n: i32, nb: i32, counts: usize, perm: usize, inv: usize): void {
  memory.fill(counts, 0, <usize>(nb + 1) << 2);
  for (let i = 0; i < n; i++) {
    const k = load<i32>(keys + (<usize>i << 2));
    const p = counts + (<usize>(k + 1) << 2);
    store<i32>(p, load<i32>(p) + 1);
  }
  for (let b = 1; b <= nb; b++) {
    const p = counts + (<usize>b << 2);
    store<i32>(p, load<i32>(p) + load<i32>(p - 4));
  }
  for (let i = 0; i < n; i++) {
    const k = load<i32>(keys + (<usize>i << 2));
    const p = counts + (<usize>k << 2);
    const s = load<i32>(p);
    store<i32>(p, s + 1);
    store<i32>(perm + (<usize>s << 2), i);
    store<i32>(inv + (<usize>i << 2), s);
  }
}

/**
 * trax's length_normalized: dst_i = x_i / √(Σx_i²/d + 1e-6) (RMS 1; a zero row stays zero).
 * src: usize // (n, d), row stride srcStride;  dst: usize // (n, d), row stride dstStride (may equal src)
 */
export function f32_lsh_normalize(src: usize, srcStride: i32, n: i32, d: i32, dst: usize, dstStride: i32): void {
  if (d <= 0) return;
  const invD: f32 = <f32>1 / <f32>d;
  const d4 = d & ~3;
  for (let i = 0; i < n; i++) {
    const s = src + ((<usize>i * <usize>srcStride) << 2);
    const o = dst + ((<usize>i * <usize>dstStride) << 2);
    const inv: f32 = <f32>1 / Mathf.sqrt(sumSquares(s, d) * invD + <f32>1e-6);
    const invV = f32x4.splat(inv);
    let x = 0;
    for (; x < d4; x += 4) v128.store(o + (<usize>x << 2), f32x4.mul(v128.load(s + (<usize>x << 2)), invV));
    for (; x < d; x++) store<f32>(o + (<usize>x << 2), load<f32>(s + (<usize>x << 2)) * inv);
  }
}

/**
 * Additive mask of one LSH chunk: out[r, c] = −∞ when causal and kpos[c] > qpos[r] (a later
 * token), else `selfPenalty` when kpos[c] == qpos[r] (the same token; 0 = no penalty), else 0.
 * qpos: usize // (nq) i32 positions of the chunk's queries;  kpos: usize // (nk) i32 of its keys
 * out: usize // (nq, nk) f32, row stride nk
 */
export function f32_lsh_chunk_mask(qpos: usize, nq: i32, kpos: usize, nk: i32, causal: i32, selfPenalty: f32, out: usize): void {
  const nInf = f32x4.splat(-Infinity);
  const pen = f32x4.splat(selfPenalty);
  const zero = zero4();
  const nk4 = nk & ~3;
  for (let r = 0; r < nq; r++) {
    const p = load<i32>(qpos + (<usize>r << 2));
    const pv = i32x4.splat(p);
    const row = out + ((<usize>r * <usize>nk) << 2);
    let c = 0;
    for (; c < nk4; c += 4) {
      const kv = v128.load(kpos + (<usize>c << 2));
      let m = v128.bitselect(pen, zero, i32x4.eq(kv, pv));
      if (causal) m = v128.bitselect(nInf, m, i32x4.gt_s(kv, pv));
      v128.store(row + (<usize>c << 2), m);
    }
    for (; c < nk; c++) {
      const k = load<i32>(kpos + (<usize>c << 2));
      let m: f32 = k == p ? selfPenalty : 0;
      if (causal && k > p) m = -Infinity;
      store<f32>(row + (<usize>c << 2), m);
    }
  }
}
