// lsh.ts — kernels of LSH attention (Reformer): bucket ids, counting sort, length normalization
// and chunk masks. Random rotations come from random.ts, gathers and norms from rows.ts;
// everything else runs on the GEMM and fused attention kernels.
//
// What:    i32_lsh_buckets      bucket[r][i] = argmax over [y_r, −y_r] of y = x·R (rows of Y = X·R,
//                               computed beforehand on the GEMM kernel), optionally factorized
//          i32_counting_sort    stable order of keys in [0, nb): perm (sorted → position), inv
//          f32_lsh_normalize    dst_i = x_i / √(mean(x_i²) + 1e-6)   (trax `length_normalized`)
//          f32_lsh_chunk_mask   additive (nq, nk) mask of one LSH chunk from token positions
// Params:  every kernel takes the address of an LshParams block (below; the host writes it through
//          the exported LSH_* offsets) and reads the fields it needs into locals once, first.
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
 * The LSH family's parameter block, written by the host; field order is the layout. Each kernel
 * reads its own group (and n / out where it says so); the others' fields are left as they are.
 */
@final @unmanaged export class LshParams {
  /** rows (buckets, normalize) or keys (counting sort) */
  n: i32;
  /** i32_lsh_buckets: (rounds, n) i32 ids;  f32_lsh_chunk_mask: (nq, nk) f32, row stride nk */
  out: usize;
  // ── i32_lsh_buckets ──
  /** (n, rounds·Σhalves), row stride ldy */
  y: usize;
  ldy: i32;
  rounds: i32;
  /** (nf) i32: each factor's buckets / 2 */
  halves: usize;
  nf: i32;
  // ── i32_counting_sort ──
  /** (n) i32 in [0, nb) */
  keys: usize;
  nb: i32;
  /** (nb + 1) i32 scratch */
  counts: usize;
  /** (n) i32: sorted → position */
  perm: usize;
  /** (n) i32: position → sorted */
  inv: usize;
  // ── f32_lsh_normalize ──
  /** (n, d), row stride srcStride */
  src: usize;
  srcStride: i32;
  d: i32;
  /** (n, d), row stride dstStride (may equal src) */
  dst: usize;
  dstStride: i32;
  // ── f32_lsh_chunk_mask ──
  /** (nq) i32 positions of the chunk's queries */
  qpos: usize;
  nq: i32;
  /** (nk) i32 positions of its keys */
  kpos: usize;
  nk: i32;
  /** 1: −∞ where a key's position is after the query's */
  causal: i32;
  /** added where query and key are the same token (0 = none) */
  selfPenalty: f32;
}

// Offsets of the fields (src/kernels/lsh.ts reads these from the exports).
export const LSH_N: i32 = offsetof<LshParams>('n'); //                      0
export const LSH_OUT: i32 = offsetof<LshParams>('out'); //                  4
export const LSH_Y: i32 = offsetof<LshParams>('y'); //                      8
export const LSH_LDY: i32 = offsetof<LshParams>('ldy'); //                  12
export const LSH_ROUNDS: i32 = offsetof<LshParams>('rounds'); //            16
export const LSH_HALVES: i32 = offsetof<LshParams>('halves'); //            20
export const LSH_NF: i32 = offsetof<LshParams>('nf'); //                    24
export const LSH_KEYS: i32 = offsetof<LshParams>('keys'); //                28
export const LSH_NB: i32 = offsetof<LshParams>('nb'); //                    32
export const LSH_COUNTS: i32 = offsetof<LshParams>('counts'); //            36
export const LSH_PERM: i32 = offsetof<LshParams>('perm'); //                40
export const LSH_INV: i32 = offsetof<LshParams>('inv'); //                  44
export const LSH_SRC: i32 = offsetof<LshParams>('src'); //                  48
export const LSH_SRC_STRIDE: i32 = offsetof<LshParams>('srcStride'); //     52
export const LSH_D: i32 = offsetof<LshParams>('d'); //                      56
export const LSH_DST: i32 = offsetof<LshParams>('dst'); //                  60
export const LSH_DST_STRIDE: i32 = offsetof<LshParams>('dstStride'); //     64
export const LSH_QPOS: i32 = offsetof<LshParams>('qpos'); //                68
export const LSH_NQ: i32 = offsetof<LshParams>('nq'); //                    72
export const LSH_KPOS: i32 = offsetof<LshParams>('kpos'); //                76
export const LSH_NK: i32 = offsetof<LshParams>('nk'); //                    80
export const LSH_CAUSAL: i32 = offsetof<LshParams>('causal'); //            84
export const LSH_SELF_PENALTY: i32 = offsetof<LshParams>('selfPenalty'); // 88
export const LSH_PARAMS_BYTES: i32 = offsetof<LshParams>(); //              92

/**
 * LSH bucket ids from rotated vectors, possibly factorized (trax hash_vecs with a list of bucket
 * counts): round r's block of y is split into consecutive segments of halves[0], halves[1], …
 * columns; factor f's id is argmax over [y_f, −y_f] ∈ [0, 2·halves[f]) (the first maximum wins),
 * and bucket = Σ_f id_f · Π_{f' < f} 2·halves[f'] (the first factor is the least significant).
 * One factor is the plain argmax([xR, −xR]).
 * Fields: y (n, rounds·Σhalves), row stride ldy; n; rounds; halves (nf) i32; nf; out (rounds, n) i32.
 */
export function i32_lsh_buckets(params: usize): void {
  const par = changetype<LshParams>(params);
  const n = par.n;
  const out = par.out;
  const y = par.y;
  const ldy = par.ldy;
  const rounds = par.rounds;
  const halves = par.halves;
  const nf = par.nf;
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
 * Fields: keys (n) i32; n; nb; counts (nb + 1) i32 scratch; perm, inv (n) i32.
 */
export function i32_counting_sort(params: usize): void {
  const par = changetype<LshParams>(params);
  const n = par.n;
  const keys = par.keys;
  const nb = par.nb;
  const counts = par.counts;
  const perm = par.perm;
  const inv = par.inv;
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
 * Fields: src (n, d), row stride srcStride; n; d; dst (n, d), row stride dstStride (may equal src).
 */
export function f32_lsh_normalize(params: usize): void {
  const par = changetype<LshParams>(params);
  const n = par.n;
  const src = par.src;
  const srcStride = par.srcStride;
  const d = par.d;
  const dst = par.dst;
  const dstStride = par.dstStride;
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
 * Fields: qpos (nq) i32 positions of the chunk's queries; nq; kpos (nk) i32 of its keys; nk;
 * causal; selfPenalty; out (nq, nk) f32, row stride nk.
 */
export function f32_lsh_chunk_mask(params: usize): void {
  const par = changetype<LshParams>(params);
  const out = par.out;
  const qpos = par.qpos;
  const nq = par.nq;
  const kpos = par.kpos;
  const nk = par.nk;
  const causal = par.causal;
  const selfPenalty = par.selfPenalty;
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
