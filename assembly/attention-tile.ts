// attention-tile.ts — the 4-row tile loop's steps, shared by every tile-path attention kernel
// (f32_attn_online, qs8_attn_online, the KV-cache kernels' prefill) and the row paths.
//
// What:    per score row: softcap cap·tanh(s/cap) (before the mask, as ONNX specifies), the
//          relative-position bias rel[i][clamp(j − p, −R, R) + R], the additive mask (−∞ removes
//          a key even when its score is NaN: select, not add), the visible range [lo, hi) → −∞,
//          then the row max (NaN when a visible score is NaN); exp(s − m) in place and its sum;
//          per tile: the key ranges of its four rows, the lazy online-softmax update (the
//          reference max moves only when a score exceeds it by more than ATTN_RESCALE_SLACK),
//          Acc += P·V on the 4×8 micro-kernel (zero-skipping when V holds NaN/±∞), and the
//          normalized output rows with their log-sum-exp.
// Shapes:  a tile's score rows are (4, ATTN_BC) at st, row stride stRow bytes; its accumulator
//          rows (4, dvp) at accTile, row stride accRow bytes; m[ATTN_QB] then l[ATTN_QB] at ml.
// Tiling:  score rows four columns per step (eight in plain interior tiles: two max chains);
//          P·V 8 output columns per micro-kernel call.
// Error:   exp_nonpos_f32x4 ≤ 2e-7 relative; tanh_f32x4 ≤ 3e-7 absolute; the rest is f32
//          arithmetic in a fixed order (bit-identical in both binaries but for madd).
// Reference: T. Dao et al., "FlashAttention" (2022), Algorithm 1; M. Milakov, N. Gimelshein,
//          "Online normalizer calculation for softmax" (2018); ONNX Attention (opset 23–25).

import { ATTN_RESCALE_SLACK, rowHi, rowLo } from './attention-params';
import { ukernel4x8, ukernel4x8ZeroSkip } from './gemm';
import { exp_f32, exp_nonpos_f32x4, hmax, hsum, negInf4, tanh_f32x4, zero4 } from './simd';

/**
 * Additive relative-position bias for keys j0 .. j0+3 of a query at position `pos`:
 * rel[clamp(j − pos, −relMax, relMax) + relMax]. Vector load when all four are inside the table.
 * rel: usize // (2·relMax + 1) the query's row of the table
 */
// @ts-ignore: decorator
@inline function relBias4(rel: usize, relMax: i32, j0: i32, pos: i32): v128 {
  const d = j0 - pos;
  if (d >= -relMax && d + 3 <= relMax) return v128.load(rel + (<usize>(d + relMax) << 2));
  let out = f32x4.splat(load<f32>(rel + (<usize>(min(max(d, -relMax), relMax) + relMax) << 2)));
  out = f32x4.replace_lane(out, 1, load<f32>(rel + (<usize>(min(max(d + 1, -relMax), relMax) + relMax) << 2)));
  out = f32x4.replace_lane(out, 2, load<f32>(rel + (<usize>(min(max(d + 2, -relMax), relMax) + relMax) << 2)));
  out = f32x4.replace_lane(out, 3, load<f32>(rel + (<usize>(min(max(d + 3, -relMax), relMax) + relMax) << 2)));
  return out;
}

/**
 * Scores of one tile row after softcap, relative bias, mask and range, written back in place;
 * returns their max, or NaN when a visible score is NaN (so the row's output is NaN, as in the
 * float64 definition, instead of pmax silently dropping it). Columns outside [lo, hi) (and past
 * ncols in the last chunk) become −∞.
 * s: usize // (ncols) rounded up to 4, the row of the score tile; s[c] is key j0 + c
 * rel: usize // (2·relMax + 1) the query's row of the relative table, 0 = none
 * maskRow: usize // (nk) the query's additive mask row, 0 = none
 */
// @ts-ignore: decorator
@inline export function finishScoreRow(
  s: usize, ncols: i32, j0: i32, lo: i32, hi: i32, needRange: bool,
  softcap: f32, rel: usize, relMax: i32, pos: i32, maskRow: usize,
): f32 {
  const nInf = negInf4();
  let vmax = nInf;
  let nan = zero4();
  const capV = f32x4.splat(softcap);
  const invCapV = f32x4.splat(softcap > 0 ? <f32>1 / softcap : <f32>0);
  const loV = i32x4.splat(lo);
  const hiV = i32x4.splat(min(hi, j0 + ncols));
  let jv = i32x4.add(i32x4.splat(j0), i32x4(0, 1, 2, 3));
  const four = i32x4.splat(4);
  const lastFull = ncols & ~3;
  for (let c = 0; c < ncols; c += 4) {
    const p = s + (<usize>c << 2);
    let sv = v128.load(p);
    if (softcap > 0) sv = f32x4.mul(capV, tanh_f32x4(f32x4.mul(sv, invCapV)));
    if (rel) sv = f32x4.add(sv, relBias4(rel, relMax, j0 + c, pos));
    if (maskRow) {
      const mv = v128.load(maskRow + (<usize>(j0 + c) << 2));
      sv = v128.bitselect(nInf, f32x4.add(sv, mv), f32x4.eq(mv, nInf));
    }
    const ranged = needRange || c >= lastFull;
    if (ranged) {
      const valid = v128.and(i32x4.ge_s(jv, loV), i32x4.lt_s(jv, hiV));
      sv = v128.bitselect(sv, nInf, valid);
    }
    if (ranged || softcap > 0 || rel || maskRow) v128.store(p, sv);
    vmax = f32x4.pmax(vmax, sv);
    nan = v128.or(nan, f32x4.ne(sv, sv));
    jv = i32x4.add(jv, four);
  }
  return v128.any_true(nan) ? NaN : hmax(vmax);
}

/**
 * Max of one score row that needs no softcap, bias, mask or range (the common interior tile):
 * NaN when a score is NaN, like finishScoreRow. Two max chains, eight scores per step.
 * s: usize // (ncols) the row of the score tile, ncols a multiple of 8
 */
// @ts-ignore: decorator
@inline export function plainScoreRowMax(s: usize, ncols: i32): f32 {
  let max0 = negInf4();
  let max1 = max0;
  let nan = v128.xor(max0, max0);
  const end = s + (<usize>ncols << 2);
  for (let p = s; p < end; p += 32) {
    const a = v128.load(p);
    const b = v128.load(p, 16);
    max0 = f32x4.pmax(max0, a);
    max1 = f32x4.pmax(max1, b);
    nan = v128.or(nan, v128.or(f32x4.ne(a, a), f32x4.ne(b, b)));
  }
  return v128.any_true(nan) ? NaN : hmax(f32x4.pmax(max0, max1));
}

/**
 * Turns one score row into exp(s − m) in place and returns the sum.
 */
// @ts-ignore: decorator
@inline export function expScoreRow(s: usize, ncols: i32, m: f32): f32 {
  const mv = f32x4.splat(m);
  let sum = zero4();
  let c = 0;
  if ((ncols & 7) == 0) {
    let sum1 = sum;
    for (; c < ncols; c += 8) {
      const p = s + (<usize>c << 2);
      const e0 = exp_nonpos_f32x4(f32x4.sub(v128.load(p), mv));
      const e1 = exp_nonpos_f32x4(f32x4.sub(v128.load(p, 16), mv));
      v128.store(p, e0);
      v128.store(p, e1, 16);
      sum = f32x4.add(sum, e0);
      sum1 = f32x4.add(sum1, e1);
    }
    sum = f32x4.add(sum, sum1);
  }
  for (; c < ncols; c += 4) {
    const p = s + (<usize>c << 2);
    const e = exp_nonpos_f32x4(f32x4.sub(v128.load(p), mv));
    v128.store(p, e);
    sum = f32x4.add(sum, e);
  }
  return hsum(sum);
}

/** Multiplies dvp floats at `row` by `alpha`. */
// @ts-ignore: decorator
@inline export function scaleRow(row: usize, dvp: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  for (let x = 0; x < dvp; x += 4) {
    const p = row + (<usize>x << 2);
    v128.store(p, f32x4.mul(v128.load(p), av));
  }
}

/** dst[0..dv) = src[0..dv) · inv. */
// @ts-ignore: decorator
@inline export function writeOutputRow(src: usize, dst: usize, dv: i32, inv: f32): void {
  const invV = f32x4.splat(inv);
  const dv4 = dv & ~3;
  let x = 0;
  for (; x < dv4; x += 4) {
    v128.store(dst + (<usize>x << 2), f32x4.mul(v128.load(src + (<usize>x << 2)), invV));
  }
  for (; x < dv; x++) store<f32>(dst + (<usize>x << 2), load<f32>(src + (<usize>x << 2)) * inv);
}

/**
 * Starts a 4-row tile (rows i0 .. i0 + 3 of which `rows` are real; the others repeat the last):
 * its rows' state m = −∞, l = 0 (at mlTile and mlTile + lRows) and its key ranges at rg (four
 * i32): blo, bhi (the union of the rows' ranges, empty rows left out; blo ≥ bhi when no row sees
 * a key), maxLo, minHi (the keys every row sees lie in [maxLo, minHi)).
 */
// @ts-ignore: decorator
@inline export function startTile(
  offset: i32, left: i32, right: i32, keyLen: i32, i0: i32, rows: i32, mlTile: usize, lRows: usize, rg: usize,
): void {
  let blo = keyLen, bhi = 0, maxLo = 0, minHi = keyLen;
  for (let r = 0; r < 4; r++) {
    const i = i0 + min(r, rows - 1);
    const lo = rowLo(i, offset, left);
    const hi = rowHi(i, offset, right, keyLen);
    if (hi > lo) {
      blo = min(blo, lo);
      bhi = max(bhi, hi);
    }
    maxLo = max(maxLo, lo);
    minHi = min(minHi, hi);
    const row = <usize>r << 2;
    store<f32>(mlTile + row, -Infinity);
    store<f32>(mlTile + lRows + row, 0);
  }
  store<i32>(rg, blo);
  store<i32>(rg, bhi, 4);
  store<i32>(rg, maxLo, 8);
  store<i32>(rg, minHi, 12);
}

/**
 * The online-softmax step of a tile over its part tj0 .. tj0 + ncols of a key tile, the scores
 * already in its four rows at st: finishes each row (or takes the plain max: plainTile), moves
 * the reference max lazily (rescaling l and the accumulator row), and leaves exp(s − m) in the
 * rows for P·V. interior: every key of the part is visible to all four rows.
 */
// @ts-ignore: decorator
@inline export function softmaxTile(
  st: usize, stRow: usize, ncols: i32, tj0: i32, i0: i32, rows: i32,
  interior: bool, plainTile: bool, mlTile: usize, lRows: usize, accTile: usize, accRow: usize, dvp: i32,
  offset: i32, left: i32, right: i32, keyLen: i32, softcap: f32,
  rel: usize, relStride: i32, relMax: i32, mask: usize, maskStride: i32,
): void {
  for (let r = 0; r < 4; r++) {
    const i = i0 + min(r, rows - 1);
    const sRow = st + <usize>r * stRow;
    const mAt = mlTile + (<usize>r << 2);
    const tileMax = plainTile
      ? plainScoreRowMax(sRow, ncols)
      : finishScoreRow(
        sRow, ncols, tj0, rowLo(i, offset, left), rowHi(i, offset, right, keyLen), !interior, softcap,
        rel ? rel + ((<usize>i * <usize>relStride) << 2) : 0, relMax, i + offset,
        mask ? mask + ((<usize>i * <usize>maskStride) << 2) : 0,
      );
    // Lazy rescaling: the reference max moves only when a score exceeds it by more than
    // ATTN_RESCALE_SLACK (probabilities up to e^slack stay far from overflow), so most
    // tiles skip the rescale of l and the accumulator row. NaN is taken up and sticks.
    const mOld = load<f32>(mAt);
    const mNew = tileMax > mOld + ATTN_RESCALE_SLACK || tileMax != tileMax ? tileMax : mOld;
    if (mNew == -Infinity) {
      // Nothing visible yet in this row: its probabilities for this part are exact zeros.
      memory.fill(sRow, 0, <usize>((ncols + 3) & ~3) << 2);
      continue;
    }
    const tileSum = expScoreRow(sRow, ncols, mNew);
    const lOld = load<f32>(mAt + lRows);
    if (mNew != mOld) {
      const alpha = exp_f32(mOld - mNew);
      store<f32>(mAt, mNew);
      store<f32>(mAt + lRows, lOld * alpha + tileSum);
      scaleRow(accTile + <usize>r * accRow, dvp, alpha);
    } else {
      store<f32>(mAt + lRows, lOld + tileSum);
    }
  }
}

/** Acc += P · V for a tile's part: ncols keys, V rows at vTile (dvp columns), 8 columns at a time. */
// @ts-ignore: decorator
@inline export function pvTile(st: usize, stRow: usize, vTile: usize, ncols: i32, accTile: usize, accRow: usize, dvp: i32, vNonFinite: i32): void {
  for (let x = 0; x < dvp; x += 8) {
    if (vNonFinite) {
      ukernel4x8ZeroSkip(st, stRow, vTile + (<usize>x << 2), accRow, ncols, accTile + (<usize>x << 2), accRow, 1);
    } else {
      ukernel4x8(st, stRow, vTile + (<usize>x << 2), accRow, ncols, accTile + (<usize>x << 2), accRow, 1);
    }
  }
}

/**
 * Normalizes and writes the sRows real rows of the super-block at query row s0 (and their
 * log-sum-exp when asked); a row that saw no key has l = 0 and writes zeros (lse −∞).
 */
// @ts-ignore: decorator
@inline export function writeSuperBlock(
  s0: i32, sRows: i32, acc: usize, accRow: usize, ml: usize, lRows: usize, o: usize, oStride: i32, dv: i32, lse: usize,
): void {
  for (let r = 0; r < sRows; r++) {
    const mAt = ml + (<usize>r << 2);
    const l = load<f32>(mAt + lRows);
    writeOutputRow(acc + <usize>r * accRow, o + ((<usize>(s0 + r) * <usize>oStride) << 2), dv, l > 0 ? <f32>1 / l : 0);
    if (lse) store<f32>(lse + (<usize>(s0 + r) << 2), l > 0 ? load<f32>(mAt) + Mathf.log(l) : -Infinity);
  }
}
