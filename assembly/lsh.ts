// lsh.ts — kernels for the long-sequence attention variants: seeded normal numbers, LSH bucket
// ids, counting sort, row gather, row norms / length normalization, chunk masks, mean pooling and
// transposition. Everything else those variants need runs on the fused attention kernel.
//
// What:    f32_randn            out[i] ~ N(0, scale²), i < n, from a seed (mulberry32 + polar method)
//          i32_lsh_buckets      bucket[r][i] = argmax over [y_r, −y_r] of y = x·R (rows of Y = X·R,
//                               computed beforehand on the GEMM kernel), optionally factorized
//          i32_counting_sort    stable order of keys in [0, nb): perm (sorted → position), inv
//          f32_gather_rows      dst[r] = src[idx[r]] (rows of d floats)
//          f32_row_norms        out[i] = ‖x_i‖₂
//          f32_length_normalize dst_i = x_i / √(mean(x_i²) + 1e-6)   (trax `length_normalized`)
//          f32_lsh_chunk_mask   additive (nq, nk) mask of one LSH chunk from token positions
//          f32_mean_rows        dst = mean of n rows
//          f32_transpose        dst (cols, rows) = srcᵀ
// Shapes:  row-major with row strides in elements; bucket ids, permutations and positions are i32.
// Determinism: f32_randn uses only integer arithmetic, f64 +, −, ×, ÷ and √ (correctly rounded
//          in WebAssembly; no host Math, no SIMD, no fused multiply-add), so both binaries
//          produce bit-identical numbers for a seed in every engine. Bucket ids depend on
//          Y = X·R, whose last bits may differ between the relaxed (fused madd) and simd128
//          builds, so a vector sitting on a near-tie between two rotations may hash differently
//          across binaries; the argmax itself is exact (first maximum wins, like numpy).
// Tails:   scalar loops after the vector part; f32_gather_rows copies with memory.copy.
// Error:   f32_randn: polar method in f64, rounded once to f32. Norms: f32 sum of squares
//          (relative error ≤ d·2⁻²⁴). f32_mean_rows accumulates in f64 (error ≤ 1 ulp of f32).
// Reference: N. Kitaev, Ł. Kaiser, A. Levskaya, "Reformer: The Efficient Transformer" (ICLR 2020),
//          §3 and the trax implementation (trax/layers/research/efficient_attention.py:
//          hash_vecs, length_normalized, mask_self_attention); A. Andoni et al., "Practical and
//          optimal LSH for angular distance" (2015) for random-rotation hashing; T. Ettinger,
//          mulberry32 (public domain); G. Marsaglia, T. Bray, "A convenient method for
//          generating normal random variables" (1964).

import { hsum, zero4 } from './simd';

/** mulberry32's output function for one state (the caller advances the state by 0x6D2B79F5). */
// @ts-ignore: decorator
@inline function mulberry32(state: u32): u32 {
  let t = state;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

/**
 * Natural log of x > 0 (finite, normal) in f64 without lookup tables (so it adds a few hundred
 * bytes, not AssemblyScript's 4 KB log table): x = m·2^e with m ∈ [√½, √2), then
 * ln m = 2·atanh(z), z = (m − 1)/(m + 1), |z| ≤ 0.172, by its odd series to z²¹ (truncation
 * < 1e-18 relative). Deterministic: plain f64 arithmetic only.
 */
function lnPositive(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000); // [1, 2)
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  const z = (m - 1.0) / (m + 1.0);
  const z2 = z * z;
  let t = 1.0 / 21.0;
  t = t * z2 + 1.0 / 19.0;
  t = t * z2 + 1.0 / 17.0;
  t = t * z2 + 1.0 / 15.0;
  t = t * z2 + 1.0 / 13.0;
  t = t * z2 + 1.0 / 11.0;
  t = t * z2 + 1.0 / 9.0;
  t = t * z2 + 1.0 / 7.0;
  t = t * z2 + 1.0 / 5.0;
  t = t * z2 + 1.0 / 3.0;
  t = t * z2 + 1.0;
  return 2.0 * z * t + <f64>e * 0.6931471805599453;
}

/**
 * n normal numbers with standard deviation `scale`, from `seed`: the mulberry32 stream (state +=
 * 0x6D2B79F5 per draw) feeds Marsaglia's polar method — u, v = (a >>> 8)·2⁻²³ − 1 ∈ [−1, 1),
 * s = u² + v², pairs with s ∉ (0, 1) are drawn again; out[2i] = u·f, out[2i+1] = v·f with
 * f = √(−2 ln s / s)·scale. A prefix of a longer stream equals the shorter stream.
 * out: usize // (n) f32
 */
export function f32_randn(seed: u32, n: i32, scale: f32, out: usize): void {
  let state = seed;
  const sc = <f64>scale;
  for (let i = 0; i < n; i += 2) {
    let u: f64 = 0, v: f64 = 0, s: f64 = 0;
    do {
      state += 0x6d2b79f5;
      u = <f64>(mulberry32(state) >>> 8) * 1.1920928955078125e-7 - 1.0; // 2^-23
      state += 0x6d2b79f5;
      v = <f64>(mulberry32(state) >>> 8) * 1.1920928955078125e-7 - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const f = Math.sqrt(-2.0 * lnPositive(s) / s) * sc;
    store<f32>(out + (<usize>i << 2), <f32>(u * f));
    if (i + 1 < n) store<f32>(out + (<usize>(i + 1) << 2), <f32>(v * f));
  }
}

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
 * dst[r, 0..d) = src[idx[r], 0..d) for r < n.
 * src: usize // (·, d), row stride srcStride;  idx: usize // (n) i32;  dst: usize // (n, d), row stride dstStride
 */
export function f32_gather_rows(src: usize, srcStride: i32, idx: usize, n: i32, d: i32, dst: usize, dstStride: i32): void {
  const bytes = <usize>d << 2;
  if (d == 1) {
    for (let r = 0; r < n; r++) {
      const j = load<i32>(idx + (<usize>r << 2));
      store<f32>(dst + ((<usize>r * <usize>dstStride) << 2), load<f32>(src + ((<usize>j * <usize>srcStride) << 2)));
    }
    return;
  }
  for (let r = 0; r < n; r++) {
    const j = load<i32>(idx + (<usize>r << 2));
    memory.copy(dst + ((<usize>r * <usize>dstStride) << 2), src + ((<usize>j * <usize>srcStride) << 2), bytes);
  }
}

/** Σ x² over d floats (vector part plus scalar tail). */
// @ts-ignore: decorator
@inline function sumSquares(row: usize, d: i32): f32 {
  const d4 = d & ~3;
  let acc = zero4();
  let x = 0;
  for (; x < d4; x += 4) {
    const v = v128.load(row + (<usize>x << 2));
    acc = f32x4.add(acc, f32x4.mul(v, v));
  }
  let s = hsum(acc);
  for (; x < d; x++) {
    const v = load<f32>(row + (<usize>x << 2));
    s += v * v;
  }
  return s;
}

/**
 * out[i] = ‖x_i‖₂ for n rows of d floats.
 * x: usize // (n, d), row stride stride;  out: usize // (n)
 */
export function f32_row_norms(x: usize, stride: i32, n: i32, d: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    store<f32>(out + (<usize>i << 2), Mathf.sqrt(sumSquares(x + ((<usize>i * <usize>stride) << 2), d)));
  }
}

/**
 * trax's length_normalized: dst_i = x_i / √(Σx_i²/d + 1e-6) (RMS 1; a zero row stays zero).
 * src: usize // (n, d), row stride srcStride;  dst: usize // (n, d), row stride dstStride (may equal src)
 */
export function f32_length_normalize(src: usize, srcStride: i32, n: i32, d: i32, dst: usize, dstStride: i32): void {
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

/**
 * dst[x] = (1/n)·Σ_r src[r, x] for x < d, accumulated in f64; n = 0 gives zeros.
 * src: usize // (n, d), row stride stride;  dst: usize // (d)
 */
export function f32_mean_rows(src: usize, stride: i32, n: i32, d: i32, dst: usize): void {
  const inv: f64 = n > 0 ? 1.0 / <f64>n : 0.0;
  const d2 = d & ~1;
  let x = 0;
  for (; x < d2; x += 2) {
    let acc = f64x2.splat(0);
    let p = src + (<usize>x << 2);
    for (let r = 0; r < n; r++) {
      acc = f64x2.add(acc, f64x2.promote_low_f32x4(v128.load64_zero(p)));
      p += <usize>stride << 2;
    }
    store<f32>(dst + (<usize>x << 2), <f32>(f64x2.extract_lane(acc, 0) * inv));
    store<f32>(dst + (<usize>(x + 1) << 2), <f32>(f64x2.extract_lane(acc, 1) * inv));
  }
  for (; x < d; x++) {
    let acc: f64 = 0;
    let p = src + (<usize>x << 2);
    for (let r = 0; r < n; r++) {
      acc += <f64>load<f32>(p);
      p += <usize>stride << 2;
    }
    store<f32>(dst + (<usize>x << 2), <f32>(acc * inv));
  }
}

/**
 * dst = srcᵀ: dst[c, r] = src[r, c], in 16×16 blocks.
 * src: usize // (rows, cols), row stride srcStride;  dst: usize // (cols, rows), row stride dstStride
 */
export function f32_transpose(src: usize, srcStride: i32, rows: i32, cols: i32, dst: usize, dstStride: i32): void {
  const B = 16;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = min(c0 + B, cols);
      for (let r = r0; r < r1; r++) {
        const s = src + ((<usize>r * <usize>srcStride) << 2);
        for (let c = c0; c < c1; c++) {
          store<f32>(dst + ((<usize>c * <usize>dstStride + <usize>r) << 2), load<f32>(s + (<usize>c << 2)));
        }
      }
    }
  }
}
