// sage.ts — 8-bit attention (SageAttention): Q·Kᵀ in int8 with int32 accumulation, softmax and
// P·V in f32, for one (batch, head) pair.
//
// What:    O = softmax(cap(S) + M) · V with S ≈ scale·Q·Kᵀ computed from 8-bit codes:
//            μ        = mean of K's rows over the keys j < keyLen            (f32, "smoothing")
//            K̃        = K − μ;  Q̃ = scale·Q
//            K block  b (keys [64b, 64b + 64), the tile loop's key tiles): sk_b = max|K̃| / 127,
//                     kc[j] = nearest(K̃[j] · 127 / max|K̃|) ∈ [−127, 127]  (keys ≥ keyLen: 0)
//            Q tile   t (rows [4t, 4t + 4)): sq_t = max|Q̃| / 127, qc[i] = nearest(Q̃[i] · 127 / max|Q̃|)
//            S[i][j]  = f32(Σₓ qc[i][x]·kc[j][x]) · (sq_t · sk_b) + Q̃[i]·μ
//          Softmax is unchanged by adding a per-row constant, so smoothing alone would let Q̃·μ be
//          dropped (SageAttention does); it is added back here (one f32 dot per query row) so
//          softcap, relative bias and the log-sum-exp output see the true scores. Smoothing
//          matters for accuracy: keys with large per-channel offsets (outlier channels) would
//          otherwise set sk_b and leave few codes for the part that varies between keys.
//          Everything after S — softcap, relative bias, mask, causal/window ranges, key lengths,
//          lazy online softmax, P·V, log-sum-exp — is attention-tile.ts's code,
//          in the same tile loop, so every option of f32_attn_online works the same way.
// Shapes:  the parameter block of f32_attn_online (ATTN_*, attention-params.ts), same meaning; the
//          workspace is qs8_attn_workspace_bytes(nk, dh, dv) bytes.
// Tiling:  K codes are packed once per call as i16 into 8-key panels of dimension pairs
//          (⌈nk/8⌉, ⌈dh/2⌉, 8 keys × 2 dims): a 4×8 score block takes, per pair of dimensions,
//          one 32-bit splat of each query row's pair and two 16-byte loads of the panel, and
//          i32x4.dot_i16x8_s gives four keys' partial dot products per instruction (8 dots + 8
//          adds per 64 multiply-adds). Both binaries run this same integer path (Node 20's
//          Liftoff miscomputes i32x4.relaxed_dot_i8x16_i7x16_add_s). Query codes of a 64-row
//          super-block are made once; the key-tile walk, P·V (4×8 f32 micro-kernel over packed V)
//          and the output are those of attention-tile.ts.
// Error:   the integer dot product is exact (|Σ| ≤ 127²·dh < 2³¹); f32(Σ) is exact for dh ≤ 1040;
//          then two f32 roundings and the f32 Q̃·μ. Against exact float scores each S[i][j] is off
//          by at most (sq_t/2)·Σ|K̃[j]| + (sk_b/2)·Σ|Q̃[i]| (+ their product), the quantization's;
//          measured cosine similarity of the output to float32 attention ≥ 0.9999 on Gaussian
//          data with and without outlier key channels (test/attention/sage.test.ts).
// Non-finite Q or K: a NaN or ±∞ in Q makes its tile's rows NaN; in K (keys < keyLen) every row
//          that sees any key is NaN (μ carries it). V is handled as in f32_attn_online.
// Reference: J. Zhang et al., "SageAttention: Accurate 8-Bit Attention for Plug-and-play
//          Inference Acceleration" (ICLR 2025), Algorithm 1 (smooth K, per-block INT8 Q and K).

import { ATTN_BC, ATTN_QB, align16, attnParams } from './attention-params';
import { packValueRows } from './attention-pack';
import { pvTile, softmaxTile, startTile, writeSuperBlock } from './attention-tile';
import { hsum } from './simd';

/** Keys per K quantization block: the key tiles of the walk (so one scale per tile). */
export const SAGE_KEY_BLOCK: i32 = ATTN_BC;

/** Bytes of workspace qs8_attn_online needs for these sizes. */
export function qs8_attn_workspace_bytes(nk: i32, dh: i32, dv: i32): usize {
  const dhp = <usize>((dh + 1) & ~1);
  const dvp = <usize>((dv + 7) & ~7);
  const panels = <usize>((nk + 7) >> 3);
  const rows = <usize>ATTN_QB;
  return align16(panels * dhp * 16) //            i16 key-code panels
    + align16(<usize>nk * dvp * 4) //              packed V rows
    + align16(rows * dhp * 2) //                   i16 query codes of a super-block
    + <usize>ATTN_BC * 16 //                       4 score rows
    + rows * dvp * 4 //                            output accumulator rows of a super-block
    + rows * 8 //                                  m and l per row
    + (rows >> 2) * 16 //                          key range per 4-row tile
    + align16(rows * 4 + (rows >> 2) * 4) //       Q̃·μ per row, sq per tile
    + align16(<usize>((nk + SAGE_KEY_BLOCK - 1) / SAGE_KEY_BLOCK) * 4) // sk per key block
    + align16(<usize>dh * 4); //                   μ
}

// @ts-ignore: decorator
@inline function absMax4(v: v128, m: v128): v128 {
  return f32x4.max(m, f32x4.abs(v)); // max, not pmax: NaN sticks
}

/** Eight codes nearest(x · inv) of f32 lanes a, b as i16x8 (|x · inv| ≤ 127 by construction). */
// @ts-ignore: decorator
@inline function codes8(a: v128, b: v128, inv: v128): v128 {
  return i16x8.narrow_i32x4_s(
    i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(a, inv))),
    i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(b, inv))),
  );
}

// @ts-ignore: decorator
@inline function code1(x: f32, inv: f32): i32 {
  return <i32>nearest(x * inv);
}

/** 127 / amax, or 0 when amax is 0 (all codes 0); NaN/∞ give NaN. */
// @ts-ignore: decorator
@inline function invScale(amax: f32): f32 {
  return amax > 0 && amax < Infinity ? <f32>127 / amax : amax == 0 ? <f32>0 : <f32>NaN;
}

/** μ = mean of rows 0 .. keyLen−1 of K (zeros when keyLen = 0). */
function keyMean(k: usize, kStride: i32, keyLen: i32, dh: i32, mean: usize): void {
  memory.fill(mean, 0, <usize>dh << 2);
  if (keyLen <= 0) return;
  const dh4 = dh & ~3;
  for (let j = 0; j < keyLen; j++) {
    const row = k + ((<usize>j * <usize>kStride) << 2);
    let x = 0;
    for (; x < dh4; x += 4) {
      const p = mean + (<usize>x << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(row + (<usize>x << 2))));
    }
    for (; x < dh; x++) store<f32>(mean + (<usize>x << 2), load<f32>(mean + (<usize>x << 2)) + load<f32>(row + (<usize>x << 2)));
  }
  const inv: f32 = <f32>1 / <f32>keyLen;
  for (let x = 0; x < dh; x++) store<f32>(mean + (<usize>x << 2), load<f32>(mean + (<usize>x << 2)) * inv);
}

/**
 * Quantizes K − μ per block of SAGE_KEY_BLOCK keys into i16 panels (see the header) and the
 * block scales sk. Keys ≥ keyLen (padding, never visible) get code 0 and do not set the scale.
 */
function packKeyCodes(k: usize, kStride: i32, nk: i32, keyLen: i32, dh: i32, mean: usize, kp: usize, sk: usize): void {
  const pairs = (dh + 1) >> 1;
  const panelBytes = <usize>pairs * 32;
  const panels = (nk + 7) >> 3;
  memory.fill(kp, 0, <usize>panels * panelBytes);
  const dh4 = dh & ~3;
  const dh8 = dh & ~7;
  for (let b0 = 0; b0 < nk; b0 += SAGE_KEY_BLOCK) {
    const b1 = min(min(nk, keyLen), b0 + SAGE_KEY_BLOCK);
    let mv = f32x4.splat(0);
    let m: f32 = 0;
    for (let j = b0; j < b1; j++) {
      const row = k + ((<usize>j * <usize>kStride) << 2);
      let x = 0;
      for (; x < dh4; x += 4) mv = absMax4(f32x4.sub(v128.load(row + (<usize>x << 2)), v128.load(mean + (<usize>x << 2))), mv);
      for (; x < dh; x++) {
        const d = Mathf.abs(load<f32>(row + (<usize>x << 2)) - load<f32>(mean + (<usize>x << 2)));
        m = d != d || d > m ? d : m;
      }
    }
    const l0 = f32x4.extract_lane(mv, 0), l1 = f32x4.extract_lane(mv, 1);
    const l2 = f32x4.extract_lane(mv, 2), l3 = f32x4.extract_lane(mv, 3);
    const amax = l0 != l0 || l1 != l1 || l2 != l2 || l3 != l3 || m != m ? <f32>NaN : max(max(max(l0, l1), max(l2, l3)), m);
    store<f32>(sk + (<usize>(b0 / SAGE_KEY_BLOCK) << 2), amax / <f32>127);
    const inv = invScale(amax);
    const invV = f32x4.splat(inv);
    for (let j = b0; j < b1; j++) {
      const row = k + ((<usize>j * <usize>kStride) << 2);
      // Key j is column c of panel j/8: pair g of it sits at panel + g·32 + c·4.
      const col = kp + <usize>(j >> 3) * panelBytes + (<usize>(j & 7) << 2);
      let x = 0;
      for (; x < dh8; x += 8) {
        const xo = <usize>x << 2;
        const c = codes8(
          f32x4.sub(v128.load(row + xo), v128.load(mean + xo)),
          f32x4.sub(v128.load(row + xo, 16), v128.load(mean + xo, 16)), invV,
        );
        const out = col + (<usize>x << 4); // pair x/2 → (x/2)·32 bytes
        store<i32>(out, i32x4.extract_lane(c, 0));
        store<i32>(out, i32x4.extract_lane(c, 1), 32);
        store<i32>(out, i32x4.extract_lane(c, 2), 64);
        store<i32>(out, i32x4.extract_lane(c, 3), 96);
      }
      for (; x < dh; x++) {
        const v = load<f32>(row + (<usize>x << 2)) - load<f32>(mean + (<usize>x << 2));
        store<i16>(col + (<usize>(x >> 1) << 5) + (<usize>(x & 1) << 1), <i16>code1(v, inv));
      }
    }
  }
}

/**
 * S (4 × 8·panels, row stride stRow bytes) = f32(qc · kcᵀ) · sc + qm[r], one 4×8 block per panel.
 * qc: usize // (4, dhp) i16 query codes;  kp: usize // the first panel;  qm: usize // (4) f32
 */
// @ts-ignore: decorator
@inline function scoreTile(qc: usize, dhp: i32, kp: usize, panels: i32, sc: f32, qm: usize, st: usize, stRow: usize): void {
  const pairs = dhp >> 1;
  const qRow = <usize>dhp << 1;
  const scV = f32x4.splat(sc);
  const m0 = f32x4.splat(load<f32>(qm)), m1 = f32x4.splat(load<f32>(qm, 4));
  const m2 = f32x4.splat(load<f32>(qm, 8)), m3 = f32x4.splat(load<f32>(qm, 12));
  const panelBytes = <usize>pairs * 32;
  for (let p = 0; p < panels; p++) {
    let b = kp + <usize>p * panelBytes;
    const a = qc;
    const zero = i32x4.splat(0);
    let c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
    const a1 = a + qRow, a2 = a1 + qRow, a3 = a2 + qRow;
    for (let g = 0; g < pairs; g++) {
      const go = <usize>g << 2;
      const k0 = v128.load(b);
      const k1 = v128.load(b, 16);
      let av = v128.load32_splat(a + go);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(av, k0));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(av, k1));
      av = v128.load32_splat(a1 + go);
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(av, k0));
      c11 = i32x4.add(c11, i32x4.dot_i16x8_s(av, k1));
      av = v128.load32_splat(a2 + go);
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(av, k0));
      c21 = i32x4.add(c21, i32x4.dot_i16x8_s(av, k1));
      av = v128.load32_splat(a3 + go);
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(av, k0));
      c31 = i32x4.add(c31, i32x4.dot_i16x8_s(av, k1));
      b += 32;
    }
    const s = st + (<usize>p << 5);
    v128.store(s, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c00), scV), m0));
    v128.store(s, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c01), scV), m0), 16);
    v128.store(s + stRow, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c10), scV), m1));
    v128.store(s + stRow, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c11), scV), m1), 16);
    v128.store(s + 2 * stRow, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c20), scV), m2));
    v128.store(s + 2 * stRow, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c21), scV), m2), 16);
    v128.store(s + 3 * stRow, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c30), scV), m3));
    v128.store(s + 3 * stRow, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(c31), scV), m3), 16);
  }
}

/**
 * Quantizes the 4 query rows of a tile (rows i0 + min(r, rows − 1)) of Q̃ = scale·Q into i16
 * codes (dhp columns, zero-padded), returns sq and writes Q̃[i]·μ per row to qm.
 */
function quantizeQueryTile(
  q: usize, qStride: i32, i0: i32, rows: i32, dh: i32, scale: f32, mean: usize, qc: usize, qm: usize,
): f32 {
  const dh4 = dh & ~3;
  const dh8 = dh & ~7;
  const dhp = (dh + 1) & ~1;
  let mv = f32x4.splat(0);
  let m: f32 = 0;
  for (let r = 0; r < rows; r++) {
    const src = q + ((<usize>(i0 + r) * <usize>qStride) << 2);
    let x = 0;
    for (; x < dh4; x += 4) mv = absMax4(v128.load(src + (<usize>x << 2)), mv);
    for (; x < dh; x++) {
      const d = Mathf.abs(load<f32>(src + (<usize>x << 2)));
      m = d != d || d > m ? d : m;
    }
  }
  const l0 = f32x4.extract_lane(mv, 0), l1 = f32x4.extract_lane(mv, 1);
  const l2 = f32x4.extract_lane(mv, 2), l3 = f32x4.extract_lane(mv, 3);
  const amaxQ = l0 != l0 || l1 != l1 || l2 != l2 || l3 != l3 || m != m ? <f32>NaN : max(max(max(l0, l1), max(l2, l3)), m);
  // max|fround(q·scale)| = fround(max|q|·|scale|): rounding is monotonic.
  const amax = amaxQ * Mathf.abs(scale);
  const inv = invScale(amax);
  const invV = f32x4.splat(inv);
  const scaleV = f32x4.splat(scale);
  for (let r = 0; r < 4; r++) {
    const src = q + ((<usize>(i0 + min(r, rows - 1)) * <usize>qStride) << 2);
    const dst = qc + ((<usize>r * <usize>dhp) << 1);
    let x = 0;
    let dotV = f32x4.splat(0);
    for (; x < dh8; x += 8) {
      const a = f32x4.mul(v128.load(src + (<usize>x << 2)), scaleV);
      const b = f32x4.mul(v128.load(src + (<usize>x << 2), 16), scaleV);
      dotV = f32x4.add(dotV, f32x4.add(f32x4.mul(a, v128.load(mean + (<usize>x << 2))), f32x4.mul(b, v128.load(mean + (<usize>x << 2), 16))));
      v128.store(dst + (<usize>x << 1), codes8(a, b, invV));
    }
    let dotS = hsum(dotV);
    for (; x < dh; x++) {
      const v = load<f32>(src + (<usize>x << 2)) * scale;
      dotS += v * load<f32>(mean + (<usize>x << 2));
      store<i16>(dst + (<usize>x << 1), <i16>code1(v, inv));
    }
    if (dh < dhp) store<i16>(dst + (<usize>dh << 1), 0);
    store<f32>(qm + (<usize>r << 2), dotS);
  }
  return amax / <f32>127;
}

/**
 * 8-bit attention for one (batch, head), driven by f32_attn_online's parameter block (see the
 * header); the workspace must hold qs8_attn_workspace_bytes(nk, dh, dv) bytes.
 * params: usize // ATTN_PARAMS_BYTES bytes
 */
export function qs8_attn_online(params: usize): void {
  const p = attnParams(params);
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
  const keyLen = max(0, min(p.keyLen, nk));
  const ws = p.workspace;
  const rel = p.rel;
  const relStride = p.relStride;
  const relMax = p.relMax;
  const lse = p.lse;
  if (nq <= 0) return;

  const dhp = (dh + 1) & ~1;
  const dvp = (dv + 7) & ~7;
  const panelBytes = <usize>(dhp >> 1) * 32;
  const kp = ws; //                                                  (⌈nk/8⌉, dhp/2, 8, 2) i16
  const vp = kp + align16(<usize>((nk + 7) >> 3) * panelBytes); //   (nk, dvp)
  const qc = vp + align16(<usize>nk * <usize>dvp * 4); //            (ATTN_QB, dhp) i16
  const st = qc + align16(<usize>ATTN_QB * <usize>dhp * 2); //       (4, ATTN_BC)
  const acc = st + <usize>ATTN_BC * 16; //                           (ATTN_QB, dvp)
  const ml = acc + <usize>ATTN_QB * <usize>dvp * 4; //               m[ATTN_QB], l[ATTN_QB]
  const ranges = ml + <usize>ATTN_QB * 8; //                         (ATTN_QB / 4, 4) i32
  const qm = ranges + <usize>(ATTN_QB >> 2) * 16; //                 Q̃·μ per row
  const sq = qm + <usize>ATTN_QB * 4; //                             sq per tile
  const sk = qm + align16(<usize>ATTN_QB * 4 + <usize>(ATTN_QB >> 2) * 4); // sk per key block
  const mean = sk + align16(<usize>((nk + SAGE_KEY_BLOCK - 1) / SAGE_KEY_BLOCK) * 4); // μ (dh)
  const stRow: usize = <usize>ATTN_BC << 2;
  const accRow: usize = <usize>dvp << 2;
  const qcTile: usize = <usize>dhp << 3; //                          bytes of 4 query code rows
  const lRows: usize = <usize>ATTN_QB << 2;

  keyMean(k, kStride, keyLen, dh, mean);
  packKeyCodes(k, kStride, nk, keyLen, dh, mean, kp, sk);
  const vNonFinite = packValueRows(v, vStride, nk, dv, dvp, vp);
  const plainScores = softcap <= 0 && rel == 0 && mask == 0;

  for (let s0 = 0; s0 < nq; s0 += ATTN_QB) {
    const sRows = min(ATTN_QB, nq - s0);
    const tiles = (sRows + 3) >> 2;
    let sblo = keyLen, sbhi = 0;
    for (let t = 0; t < tiles; t++) {
      const i0 = s0 + (t << 2);
      const rows = min(4, nq - i0);
      store<f32>(sq + (<usize>t << 2), quantizeQueryTile(
        q, qStride, i0, rows, dh, scale, mean, qc + <usize>t * qcTile, qm + (<usize>t << 4),
      ));
      const rg = ranges + (<usize>t << 4);
      startTile(offset, left, right, keyLen, i0, rows, ml + (<usize>t << 4), lRows, rg);
      const blo = load<i32>(rg);
      const bhi = load<i32>(rg, 4);
      if (bhi > blo) {
        sblo = min(sblo, blo);
        sbhi = max(sbhi, bhi);
      }
    }
    memory.fill(acc, 0, accRow * <usize>(tiles << 2));

    for (let j0 = (sblo / ATTN_BC) * ATTN_BC; j0 < sbhi; j0 += ATTN_BC) {
      const jEnd = min(j0 + ATTN_BC, sbhi);
      const skb = load<f32>(sk + (<usize>(j0 / SAGE_KEY_BLOCK) << 2));
      for (let t = 0; t < tiles; t++) {
        const rg = ranges + (<usize>t << 4);
        const blo = load<i32>(rg);
        const bhi = load<i32>(rg, 4);
        const tj0 = max(j0, blo & ~7);
        const tj1 = min(jEnd, bhi);
        if (tj1 <= tj0) continue;
        const i0 = s0 + (t << 2);
        const ncols = tj1 - tj0;
        const panels = (ncols + 7) >> 3;
        const accTile = acc + <usize>(t << 2) * accRow;
        scoreTile(
          qc + <usize>t * qcTile, dhp, kp + <usize>(tj0 >> 3) * panelBytes, panels,
          load<f32>(sq + (<usize>t << 2)) * skb, qm + (<usize>t << 4), st, stRow,
        );
        const interior = tj0 >= load<i32>(rg, 8) && tj1 <= load<i32>(rg, 12);
        const plainTile = plainScores && interior && (ncols & 7) == 0;
        softmaxTile(
          st, stRow, ncols, tj0, i0, min(4, nq - i0), interior, plainTile, ml + (<usize>t << 4), lRows, accTile, accRow, dvp,
          offset, left, right, keyLen, softcap, rel, relStride, relMax, mask, maskStride,
        );
        pvTile(st, stRow, vp + ((<usize>tj0 * <usize>dvp) << 2), ncols, accTile, accRow, dvp, vNonFinite);
      }
    }
    writeSuperBlock(s0, sRows, acc, accRow, ml, lRows, o, oStride, dv, lse);
  }
}
