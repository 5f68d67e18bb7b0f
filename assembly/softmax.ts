// softmax.ts — row-wise softmax in place.
//
// What:    x[r, :] ← exp(x[r, :] − max_r) / Σ exp(x[r, :] − max_r) for r < rows.
// Params:  f32_softmax_rows takes the address of a SoftmaxParams block (the host writes it through
//          the exported SOFTMAX_* offsets) and reads its fields into locals once, first; f32_exp,
//          which only the specs call, keeps plain arguments.
// Shapes:  x: (rows, cols) row-major, row stride in elements.
// Masking: −∞ entries become exact zeros; a row that is all −∞ becomes all zeros (never NaN).
// Tails:   cols % 4 handled by scalar steps through the same vector exp, so results do not
//          depend on where a value sits in the row.
// Error:   exp_f32x4 ≤ 2e-7 relative; the sum adds ≤ cols·ε; each output is within
//          ~(2e-7 + cols·6e-8) relative of the float64 softmax.
// Reference: the three-pass softmax (max, exp-sum, scale) as in XNNPACK f32-raddstoreexpminusmax.

import { exp_f32, exp_f32x4, hmax, hsum, negInf4, zero4 } from './simd';

/** The softmax parameter block, written by the host; field order is the layout. */
@final @unmanaged export class SoftmaxParams {
  /** (rows, cols) row-major, row stride `stride` elements; updated in place */
  x: usize;
  rows: i32;
  cols: i32;
  stride: i32;
}

// Offsets of the fields (src/kernels/softmax.ts reads these from the exports).
export const SOFTMAX_X: i32 = offsetof<SoftmaxParams>('x'); //           0
export const SOFTMAX_ROWS: i32 = offsetof<SoftmaxParams>('rows'); //     4
export const SOFTMAX_COLS: i32 = offsetof<SoftmaxParams>('cols'); //     8
export const SOFTMAX_STRIDE: i32 = offsetof<SoftmaxParams>('stride'); // 12
export const SOFTMAX_PARAMS_BYTES: i32 = offsetof<SoftmaxParams>(); //   16

/** Softmax of each row in place; fields: x (rows, cols), row stride `stride` elements. */
export function f32_softmax_rows(params: usize): void {
  const par = changetype<SoftmaxParams>(params);
  const x = par.x;
  const rows = par.rows;
  const cols = par.cols;
  const stride = par.stride;
  const cols4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = x + ((<usize>r * <usize>stride) << 2);
    let vmax = negInf4();
    let c = 0;
    for (; c < cols4; c += 4) vmax = f32x4.pmax(vmax, v128.load(row + (<usize>c << 2)));
    let m = hmax(vmax);
    for (; c < cols; c++) m = max(m, load<f32>(row + (<usize>c << 2)));
    if (m == -Infinity) {
      memory.fill(row, 0, <usize>cols << 2);
      continue;
    }
    const mv = f32x4.splat(m);
    let vsum = zero4();
    c = 0;
    for (; c < cols4; c += 4) {
      const p = row + (<usize>c << 2);
      const e = exp_f32x4(f32x4.sub(v128.load(p), mv));
      v128.store(p, e);
      vsum = f32x4.add(vsum, e);
    }
    let sum = hsum(vsum);
    for (; c < cols; c++) {
      const p = row + (<usize>c << 2);
      const e = exp_f32(load<f32>(p) - m);
      store<f32>(p, e);
      sum += e;
    }
    const inv = f32x4.splat(<f32>1 / sum);
    const invS: f32 = <f32>1 / sum;
    c = 0;
    for (; c < cols4; c += 4) {
      const p = row + (<usize>c << 2);
      v128.store(p, f32x4.mul(v128.load(p), inv));
    }
    for (; c < cols; c++) {
      const p = row + (<usize>c << 2);
      store<f32>(p, load<f32>(p) * invS);
    }
  }
}

/** y[i] = exp(x[i]) for i < n, through exp_f32x4 (exposed for accuracy tests). */
export function f32_exp(x: usize, y: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), exp_f32x4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), exp_f32(load<f32>(x + (<usize>i << 2))));
}
