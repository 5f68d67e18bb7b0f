// params.spec.ts — the shared parameter block (params-shared.ts): SHARED_PARAMS_BYTES is the
// largest of the blocks the host writes into it, so every one of them fits and none is wasted;
// and every block's size is a whole number of 32-bit fields (ParamWriter writes i32/f32 words).

import { MERGE_PARAMS_BYTES } from '../attention-merge';
import { ATTN_PARAMS_BYTES } from '../attention-params';
import { F16_CONVERT_PARAMS_BYTES } from '../f16';
import { GEMM_PACK_PARAMS_BYTES, GEMM_PARAMS_BYTES } from '../gemm';
import { KV_CONVERT_PARAMS_BYTES } from '../kv-rows';
import { LSH_PARAMS_BYTES } from '../lsh';
import { SHARED_PARAMS_BYTES } from '../params-shared';
import { RANDOM_PARAMS_BYTES } from '../random';
import { ROWS_PARAMS_BYTES } from '../rows';
import { SOFTMAX_PARAMS_BYTES } from '../softmax';

describe('the shared parameter block', () => {
  it('is exactly as large as the largest block written into it', () => {
    const sizes: StaticArray<i32> = [
      GEMM_PARAMS_BYTES, GEMM_PACK_PARAMS_BYTES, ATTN_PARAMS_BYTES, MERGE_PARAMS_BYTES, ROWS_PARAMS_BYTES,
      LSH_PARAMS_BYTES, SOFTMAX_PARAMS_BYTES, RANDOM_PARAMS_BYTES, KV_CONVERT_PARAMS_BYTES, F16_CONVERT_PARAMS_BYTES,
    ];
    let largest = 0;
    for (let i = 0; i < sizes.length; i++) {
      expect(sizes[i]).toBeLessThanOrEqual(SHARED_PARAMS_BYTES);
      expect(sizes[i] & 3).toBe(0);
      largest = max(largest, sizes[i]);
    }
    expect(SHARED_PARAMS_BYTES).toBe(largest);
  });
});
