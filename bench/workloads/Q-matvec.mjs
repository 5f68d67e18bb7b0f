// Q-MV, Q-MV-4k — matrix-vector products (a decode step's projections) at 1×768×2304 and
// 1×4096×4096 with the weights in int8, q8_0, q4_0, f16 (rt.quantizeMatrix) and MatMulNBits
// (rt.quantizedMatrix on onnxruntime's bytes), beside our f32 and onnxruntime's MatMulNBits and
// DynamicQuantizeMatMul at M = 1 (lib/quant-kinds.mjs). Memory-bound: the table gives each
// format's bytes and the rate it reads them.
import { explainDecode } from '../lib/quant-explain.mjs';
import { qmatvec } from '../lib/quant-kinds.mjs';

export default [
  qmatvec({ id: 'Q-MV', order: 140, title: 'matrix-vector 1×768×2304 (M×K×N) in int8, q8_0, q4_0, f16, MatMulNBits and f32', K: 768, N: 2304, seed: 41 }),
  qmatvec({
    id: 'Q-MV-4k', order: 141, title: 'matrix-vector 1×4096×4096 (M×K×N) in int8, q8_0, q4_0, f16, MatMulNBits and f32', K: 4096, N: 4096, seed: 42,
    targets: [
      { label: 'Q-MV-4k q4_0 matrix-vector 1×4096×4096 ≥ 3× our f32', vs: 'wasm-attention', variant: 'q4_0', vsVariant: 'f32', atLeast: 3, explain: explainDecode },
      { label: 'Q-MV-4k q4_0 matrix-vector 1×4096×4096 ≥ 5× onnxruntime-web MatMulNBits', vs: 'onnxruntime-web', variant: 'q4_0', vsVariant: 'MatMulNBits', atLeast: 5, explain: explainDecode },
      { label: 'Q-MV-4k memory: q4_0 matrix ≤ 0.16× the f32 bytes', weightBytes: { variant: 'q4_0', of: 'f32' }, atMost: 0.16 },
    ],
  }),
];
