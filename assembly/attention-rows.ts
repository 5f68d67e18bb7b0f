// attention-rows.ts — the fused kernel's row path (f32_attn_online with nq < 4: decoding).
//
// What:    one query row at a time against K and V read in place (no packing): the scores of
//          the visible range [lo, hi) go to a workspace row, then softcap, bias, mask, max, exp
//          and sum (attention-tile.ts's row steps), then o = Σ p_j·v_j / Σ p_j, skipping
//          exact-zero p (so masked NaN/∞ in V cannot leak), and the log-sum-exp when asked.
// Shapes:  the parameter block of f32_attn_online (attention-params.ts); workspace nk + 4 floats
//          (within f32_attn_workspace_bytes).
// Tiling:  four keys per step (four dot products reduced by a transpose-add, hsum4); P·V in
//          blocks of ROW_PV_BLOCK keys whose V rows stay in L1 while each 32-column pass (8
//          accumulators) walks them; partial sums live in the output row.
// Error:   as the tile path: the dot products' f32 bound dh·ε·Σ|q·k|·scale, exp ≤ 2e-7
//          relative; ~1e-6 relative of a float64 evaluation for well-scaled inputs.
// Reference: M. Milakov, N. Gimelshein, "Online normalizer calculation for softmax" (2018).

import { AttnParams, rowHi, rowLo } from './attention-params';
import { expScoreRow, finishScoreRow, writeOutputRow } from './attention-tile';
import { dotRow, hsum4, madd, zero4 } from './simd';

/** Keys per block of the row path's P·V (their V rows stay in L1 across column passes). */
const ROW_PV_BLOCK: i32 = 64;

/** The row path for the block p (see the header). */
export function attnRows(p: AttnParams): void {
  // Fields into locals once, in field order (see attention-params.ts).
  const q = p.q;
  const qStride = p.qStride;
  const k = p.k;
  const kStride = p.kStride;
  const v = p.v;
  const vStride = p.vStride;
  const o = p.o;
  const oStride = p.oStride;
  const nq = p.nq;
  const nk = p.nk;
  const dh = p.dh;
  const dv = p.dv;
  const scale = p.scale;
  const softcap = p.softcap;
  const mask = p.mask;
  const maskStride = p.maskStride;
  const offset = p.offset;
  const left = p.left;
  const right = p.right;
  const keyLen = min(p.keyLen, nk);
  const srow = p.workspace; // (nk + 4) scores
  const rel = p.rel;
  const relStride = p.relStride;
  const relMax = p.relMax;
  const lse = p.lse;
  const kRowBytes = <usize>kStride << 2;
  const vRowBytes = <usize>vStride << 2;
  const scaleV = f32x4.splat(scale);
  const dh4 = dh & ~3;

  for (let i = 0; i < nq; i++) {
    const qRow = q + ((<usize>i * <usize>qStride) << 2);
    const oRow = o + ((<usize>i * <usize>oStride) << 2);
    const lo = rowLo(i, offset, left);
    const hi = rowHi(i, offset, right, keyLen);
    if (hi <= lo) {
      memory.fill(oRow, 0, <usize>dv << 2);
      if (lse) store<f32>(lse + (<usize>i << 2), -Infinity);
      continue;
    }
    const n = hi - lo;
    // Scores of keys lo .. hi-1 into srow[0 .. n), four keys at a time.
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const k0 = k + <usize>(lo + j) * kRowBytes;
      const k1 = k0 + kRowBytes;
      const k2 = k1 + kRowBytes;
      const k3 = k2 + kRowBytes;
      let a0 = zero4(), a1 = a0, a2 = a0, a3 = a0;
      for (let x = 0; x < dh4; x += 4) {
        const xo = <usize>x << 2;
        const qv = v128.load(qRow + xo);
        a0 = madd(qv, v128.load(k0 + xo), a0);
        a1 = madd(qv, v128.load(k1 + xo), a1);
        a2 = madd(qv, v128.load(k2 + xo), a2);
        a3 = madd(qv, v128.load(k3 + xo), a3);
      }
      let sv = hsum4(a0, a1, a2, a3);
      if (dh4 < dh) {
        let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
        for (let x = dh4; x < dh; x++) {
          const xo = <usize>x << 2;
          const qx = load<f32>(qRow + xo);
          t0 += qx * load<f32>(k0 + xo);
          t1 += qx * load<f32>(k1 + xo);
          t2 += qx * load<f32>(k2 + xo);
          t3 += qx * load<f32>(k3 + xo);
        }
        sv = f32x4.add(sv, f32x4(t0, t1, t2, t3));
      }
      v128.store(srow + (<usize>j << 2), f32x4.mul(sv, scaleV));
    }
    for (; j < n; j++) {
      store<f32>(srow + (<usize>j << 2), dotRow(qRow, k + <usize>(lo + j) * kRowBytes, dh) * scale);
    }
    // Softcap, bias, mask; then max. srow[c] is key lo + c, so shift the mask row by lo.
    const rowMax = finishScoreRow(
      srow, n, lo, lo, hi, false, softcap,
      rel ? rel + ((<usize>i * <usize>relStride) << 2) : 0, relMax, i + offset,
      mask ? mask + ((<usize>i * <usize>maskStride) << 2) : 0,
    );
    if (rowMax == -Infinity) {
      memory.fill(oRow, 0, <usize>dv << 2);
      if (lse) store<f32>(lse + (<usize>i << 2), -Infinity);
      continue;
    }
    const sum = expScoreRow(srow, n, rowMax);
    const inv: f32 = <f32>1 / sum;
    if (lse) store<f32>(lse + (<usize>i << 2), rowMax + Mathf.log(sum));
    // o = Σ p_j v_j / sum. Keys in blocks of ROW_PV_BLOCK so the block's V rows stay in L1 while
    // each 32-column pass (8 accumulators) walks them; partial sums live in the output row.
    memory.fill(oRow, 0, <usize>dv << 2);
    for (let jb = 0; jb < n; jb += ROW_PV_BLOCK) {
      const je = min(n, jb + ROW_PV_BLOCK);
      let x = 0;
      for (; x + 32 <= dv; x += 32) {
        const dst = oRow + (<usize>x << 2);
        let c0 = v128.load(dst), c1 = v128.load(dst, 16), c2 = v128.load(dst, 32), c3 = v128.load(dst, 48);
        let c4 = v128.load(dst, 64), c5 = v128.load(dst, 80), c6 = v128.load(dst, 96), c7 = v128.load(dst, 112);
        let vr = v + <usize>(lo + jb) * vRowBytes + (<usize>x << 2);
        for (let c = jb; c < je; c++) {
          const pj = load<f32>(srow + (<usize>c << 2));
          if (pj != 0) {
            const pv = f32x4.splat(pj);
            c0 = madd(pv, v128.load(vr), c0);
            c1 = madd(pv, v128.load(vr, 16), c1);
            c2 = madd(pv, v128.load(vr, 32), c2);
            c3 = madd(pv, v128.load(vr, 48), c3);
            c4 = madd(pv, v128.load(vr, 64), c4);
            c5 = madd(pv, v128.load(vr, 80), c5);
            c6 = madd(pv, v128.load(vr, 96), c6);
            c7 = madd(pv, v128.load(vr, 112), c7);
          }
          vr += vRowBytes;
        }
        v128.store(dst, c0); v128.store(dst, c1, 16); v128.store(dst, c2, 32); v128.store(dst, c3, 48);
        v128.store(dst, c4, 64); v128.store(dst, c5, 80); v128.store(dst, c6, 96); v128.store(dst, c7, 112);
      }
      for (; x + 4 <= dv; x += 4) {
        let c0 = v128.load(oRow + (<usize>x << 2));
        let vr = v + <usize>(lo + jb) * vRowBytes + (<usize>x << 2);
        for (let c = jb; c < je; c++) {
          const pj = load<f32>(srow + (<usize>c << 2));
          if (pj != 0) c0 = madd(f32x4.splat(pj), v128.load(vr), c0);
          vr += vRowBytes;
        }
        v128.store(oRow + (<usize>x << 2), c0);
      }
      for (; x < dv; x++) {
        let acc = load<f32>(oRow + (<usize>x << 2));
        let vr = v + <usize>(lo + jb) * vRowBytes + (<usize>x << 2);
        for (let c = jb; c < je; c++) {
          const pj = load<f32>(srow + (<usize>c << 2));
          if (pj != 0) acc += pj * load<f32>(vr);
          vr += vRowBytes;
        }
        store<f32>(oRow + (<usize>x << 2), acc);
      }
    }
    writeOutputRow(oRow, oRow, dv, inv);
  }
}
