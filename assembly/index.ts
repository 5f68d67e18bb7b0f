// index.ts — the export list of the kernel module, nothing else.
// Names follow XNNPACK's grammar <dtype>_<op>[_<tile>]; the instruction set is the binary's
// identity (simd128.wasm or relaxed.wasm, both from this source), reported by `isa()`.

export {
  GEMM_A, GEMM_LDA, GEMM_B, GEMM_LDB, GEMM_C, GEMM_LDC, GEMM_BIAS, GEMM_M, GEMM_N, GEMM_K,
  GEMM_TRANS_B, GEMM_ACCUMULATE, GEMM_WORKSPACE, GEMM_B_PACKED, GEMM_PARAMS_BYTES,
  GEMM_PACK_B, GEMM_PACK_LDB, GEMM_PACK_TRANS_B, GEMM_PACK_N, GEMM_PACK_K, GEMM_PACK_DST, GEMM_PACK_PARAMS_BYTES,
  f32_gemm, f32_gemm_workspace_bytes, f32_gemm_pack_b, f32_gemm_packed_b_bytes,
} from './gemm';
export {
  ATTN_Q, ATTN_Q_STRIDE, ATTN_K, ATTN_K_STRIDE, ATTN_V, ATTN_V_STRIDE, ATTN_O, ATTN_O_STRIDE,
  ATTN_NQ, ATTN_NK, ATTN_DH, ATTN_DV, ATTN_SCALE, ATTN_SOFTCAP, ATTN_MASK, ATTN_MASK_STRIDE,
  ATTN_OFFSET, ATTN_LEFT, ATTN_RIGHT, ATTN_KEY_LEN, ATTN_WORKSPACE, ATTN_W, ATTN_W_MODE,
  ATTN_REL, ATTN_REL_STRIDE, ATTN_REL_MAX, ATTN_LSE, ATTN_PARAMS_BYTES, ATTN_BC,
} from './attention-params';
export { f32_attn_online, f32_attn_workspace_bytes } from './attention';
export { f32_attn_weights } from './attention-weights';
export {
  MERGE_ACC, MERGE_ACC_STRIDE, MERGE_LSE_ACC, MERGE_PART, MERGE_PART_STRIDE, MERGE_LSE_PART, MERGE_ROWS, MERGE_DV,
  MERGE_PARAMS_BYTES, f32_attn_merge,
} from './attention-merge';
export {
  SOFTMAX_X, SOFTMAX_ROWS, SOFTMAX_COLS, SOFTMAX_STRIDE, SOFTMAX_PARAMS_BYTES, f32_softmax_rows, f32_exp,
} from './softmax';
export { f32_peak_madd } from './peak';
// ── kernels for positions ──
export {
  ROPE_X, ROPE_ROWS, ROPE_ROW_STRIDE, ROPE_HEADS, ROPE_HEAD_STRIDE, ROPE_DIM, ROPE_INTERLEAVED,
  ROPE_COS, ROPE_SIN, ROPE_TABLE_STRIDE, ROPE_POSITIONS, ROPE_PARAMS_BYTES, f32_rope,
} from './rope';
// ── kernels of the long-sequence and structured variants ──
export { RANDOM_SEED, RANDOM_N, RANDOM_SCALE, RANDOM_OUT, RANDOM_PARAMS_BYTES, f32_randn } from './random';
export {
  LSH_N, LSH_OUT, LSH_Y, LSH_LDY, LSH_ROUNDS, LSH_HALVES, LSH_NF, LSH_KEYS, LSH_NB, LSH_COUNTS, LSH_PERM, LSH_INV,
  LSH_SRC, LSH_SRC_STRIDE, LSH_D, LSH_DST, LSH_DST_STRIDE, LSH_QPOS, LSH_NQ, LSH_KPOS, LSH_NK, LSH_CAUSAL,
  LSH_SELF_PENALTY, LSH_PARAMS_BYTES, i32_lsh_buckets, i32_counting_sort, f32_lsh_normalize, f32_lsh_chunk_mask,
} from './lsh';
export {
  ROWS_SRC, ROWS_SRC_STRIDE, ROWS_DST, ROWS_DST_STRIDE, ROWS_N, ROWS_D, ROWS_IDX, ROWS_OUT, ROWS_W, ROWS_W_STRIDE,
  ROWS_C, ROWS_BIAS, ROWS_SCALE, ROWS_PARAMS_BYTES,
  f32_rows_gather, f32_rows_norm, f32_rows_mean, f32_rows_transpose, f32_rows_l2_normalize, f32_rows_axpy,
  f32_rows_scatter_add, f32_rows_bias_scale,
} from './rows';
export { pool_task_load } from './pool';

/** First byte of linear memory the host may use (after the static constant table). */
export function heap_base(): usize {
  return __heap_base;
}

/** 2 for the relaxed-SIMD build, 1 for the plain SIMD128 build. */
export function isa(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 2 : 1;
}

// ── low-precision kernels: int8 (W8A8), GGUF q8_0 / q4_0, ONNX MatMulNBits, f16 ──
export {
  QGEMM_A, QGEMM_LDA, QGEMM_B, QGEMM_C, QGEMM_LDC, QGEMM_BIAS, QGEMM_M, QGEMM_N, QGEMM_K,
  QGEMM_WORKSPACE, QGEMM_A_QUANTIZED, QGEMM_ACCUMULATE, QGEMM_PARAMS_BYTES,
  QPACK_B, QPACK_LDB, QPACK_TRANS_B, QPACK_UNSIGNED, QPACK_N, QPACK_K, QPACK_SCALE, QPACK_SCALE_STRIDE,
  QPACK_ZERO_POINT, QPACK_ZERO_POINT_STRIDE, QPACK_DST, QPACK_PARAMS_BYTES,
  qc8w_gemm_pack_b, qc8w_gemm_packed_b_bytes, qd8_f32_qc8w_gemm, qd8_f32_qc8w_gemm_workspace_bytes,
  f32_qd8_convert,
} from './qgemm';
export {
  QB_A, QB_LDA, QB_W, QB_SCALES, QB_ZERO_POINTS, QB_C, QB_LDC, QB_BIAS, QB_M, QB_N, QB_K, QB_WORKSPACE,
  QB_A_QUANTIZED, QB_ACCUMULATE, QB_PARAMS_BYTES,
  qd8_f32_q8_0_gemm, qd8_f32_q4_0_gemm, qd8_f32_qb4w_gemm, qd8_f32_qb_gemm_workspace_bytes, f32_qd8b32_convert,
} from './qblocks';
export {
  F16_CONVERT_SRC, F16_CONVERT_DST, F16_CONVERT_N, F16_CONVERT_PARAMS_BYTES, f16_f32_convert, f32_f16_convert,
} from './f16';
export { f32_f16w_gemm, f32_f16w_gemm_workspace_bytes } from './f16w';
export { qs8_peak_dot_i16x8, qs8_peak_relaxed_dot_add, qs8_peak_relaxed_dot } from './peak';
// ── 8-bit attention (SageAttention: int8 Q·Kᵀ, f32 softmax and P·V) ──
export { qs8_attn_online, qs8_attn_workspace_bytes } from './sage';
// ── low-precision KV caches (f16kv, q8kv rows) read in place by the fused kernel ──
export { ATTN_KV_MEAN } from './attention-params';
export { f16kv_attn_online, q8kv_attn_online } from './attention-kv';
export {
  KV_CONVERT_SRC, KV_CONVERT_SRC_STRIDE, KV_CONVERT_DST, KV_CONVERT_DST_STRIDE, KV_CONVERT_ROWS, KV_CONVERT_D,
  KV_CONVERT_MEAN, KV_CONVERT_PARAMS_BYTES, f32_f16kv_convert, f16kv_f32_convert, f32_q8kv_convert, q8kv_f32_convert,
} from './kv-rows';
export { SHARED_PARAMS_BYTES } from './params-shared';
