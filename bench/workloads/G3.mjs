// G3 — GEMM 128×768×2304 (M×K×N): a BERT-base fused QKV projection of 128 tokens.
import { gemm } from '../lib/kinds.mjs';

export default gemm({
  id: 'G3', order: 130, title: 'GEMM 128×768×2304 (M×K×N, BERT QKV projection)', M: 128, K: 768, N: 2304, seed: 13,
  targets: [
    { label: 'G3 GEMM 128×768×2304 ≥ 2× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2 },
    { label: 'G3 GEMM 128×768×2304 ≥ 80% of the relaxed-SIMD peak', ofPeak: 'wasm-attention/relaxed/1t', atLeast: 0.8 },
  ],
});
