// structured.ts — row kernels of the structured variants (hierarchical attention,
// Transformer-XL memory, routing): the O(n·d) passes around the fused attention kernel.
//
// What:    f32_l2_normalize_rows  dst_i = x_i / max(‖x_i‖₂, 1e-12)   (PyTorch F.normalize; routing)
//          f32_rows_axpy          dst_r += a_r·src_{s_r},  s_r = idx ? idx[r] : r,
//                                 a_r = c·(w ? w[r·wStride] : 1); rows with a_r = 0 are skipped
//                                 (hierarchical level combination, mixture of routed paths)
//          f32_rows_scatter_add   dst_{idx[r]} += src_r              (routing scatter-mean)
//          f32_rows_bias_scale    dst_r = scale·(src_r + bias)        (Transformer-XL q + u, scale·(q + v))
// Shapes:  row-major (rows, d) blocks with row strides in elements; idx: i32; bias: (d).
//          src and dst of f32_rows_axpy / f32_rows_scatter_add must not overlap; f32_l2_normalize_rows
//          and f32_rows_bias_scale may run in place (dst = src, same stride).
// Tiling:  4 lanes per step along d, scalar tails; no over-read past a row's d floats.
// Error:   one rounding per multiply-add (f32); the norm's sum of squares in f64 and one rounding
//          of ‖x‖ to f32, so a one-element row normalizes to exactly ±1 (d·2⁻⁵³ relative otherwise). Tested against float64 in __tests__/structured.spec.ts.
// Reference: A. Roy et al., "Efficient Content-Based Sparse Attention with Routing Transformers"
//          (TACL 2021) §4 (normalized queries/keys, scatter-mean); Z. Dai et al., "Transformer-XL"
//          (ACL 2019) §3.3 (u, v biases).

import { madd } from './simd';

/** Σ x² over d floats, accumulated in f64 (f32 products are exact there: one rounding at the end). */
// @ts-ignore: decorator
@inline function sumSquares64(row: usize, d: i32): f64 {
  const d4 = d & ~3;
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  let x = 0;
  for (; x < d4; x += 4) {
    const v = v128.load(row + (<usize>x << 2));
    const a = f64x2.promote_low_f32x4(v);
    const b = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    lo = f64x2.add(lo, f64x2.mul(a, a));
    hi = f64x2.add(hi, f64x2.mul(b, b));
  }
  const t = f64x2.add(lo, hi);
  let s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  for (; x < d; x++) {
    const v = <f64>load<f32>(row + (<usize>x << 2));
    s += v * v;
  }
  return s;
}

/**
 * dst_i = x_i / max(‖x_i‖₂, 1e-12) for n rows of d floats (a zero row stays zero).
 * src: usize // (n, d), row stride srcStride;  dst: usize // (n, d), row stride dstStride (may equal src)
 */
export function f32_l2_normalize_rows(src: usize, srcStride: i32, n: i32, d: i32, dst: usize, dstStride: i32): void {
  const d4 = d & ~3;
  for (let i = 0; i < n; i++) {
    const s = src + ((<usize>i * <usize>srcStride) << 2);
    const o = dst + ((<usize>i * <usize>dstStride) << 2);
    // Divide (correctly rounded) rather than multiply by 1/‖x‖: a one-element row becomes ±1 exactly.
    const norm: f32 = <f32>max(Math.sqrt(sumSquares64(s, d)), 1e-12);
    const nv = f32x4.splat(norm);
    let x = 0;
    for (; x < d4; x += 4) v128.store(o + (<usize>x << 2), f32x4.div(v128.load(s + (<usize>x << 2)), nv));
    for (; x < d; x++) store<f32>(o + (<usize>x << 2), load<f32>(s + (<usize>x << 2)) / norm);
  }
}

/** o[0..d) += a·s[0..d). */
// @ts-ignore: decorator
@inline function axpyRow(o: usize, s: usize, a: f32, d: i32): void {
  const d4 = d & ~3;
  const av = f32x4.splat(a);
  let x = 0;
  for (; x < d4; x += 4) {
    const p = o + (<usize>x << 2);
    v128.store(p, madd(av, v128.load(s + (<usize>x << 2)), v128.load(p)));
  }
  for (; x < d; x++) {
    const p = o + (<usize>x << 2);
    store<f32>(p, load<f32>(p) + a * load<f32>(s + (<usize>x << 2)));
  }
}

/**
 * dst_r += a_r·src_{s_r} for r < n, s_r = idx ? idx[r] : r, a_r = c·(w ? w[r·wStride] : 1);
 * rows with a_r = 0 are skipped (non-finite values there cannot leak).
 * dst: usize // (n, d), row stride dstStride;  src: usize // (·, d), row stride srcStride
 * idx: usize // (n) i32 source rows, 0 = identity;  w: usize // (n) f32 with stride wStride, 0 = none
 */
export function f32_rows_axpy(
  dst: usize, dstStride: i32, src: usize, srcStride: i32, idx: usize, w: usize, wStride: i32, c: f32, n: i32, d: i32,
): void {
  for (let r = 0; r < n; r++) {
    const a = w ? c * load<f32>(w + ((<usize>r * <usize>wStride) << 2)) : c;
    if (a == 0) continue;
    const s = idx ? load<i32>(idx + (<usize>r << 2)) : r;
    axpyRow(dst + ((<usize>r * <usize>dstStride) << 2), src + ((<usize>s * <usize>srcStride) << 2), a, d);
  }
}

/**
 * dst_{idx[r]} += src_r for r < n (rows may repeat in idx).
 * dst: usize // (·, d), row stride dstStride;  src: usize // (n, d), row stride srcStride;  idx: usize // (n) i32
 */
export function f32_rows_scatter_add(dst: usize, dstStride: i32, src: usize, srcStride: i32, idx: usize, n: i32, d: i32): void {
  const d4 = d & ~3;
  for (let r = 0; r < n; r++) {
    const o = dst + ((<usize>load<i32>(idx + (<usize>r << 2)) * <usize>dstStride) << 2);
    const s = src + ((<usize>r * <usize>srcStride) << 2);
    let x = 0;
    for (; x < d4; x += 4) {
      const p = o + (<usize>x << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(s + (<usize>x << 2))));
    }
    for (; x < d; x++) {
      const p = o + (<usize>x << 2);
      store<f32>(p, load<f32>(p) + load<f32>(s + (<usize>x << 2)));
    }
  }
}

/**
 * dst_r = scale·(src_r + bias) for n rows of d floats.
 * src: usize // (n, d), row stride srcStride;  bias: usize // (d);  dst: usize // (n, d), row stride dstStride (may equal src)
 */
export function f32_rows_bias_scale(src: usize, srcStride: i32, n: i32, d: i32, bias: usize, scale: f32, dst: usize, dstStride: i32): void {
  const d4 = d & ~3;
  const sv = f32x4.splat(scale);
  for (let r = 0; r < n; r++) {
    const s = src + ((<usize>r * <usize>srcStride) << 2);
    const o = dst + ((<usize>r * <usize>dstStride) << 2);
    let x = 0;
    for (; x < d4; x += 4) {
      v128.store(o + (<usize>x << 2), f32x4.mul(sv, f32x4.add(v128.load(s + (<usize>x << 2)), v128.load(bias + (<usize>x << 2)))));
    }
    for (; x < d; x++) store<f32>(o + (<usize>x << 2), scale * (load<f32>(s + (<usize>x << 2)) + load<f32>(bias + (<usize>x << 2))));
  }
}
