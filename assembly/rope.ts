// rope.ts — rotary position embedding (RoPE), applied in place.
//
// What:    for every row r (one token), head h and pair index c < R/2 (R = rotary dims, even):
//            θ = positions[r];  cos = cosT[θ][c],  sin = sinT[θ][c]
//            (x1, x2) = the pair;  x1 ← x1·cos − x2·sin,  x2 ← x1·sin + x2·cos
//          where the pair is (x[c], x[c + R/2]) for rotate-half (GPT-NeoX, LLaMA, the ONNX
//          RotaryEmbedding default) or (x[2c], x[2c + 1]) for interleaved pairs (GPT-J, the
//          original RoFormer). Elements R … headDim − 1 are left untouched (partial rotary).
// Shapes:  x: element (r, h, c) at x + 4·(r·rowStride + h·headStride + c), so one call rotates
//          every head of a [S, H·D] block or a [H, S, D] block in place; cosT, sinT: (P, R/2)
//          row-major with row stride tableStride; positions: (rows) i32 table rows, each in
//          [0, P) (checked by the host).
// Tiling:  four pairs per step (rotate-half: two straight loads; interleaved: two loads split
//          into even/odd lanes by shuffles and merged back); scalar tail for R/2 mod 4.
// Error:   two products and one add or subtract per output in f32, as the ONNX reference
//          computes it (numpy float32): ≤ 1 ulp of |x1·cos| + |x2·sin|. Plain mul and add/sub
//          (no madd), so both binaries give identical bits.
// Reference: J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding"
//          (2021), eq. (34); ONNX RotaryEmbedding (opset 23), onnx/reference/ops/op_rotary_embedding.py.

// Parameter block, written by the host (src/kernels/rope.ts reads these offsets from the exports).
export const ROPE_X: i32 = 0; //            x: usize // (rows, heads, headDim) with strides below
export const ROPE_ROWS: i32 = 4;
export const ROPE_ROW_STRIDE: i32 = 8; //   elements between consecutive rows (tokens)
export const ROPE_HEADS: i32 = 12;
export const ROPE_HEAD_STRIDE: i32 = 16; // elements between consecutive heads of one row
export const ROPE_DIM: i32 = 20; //         rotary dims R (even, ≤ headDim)
export const ROPE_INTERLEAVED: i32 = 24; // 0 rotate-half, 1 interleaved pairs
export const ROPE_COS: i32 = 28; //         cosT: usize // (P, R/2), row stride tableStride
export const ROPE_SIN: i32 = 32; //         sinT: usize // (P, R/2), row stride tableStride
export const ROPE_TABLE_STRIDE: i32 = 36;
export const ROPE_POSITIONS: i32 = 40; //   positions: usize // (rows) i32 table row per row of x
export const ROPE_PARAMS_BYTES: i32 = 48;

/** Rotate-half on one head: pairs (c, c + half). */
// @ts-ignore: decorator
@inline function rotateHalf(x: usize, half: i32, cs: usize, sn: usize): void {
  const x2 = x + (<usize>half << 2);
  let c = 0;
  for (; c + 4 <= half; c += 4) {
    const o = <usize>c << 2;
    const a = v128.load(x + o);
    const b = v128.load(x2 + o);
    const cv = v128.load(cs + o);
    const sv = v128.load(sn + o);
    v128.store(x + o, f32x4.sub(f32x4.mul(a, cv), f32x4.mul(b, sv)));
    v128.store(x2 + o, f32x4.add(f32x4.mul(a, sv), f32x4.mul(b, cv)));
  }
  for (; c < half; c++) {
    const o = <usize>c << 2;
    const a = load<f32>(x + o);
    const b = load<f32>(x2 + o);
    const cv = load<f32>(cs + o);
    const sv = load<f32>(sn + o);
    store<f32>(x + o, a * cv - b * sv);
    store<f32>(x2 + o, a * sv + b * cv);
  }
}

/** Interleaved pairs on one head: (2c, 2c + 1). */
// @ts-ignore: decorator
@inline function rotateInterleaved(x: usize, half: i32, cs: usize, sn: usize): void {
  let c = 0;
  for (; c + 4 <= half; c += 4) {
    const p = x + (<usize>c << 3);
    const lo = v128.load(p);
    const hi = v128.load(p, 16);
    const a = i32x4.shuffle(lo, hi, 0, 2, 4, 6); // even lanes: first of each pair
    const b = i32x4.shuffle(lo, hi, 1, 3, 5, 7); // odd lanes: second of each pair
    const cv = v128.load(cs + (<usize>c << 2));
    const sv = v128.load(sn + (<usize>c << 2));
    const re = f32x4.sub(f32x4.mul(a, cv), f32x4.mul(b, sv));
    const im = f32x4.add(f32x4.mul(a, sv), f32x4.mul(b, cv));
    v128.store(p, i32x4.shuffle(re, im, 0, 4, 1, 5));
    v128.store(p, i32x4.shuffle(re, im, 2, 6, 3, 7), 16);
  }
  for (; c < half; c++) {
    const p = x + (<usize>c << 3);
    const a = load<f32>(p);
    const b = load<f32>(p, 4);
    const cv = load<f32>(cs + (<usize>c << 2));
    const sv = load<f32>(sn + (<usize>c << 2));
    store<f32>(p, a * cv - b * sv);
    store<f32>(p, a * sv + b * cv, 4);
  }
}

/**
 * Applies RoPE in place to every (row, head) described by the parameter block (offsets ROPE_*).
 * params: usize // ROPE_PARAMS_BYTES bytes
 */
export function f32_rope(params: usize): void {
  const x = load<u32>(params, ROPE_X) as usize;
  const rows = load<i32>(params, ROPE_ROWS);
  const rowStride = load<i32>(params, ROPE_ROW_STRIDE);
  const heads = load<i32>(params, ROPE_HEADS);
  const headStride = load<i32>(params, ROPE_HEAD_STRIDE);
  const dim = load<i32>(params, ROPE_DIM);
  const interleaved = load<i32>(params, ROPE_INTERLEAVED);
  const cosT = load<u32>(params, ROPE_COS) as usize;
  const sinT = load<u32>(params, ROPE_SIN) as usize;
  const tableStride = load<i32>(params, ROPE_TABLE_STRIDE);
  const positions = load<u32>(params, ROPE_POSITIONS) as usize;
  const half = dim >> 1;
  if (half <= 0) return;
  for (let r = 0; r < rows; r++) {
    const t = <usize>load<i32>(positions + (<usize>r << 2));
    const cs = cosT + ((t * <usize>tableStride) << 2);
    const sn = sinT + ((t * <usize>tableStride) << 2);
    const row = x + ((<usize>r * <usize>rowStride) << 2);
    for (let h = 0; h < heads; h++) {
      const head = row + ((<usize>h * <usize>headStride) << 2);
      if (interleaved) rotateInterleaved(head, half, cs, sn);
      else rotateHalf(head, half, cs, sn);
    }
  }
}
