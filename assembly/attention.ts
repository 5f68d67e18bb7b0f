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
// Tiling:  K is packed once per call (attention-pack.ts) into 8-key panels (nk/8, dh, 8) so S = Q·Kᵀ runs on the 4×8
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
//
// Files:   attention-params.ts (the parameter block), attention-pack.ts (K panels, V rows),
//          attention-tile.ts (the tile loop's steps, shared with sage.ts and attention-kv.ts),
//          attention-rows.ts (the row path), attention-weights.ts (f32_attn_weights),
//          attention-merge.ts (f32_attn_merge).

import { ATTN_BC, ATTN_QB, AttnParams, align16, attnParams } from './attention-params';
import { packKeyPanels, packValueRows } from './attention-pack';
import { attnRows } from './attention-rows';
import { pvTile, softmaxTile, startTile, writeSuperBlock } from './attention-tile';
import { ukernel4x8 } from './gemm';

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

/**
 * Fused attention for one (batch, head), driven by a parameter block (offsets ATTN_*).
 * Fewer than 4 query rows (decoding) take the row path, which reads K and V in place.
 * params: usize // ATTN_PARAMS_BYTES bytes
 */
export function f32_attn_online(params: usize): void {
  const p = attnParams(params);
  const nq = p.nq;
  if (nq <= 0) return;
  if (nq < 4) attnRows(p);
  else attnTiles(p);
}

/** The tile path over packed K and V (see the header); vPacked ≥ 0: attention-kv.ts packed them, and V has NaN/±∞ iff 1. */
export function attnTiles(p: AttnParams, vPacked: i32 = -1): void {
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
  const ws = p.workspace;
  const rel = p.rel;
  const relStride = p.relStride;
  const relMax = p.relMax;
  const lse = p.lse;

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
      for (let r = 0; r < 4; r++) {
        const src = q + ((<usize>(i0 + min(r, rows - 1)) * <usize>qStride) << 2);
        const dst = qs + <usize>t * qsTile + <usize>r * <usize>dh * 4;
        let x = 0;
        for (; x < dh4; x += 4) {
          v128.store(dst + (<usize>x << 2), f32x4.mul(v128.load(src + (<usize>x << 2)), scaleV));
        }
        for (; x < dh; x++) store<f32>(dst + (<usize>x << 2), load<f32>(src + (<usize>x << 2)) * scale);
      }
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
        const ncols = tj1 - tj0;
        const panels = (ncols + 7) >> 3;
        const qTile = qs + <usize>t * qsTile;
        const accTile = acc + <usize>(t << 2) * accRow;
        // S = Qs · Kᵀ for this part, one 4×8 block per panel.
        for (let pn = 0; pn < panels; pn++) {
          const panel = kp + <usize>((tj0 >> 3) + pn) * <usize>dh * 32;
          ukernel4x8(qTile, <usize>dh << 2, panel, 32, dh, st + (<usize>pn << 5), stRow, 0);
        }
        const interior = tj0 >= load<i32>(rg, 8) && tj1 <= load<i32>(rg, 12);
        // Every key of this part visible to all four rows, whole 8-key panels, no score edits.
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
