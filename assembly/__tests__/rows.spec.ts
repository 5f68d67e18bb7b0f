// rows.spec.ts — the row kernels of assembly/rows.ts through their RowsParams block, SIMD128 build,
// on RowsTester (rows-tester.ts: guarded strided buffers, a poisoned parameter block, the float64
// reference, the tolerances and every check).
//
// Sweep:   every kernel at every n ∈ {1, 3, 8} × d ∈ {1…9, 15, 16, 17, 33} (each SIMD tail d % 4,
//          one and several vectors), row paddings cycling through 0–5 elements (source and
//          destination differently).
// Besides: gather from 20 rows at d = 64; norm and l2_normalize with a zero row (exactly 0);
//          l2_normalize and bias_scale in place; one-element rows normalize to exactly ±1; mean
//          over 33 and 65 rows, n = 0 gives zeros; transpose across its 16×16 blocks (rows, cols ∈
//          {1, 5, 16, 17, 40}); axpy gathered or identity, weighted or not, c = 0.5, 0.7 and 0
//          (every row skipped), a zero weight skipping its row (a NaN there does not leak);
//          scatter_add into one row and with repeats; n = 0 touches nothing.

import { RowsTester } from './rows-tester';
import { Rng } from './helpers';
import { Tally } from './tester';

const SIZES: StaticArray<i32> = [1, 5, 16, 17, 40];

describe('f32_rows_gather', () => {
  it('copies the indexed rows bit for bit, nothing else', () => {
    const tally = new Tally('gather');
    const rng = new Rng(41);
    RowsTester.gather().sweep(tally, rng);
    RowsTester.gather().n(9).d(64).rows(20).pads(2, 1).test(tally, rng);
    RowsTester.gather().n(0).d(5).test(tally, rng);
    tally.finish();
  });
});

describe('f32_rows_norm', () => {
  it('matches float64; a zero row is exactly 0', () => {
    const tally = new Tally('norm');
    const rng = new Rng(42);
    RowsTester.norm().sweep(tally, rng);
    RowsTester.norm().zeroRow(true).sweep(tally, rng);
    RowsTester.norm().n(7).d(64).zeroRow(true).pads(3, 0).test(tally, rng);
    RowsTester.norm().n(0).d(5).test(tally, rng);
    tally.finish();
  });
});

describe('f32_rows_mean', () => {
  it('matches float64 (f64 accumulation); n = 0 gives zeros', () => {
    const tally = new Tally('mean');
    const rng = new Rng(43);
    RowsTester.mean().sweep(tally, rng);
    RowsTester.mean().n(33).d(1).pads(1, 0).test(tally, rng);
    RowsTester.mean().n(33).d(64).pads(1, 0).test(tally, rng);
    RowsTester.mean().n(65).d(65).pads(3, 0).test(tally, rng);
    RowsTester.mean().n(0).d(7).test(tally, rng);
    tally.finish();
  });
});

describe('f32_rows_transpose', () => {
  it('is exact, within and across 16×16 blocks', () => {
    const tally = new Tally('transpose');
    const rng = new Rng(44);
    RowsTester.transpose().sweep(tally, rng);
    for (let a = 0; a < SIZES.length; a++) {
      for (let b = 0; b < SIZES.length; b++) RowsTester.transpose().n(SIZES[a]).d(SIZES[b]).pads(2, 1).test(tally, rng);
    }
    tally.finish();
  });
});

describe('f32_rows_l2_normalize', () => {
  it('matches float64; ±1 for one element; zero rows stay zero; in place', () => {
    const tally = new Tally('l2_normalize');
    const rng = new Rng(45);
    RowsTester.l2Normalize().sweep(tally, rng);
    RowsTester.l2Normalize().zeroRow(true).sweep(tally, rng);
    RowsTester.l2Normalize().inPlace(true).zeroRow(true).sweep(tally, rng);
    RowsTester.l2Normalize().n(6).d(64).pads(2, 1).test(tally, rng);
    tally.finish();
  });
});

describe('f32_rows_axpy', () => {
  it('gathered or identity rows, weighted or not; zero weights skip their rows', () => {
    const tally = new Tally('axpy');
    const rng = new Rng(46);
    RowsTester.axpy().indexed(true).weighted(true).sweep(tally, rng);
    RowsTester.axpy().indexed(true).weighted(false).sweep(tally, rng);
    RowsTester.axpy().indexed(false).weighted(true).sweep(tally, rng);
    RowsTester.axpy().indexed(false).weighted(false).c(1).sweep(tally, rng);
    RowsTester.axpy().indexed(true).weighted(true).c(0.7).sweep(tally, rng);
    RowsTester.axpy().indexed(false).weighted(false).c(0).n(5).d(9).test(tally, rng);
    RowsTester.axpy().n(9).d(64).rows(5).pads(3, 1).test(tally, rng);
    RowsTester.axpy().n(0).d(5).test(tally, rng);
    tally.finish();
  });
});

describe('f32_rows_scatter_add', () => {
  it('accumulates repeated rows and leaves the others intact', () => {
    const tally = new Tally('scatter_add');
    const rng = new Rng(47);
    RowsTester.scatterAdd().sweep(tally, rng);
    RowsTester.scatterAdd().rows(1).sweep(tally, rng);
    RowsTester.scatterAdd().n(8).d(64).rows(5).pads(2, 1).test(tally, rng);
    RowsTester.scatterAdd().n(0).d(5).test(tally, rng);
    tally.finish();
  });
});

describe('f32_rows_bias_scale', () => {
  it('matches float64; in place', () => {
    const tally = new Tally('bias_scale');
    const rng = new Rng(48);
    RowsTester.biasScale().sweep(tally, rng);
    RowsTester.biasScale().inPlace(true).sweep(tally, rng);
    RowsTester.biasScale().scale(1.3).sweep(tally, rng);
    RowsTester.biasScale().n(6).d(64).pads(3, 0).test(tally, rng);
    tally.finish();
  });
});
