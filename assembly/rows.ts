// rows.ts — row kernels: the O(n·d) passes around the fused attention kernel that several
// variants share (LSH, Linformer, hierarchical, Transformer-XL memory, routing).
//
// What:    f32_rows_gather        dst[r] = src[idx[r]] (rows of d floats)
//          f32_rows_norm          out[i] = ‖src_i‖₂
//          f32_rows_mean          out (d) = mean of n rows (f64 accumulation)
//          f32_rows_transpose     dst (cols, rows) = srcᵀ, in 16×16 blocks
//          f32_rows_l2_normalize  dst_i = x_i / max(‖x_i‖₂, 1e-12)   (PyTorch F.normalize; routing)
//          f32_rows_axpy          dst_r += a_r·src_{s_r},  s_r = idx ? idx[r] : r,
//                                 a_r = c·(w ? w[r·wStride] : 1); rows with a_r = 0 are skipped
//                                 (hierarchical level combination, mixture of routed paths)
//          f32_rows_scatter_add   dst_{idx[r]} += src_r              (routing scatter-mean)
//          f32_rows_bias_scale    dst_r = scale·(src_r + bias)        (Transformer-XL q + u, scale·(q + v))
// Params:  every kernel takes one argument, the address of a RowsParams block (below; the host
//          writes it through the exported ROWS_* offsets, src/kernels/rows.ts) and reads the
//          fields it uses into locals once, before its loops. Fields a kernel does not use are
//          ignored.
// Shapes:  row-major (rows, d) blocks with row strides in elements; idx: i32; bias: (d).
//          src and dst of f32_rows_axpy / f32_rows_scatter_add / f32_rows_gather must not overlap;
//          f32_rows_l2_normalize and f32_rows_bias_scale may run in place (dst = src, same stride).
// Tiling:  4 lanes per step along d, scalar tails (f32_rows_mean: 2 columns per step in f64
//          lanes); no over-read past a row's d floats; f32_rows_gather copies with memory.copy,
//          f32_rows_transpose element by element in 16×16 blocks.
// Error:   f32_rows_axpy: a_r = c·w rounded to f32, then one multiply and one add per element
//          (the relaxed build's vector steps may fuse them: one rounding); f32_rows_scatter_add: one
//          f32 add per source row; f32_rows_bias_scale: one add, one multiply; f32_rows_norm: f32
//          sum of squares (relative error ≤ d·2⁻²⁴); f32_rows_l2_normalize: the sum of squares in
//          f64 and one rounding of ‖x‖ to f32, so a one-element row normalizes to exactly ±1
//          (d·2⁻⁵³ relative otherwise);
//          f32_rows_mean accumulates in f64 (≤ 1 ulp of f32); gather and transpose copy exactly.
//          Tested against float64 in __tests__/rows.spec.ts through __tests__/rows-tester.ts.
// Reference: A. Roy et al., "Efficient Content-Based Sparse Attention with Routing Transformers"
//          (TACL 2021) §4 (normalized queries/keys, scatter-mean); Z. Dai et al., "Transformer-XL"
//          (ACL 2019) §3.3 (u, v biases).

import { hsum, madd, zero4 } from './simd';

/** The row kernels' parameter block, written by the host; field order is the layout (offsets below). */
@final @unmanaged export class RowsParams {
  /** (n, d) input rows (gather: (·, d), indexed by idx), row stride srcStride elements */
  src: usize;
  srcStride: i32;
  /** (n, d) output rows (transpose: (d, n); scatter_add: (·, d), indexed by idx), row stride dstStride */
  dst: usize;
  dstStride: i32;
  /** rows (transpose: rows of src) */
  n: i32;
  /** floats per row (transpose: columns of src) */
  d: i32;
  /** (n) i32 row indices: gather's and axpy's source rows, scatter_add's destination rows; axpy: 0 = identity */
  idx: usize;
  /** norm: (n) f32 norms; mean: (d) f32 mean */
  out: usize;
  /** axpy: (n) f32 row weights with stride wStride, 0 = none */
  w: usize;
  wStride: i32;
  /** axpy: the factor c of every row */
  c: f32;
  /** bias_scale: (d) f32 bias */
  bias: usize;
  /** bias_scale: the factor */
  scale: f32;
}

// Offsets of the fields (src/kernels/rows.ts reads these from the exports).
export const ROWS_SRC: i32 = offsetof<RowsParams>('src'); //               0
export const ROWS_SRC_STRIDE: i32 = offsetof<RowsParams>('srcStride'); //  4
export const ROWS_DST: i32 = offsetof<RowsParams>('dst'); //               8
export const ROWS_DST_STRIDE: i32 = offsetof<RowsParams>('dstStride'); //  12
export const ROWS_N: i32 = offsetof<RowsParams>('n'); //                   16
export const ROWS_D: i32 = offsetof<RowsParams>('d'); //                   20
export const ROWS_IDX: i32 = offsetof<RowsParams>('idx'); //               24
export const ROWS_OUT: i32 = offsetof<RowsParams>('out'); //               28
export const ROWS_W: i32 = offsetof<RowsParams>('w'); //                   32
export const ROWS_W_STRIDE: i32 = offsetof<RowsParams>('wStride'); //      36
export const ROWS_C: i32 = offsetof<RowsParams>('c'); //                   40
export const ROWS_BIAS: i32 = offsetof<RowsParams>('bias'); //             44
export const ROWS_SCALE: i32 = offsetof<RowsParams>('scale'); //           48
export const ROWS_PARAMS_BYTES: i32 = offsetof<RowsParams>(); //           52

/** Σ x² over d floats (vector part plus scalar tail). */
// @ts-ignore: decorator
@inline export function sumSquares(row: usize, d: i32): f32 {
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
 * dst[r, 0..d) = src[idx[r], 0..d) for r < n.
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, dst, dstStride, n, d, idx
 * src: (·, d), row stride srcStride;  idx: (n) i32;  dst: (n, d), row stride dstStride
 */
export function f32_rows_gather(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsGather(p.src, p.srcStride, p.dst, p.dstStride, p.n, p.d, p.idx);
}

// @ts-ignore: decorator
@inline function rowsGather(src: usize, srcStride: i32, dst: usize, dstStride: i32, n: i32, d: i32, idx: usize): void {
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

/**
 * out[i] = ‖x_i‖₂ for n rows of d floats.
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, n, d, out
 * src: (n, d), row stride srcStride;  out: (n) f32
 */
export function f32_rows_norm(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsNorm(p.src, p.srcStride, p.n, p.d, p.out);
}

// @ts-ignore: decorator
@inline function rowsNorm(x: usize, stride: i32, n: i32, d: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    store<f32>(out + (<usize>i << 2), Mathf.sqrt(sumSquares(x + ((<usize>i * <usize>stride) << 2), d)));
  }
}

/**
 * out[x] = (1/n)·Σ_r src[r, x] for x < d, accumulated in f64; n = 0 gives zeros.
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, n, d, out
 * src: (n, d), row stride srcStride;  out: (d) f32
 */
export function f32_rows_mean(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsMean(p.src, p.srcStride, p.n, p.d, p.out);
}

// @ts-ignore: decorator
@inline function rowsMean(src: usize, stride: i32, n: i32, d: i32, dst: usize): void {
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
 * dst = srcᵀ: dst[c, r] = src[r, c], in 16×16 blocks; rows = n, cols = d.
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, dst, dstStride, n, d
 * src: (rows, cols), row stride srcStride;  dst: (cols, rows), row stride dstStride
 */
export function f32_rows_transpose(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsTranspose(p.src, p.srcStride, p.dst, p.dstStride, p.n, p.d);
}

// @ts-ignore: decorator
@inline function rowsTranspose(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, cols: i32): void {
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
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, dst, dstStride, n, d
 * src: (n, d), row stride srcStride;  dst: (n, d), row stride dstStride (may equal src)
 */
export function f32_rows_l2_normalize(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsL2Normalize(p.src, p.srcStride, p.dst, p.dstStride, p.n, p.d);
}

// @ts-ignore: decorator
@inline function rowsL2Normalize(src: usize, srcStride: i32, dst: usize, dstStride: i32, n: i32, d: i32): void {
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
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, dst, dstStride, n, d, idx, w, wStride, c
 * dst: (n, d), row stride dstStride;  src: (·, d), row stride srcStride
 * idx: (n) i32 source rows, 0 = identity;  w: (n) f32 with stride wStride, 0 = none
 */
export function f32_rows_axpy(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsAxpy(p.src, p.srcStride, p.dst, p.dstStride, p.n, p.d, p.idx, p.w, p.wStride, p.c);
}

// @ts-ignore: decorator
@inline function rowsAxpy(src: usize, srcStride: i32, dst: usize, dstStride: i32, n: i32, d: i32, idx: usize, w: usize, wStride: i32, c: f32): void {
  for (let r = 0; r < n; r++) {
    const a = w ? c * load<f32>(w + ((<usize>r * <usize>wStride) << 2)) : c;
    if (a == 0) continue;
    const s = idx ? load<i32>(idx + (<usize>r << 2)) : r;
    axpyRow(dst + ((<usize>r * <usize>dstStride) << 2), src + ((<usize>s * <usize>srcStride) << 2), a, d);
  }
}

/**
 * dst_{idx[r]} += src_r for r < n (rows may repeat in idx).
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, dst, dstStride, n, d, idx
 * dst: (·, d), row stride dstStride;  src: (n, d), row stride srcStride;  idx: (n) i32
 */
export function f32_rows_scatter_add(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsScatterAdd(p.src, p.srcStride, p.dst, p.dstStride, p.n, p.d, p.idx);
}

// @ts-ignore: decorator
@inline function rowsScatterAdd(src: usize, srcStride: i32, dst: usize, dstStride: i32, n: i32, d: i32, idx: usize): void {
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
 * params: usize // ROWS_PARAMS_BYTES bytes; reads src, srcStride, dst, dstStride, n, d, bias, scale
 * src: (n, d), row stride srcStride;  bias: (d) f32;  dst: (n, d), row stride dstStride (may equal src)
 */
export function f32_rows_bias_scale(params: usize): void {
  const p = changetype<RowsParams>(params);
  rowsBiasScale(p.src, p.srcStride, p.dst, p.dstStride, p.n, p.d, p.bias, p.scale);
}

// @ts-ignore: decorator
@inline function rowsBiasScale(src: usize, srcStride: i32, dst: usize, dstStride: i32, n: i32, d: i32, bias: usize, scale: f32): void {
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
