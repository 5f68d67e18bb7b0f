// rows.spec.ts — the row kernels of assembly/rows.ts (f32_rows_gather, _norm, _mean and _transpose
// are specified in lsh.spec.ts with the LSH kernels they serve), SIMD128 build.
//
// f32_rows_l2_normalize: against float64 for d ∈ {1, 3, 4, 5, 64} with strides (relative 2e-7);
//                        a one-element row becomes exactly ±1; a zero row stays zero; in place works.
// f32_rows_axpy:         gathered (idx) and identity rows, per-row weights with a stride, constant
//                        c; d ∈ {1, 3, 4, 7, 64}; against float64 (absolute 1e-5 on O(1) values);
//                        a zero weight skips its row (NaN in that source row does not leak).
// f32_rows_scatter_add:  repeated destination rows accumulate; untouched rows and padding intact.
// f32_rows_bias_scale:   against float64 (relative 1e-6); in place works.
// Buffers are Guarded (helpers.ts): writes outside the logical region are caught.

import { f32_rows_l2_normalize, f32_rows_axpy, f32_rows_bias_scale, f32_rows_scatter_add } from '../rows';
import { Guarded, Rng, at, fillMatrix, matrix, paddingDamage } from './helpers';

const DS: StaticArray<i32> = [1, 3, 4, 5, 7, 64];

function i32buf(n: i32): Guarded {
  return new Guarded(<usize>max(n, 1) << 2);
}

describe('f32_rows_l2_normalize', () => {
  it('matches float64; ±1 for one element; zero rows stay zero; in place', () => {
    const rng = new Rng(61);
    let worst: f64 = 0;
    for (let t = 0; t < DS.length; t++) {
      const d = DS[t];
      const n = 6;
      const X = matrix(n, d, d + 2);
      fillMatrix(X.ptr, n, d, d + 2, rng, -3, 3);
      for (let x = 0; x < d; x++) store<f32>(at(X.ptr, d + 2, 1, x), 0);
      const Y = matrix(n, d, d + 1);
      f32_rows_l2_normalize(X.ptr, d + 2, n, d, Y.ptr, d + 1);
      for (let i = 0; i < n; i++) {
        let ss: f64 = 0;
        for (let x = 0; x < d; x++) ss += <f64>load<f32>(at(X.ptr, d + 2, i, x)) ** 2;
        const nrm = max(Math.sqrt(ss), 1e-12);
        for (let x = 0; x < d; x++) {
          const want = <f64>load<f32>(at(X.ptr, d + 2, i, x)) / nrm;
          const got = <f64>load<f32>(at(Y.ptr, d + 1, i, x));
          if (i == 1) expect(got).toBe(0);
          else worst = max(worst, Math.abs(got - want) / max(Math.abs(want), 1e-3));
          if (d == 1 && i != 1) expect(Math.abs(got)).toBe(1);
        }
      }
      expect(paddingDamage(Y, n, d, d + 1)).toBe(0);
      // in place
      f32_rows_l2_normalize(X.ptr, d + 2, n, d, X.ptr, d + 2);
      for (let i = 0; i < n; i++) for (let x = 0; x < d; x++) expect(load<u32>(at(X.ptr, d + 2, i, x))).toBe(load<u32>(at(Y.ptr, d + 1, i, x)));
      X.free();
      Y.free();
    }
    expect(worst).toBeLessThan(2e-7);
  });
});

describe('f32_rows_axpy', () => {
  it('gathers, weights (strided), skips zero weights, matches float64', () => {
    const rng = new Rng(62);
    for (let t = 0; t < DS.length; t++) {
      const d = DS[t];
      const n = 9;
      const srcRows = 5;
      const S = matrix(srcRows, d, d + 3);
      fillMatrix(S.ptr, srcRows, d, d + 3, rng, -1, 1);
      const D = matrix(n, d, d + 1);
      fillMatrix(D.ptr, n, d, d + 1, rng, -1, 1);
      const before = new Array<f64>(n * d);
      for (let r = 0; r < n; r++) for (let x = 0; x < d; x++) before[r * d + x] = <f64>load<f32>(at(D.ptr, d + 1, r, x));
      const idx = i32buf(n);
      for (let r = 0; r < n; r++) store<i32>(idx.ptr + (<usize>r << 2), rng.below(srcRows));
      const W = new Guarded(<usize>(n * 3) << 2);
      for (let r = 0; r < n; r++) store<f32>(W.ptr + (<usize>(r * 3) << 2), r == 4 ? 0 : rng.uniform(-2, 2));
      // A NaN in a source row that only a zero-weight row reads must not leak.
      const nanRow = load<i32>(idx.ptr + 16);
      let shared = false;
      for (let r = 0; r < n; r++) if (r != 4 && load<i32>(idx.ptr + (<usize>r << 2)) == nanRow) shared = true;
      if (!shared) store<f32>(at(S.ptr, d + 3, nanRow, 0), NaN);
      f32_rows_axpy(D.ptr, d + 1, S.ptr, d + 3, idx.ptr, W.ptr, 3, 0.5, n, d);
      for (let r = 0; r < n; r++) {
        const s = load<i32>(idx.ptr + (<usize>r << 2));
        const a = 0.5 * <f64>load<f32>(W.ptr + (<usize>(r * 3) << 2));
        for (let x = 0; x < d; x++) {
          const want = before[r * d + x] + (a == 0 ? 0 : a * <f64>load<f32>(at(S.ptr, d + 3, s, x)));
          expect(Math.abs(<f64>load<f32>(at(D.ptr, d + 1, r, x)) - want)).toBeLessThan(1e-5);
        }
      }
      expect(paddingDamage(D, n, d, d + 1)).toBe(0);
      // identity rows, no weights: dst_r += c·src_r (exact from zero)
      const E = matrix(srcRows, d, d);
      for (let r = 0; r < srcRows; r++) for (let x = 0; x < d; x++) store<f32>(at(E.ptr, d, r, x), 0);
      f32_rows_axpy(E.ptr, d, S.ptr, d + 3, 0, 0, 0, 1, srcRows, d);
      for (let r = 0; r < srcRows; r++) {
        for (let x = 0; x < d; x++) {
          const s = load<f32>(at(S.ptr, d + 3, r, x));
          if (!isNaN(s)) expect(load<f32>(at(E.ptr, d, r, x))).toBe(s);
        }
      }
      expect(paddingDamage(E, srcRows, d, d)).toBe(0);
      S.free();
      D.free();
      E.free();
      idx.free();
      W.free();
    }
  });
});

describe('f32_rows_scatter_add', () => {
  it('accumulates repeated rows and leaves the others intact', () => {
    const rng = new Rng(63);
    for (let t = 0; t < DS.length; t++) {
      const d = DS[t];
      const n = 8;
      const rows = 5;
      const S = matrix(n, d, d + 2);
      fillMatrix(S.ptr, n, d, d + 2, rng, -1, 1);
      const D = matrix(rows, d, d + 1);
      for (let r = 0; r < rows; r++) for (let x = 0; x < d; x++) store<f32>(at(D.ptr, d + 1, r, x), 0);
      const idx = i32buf(n);
      // rows 0 and 2 receive several, row 4 none
      const targets: StaticArray<i32> = [0, 2, 0, 1, 3, 2, 0, 1];
      for (let r = 0; r < n; r++) store<i32>(idx.ptr + (<usize>r << 2), targets[r]);
      f32_rows_scatter_add(D.ptr, d + 1, S.ptr, d + 2, idx.ptr, n, d);
      for (let g = 0; g < rows; g++) {
        for (let x = 0; x < d; x++) {
          let want: f64 = 0;
          for (let r = 0; r < n; r++) if (targets[r] == g) want += <f64>load<f32>(at(S.ptr, d + 2, r, x));
          expect(Math.abs(<f64>load<f32>(at(D.ptr, d + 1, g, x)) - want)).toBeLessThan(1e-6);
        }
      }
      expect(paddingDamage(D, rows, d, d + 1)).toBe(0);
      S.free();
      D.free();
      idx.free();
    }
  });
});

describe('f32_rows_bias_scale', () => {
  it('matches float64; in place works', () => {
    const rng = new Rng(64);
    for (let t = 0; t < DS.length; t++) {
      const d = DS[t];
      const n = 6;
      const X = matrix(n, d, d + 3);
      fillMatrix(X.ptr, n, d, d + 3, rng, -2, 2);
      const bias = new Guarded(<usize>d << 2);
      fillMatrix(bias.ptr, 1, d, d, rng, -1, 1);
      const Y = matrix(n, d, d);
      f32_rows_bias_scale(X.ptr, d + 3, n, d, bias.ptr, 0.375, Y.ptr, d);
      for (let r = 0; r < n; r++) {
        for (let x = 0; x < d; x++) {
          const want = 0.375 * (<f64>load<f32>(at(X.ptr, d + 3, r, x)) + <f64>load<f32>(bias.ptr + (<usize>x << 2)));
          expect(Math.abs(<f64>load<f32>(at(Y.ptr, d, r, x)) - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-7);
        }
      }
      expect(paddingDamage(Y, n, d, d)).toBe(0);
      f32_rows_bias_scale(X.ptr, d + 3, n, d, bias.ptr, 0.375, X.ptr, d + 3);
      for (let r = 0; r < n; r++) for (let x = 0; x < d; x++) expect(load<u32>(at(X.ptr, d + 3, r, x))).toBe(load<u32>(at(Y.ptr, d, r, x)));
      expect(paddingDamage(X, n, d, d + 3)).toBe(0);
      X.free();
      Y.free();
      bias.free();
    }
  });
});
