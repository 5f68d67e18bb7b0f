// attention.ts — fused scaled-dot-product attention for one (batch, head) pair.
//
// What:    O = softmax(cap(scale·Q·Kᵀ) + M) · V, row by row, with the online (streaming) softmax
//          of FlashAttention: the nq×nk score matrix is never materialized; a 4-row query tile
//          walks tiles of ATTN_BC keys keeping a reference max m, running sum l and an
//          unnormalized output accumulator, rescaled by exp(m_old − m_new) when a score exceeds m
//          by more than ATTN_RESCALE_SLACK (lazy rescaling; probabilities stay ≤ e^8). Interior
//          tiles without softcap, bias or mask take a short max loop (plainScoreRowMax).
// Shapes:  q: (nq, dh)  k: (nk, dh)  v: (nk, dv)  o: (nq, dv), each row-major with its own row
//          stride in elements, so one head of a [B, S, H·D] or [B, H, S, D] tensor is read in place.
//          mask: (nq, nk) additive f32 with its own row stride (0 = one row broadcast to all).
// Masking: for query row i at absolute position p = i + offset, keys j with
//            lo(i) ≤ j < hi(i),  lo = left ≥ 0 ? p − left : 0,  hi = right ≥ 0 ? p + right + 1 : nk,
//          clipped to [0, keyLen), take part; causal attention is right = 0. A key tile that no row
//          of the query tile can see is skipped, not computed. An additive mask value of −∞
//          removes the key even when its score is NaN (select, not add). Softcap
//          (cap·tanh(s/cap), cap > 0) is applied before the mask, as ONNX specifies.
//          A relative-position bias rel[i][clamp(j − p, −R, R) + R] (ALiBi, T5 buckets, Shaw
//          terms; one row shared by all queries or one per query) is added after softcap,
//          read per tile from an O(n) table: no n×n buffer.
//          When asked, the log-sum-exp of each row's visible scores is written too (−∞ for a row
//          with no visible key), so partial attentions over disjoint key sets merge exactly
//          (f32_attn_merge). A row with no visible key yields zeros, never NaN. When V holds NaN/±∞ (found while
//          packing it) P·V switches to a micro-kernel where a probability of exactly 0 adds
//          nothing, so non-finite values at masked positions cannot leak.
// Tiling:  K is packed once per call into 8-key panels (nk/8, dh, 8) so S = Q·Kᵀ runs on the 4×8
//          GEMM micro-kernel; V is packed into rows padded to dvp = ⌈dv/8⌉·8 columns so P·V runs on
//          the same micro-kernel; query row tails (nq % 4) duplicate the last row. Queries go in
//          super-blocks of ATTN_QB rows: every 4-row tile of a super-block uses a key tile while
//          its packed K and V are in L1, then the walk moves to the next key tile (each tile
//          keeps its own running max, sum and accumulator rows).
// Error:   scores carry the GEMM bound dh·ε·Σ|q·k|·scale; exp_f32x4 adds ≤ 2e-7 relative; the
//          output is within ~1e-6 relative of a float64 evaluation for well-scaled inputs
//          (tested against test/reference in float64 and the ONNX conformance cases).
// Reference: T. Dao et al., "FlashAttention" (2022), Algorithm 1; M. Milakov, N. Gimelshein,
//          "Online normalizer calculation for softmax" (2018); ONNX Attention (opset 23–25).

import { exp_f32, exp_nonpos_f32x4, hmax, hsum, hsum4, madd, negInf4, tanh_f32x4, zero4 } from './simd';
import { ukernel4x8, ukernel4x8ZeroSkip } from './gemm';

/** Keys per tile (a multiple of 8). */
export const ATTN_BC: i32 = 64;
/**
 * Query rows per super-block (a multiple of 4): its 4-row tiles all use one key tile while that
 * tile's packed K and V (ATTN_BC·(dh + dv)·4 bytes) are in L1, before the walk moves on.
 */
export const ATTN_QB: i32 = 64;
/** Keys per block of the row path's P·V (their V rows stay in L1 across column passes). */
const ROW_PV_BLOCK: i32 = 64;
/**
 * The online softmax keeps its reference max until a score exceeds it by more than this (in
 * nats): probabilities are then at most e^8 ≈ 2981 and a row's sum at most nk·2981, far from f32
 * overflow, while most tiles skip rescaling (FlashAttention-4's conditional rescale).
 */
const ATTN_RESCALE_SLACK: f32 = 8;

// Parameter block, written by the host (src/kernels.ts reads these offsets from the exports).
export const ATTN_Q: i32 = 0; //          q: usize // (nq, dh), row stride qStride
export const ATTN_Q_STRIDE: i32 = 4;
export const ATTN_K: i32 = 8; //          k: usize // (nk, dh), row stride kStride
export const ATTN_K_STRIDE: i32 = 12;
export const ATTN_V: i32 = 16; //         v: usize // (nk, dv), row stride vStride
export const ATTN_V_STRIDE: i32 = 20;
export const ATTN_O: i32 = 24; //         o: usize // (nq, dv), row stride oStride
export const ATTN_O_STRIDE: i32 = 28;
export const ATTN_NQ: i32 = 32;
export const ATTN_NK: i32 = 36;
export const ATTN_DH: i32 = 40;
export const ATTN_DV: i32 = 44;
export const ATTN_SCALE: i32 = 48; //     f32
export const ATTN_SOFTCAP: i32 = 52; //   f32, 0 = none
export const ATTN_MASK: i32 = 56; //      mask: usize // (nq, nk) additive, 0 = none
export const ATTN_MASK_STRIDE: i32 = 60; // elements between mask rows, 0 = broadcast
export const ATTN_OFFSET: i32 = 64; //    absolute position of query row 0 (may be negative)
export const ATTN_LEFT: i32 = 68; //      keys visible before the position, −1 = unbounded
export const ATTN_RIGHT: i32 = 72; //     keys visible after the position, −1 = unbounded (0 = causal)
export const ATTN_KEY_LEN: i32 = 76; //   keys j ≥ keyLen are padding
export const ATTN_WORKSPACE: i32 = 80; // ws: usize // f32_attn_workspace_bytes(nk, dh, dv)
export const ATTN_W: i32 = 84; //         w: usize // (nq, nk) weights output of f32_attn_weights
export const ATTN_W_MODE: i32 = 88; //    0 raw scaled QKᵀ, 1 after softcap, 2 after mask, 3 softmax
export const ATTN_REL: i32 = 92; //       rel: usize // (rows, 2·relMax + 1) additive bias by distance, 0 = none
export const ATTN_REL_STRIDE: i32 = 96; // elements between rel rows, 0 = one row for all queries
export const ATTN_REL_MAX: i32 = 100; //  distances d = j − (i + offset) are clamped to [−relMax, relMax]
export const ATTN_LSE: i32 = 104; //     lse: usize // (nq) log Σ exp(score) per row (−∞ if none visible), 0 = none
export const ATTN_PARAMS_BYTES: i32 = 112;

// @ts-ignore: decorator
@inline export function align16(x: usize): usize {
  return (x + 15) & ~(<usize>15);
}

/** Bytes of workspace the fused kernel needs for these sizes. */
export function f32_attn_workspace_bytes(nk: i32, dh: i32, dv: i32): usize {
  const dvp = <usize>((dv + 7) & ~7);
  const panels = <usize>((nk + 7) >> 3);
  const rows = <usize>ATTN_QB;
  return align16(panels * <usize>dh * 32) // packed Kᵀ panels
    + align16(<usize>nk * dvp * 4) //           packed V rows
    + align16(rows * <usize>dh * 4) //          scaled query rows of a super-block
    + <usize>ATTN_BC * 16 //                    4 score rows
    + rows * dvp * 4 //                         output accumulator rows of a super-block
    + rows * 8 //                               m and l per row
    + (rows >> 2) * 16; //                      key range per 4-row tile: blo, bhi, maxLo, minHi
}

// Visible key range of one query row: [lo, hi). Written to two scratch i32s.
// @ts-ignore: decorator
@inline export function rowLo(i: i32, offset: i32, left: i32): i32 {
  return left >= 0 ? max(0, i + offset - left) : 0;
}
// @ts-ignore: decorator
@inline export function rowHi(i: i32, offset: i32, right: i32, keyLen: i32): i32 {
  return right >= 0 ? min(keyLen, i + offset + right + 1) : keyLen;
}

/**
 * Packs K (nk, dh) into 8-key panels (⌈nk/8⌉, dh, 8), zero-padding the last panel. Full panels
 * move 4×4 blocks with shuffles (a transpose of keys × dims); dh % 4 and the last partial panel
 * go element by element.
 */
function packKeyPanels(k: usize, kStride: i32, nk: i32, dh: i32, dst: usize): void {
  const panels = (nk + 7) >> 3;
  const dh4 = dh & ~3;
  const rowBytes = <usize>kStride << 2;
  for (let jp = 0; jp < panels; jp++) {
    const panel = dst + <usize>jp * <usize>dh * 32;
    const j0 = jp << 3;
    if (j0 + 8 <= nk) {
      for (let half = 0; half < 2; half++) {
        const r0 = k + <usize>(j0 + 4 * half) * rowBytes;
        const r1 = r0 + rowBytes;
        const r2 = r1 + rowBytes;
        const r3 = r2 + rowBytes;
        const col = panel + (<usize>half << 4);
        for (let x = 0; x < dh4; x += 4) {
          const xo = <usize>x << 2;
          const a = v128.load(r0 + xo);
          const b = v128.load(r1 + xo);
          const c = v128.load(r2 + xo);
          const d = v128.load(r3 + xo);
          const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
          const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
          const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
          const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
          const out = col + <usize>x * 32;
          v128.store(out, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
          v128.store(out, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7), 32);
          v128.store(out, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5), 64);
          v128.store(out, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7), 96);
        }
        for (let x = dh4; x < dh; x++) {
          const xo = <usize>x << 2;
          const out = col + <usize>x * 32;
          store<f32>(out, load<f32>(r0 + xo));
          store<f32>(out, load<f32>(r1 + xo), 4);
          store<f32>(out, load<f32>(r2 + xo), 8);
          store<f32>(out, load<f32>(r3 + xo), 12);
        }
      }
      continue;
    }
    for (let c = 0; c < 8; c++) {
      const j = j0 + c;
      let d = panel + (<usize>c << 2);
      if (j < nk) {
        let src = k + <usize>j * rowBytes;
        for (let x = 0; x < dh; x++) {
          store<f32>(d, load<f32>(src));
          src += 4;
          d += 32;
        }
      } else {
        for (let x = 0; x < dh; x++) {
          store<f32>(d, 0);
          d += 32;
        }
      }
    }
  }
}

/**
 * Packs V (nk, dv) into rows of dvp columns (zero-padded). Returns 1 when any value is NaN or ±∞.
 */
export function packValueRows(v: usize, vStride: i32, nk: i32, dv: i32, dvp: i32, dst: usize): i32 {
  const expMask = i32x4.splat(0x7f800000);
  let nonFinite = i32x4.splat(0);
  let nonFiniteScalar = 0;
  const dv4 = dv & ~3;
  for (let j = 0; j < nk; j++) {
    const src = v + ((<usize>j * <usize>vStride) << 2);
    const row = dst + ((<usize>j * <usize>dvp) << 2);
    let x = 0;
    for (; x < dv4; x += 4) {
      const val = v128.load(src + (<usize>x << 2));
      nonFinite = v128.or(nonFinite, i32x4.eq(v128.and(val, expMask), expMask));
      v128.store(row + (<usize>x << 2), val);
    }
    for (; x < dv; x++) {
      const val = load<f32>(src + (<usize>x << 2));
      if (!isFinite(val)) nonFiniteScalar = 1;
      store<f32>(row + (<usize>x << 2), val);
    }
    for (; x < dvp; x++) store<f32>(row + (<usize>x << 2), 0);
  }
  return v128.any_true(nonFinite) || nonFiniteScalar ? 1 : 0;
}

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

/**
 * Fused attention for one (batch, head), driven by a parameter block (offsets ATTN_*).
 * Fewer than 4 query rows (decoding) take the row path, which reads K and V in place.
 * params: usize // ATTN_PARAMS_BYTES bytes
 */
export function f32_attn_online(params: usize): void {
  const nq = load<i32>(params, ATTN_NQ);
  if (nq <= 0) return;
  if (nq < 4) attnRows(params);
  else attnTiles(params);
}

/** The tile path over packed K and V (see the header); vPacked ≥ 0: attention-kv.ts packed them, and V has NaN/±∞ iff 1. */
export function attnTiles(params: usize, vPacked: i32 = -1): void {
  const q = load<u32>(params, ATTN_Q) as usize;
  const qStride = load<i32>(params, ATTN_Q_STRIDE);
  const k = load<u32>(params, ATTN_K) as usize;
  const kStride = load<i32>(params, ATTN_K_STRIDE);
  const v = load<u32>(params, ATTN_V) as usize;
  const vStride = load<i32>(params, ATTN_V_STRIDE);
  const o = load<u32>(params, ATTN_O) as usize;
  const oStride = load<i32>(params, ATTN_O_STRIDE);
  const nq = load<i32>(params, ATTN_NQ);
  const nk = load<i32>(params, ATTN_NK);
  const dh = load<i32>(params, ATTN_DH);
  const dv = load<i32>(params, ATTN_DV);
  const scale = load<f32>(params, ATTN_SCALE);
  const softcap = load<f32>(params, ATTN_SOFTCAP);
  const mask = load<u32>(params, ATTN_MASK) as usize;
  const maskStride = load<i32>(params, ATTN_MASK_STRIDE);
  const offset = load<i32>(params, ATTN_OFFSET);
  const left = load<i32>(params, ATTN_LEFT);
  const right = load<i32>(params, ATTN_RIGHT);
  const keyLen = min(load<i32>(params, ATTN_KEY_LEN), nk);
  const ws = load<u32>(params, ATTN_WORKSPACE) as usize;
  const rel = load<u32>(params, ATTN_REL) as usize;
  const relStride = load<i32>(params, ATTN_REL_STRIDE);
  const relMax = load<i32>(params, ATTN_REL_MAX);
  const lse = load<u32>(params, ATTN_LSE) as usize;

  const dvp = (dv + 7) & ~7;
  const kp = ws; //                                                   (⌈nk/8⌉, dh, 8)
  const vp = kp + align16(<usize>((nk + 7) >> 3) * <usize>dh * 32); // (nk, dvp)
  const qs = vp + align16(<usize>nk * <usize>dvp * 4); //             (ATTN_QB, dh)
  const st = qs + align16(<usize>ATTN_QB * <usize>dh * 4); //         (4, ATTN_BC)
  const acc = st + <usize>ATTN_BC * 16; //                            (ATTN_QB, dvp)
  const ml = acc + <usize>ATTN_QB * <usize>dvp * 4; //                m[ATTN_QB], l[ATTN_QB]
  const ranges = ml + <usize>ATTN_QB * 8; //                          (ATTN_QB / 4, 4) i32
  const stRow: usize = <usize>ATTN_BC << 2;
  const accRow: usize = <usize>dvp << 2;
  const qsTile: usize = <usize>dh << 4; //                            bytes of 4 query rows
  const lRows: usize = <usize>ATTN_QB << 2; //                        l[] starts after m[]

  if (vPacked < 0) packKeyPanels(k, kStride, nk, dh, kp);
  const vNonFinite = vPacked >= 0 ? vPacked : packValueRows(v, vStride, nk, dv, dvp, vp);
  const scaleV = f32x4.splat(scale);
  const dh4 = dh & ~3;
  const plainScores = softcap <= 0 && rel == 0 && mask == 0;

  for (let s0 = 0; s0 < nq; s0 += ATTN_QB) {
    const sRows = min(ATTN_QB, nq - s0);
    const tiles = (sRows + 3) >> 2;
    // Per tile: scaled query rows (the last tile duplicates its last row), key ranges, state.
    let sblo = keyLen, sbhi = 0;
    for (let t = 0; t < tiles; t++) {
      const i0 = s0 + (t << 2);
      const rows = min(4, nq - i0);
      let blo = keyLen, bhi = 0, maxLo = 0, minHi = keyLen;
      for (let r = 0; r < 4; r++) {
        const i = i0 + min(r, rows - 1);
        const src = q + ((<usize>i * <usize>qStride) << 2);
        const dst = qs + <usize>t * qsTile + <usize>r * <usize>dh * 4;
        let x = 0;
        for (; x < dh4; x += 4) {
          v128.store(dst + (<usize>x << 2), f32x4.mul(v128.load(src + (<usize>x << 2)), scaleV));
        }
        for (; x < dh; x++) store<f32>(dst + (<usize>x << 2), load<f32>(src + (<usize>x << 2)) * scale);
        const lo = rowLo(i, offset, left);
        const hi = rowHi(i, offset, right, keyLen);
        if (hi > lo) {
          blo = min(blo, lo);
          bhi = max(bhi, hi);
        }
        maxLo = max(maxLo, lo);
        minHi = min(minHi, hi);
        const row = <usize>((t << 2) + r) << 2;
        store<f32>(ml + row, -Infinity);
        store<f32>(ml + lRows + row, 0);
      }
      const rg = ranges + (<usize>t << 4);
      store<i32>(rg, blo);
      store<i32>(rg, bhi, 4);
      store<i32>(rg, maxLo, 8);
      store<i32>(rg, minHi, 12);
      if (bhi > blo) {
        sblo = min(sblo, blo);
        sbhi = max(sbhi, bhi);
      }
    }
    memory.fill(acc, 0, accRow * <usize>(tiles << 2));

    // Key tiles at absolute multiples of ATTN_BC: a row's partition of its keys (so its rounding)
    // does not depend on which rows share its super-block (thread splits change that).
    for (let j0 = (sblo / ATTN_BC) * ATTN_BC; j0 < sbhi; j0 += ATTN_BC) {
      const jEnd = min(j0 + ATTN_BC, sbhi);
      for (let t = 0; t < tiles; t++) {
        const rg = ranges + (<usize>t << 4);
        const blo = load<i32>(rg);
        const bhi = load<i32>(rg, 4);
        // This tile's part of the key tile; tiles that see none of it are skipped.
        const tj0 = max(j0, blo & ~7);
        const tj1 = min(jEnd, bhi);
        if (tj1 <= tj0) continue;
        const i0 = s0 + (t << 2);
        const rows = min(4, nq - i0);
        const ncols = tj1 - tj0;
        const panels = (ncols + 7) >> 3;
        const qTile = qs + <usize>t * qsTile;
        const accTile = acc + <usize>(t << 2) * accRow;
        // S = Qs · Kᵀ for this part, one 4×8 block per panel.
        for (let p = 0; p < panels; p++) {
          const panel = kp + <usize>((tj0 >> 3) + p) * <usize>dh * 32;
          ukernel4x8(qTile, <usize>dh << 2, panel, 32, dh, st + (<usize>p << 5), stRow, 0);
        }
        const interior = tj0 >= load<i32>(rg, 8) && tj1 <= load<i32>(rg, 12);
        // Every key of this part visible to all four rows, whole 8-key panels, no score edits.
        const plainTile = plainScores && interior && (ncols & 7) == 0;
        for (let r = 0; r < 4; r++) {
          const i = i0 + min(r, rows - 1);
          const sRow = st + <usize>r * stRow;
          const mAt = ml + (<usize>((t << 2) + r) << 2);
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
        // Acc += P · V for this part, 8 output columns at a time.
        const vTile = vp + ((<usize>tj0 * <usize>dvp) << 2);
        for (let x = 0; x < dvp; x += 8) {
          if (vNonFinite) {
            ukernel4x8ZeroSkip(st, stRow, vTile + (<usize>x << 2), accRow, ncols, accTile + (<usize>x << 2), accRow, 1);
          } else {
            ukernel4x8(st, stRow, vTile + (<usize>x << 2), accRow, ncols, accTile + (<usize>x << 2), accRow, 1);
          }
        }
      }
    }
    // Normalize and write the real rows; a row that saw no key has l = 0 and writes zeros.
    for (let r = 0; r < sRows; r++) {
      const mAt = ml + (<usize>r << 2);
      const l = load<f32>(mAt + lRows);
      writeOutputRow(acc + <usize>r * accRow, o + ((<usize>(s0 + r) * <usize>oStride) << 2), dv, l > 0 ? <f32>1 / l : 0);
      if (lse) store<f32>(lse + (<usize>(s0 + r) << 2), l > 0 ? load<f32>(mAt) + Mathf.log(l) : -Infinity);
    }
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

/** q·k over dh floats (vector part plus scalar tail). */
// @ts-ignore: decorator
@inline function dot(qRow: usize, kRow: usize, dh: i32): f32 {
  const dh4 = dh & ~3;
  let acc = zero4();
  let x = 0;
  for (; x < dh4; x += 4) acc = madd(v128.load(qRow + (<usize>x << 2)), v128.load(kRow + (<usize>x << 2)), acc);
  let s = hsum(acc);
  for (; x < dh; x++) s += load<f32>(qRow + (<usize>x << 2)) * load<f32>(kRow + (<usize>x << 2));
  return s;
}

/**
 * The row path: one query row at a time against K and V read in place (no packing), for
 * decoding (nq < 4). Scores for the visible range [lo, hi) go to a workspace row of nk floats,
 * four keys per step (four dot products reduced by a transpose-add); then softcap/bias/mask, max,
 * exp and sum; then o = Σ p_j·v_j, 32 output columns per pass, skipping exact-zero p (so masked
 * NaN/∞ in V cannot leak). Workspace: nk + 4 floats (within f32_attn_workspace_bytes).
 */
function attnRows(params: usize): void {
  const q = load<u32>(params, ATTN_Q) as usize;
  const qStride = load<i32>(params, ATTN_Q_STRIDE);
  const k = load<u32>(params, ATTN_K) as usize;
  const kStride = load<i32>(params, ATTN_K_STRIDE);
  const v = load<u32>(params, ATTN_V) as usize;
  const vStride = load<i32>(params, ATTN_V_STRIDE);
  const o = load<u32>(params, ATTN_O) as usize;
  const oStride = load<i32>(params, ATTN_O_STRIDE);
  const nq = load<i32>(params, ATTN_NQ);
  const nk = load<i32>(params, ATTN_NK);
  const dh = load<i32>(params, ATTN_DH);
  const dv = load<i32>(params, ATTN_DV);
  const scale = load<f32>(params, ATTN_SCALE);
  const softcap = load<f32>(params, ATTN_SOFTCAP);
  const mask = load<u32>(params, ATTN_MASK) as usize;
  const maskStride = load<i32>(params, ATTN_MASK_STRIDE);
  const offset = load<i32>(params, ATTN_OFFSET);
  const left = load<i32>(params, ATTN_LEFT);
  const right = load<i32>(params, ATTN_RIGHT);
  const keyLen = min(load<i32>(params, ATTN_KEY_LEN), nk);
  const srow = load<u32>(params, ATTN_WORKSPACE) as usize; // (nk + 4) scores
  const rel = load<u32>(params, ATTN_REL) as usize;
  const relStride = load<i32>(params, ATTN_REL_STRIDE);
  const relMax = load<i32>(params, ATTN_REL_MAX);
  const lse = load<u32>(params, ATTN_LSE) as usize;
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
      store<f32>(srow + (<usize>j << 2), dot(qRow, k + <usize>(lo + j) * kRowBytes, dh) * scale);
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

/**
 * Materialized attention weights for one (batch, head): w = (nq, nk) row-major, dense, in the
 * ONNX `qk_matmul_output_mode` stages — 0: scale·Q·Kᵀ, 1: after softcap, 2: after softcap, bias,
 * mask and range (−∞ where removed), 3: softmax of stage 2 (rows with no visible key are zeros).
 * Not on the fast path: used only when the caller asks for weights. Same parameter block.
 */
export function f32_attn_weights(params: usize): void {
  const q = load<u32>(params, ATTN_Q) as usize;
  const qStride = load<i32>(params, ATTN_Q_STRIDE);
  const k = load<u32>(params, ATTN_K) as usize;
  const kStride = load<i32>(params, ATTN_K_STRIDE);
  const nq = load<i32>(params, ATTN_NQ);
  const nk = load<i32>(params, ATTN_NK);
  const dh = load<i32>(params, ATTN_DH);
  const scale = load<f32>(params, ATTN_SCALE);
  const softcap = load<f32>(params, ATTN_SOFTCAP);
  const mask = load<u32>(params, ATTN_MASK) as usize;
  const maskStride = load<i32>(params, ATTN_MASK_STRIDE);
  const offset = load<i32>(params, ATTN_OFFSET);
  const left = load<i32>(params, ATTN_LEFT);
  const right = load<i32>(params, ATTN_RIGHT);
  const keyLen = min(load<i32>(params, ATTN_KEY_LEN), nk);
  const w = load<u32>(params, ATTN_W) as usize;
  const mode = load<i32>(params, ATTN_W_MODE);
  const rel = load<u32>(params, ATTN_REL) as usize;
  const relStride = load<i32>(params, ATTN_REL_STRIDE);
  const relMax = load<i32>(params, ATTN_REL_MAX);
  for (let i = 0; i < nq; i++) {
    const qRow = q + ((<usize>i * <usize>qStride) << 2);
    const wRow = w + ((<usize>i * <usize>nk) << 2);
    const relRow = rel ? rel + ((<usize>i * <usize>relStride) << 2) : 0;
    const lo = rowLo(i, offset, left);
    const hi = rowHi(i, offset, right, keyLen);
    let rowMax: f32 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let s = dot(qRow, k + ((<usize>j * <usize>kStride) << 2), dh) * scale;
      if (mode >= 1 && softcap > 0) {
        s = softcap * f32x4.extract_lane(tanh_f32x4(f32x4.splat(s / softcap)), 0);
      }
      if (mode >= 2) {
        if (relRow) s += load<f32>(relRow + (<usize>(min(max(j - i - offset, -relMax), relMax) + relMax) << 2));
        if (mask) {
          const mv = load<f32>(mask + ((<usize>i * <usize>maskStride + <usize>j) << 2));
          s = mv == -Infinity ? mv : s + mv;
        }
        if (j < lo || j >= hi) s = -Infinity;
        rowMax = max(rowMax, s);
      }
      store<f32>(wRow + (<usize>j << 2), s);
    }
    if (mode == 3) {
      if (rowMax == -Infinity) {
        memory.fill(wRow, 0, <usize>nk << 2);
        continue;
      }
      let sum: f32 = 0;
      for (let j = 0; j < nk; j++) {
        const e = exp_f32(load<f32>(wRow + (<usize>j << 2)) - rowMax);
        store<f32>(wRow + (<usize>j << 2), e);
        sum += e;
      }
      const inv: f32 = <f32>1 / sum;
      for (let j = 0; j < nk; j++) store<f32>(wRow + (<usize>j << 2), load<f32>(wRow + (<usize>j << 2)) * inv);
    }
  }
}

/**
 * Merges a partial attention result into an accumulated one, exactly: for each row r,
 *   L = logaddexp(lseAcc[r], lsePart[r]),
 *   acc[r] ← acc[r]·exp(lseAcc[r] − L) + part[r]·exp(lsePart[r] − L),  lseAcc[r] ← L.
 * Rows where a side saw no key (lse = −∞) take the other side unchanged (both −∞: zeros).
 * acc: usize // (rows, dv), row stride accStride;  part: usize // (rows, dv), row stride partStride
 * lseAcc, lsePart: usize // (rows)
 */
export function f32_attn_merge(
  acc: usize, accStride: i32, lseAcc: usize, part: usize, partStride: i32, lsePart: usize, rows: i32, dv: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const la = load<f32>(lseAcc + (<usize>r << 2));
    const lp = load<f32>(lsePart + (<usize>r << 2));
    if (lp == -Infinity) continue;
    const a = acc + ((<usize>r * <usize>accStride) << 2);
    const p = part + ((<usize>r * <usize>partStride) << 2);
    if (la == -Infinity) {
      memory.copy(a, p, <usize>dv << 2);
      store<f32>(lseAcc + (<usize>r << 2), lp);
      continue;
    }
    const m = max(la, lp);
    const ea = exp_f32(la - m);
    const ep = exp_f32(lp - m);
    const total = ea + ep;
    const wa = ea / total;
    const wp = ep / total;
    const wav = f32x4.splat(wa);
    const wpv = f32x4.splat(wp);
    const dv4 = dv & ~3;
    let x = 0;
    for (; x < dv4; x += 4) {
      const xo = <usize>x << 2;
      v128.store(a + xo, f32x4.add(f32x4.mul(v128.load(a + xo), wav), f32x4.mul(v128.load(p + xo), wpv)));
    }
    for (; x < dv; x++) store<f32>(a + (<usize>x << 2), load<f32>(a + (<usize>x << 2)) * wa + load<f32>(p + (<usize>x << 2)) * wp);
    store<f32>(lseAcc + (<usize>r << 2), m + Mathf.log(total));
  }
}
