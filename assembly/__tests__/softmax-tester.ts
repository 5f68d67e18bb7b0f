// softmax-tester.ts — SoftmaxTester: one f32_softmax_rows call through its parameter block
// (SOFTMAX_* offsets) on a guarded, strided buffer, against the float64 softmax of the same f32
// logits computed here:
//   new SoftmaxTester().rows(7).cols(9).pad(3).logits(SOME_NEG_INF).test(tally, rng)
// Logits: UNIFORM in [−10, 10); SOME_NEG_INF: the same with ~1/3 of the entries −∞ (each row keeps
// a finite one); ONE_ROW_NEG_INF: row 3 all −∞; HUGE: spread over ±1e4, row 1 tied maxima at ±1e4,
// row 2 its maximum in the last (tail) column; ONE_HOT: every row −∞ but its last entry, 3.5.
// Checks: per element |y − y₆₄| ≤ y₆₄·(5e-7 + 1.2e-7·cols + 1.2e-7·|x − max|) + 2e-38 (the
// |x − max| term is the rounding of the f32 subtraction fed to exp; 2e-38 covers exp's flush to 0
// below −87.34); −∞ entries exactly +0 (an all −∞ row all +0, never NaN); ONE_HOT's finite entry
// exactly 1; every row with a finite entry sums to 1 within 1e-6 (float64); padding and guards
// never written (rows = 0 or cols = 0 touch nothing); the parameter block's guards intact.

import { f32_softmax_rows, SOFTMAX_X, SOFTMAX_ROWS, SOFTMAX_COLS, SOFTMAX_STRIDE, SOFTMAX_PARAMS_BYTES } from '../softmax';
import { Rng, at, matrix, paddingDamage, paramBlock } from './helpers';
import { Tally } from './tester';

export const UNIFORM = 0;
export const SOME_NEG_INF = 1;
export const ONE_ROW_NEG_INF = 2;
export const HUGE = 3;
export const ONE_HOT = 4;

/** Worst |Σ − 1| of a row over the cases since the last reset (logged by the specs). */
export let softmaxWorstSum: f64 = 0;

export function resetSoftmaxWorstSum(): void {
  softmaxWorstSum = 0;
}

export class SoftmaxTester {
  rows_: i32 = 7;
  cols_: i32 = 1;
  pad_: i32 = 0;
  kind_: i32 = UNIFORM;

  rows(x: i32): SoftmaxTester { this.rows_ = x; return this; }
  cols(x: i32): SoftmaxTester { this.cols_ = x; return this; }
  /** Row padding in elements (stride = cols + pad). */
  pad(x: i32): SoftmaxTester { this.pad_ = x; return this; }
  logits(kind: i32): SoftmaxTester { this.kind_ = kind; return this; }

  get stride(): i32 { return this.cols_ + this.pad_; }

  describe(): string {
    return 'rows=' + this.rows_.toString() + ' cols=' + this.cols_.toString() + ' stride=' + this.stride.toString() +
      ' kind=' + this.kind_.toString();
  }

  /** Runs one call and records it in `tally`. */
  test(tally: Tally, rng: Rng): void {
    tally.begin();
    const rows = this.rows_, cols = this.cols_, stride = this.stride, kind = this.kind_;
    // at least one row and column of buffer, so an empty call has words it must not touch
    const X = matrix(max(rows, 1), max(cols, 1), stride);
    for (let r = 0; r < rows; r++) {
      let finite = 0;
      for (let c = 0; c < cols; c++) {
        let x: f32;
        if (kind == HUGE) {
          x = rng.uniform(-1e4, 1e4);
          if (r == 1) x = c % 2 == 0 ? 1e4 : -1e4; //         tied maxima at +1e4
          if (r == 2) x = c == cols - 1 ? -1e4 : -1e4 - 1; //  maximum at the last (tail) column
        } else if (kind == ONE_HOT) {
          x = c == cols - 1 ? 3.5 : -Infinity;
        } else {
          x = rng.uniform(-10, 10);
        }
        if (kind == SOME_NEG_INF && rng.below(3) == 0) x = -Infinity;
        if (kind == ONE_ROW_NEG_INF && r == 3) x = -Infinity;
        if (x != -Infinity) finite++;
        store<f32>(at(X.ptr, stride, r, c), x);
      }
      if (kind == SOME_NEG_INF && finite == 0) store<f32>(at(X.ptr, stride, r, rng.below(cols)), rng.uniform(-10, 10));
    }

    // float64 reference and per-element tolerance
    const n = max(rows * cols, 1);
    const ref = new StaticArray<f64>(n);
    const tol = new StaticArray<f64>(n);
    const wasNegInf = new StaticArray<bool>(n);
    for (let r = 0; r < rows; r++) {
      let m: f64 = -Infinity;
      for (let c = 0; c < cols; c++) m = Math.max(m, <f64>load<f32>(at(X.ptr, stride, r, c)));
      let s: f64 = 0;
      for (let c = 0; c < cols; c++) {
        const x = <f64>load<f32>(at(X.ptr, stride, r, c));
        const e = m == -Infinity ? 0 : Math.exp(x - m);
        unchecked(ref[r * cols + c] = e);
        unchecked(tol[r * cols + c] = m == -Infinity || x == -Infinity ? 0 : 5e-7 + 1.2e-7 * <f64>cols + 1.2e-7 * (m - x));
        unchecked(wasNegInf[r * cols + c] = x == -Infinity);
        s += e;
      }
      for (let c = 0; c < cols; c++) {
        if (s > 0) unchecked(ref[r * cols + c] = ref[r * cols + c] / s);
        unchecked(tol[r * cols + c] = tol[r * cols + c] * ref[r * cols + c] + (tol[r * cols + c] > 0 ? 2e-38 : 0));
      }
    }

    const params = paramBlock(SOFTMAX_PARAMS_BYTES);
    const P = params.ptr;
    store<u32>(P + SOFTMAX_X, <u32>X.ptr);
    store<i32>(P + SOFTMAX_ROWS, rows);
    store<i32>(P + SOFTMAX_COLS, cols);
    store<i32>(P + SOFTMAX_STRIDE, stride);
    f32_softmax_rows(P);

    const what = this.describe();
    for (let r = 0; r < rows; r++) {
      let sum: f64 = 0;
      let allNegInf = true;
      for (let c = 0; c < cols; c++) {
        const y = load<f32>(at(X.ptr, stride, r, c));
        sum += <f64>y;
        if (unchecked(wasNegInf[r * cols + c])) {
          tally.bits(y, 0, r, c); // −∞ gives +0
          continue;
        }
        allNegInf = false;
        if (kind == ONE_HOT) tally.exact(<f64>y, 1, r, c);
        else tally.close(<f64>y, unchecked(ref[r * cols + c]), unchecked(tol[r * cols + c]), 0, 0, r, c);
      }
      if (!allNegInf) {
        const d = Math.abs(sum - 1);
        if (!(d <= 1e-6)) tally.fail(what + ': row ' + r.toString() + ' sums to ' + sum.toString());
        else if (d > softmaxWorstSum) softmaxWorstSum = d;
      }
    }
    tally.endCase(what);
    const dmg = paddingDamage(X, rows, cols, stride);
    if (dmg > 0) tally.fail(what + ': ' + dmg.toString() + ' padding/guard words written');
    if (params.guardDamage() > 0) tally.fail(what + ': parameter block guard written');
    X.free();
    params.free();
  }
}
