// G1 — GEMM 512³ (float32): C[512,512] = A[512,512]·B[512,512].
import { gemm } from '../lib/kinds.mjs';

export default gemm({
  id: 'G1', order: 110, title: 'GEMM 512×512×512', M: 512, K: 512, N: 512, seed: 11,
  targets: [
    { label: 'G1 GEMM 512³ ≥ 2.5× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2.5 },
    { label: 'G1 GEMM 512³ ≥ 80% of the relaxed-SIMD peak', ofPeak: 'wasm-attention/relaxed/1t', atLeast: 0.8 },
  ],
});
