// params-shared.ts — SHARED_PARAMS_BYTES: the size of one instance's shared parameter block, into
// which the host writes the block of every call of these families before calling the kernel (and
// which the worker pool copies per task): GEMM, GEMM_PACK, ATTN, MERGE, ROWS, LSH, SOFTMAX, RANDOM,
// KV_CONVERT and F16_CONVERT. The largest of their <PREFIX>_PARAMS_BYTES, folded by the compiler
// into an immutable exported global (a chain of conditionals on constants; max() would not fold).
// Rope, the quantized products and KV attention keep blocks of their own.

import { MERGE_PARAMS_BYTES } from './attention-merge';
import { ATTN_PARAMS_BYTES } from './attention-params';
import { F16_CONVERT_PARAMS_BYTES } from './f16';
import { GEMM_PACK_PARAMS_BYTES, GEMM_PARAMS_BYTES } from './gemm';
import { KV_CONVERT_PARAMS_BYTES } from './kv-rows';
import { LSH_PARAMS_BYTES } from './lsh';
import { RANDOM_PARAMS_BYTES } from './random';
import { ROWS_PARAMS_BYTES } from './rows';
import { SOFTMAX_PARAMS_BYTES } from './softmax';

const M1: i32 = GEMM_PARAMS_BYTES > GEMM_PACK_PARAMS_BYTES ? GEMM_PARAMS_BYTES : GEMM_PACK_PARAMS_BYTES;
const M2: i32 = M1 > ATTN_PARAMS_BYTES ? M1 : ATTN_PARAMS_BYTES;
const M3: i32 = M2 > MERGE_PARAMS_BYTES ? M2 : MERGE_PARAMS_BYTES;
const M4: i32 = M3 > ROWS_PARAMS_BYTES ? M3 : ROWS_PARAMS_BYTES;
const M5: i32 = M4 > LSH_PARAMS_BYTES ? M4 : LSH_PARAMS_BYTES;
const M6: i32 = M5 > SOFTMAX_PARAMS_BYTES ? M5 : SOFTMAX_PARAMS_BYTES;
const M7: i32 = M6 > RANDOM_PARAMS_BYTES ? M6 : RANDOM_PARAMS_BYTES;
const M8: i32 = M7 > KV_CONVERT_PARAMS_BYTES ? M7 : KV_CONVERT_PARAMS_BYTES;

/** Bytes of the shared parameter block: the largest block written into it. */
export const SHARED_PARAMS_BYTES: i32 = M8 > F16_CONVERT_PARAMS_BYTES ? M8 : F16_CONVERT_PARAMS_BYTES;
