// G2 — GEMM 1024³ (float32).
import { gemm } from '../lib/kinds.mjs';

export default gemm({
  id: 'G2', order: 120, title: 'GEMM 1024×1024×1024', M: 1024, K: 1024, N: 1024, seed: 12,
  targets: [
    { label: 'G2 GEMM 1024³ ≥ 2.5× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2.5 },
    { label: 'G2 GEMM 1024³ ≥ 80% of the relaxed-SIMD peak', ofPeak: 'wasm-attention/relaxed/1t', atLeast: 0.8 },
  ],
});
