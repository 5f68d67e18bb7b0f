// Q-A3 — the BERT-base attention block (A3's sizes and inputs: N=128, d=768, 12 heads, with
// projections) with int8 weights: rt.multiHeadAttention({ weightType: 'int8' }) beside the same
// layer in f32, and onnxruntime running transformers.js's q8 graph (DynamicQuantizeMatMul
// projections + com.microsoft MultiHeadAttention) on the same int8 codes (lib/quant-kinds.mjs).
import { explainBlock } from '../lib/quant-explain.mjs';
import { qbert } from '../lib/quant-kinds.mjs';

export default qbert({
  id: 'Q-A3', order: 232, title: 'BERT-base attention block with int8 weights (N=128, d=768, 12 heads)', N: 128, d: 768, H: 12, seed: 23,
  targets: [
    { label: 'Q-A3 BERT-base block, int8 weights ≥ 1.5× onnxruntime-web q8 graph', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'q8 graph', atLeast: 1.5, explain: explainBlock },
  ],
});
