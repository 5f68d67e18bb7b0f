// rope.spec.ts — f32_rope (assembly/rope.ts) against float64, SIMD128 build.
//
// Shapes:  rotary dims R ∈ {2, 6, 8, 10, 16, 18} (R/2 = 1, 3, 4, 5, 8, 9: vector body and scalar
//          tail of both the rotate-half and the interleaved loops), head size R or R + 3 (features
//          past R pass through), 3 heads with head stride = head size + {0, 1}, 5 rows with row
//          stride = heads·headStride + {0, 2}; cos/sin tables of 11 positions with row stride
//          R/2 + {0, 2}; each row's position drawn at random (repeats allowed).
// Inputs:  x uniform in [−4, 4); table angles uniform in [−π, π) (cos/sin in f32).
// Checks:  (a Tally, tester.ts) every rotated element within 2.01·2⁻²⁴·(|x1·cos| + |x2·sin|) of the float64 value of the
//          same formula on the same f32 inputs (two rounded products and one rounded add/sub);
//          features past R, padding between heads and rows, and the guards are bit-identical
//          (sentinel NaN there would also poison a rotated value if it were read); the tables
//          and positions are not modified. Worst err/tolerance is logged.

import {
  ROPE_COS, ROPE_DIM, ROPE_HEAD_STRIDE, ROPE_HEADS, ROPE_INTERLEAVED, ROPE_PARAMS_BYTES, ROPE_POSITIONS,
  ROPE_ROW_STRIDE, ROPE_ROWS, ROPE_SIN, ROPE_TABLE_STRIDE, ROPE_X, f32_rope,
} from '../rope';
import { Guarded, Rng, SENTINEL, paramBlock } from './helpers';
import { Tally } from './tester';

const DIMS: StaticArray<i32> = [2, 6, 8, 10, 16, 18];
const HEADS = 3;
const ROWS = 5;
const P = 11;

const tally = new Tally('f32_rope');

function runCase(R: i32, extra: i32, headPad: i32, rowPad: i32, tablePad: i32, interleaved: i32, rng: Rng): void {
  tally.begin();
  const D = R + extra;
  const half = R >> 1;
  const headStride = D + headPad;
  const rowStride = HEADS * headStride + rowPad;
  const tableStride = half + tablePad;
  const X = new Guarded(<usize>(ROWS * rowStride) << 2);
  const C = new Guarded(<usize>(P * tableStride) << 2);
  const S = new Guarded(<usize>(P * tableStride) << 2);
  const POS = new Guarded(<usize>ROWS << 2);
  for (let p = 0; p < P; p++) {
    for (let c = 0; c < half; c++) {
      const a = <f64>rng.uniform(-3.14159, 3.14159);
      store<f32>(C.ptr + ((<usize>(p * tableStride + c)) << 2), <f32>Math.cos(a));
      store<f32>(S.ptr + ((<usize>(p * tableStride + c)) << 2), <f32>Math.sin(a));
    }
  }
  for (let r = 0; r < ROWS; r++) store<i32>(POS.ptr + (<usize>r << 2), rng.below(P));
  for (let r = 0; r < ROWS; r++) {
    for (let h = 0; h < HEADS; h++) {
      for (let c = 0; c < D; c++) store<f32>(X.ptr + ((<usize>(r * rowStride + h * headStride + c)) << 2), rng.uniform(-4, 4));
    }
  }
  const before = new StaticArray<f32>(ROWS * rowStride);
  for (let i = 0; i < ROWS * rowStride; i++) unchecked(before[i] = load<f32>(X.ptr + (<usize>i << 2)));
  const hashes = [C.hash(), S.hash(), POS.hash()];

  const prm = paramBlock(ROPE_PARAMS_BYTES);
  store<u32>(prm.ptr + ROPE_X, <u32>X.ptr);
  store<i32>(prm.ptr + ROPE_ROWS, ROWS);
  store<i32>(prm.ptr + ROPE_ROW_STRIDE, rowStride);
  store<i32>(prm.ptr + ROPE_HEADS, HEADS);
  store<i32>(prm.ptr + ROPE_HEAD_STRIDE, headStride);
  store<i32>(prm.ptr + ROPE_DIM, R);
  store<i32>(prm.ptr + ROPE_INTERLEAVED, interleaved);
  store<u32>(prm.ptr + ROPE_COS, <u32>C.ptr);
  store<u32>(prm.ptr + ROPE_SIN, <u32>S.ptr);
  store<i32>(prm.ptr + ROPE_TABLE_STRIDE, tableStride);
  store<u32>(prm.ptr + ROPE_POSITIONS, <u32>POS.ptr);
  f32_rope(prm.ptr);

  const what = 'R=' + R.toString() + ' D=' + D.toString() + ' headPad=' + headPad.toString() + ' rowPad=' + rowPad.toString() +
    ' tablePad=' + tablePad.toString() + ' interleaved=' + interleaved.toString();
  for (let r = 0; r < ROWS; r++) {
    const t = load<i32>(POS.ptr + (<usize>r << 2));
    for (let h = 0; h < HEADS; h++) {
      const base = r * rowStride + h * headStride;
      for (let c = 0; c < half; c++) {
        const i1 = base + (interleaved ? 2 * c : c);
        const i2 = base + (interleaved ? 2 * c + 1 : c + half);
        const x1 = <f64>unchecked(before[i1]);
        const x2 = <f64>unchecked(before[i2]);
        const cs = <f64>load<f32>(C.ptr + ((<usize>(t * tableStride + c)) << 2));
        const sn = <f64>load<f32>(S.ptr + ((<usize>(t * tableStride + c)) << 2));
        const want1 = x1 * cs - x2 * sn;
        const want2 = x1 * sn + x2 * cs;
        const tol1 = 2.01 * 5.960464477539063e-8 * (Math.abs(x1 * cs) + Math.abs(x2 * sn)) + 1e-45;
        const tol2 = 2.01 * 5.960464477539063e-8 * (Math.abs(x1 * sn) + Math.abs(x2 * cs)) + 1e-45;
        const got1 = <f64>load<f32>(X.ptr + (<usize>i1 << 2));
        const got2 = <f64>load<f32>(X.ptr + (<usize>i2 << 2));
        tally.close(got1, want1, tol1, 0, 0, r, i1 - r * rowStride);
        tally.close(got2, want2, tol2, 0, 0, r, i2 - r * rowStride);
      }
      for (let c = R; c < D; c++) {
        const i = base + c;
        if (reinterpret<u32>(load<f32>(X.ptr + (<usize>i << 2))) != reinterpret<u32>(unchecked(before[i]))) tally.fail(what + ': feature ' + c.toString() + ' past R changed');
      }
    }
  }
  tally.endCase(what);
  // padding between heads/rows (never written: the buffer was filled with the sentinel there)
  for (let i = 0; i < ROWS * rowStride; i++) {
    const inHead = (i % rowStride) < HEADS * headStride && ((i % rowStride) % headStride) < D;
    if (!inHead && load<u32>(X.ptr + (<usize>i << 2)) != SENTINEL) tally.fail(what + ': padding word ' + i.toString() + ' written');
  }
  if (X.guardDamage() != 0) tally.fail(what + ': guard of x written');
  if (C.hash() != hashes[0] || S.hash() != hashes[1] || POS.hash() != hashes[2]) tally.fail(what + ': a table or the positions changed');
  X.free();
  C.free();
  S.free();
  POS.free();
  prm.free();
}

describe('f32_rope', () => {
  it('matches float64 for every tail, both pair layouts, strides and partial rotation', () => {
    const rng = new Rng(23);
    for (let d = 0; d < DIMS.length; d++) {
      for (let interleaved = 0; interleaved < 2; interleaved++) {
        for (let extra = 0; extra <= 3; extra += 3) {
          for (let headPad = 0; headPad < 2; headPad++) {
            runCase(DIMS[d], extra, headPad, headPad * 2, headPad * 2, interleaved, rng);
          }
        }
      }
    }
    tally.finish();
  });

  it('rotary dim 0 or no rows touch nothing', () => {
    const X = new Guarded(64);
    const prm = paramBlock(ROPE_PARAMS_BYTES);
    store<u32>(prm.ptr + ROPE_X, <u32>X.ptr);
    store<i32>(prm.ptr + ROPE_ROWS, 2);
    store<i32>(prm.ptr + ROPE_HEADS, 1);
    store<i32>(prm.ptr + ROPE_DIM, 0);
    const h = X.hash();
    f32_rope(prm.ptr);
    store<i32>(prm.ptr + ROPE_ROWS, 0);
    store<i32>(prm.ptr + ROPE_DIM, 8);
    f32_rope(prm.ptr);
    expect(X.hash()).toBe(h);
    X.free();
    prm.free();
  });
});
