// attention-params.ts — the attention parameter block: its layout (AttnParams), the exported field
// offsets the host writes it with (ATTN_*), and the tile sizes every attention kernel shares.
//
// What:    one struct read in place by every attention kernel (f32_attn_online, f32_attn_weights,
//          qs8_attn_online, f16kv_attn_online, q8kv_attn_online): `changetype<AttnParams>(params)`
//          and field reads, each a load at a fixed offset: the layout is written once, here. Each
//          kernel reads the fields it needs into locals once, at its start, in the field order
//          (V8's code for the loops that follow depends on it: reading fields inside a row loop
//          measured 5–15% slower on the decode path).
//          The ATTN_* constants are offsetof<AttnParams>(field): the host (src/kernels/attention.ts,
//          src/kernels/kv.ts) reads them from the exports, so layout and offsets cannot drift.
// Shapes:  ATTN_PARAMS_BYTES = 112 bytes, every field 4 bytes (wasm32 pointers are u32).
// Reference: XNNPACK's params structs (one struct per operator, read by every micro-kernel).

/** Keys per tile (a multiple of 8). */
export const ATTN_BC: i32 = 64;
/**
 * Query rows per super-block (a multiple of 4): its 4-row tiles all use one key tile while that
 * tile's packed K and V (ATTN_BC·(dh + dv)·4 bytes) are in L1, before the walk moves on.
 */
export const ATTN_QB: i32 = 64;
/**
 * The online softmax keeps its reference max until a score exceeds it by more than this (in
 * nats): probabilities are then at most e^8 ≈ 2981 and a row's sum at most nk·2981, far from f32
 * overflow, while most tiles skip rescaling (FlashAttention-4's conditional rescale).
 */
export const ATTN_RESCALE_SLACK: f32 = 8;

/** The parameter block, written by the host; field order is the layout (offsets below). */
@final @unmanaged export class AttnParams {
  /** (nq, dh), row stride qStride elements */
  q: usize;
  qStride: i32;
  /** (nk, dh), row stride kStride (cache rows: kvRowBytes / 4) */
  k: usize;
  kStride: i32;
  /** (nk, dv), row stride vStride */
  v: usize;
  vStride: i32;
  /** (nq, dv), row stride oStride */
  o: usize;
  oStride: i32;
  nq: i32;
  nk: i32;
  dh: i32;
  dv: i32;
  scale: f32;
  /** 0 = none */
  softcap: f32;
  /** (nq, nk) additive, 0 = none */
  mask: usize;
  /** elements between mask rows, 0 = broadcast */
  maskStride: i32;
  /** absolute position of query row 0 (may be negative) */
  offset: i32;
  /** keys visible before the position, −1 = unbounded */
  left: i32;
  /** keys visible after the position, −1 = unbounded (0 = causal) */
  right: i32;
  /** keys j ≥ keyLen are padding (kernels use min(keyLen, nk)) */
  keyLen: i32;
  /** the kernel's workspace (f32_attn_workspace_bytes or qs8_attn_workspace_bytes) */
  workspace: usize;
  /** (nq, nk) weights output of f32_attn_weights */
  w: usize;
  /** 0 raw scaled QKᵀ, 1 after softcap, 2 after mask, 3 softmax */
  wMode: i32;
  /** (rows, 2·relMax + 1) additive bias by distance, 0 = none */
  rel: usize;
  /** elements between rel rows, 0 = one row for all queries */
  relStride: i32;
  /** distances d = j − (i + offset) are clamped to [−relMax, relMax] */
  relMax: i32;
  /** (nq) log Σ exp(score) per row (−∞ if none visible), 0 = none */
  lse: usize;
  /** q8kv caches: the keys' per-channel mean μ (dh f32), 0 = none; unused by the other kernels */
  kvMean: usize;
}

/** The parameter block at `params`. */
// @ts-ignore: decorator
@inline export function attnParams(params: usize): AttnParams {
  return changetype<AttnParams>(params);
}

// Offsets of the fields (src/kernels/ reads these from the exports).
export const ATTN_Q: i32 = offsetof<AttnParams>('q'); //                  0
export const ATTN_Q_STRIDE: i32 = offsetof<AttnParams>('qStride'); //     4
export const ATTN_K: i32 = offsetof<AttnParams>('k'); //                  8
export const ATTN_K_STRIDE: i32 = offsetof<AttnParams>('kStride'); //     12
export const ATTN_V: i32 = offsetof<AttnParams>('v'); //                  16
export const ATTN_V_STRIDE: i32 = offsetof<AttnParams>('vStride'); //     20
export const ATTN_O: i32 = offsetof<AttnParams>('o'); //                  24
export const ATTN_O_STRIDE: i32 = offsetof<AttnParams>('oStride'); //     28
export const ATTN_NQ: i32 = offsetof<AttnParams>('nq'); //                32
export const ATTN_NK: i32 = offsetof<AttnParams>('nk'); //                36
export const ATTN_DH: i32 = offsetof<AttnParams>('dh'); //                40
export const ATTN_DV: i32 = offsetof<AttnParams>('dv'); //                44
export const ATTN_SCALE: i32 = offsetof<AttnParams>('scale'); //          48
export const ATTN_SOFTCAP: i32 = offsetof<AttnParams>('softcap'); //      52
export const ATTN_MASK: i32 = offsetof<AttnParams>('mask'); //            56
export const ATTN_MASK_STRIDE: i32 = offsetof<AttnParams>('maskStride'); // 60
export const ATTN_OFFSET: i32 = offsetof<AttnParams>('offset'); //        64
export const ATTN_LEFT: i32 = offsetof<AttnParams>('left'); //            68
export const ATTN_RIGHT: i32 = offsetof<AttnParams>('right'); //          72
export const ATTN_KEY_LEN: i32 = offsetof<AttnParams>('keyLen'); //       76
export const ATTN_WORKSPACE: i32 = offsetof<AttnParams>('workspace'); //  80
export const ATTN_W: i32 = offsetof<AttnParams>('w'); //                  84
export const ATTN_W_MODE: i32 = offsetof<AttnParams>('wMode'); //         88
export const ATTN_REL: i32 = offsetof<AttnParams>('rel'); //              92
export const ATTN_REL_STRIDE: i32 = offsetof<AttnParams>('relStride'); // 96
export const ATTN_REL_MAX: i32 = offsetof<AttnParams>('relMax'); //       100
export const ATTN_LSE: i32 = offsetof<AttnParams>('lse'); //              104
/** The q8kv keys' mean μ (the block's last word). */
export const ATTN_KV_MEAN: i32 = offsetof<AttnParams>('kvMean'); //       108
export const ATTN_PARAMS_BYTES: i32 = offsetof<AttnParams>(); //          112

// @ts-ignore: decorator
@inline export function align16(x: usize): usize {
  return (x + 15) & ~(<usize>15);
}

/** First key of query row i's visible range [lo, hi). */
// @ts-ignore: decorator
@inline export function rowLo(i: i32, offset: i32, left: i32): i32 {
  return left >= 0 ? max(0, i + offset - left) : 0;
}
/** One past the last key of query row i's visible range [lo, hi). */
// @ts-ignore: decorator
@inline export function rowHi(i: i32, offset: i32, right: i32, keyLen: i32): i32 {
  return right >= 0 ? min(keyLen, i + offset + right + 1) : keyLen;
}
