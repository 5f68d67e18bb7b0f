// Q-G3, Q-G1 — int8 GEMM (W8A8: int8 weights with one scale per output column, activations
// quantized per row on the fly, int32 sums, f32 out) at 128×768×2304 (BERT's fused QKV projection)
// and 512³: rt.quantizeMatrix(b, { type: 'int8' }) + rt.matmul beside our f32 GEMM on the same
// constant weights (rt.packMatrix), onnxruntime's DynamicQuantizeMatMul and its unfused
// MatMulInteger graph on the same int8 codes (lib/quant-kinds.mjs).
import { explainInt8Gemm, explainInt8VsF32 } from '../lib/quant-explain.mjs';
import { qgemm } from '../lib/quant-kinds.mjs';

export default [
  qgemm({
    id: 'Q-G3', order: 132, title: 'int8 GEMM 128×768×2304 (M×K×N, BERT QKV projection)', M: 128, K: 768, N: 2304, seed: 13,
    targets: [
      { label: 'Q-G3 int8 GEMM 128×768×2304 ≥ 1.5× onnxruntime-web DynamicQuantizeMatMul', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'DynamicQuantizeMatMul', atLeast: 1.5, explain: explainInt8Gemm },
      { label: 'Q-G3 int8 GEMM 128×768×2304 ≥ 1.8× our f32 GEMM', vs: 'wasm-attention', variant: 'int8', vsVariant: 'f32', atLeast: 1.8, explain: explainInt8VsF32 },
    ],
  }),
  qgemm({ id: 'Q-G1', order: 112, title: 'int8 GEMM 512³', M: 512, K: 512, N: 512, seed: 11 }),
];
