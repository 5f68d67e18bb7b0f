// attention-weights.ts — f32_attn_weights: the attention weights materialized, for callers that
// ask for them (ONNX Attention's qk_matmul_output, tests); not on the fast path.
//
// What:    w = (nq, nk) row-major, dense, in the ONNX `qk_matmul_output_mode` stages — 0:
//          scale·Q·Kᵀ, 1: after softcap, 2: after softcap, bias, mask and range (−∞ where
//          removed), 3: softmax of stage 2 (rows with no visible key are zeros).
// Shapes:  the parameter block of f32_attn_online (attention-params.ts) with ATTN_W, ATTN_W_MODE.
// Tiling:  none: one dot product per (query, key), scalar softcap / bias / mask.
// Error:   the dot product's f32 bound dh·ε·Σ|q·k|·scale; exp_f32 ≤ 2e-7 relative.
// Reference: ONNX Attention (opset 23–25), qk_matmul_output_mode.

import { attnParams, rowHi, rowLo } from './attention-params';
import { dotRow, exp_f32, tanh_f32x4 } from './simd';

/**
 * Materialized attention weights for one (batch, head): w = (nq, nk) row-major, dense, in the
 * ONNX `qk_matmul_output_mode` stages — 0: scale·Q·Kᵀ, 1: after softcap, 2: after softcap, bias,
 * mask and range (−∞ where removed), 3: softmax of stage 2 (rows with no visible key are zeros).
 * Not on the fast path: used only when the caller asks for weights. Same parameter block.
 */
export function f32_attn_weights(params: usize): void {
  const p = attnParams(params);
  const q = p.q;
  const qStride = p.qStride;
  const k = p.k;
  const kStride = p.kStride;
  const nq = p.nq;
  const nk = p.nk;
  const dh = p.dh;
  const scale = p.scale;
  const softcap = p.softcap;
  const mask = p.mask;
  const maskStride = p.maskStride;
  const offset = p.offset;
  const left = p.left;
  const right = p.right;
  const keyLen = min(p.keyLen, nk);
  const w = p.w;
  const mode = p.wMode;
  const rel = p.rel;
  const relStride = p.relStride;
  const relMax = p.relMax;
  for (let i = 0; i < nq; i++) {
    const qRow = q + ((<usize>i * <usize>qStride) << 2);
    const wRow = w + ((<usize>i * <usize>nk) << 2);
    const relRow = rel ? rel + ((<usize>i * <usize>relStride) << 2) : 0;
    const lo = rowLo(i, offset, left);
    const hi = rowHi(i, offset, right, keyLen);
    let rowMax: f32 = -Infinity;
    for (let j = 0; j < nk; j++) {
      let s = dotRow(qRow, k + ((<usize>j * <usize>kStride) << 2), dh) * scale;
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
