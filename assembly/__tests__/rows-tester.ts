// rows-tester.ts — RowsTester: one call of a row kernel (assembly/rows.ts) through a RowsParams
// block, on guarded, strided buffers, against a scalar float64 reference of its own:
//   RowsTester.axpy().n(3).d(17).pads(2, 1).indexed(true).weighted(true).test(tally, rng)
//   RowsTester.gather().sweep(tally, rng)   // every n ∈ {1, 3, 8} × d ∈ {1…9, 15, 16, 17, 33}
// Buffers: src (rows, d) with row stride d + padSrc; the output with stride (its row length) +
//          padDst (transpose: (d, n); scatter_add: dstRows rows), or norm's (n) and mean's (d)
//          vector.
//          The output's padding and 64-byte guards hold the sentinel (helpers.ts), src's another
//          NaN (SRC_PAD: a kernel copying input padding into output padding shows; in place, src
//          is the output and keeps the sentinel). Overwritten outputs start as NaN garbage (must
//          not be read), accumulated ones (axpy, scatter_add) as values in [−1, 1). src uniform in
//          [−2, 2), bias in [−1, 1); idx uniform over the rows it indexes (repeats and untouched
//          rows included); axpy's weights in [−2, 2) with stride 3, row ⌊n/2⌋'s weight 0 and, when
//          no other row reads its source row, a NaN there (skipped rows must not leak).
// Block:   filled with the sentinel, then only the fields the kernel reads are written, so a
//          kernel reading another field gets a NaN or an address outside memory.
// Checks:  every output element against the reference; memory outside the destination rows
//          (padding, guards, the other rows of scatter_add's destination) still the sentinel or
//          bit-identical; src, idx, weights and bias bit-identical afterwards (except in place);
//          the parameter block and its guards bit-identical.
// Tolerances (u = 2⁻²⁴, per element, mag the magnitude the error scales with):
//          gather, transpose: exact (copies).
//          norm:         (d + 4)·u·‖x‖ (f32 sum of squares ≤ (d + 1)·u relative, halved by the
//                        square root, plus its rounding).
//          mean:         u·(1 + 2⁻²⁰)·|mean| + n·2⁻⁵²·mean|x| (f64 accumulation and scaling,
//                        one rounding to f32).
//          l2_normalize: 2u·(1 + 2⁻²⁰)·|x/‖x‖| (‖x‖ rounded to f32, one division); a one-element
//                        row exactly ±1, a zero row exactly 0.
//          axpy:         4u·(|dst| + |a·src|) (a = c·w rounded, one product, one add); rows
//                        with a = 0 exactly unchanged.
//          scatter_add:  (n + 1)·u·(|dst| + Σ|src|) (f32 adds in row order); rows no index names
//                        exactly unchanged.
//          bias_scale:   2u·(1 + 2⁻²⁰)·|scale|·(|src| + |bias|) (one add, one product).

import {
  f32_rows_gather, f32_rows_norm, f32_rows_mean, f32_rows_transpose, f32_rows_l2_normalize,
  f32_rows_axpy, f32_rows_scatter_add, f32_rows_bias_scale,
  ROWS_SRC, ROWS_SRC_STRIDE, ROWS_DST, ROWS_DST_STRIDE, ROWS_N, ROWS_D, ROWS_IDX, ROWS_OUT, ROWS_W, ROWS_W_STRIDE,
  ROWS_C, ROWS_BIAS, ROWS_SCALE, ROWS_PARAMS_BYTES,
} from '../rows';
import { GUARD, Guarded, Rng, GARBAGE, SENTINEL, at, fillMatrix, fillMatrixBits, fillWords, matrix, paddingDamage, paramBlock } from './helpers';
import { Tally } from './tester';

export const GATHER: i32 = 0;
export const NORM: i32 = 1;
export const MEAN: i32 = 2;
export const TRANSPOSE: i32 = 3;
export const L2_NORMALIZE: i32 = 4;
export const AXPY: i32 = 5;
export const SCATTER_ADD: i32 = 6;
export const BIAS_SCALE: i32 = 7;

const NAMES: StaticArray<string> = [
  'f32_rows_gather', 'f32_rows_norm', 'f32_rows_mean', 'f32_rows_transpose', 'f32_rows_l2_normalize',
  'f32_rows_axpy', 'f32_rows_scatter_add', 'f32_rows_bias_scale',
];

/** The sweep's row counts and row lengths (every SIMD tail d % 4, one and several vectors). */
export const SWEEP_N: StaticArray<i32> = [1, 3, 8];
export const SWEEP_D: StaticArray<i32> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33];
/** Row paddings the sweep cycles through (source and destination differently). */
const PADS: StaticArray<i32> = [1, 3, 0, 2, 5, 4];
/** Elements between axpy's weights. */
const W_STRIDE: i32 = 3;
const U: f64 = 5.9604644775390625e-8; // 2⁻²⁴
/** A quiet NaN in src's padding and guards, unlike the output's sentinel. */
const SRC_PAD: u32 = 0x7fc0cafe;

/** Cases run by all testers so far: cycles the paddings of a sweep. */
let serial = 0;

export class RowsTester {
  kernel: i32;
  n_: i32 = 1;
  d_: i32 = 1;
  padSrc: i32 = 1;
  padDst: i32 = 2;
  inPlace_: bool = false;
  indexed_: bool = true;
  weighted_: bool = true;
  zeroRow_: bool = false;
  c_: f32 = 0.5;
  scale_: f32 = 0.375;
  /** gather / indexed axpy: rows of src (−1: n + 3); scatter_add: rows of dst (−1: n/2 + 2). */
  rows_: i32 = -1;

  constructor(kernel: i32) {
    this.kernel = kernel;
  }

  static gather(): RowsTester { return new RowsTester(GATHER); }
  static norm(): RowsTester { return new RowsTester(NORM); }
  static mean(): RowsTester { return new RowsTester(MEAN); }
  static transpose(): RowsTester { return new RowsTester(TRANSPOSE); }
  static l2Normalize(): RowsTester { return new RowsTester(L2_NORMALIZE); }
  static axpy(): RowsTester { return new RowsTester(AXPY); }
  static scatterAdd(): RowsTester { return new RowsTester(SCATTER_ADD); }
  static biasScale(): RowsTester { return new RowsTester(BIAS_SCALE); }

  n(x: i32): RowsTester { this.n_ = x; return this; }
  d(x: i32): RowsTester { this.d_ = x; return this; }
  /** Row padding of src and of the output, in elements. */
  pads(src: i32, dst: i32): RowsTester { this.padSrc = src; this.padDst = dst; return this; }
  /** l2_normalize, bias_scale: dst = src with src's stride. */
  inPlace(x: bool): RowsTester { this.inPlace_ = x; return this; }
  /** axpy: source rows through idx (else idx = 0, the identity). */
  indexed(x: bool): RowsTester { this.indexed_ = x; return this; }
  /** axpy: per-row weights (else w = 0, every row weighted c). */
  weighted(x: bool): RowsTester { this.weighted_ = x; return this; }
  /** norm, l2_normalize: source row 1 all zeros (when n > 1). */
  zeroRow(x: bool): RowsTester { this.zeroRow_ = x; return this; }
  c(x: f32): RowsTester { this.c_ = x; return this; }
  scale(x: f32): RowsTester { this.scale_ = x; return this; }
  /** Rows of gather's / indexed axpy's source, or of scatter_add's destination. */
  rows(x: i32): RowsTester { this.rows_ = x; return this; }

  get inPlaceUsed(): bool { return this.inPlace_ && (this.kernel == L2_NORMALIZE || this.kernel == BIAS_SCALE); }
  get usesIdx(): bool { return this.kernel == GATHER || this.kernel == SCATTER_ADD || (this.kernel == AXPY && this.indexed_); }
  get srcRows(): i32 {
    if (this.kernel == GATHER || (this.kernel == AXPY && this.indexed_)) return this.rows_ >= 0 ? this.rows_ : this.n_ + 3;
    return this.n_;
  }
  get dstRows(): i32 { return this.rows_ >= 0 ? this.rows_ : this.n_ / 2 + 2; }
  get srcStride(): i32 { return this.d_ + this.padSrc; }
  /** The output's logical rows, row length and stride. */
  get outRows(): i32 {
    const k = this.kernel;
    if (k == NORM || k == MEAN) return 1;
    if (k == TRANSPOSE) return this.d_;
    if (k == SCATTER_ADD) return this.dstRows;
    return this.n_;
  }
  get outCols(): i32 {
    const k = this.kernel;
    return k == NORM || k == TRANSPOSE ? this.n_ : this.d_;
  }
  get outStride(): i32 {
    const k = this.kernel;
    if (k == NORM || k == MEAN) return this.outCols;
    return this.inPlaceUsed ? this.srcStride : this.outCols + this.padDst;
  }

  describe(): string {
    const k = this.kernel;
    let s = NAMES[k] + ' n=' + this.n_.toString() + ' d=' + this.d_.toString() + ' srcStride=' + this.srcStride.toString() +
      ' dstStride=' + this.outStride.toString();
    if (this.inPlaceUsed) s += ' in place';
    if (k == GATHER || k == SCATTER_ADD || (k == AXPY && this.indexed_)) s += ' rows=' + (k == SCATTER_ADD ? this.dstRows : this.srcRows).toString();
    if (k == AXPY) s += ' idx=' + (this.indexed_ ? '1' : '0') + ' w=' + (this.weighted_ ? '1' : '0') + ' c=' + this.c_.toString();
    if (k == BIAS_SCALE) s += ' scale=' + this.scale_.toString();
    if (this.zeroRow_) s += ' zero row';
    return s;
  }

  /** Every (n, d) of SWEEP_N × SWEEP_D with this tester's options, paddings cycling. */
  sweep(tally: Tally, rng: Rng): void {
    for (let a = 0; a < SWEEP_N.length; a++) {
      for (let b = 0; b < SWEEP_D.length; b++) {
        this.n_ = SWEEP_N[a];
        this.d_ = SWEEP_D[b];
        this.padSrc = PADS[serial % PADS.length];
        this.padDst = PADS[(serial / PADS.length + 2) % PADS.length];
        this.test(tally, rng);
      }
    }
  }

  /** Runs one call and records it in `tally`. */
  test(tally: Tally, rng: Rng): void {
    tally.begin();
    serial++;
    const k = this.kernel;
    const n = this.n_, d = this.d_;
    const srcRows = this.srcRows, srcStride = this.srcStride;
    const outRows = this.outRows, outCols = this.outCols, outStride = this.outStride;
    const inPlace = this.inPlaceUsed;
    const accumulates = k == AXPY || k == SCATTER_ADD;

    const S = matrix(srcRows, d, srcStride);
    fillMatrix(S.ptr, srcRows, d, srcStride, rng, -2, 2);
    if (this.zeroRow_ && n > 1) for (let x = 0; x < d; x++) store<f32>(at(S.ptr, srcStride, 1, x), 0);
    if (!inPlace) repaint(S, srcRows, d, srcStride, SRC_PAD);
    const D = inPlace ? S : matrix(outRows, outCols, outStride);
    if (accumulates) fillMatrix(D.ptr, outRows, outCols, outStride, rng, -1, 1);
    else if (!inPlace) fillMatrixBits(D.ptr, outRows, outCols, outStride, GARBAGE);
    const idx = new Guarded(<usize>max(n, 1) << 2);
    if (this.usesIdx) {
      const range = k == SCATTER_ADD ? outRows : srcRows;
      for (let r = 0; r < n; r++) store<i32>(idx.ptr + (<usize>r << 2), rng.below(range));
    }
    const W = new Guarded(<usize>max(n * W_STRIDE, 1) << 2);
    const weighted = k == AXPY && this.weighted_;
    const skipped = n / 2; // axpy's zero-weight row
    if (weighted && n > 0) {
      for (let r = 0; r < n; r++) store<f32>(W.ptr + (<usize>(r * W_STRIDE) << 2), r == skipped ? 0 : rng.uniform(-2, 2));
      // A NaN in a source row only the zero-weight row reads must not leak.
      const nanRow = this.axpySource(idx.ptr, skipped);
      let shared = false;
      for (let r = 0; r < n; r++) if (r != skipped && this.axpySource(idx.ptr, r) == nanRow) shared = true;
      if (!shared && d > 0) store<f32>(at(S.ptr, srcStride, nanRow, 0), NaN);
    }
    const bias = new Guarded(<usize>max(d, 1) << 2);
    if (k == BIAS_SCALE) fillMatrix(bias.ptr, 1, d, d, rng, -1, 1);

    const size = max(outRows * outCols, 1);
    const ref = new StaticArray<f64>(size);
    const mag = new StaticArray<f64>(size);
    const exact = new StaticArray<bool>(size);
    this.reference(S.ptr, D.ptr, idx.ptr, W.ptr, bias.ptr, ref, mag, exact);
    const hashS = S.hash(), hashIdx = idx.hash(), hashW = W.hash(), hashBias = bias.hash();
    const rtol = this.rtol();

    const params = paramBlock(ROWS_PARAMS_BYTES);
    fillWords(params.ptr, <usize>ROWS_PARAMS_BYTES, SENTINEL);
    const P = params.ptr;
    store<u32>(P + ROWS_SRC, <u32>S.ptr);
    store<i32>(P + ROWS_SRC_STRIDE, srcStride);
    store<i32>(P + ROWS_N, n);
    store<i32>(P + ROWS_D, d);
    if (k == NORM || k == MEAN) {
      store<u32>(P + ROWS_OUT, <u32>D.ptr);
    } else {
      store<u32>(P + ROWS_DST, <u32>D.ptr);
      store<i32>(P + ROWS_DST_STRIDE, outStride);
    }
    if (k == GATHER || k == SCATTER_ADD || k == AXPY) store<u32>(P + ROWS_IDX, this.usesIdx ? <u32>idx.ptr : 0);
    if (k == AXPY) {
      store<u32>(P + ROWS_W, weighted ? <u32>W.ptr : 0);
      store<i32>(P + ROWS_W_STRIDE, weighted ? W_STRIDE : 0);
      store<f32>(P + ROWS_C, this.c_);
    }
    if (k == BIAS_SCALE) {
      store<u32>(P + ROWS_BIAS, <u32>bias.ptr);
      store<f32>(P + ROWS_SCALE, this.scale_);
    }
    const hashParams = params.hash();
    if (k == GATHER) f32_rows_gather(P);
    else if (k == NORM) f32_rows_norm(P);
    else if (k == MEAN) f32_rows_mean(P);
    else if (k == TRANSPOSE) f32_rows_transpose(P);
    else if (k == L2_NORMALIZE) f32_rows_l2_normalize(P);
    else if (k == AXPY) f32_rows_axpy(P);
    else if (k == SCATTER_ADD) f32_rows_scatter_add(P);
    else f32_rows_bias_scale(P);

    for (let i = 0; i < outRows; i++) {
      for (let j = 0; j < outCols; j++) {
        const e = i * outCols + j;
        const got = <f64>load<f32>(at(D.ptr, outStride, i, j));
        if (unchecked(exact[e])) tally.exact(got, unchecked(ref[e]), i, j);
        else tally.close(got, unchecked(ref[e]), 0, rtol, unchecked(mag[e]), i, j);
      }
    }
    const what = this.describe();
    tally.endCase(what);
    const dmg = paddingDamage(D, outRows, outCols, outStride);
    if (dmg > 0) tally.fail(what + ': ' + dmg.toString() + ' words outside the destination rows written');
    if ((!inPlace && S.hash() != hashS) || idx.hash() != hashIdx || W.hash() != hashW || bias.hash() != hashBias) {
      tally.fail(what + ': an input was modified');
    }
    if (params.hash() != hashParams) tally.fail(what + ': parameter block or its guards written');

    S.free();
    if (!inPlace) D.free();
    idx.free();
    W.free();
    bias.free();
    params.free();
  }

  /** Source row of axpy's row r. */
  private axpySource(idx: usize, r: i32): i32 {
    return this.indexed_ ? load<i32>(idx + (<usize>r << 2)) : r;
  }

  /** Relative tolerance of the case (see the header). */
  private rtol(): f64 {
    const k = this.kernel;
    if (k == NORM) return <f64>(this.d_ + 4) * U;
    if (k == MEAN) return U * (1 + 9.5367431640625e-7); // u·(1 + 2⁻²⁰): the f64 roundings of the sums
    if (k == L2_NORMALIZE || k == BIAS_SCALE) return 2 * U * (1 + 9.5367431640625e-7); // 2u·(1 + 2⁻²⁰)
    if (k == AXPY) return 4 * U;
    if (k == SCATTER_ADD) return <f64>(this.n_ + 1) * U;
    return 0;
  }

  /**
   * The float64 result of the call from its f32 inputs, before it runs (dst holds the initial
   * values of an accumulating kernel): ref, the magnitude mag its error scales with, and the
   * elements that must come out exact.
   */
  private reference(
    s: usize, dst: usize, idx: usize, w: usize, bias: usize,
    ref: StaticArray<f64>, mag: StaticArray<f64>, exact: StaticArray<bool>,
  ): void {
    const k = this.kernel;
    const n = this.n_, d = this.d_;
    const ss = this.srcStride, os = this.outStride;
    if (k == GATHER) {
      for (let r = 0; r < n; r++) {
        const j = load<i32>(idx + (<usize>r << 2));
        for (let x = 0; x < d; x++) set(ref, mag, exact, r * d + x, src(s, ss, j, x), 0, true);
      }
    } else if (k == TRANSPOSE) {
      for (let r = 0; r < n; r++) for (let x = 0; x < d; x++) set(ref, mag, exact, x * n + r, src(s, ss, r, x), 0, true);
    } else if (k == NORM) {
      for (let r = 0; r < n; r++) {
        let sq: f64 = 0;
        for (let x = 0; x < d; x++) sq += src(s, ss, r, x) * src(s, ss, r, x);
        const nrm = Math.sqrt(sq);
        set(ref, mag, exact, r, nrm, nrm, false);
      }
    } else if (k == MEAN) {
      for (let x = 0; x < d; x++) {
        let sum: f64 = 0;
        let abs: f64 = 0;
        for (let r = 0; r < n; r++) {
          sum += src(s, ss, r, x);
          abs += Math.abs(src(s, ss, r, x));
        }
        const mean = n > 0 ? sum / <f64>n : 0;
        // u·(|mean| + n·2⁻²⁸·mean|x|) = u·|mean| + n·2⁻⁵²·mean|x|
        set(ref, mag, exact, x, mean, Math.abs(mean) + (n > 0 ? 3.725290298461914e-9 * abs : 0), false); // 2⁻²⁸
      }
    } else if (k == L2_NORMALIZE) {
      for (let r = 0; r < n; r++) {
        let sq: f64 = 0;
        for (let x = 0; x < d; x++) sq += src(s, ss, r, x) * src(s, ss, r, x);
        const nrm = max(Math.sqrt(sq), 1e-12);
        for (let x = 0; x < d; x++) {
          const want = src(s, ss, r, x) / nrm;
          // exactly ±1 for one element, exactly 0 for a zero row
          set(ref, mag, exact, r * d + x, want, Math.abs(want), d == 1 || sq == 0);
        }
      }
    } else if (k == AXPY) {
      for (let r = 0; r < n; r++) {
        const a = <f64>this.c_ * (this.weighted_ ? <f64>load<f32>(w + (<usize>(r * W_STRIDE) << 2)) : 1);
        const j = this.axpySource(idx, r);
        for (let x = 0; x < d; x++) {
          const o = src(dst, os, r, x);
          if (a == 0) set(ref, mag, exact, r * d + x, o, 0, true);
          else {
            const t = a * src(s, ss, j, x);
            set(ref, mag, exact, r * d + x, o + t, Math.abs(o) + Math.abs(t), false);
          }
        }
      }
    } else if (k == SCATTER_ADD) {
      const rows = this.dstRows;
      for (let g = 0; g < rows; g++) {
        for (let x = 0; x < d; x++) {
          const o = src(dst, os, g, x);
          let sum = o;
          let abs = Math.abs(o);
          let hit = false;
          for (let r = 0; r < n; r++) {
            if (load<i32>(idx + (<usize>r << 2)) != g) continue;
            sum += src(s, ss, r, x);
            abs += Math.abs(src(s, ss, r, x));
            hit = true;
          }
          set(ref, mag, exact, g * d + x, sum, abs, !hit);
        }
      }
    } else {
      const scale = <f64>this.scale_;
      for (let r = 0; r < n; r++) {
        for (let x = 0; x < d; x++) {
          const a = src(s, ss, r, x);
          const b = <f64>load<f32>(bias + (<usize>x << 2));
          set(ref, mag, exact, r * d + x, scale * (a + b), Math.abs(scale) * (Math.abs(a) + Math.abs(b)), false);
        }
      }
    }
  }
}

/** Fills the guards and the padding of a strided matrix buffer (every word outside (rows, cols)) with `word`. */
function repaint(g: Guarded, rows: i32, cols: i32, ld: i32, word: u32): void {
  fillWords(g.ptr - GUARD, GUARD, word);
  fillWords(g.ptr + g.bytes, GUARD, word);
  const total = <i32>(g.bytes >> 2);
  for (let w = 0; w < total; w++) {
    if (!(w < rows * ld && w % ld < cols)) store<u32>(g.ptr + (<usize>w << 2), word);
  }
}

/** Element (r, x) of a strided f32 matrix, as f64. */
// @ts-ignore: decorator
@inline function src(p: usize, ld: i32, r: i32, x: i32): f64 {
  return <f64>load<f32>(at(p, ld, r, x));
}

// @ts-ignore: decorator
@inline function set(ref: StaticArray<f64>, mag: StaticArray<f64>, exact: StaticArray<bool>, e: i32, want: f64, m: f64, isExact: bool): void {
  unchecked(ref[e] = want);
  unchecked(mag[e] = m);
  unchecked(exact[e] = isExact);
}
