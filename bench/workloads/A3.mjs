// A3 — BERT-base attention block: x[128,768] → Q/K/V projections (+bias) → 12-head attention →
// output projection (+bias).
import { bert } from '../lib/kinds.mjs';

export default bert({
  id: 'A3', order: 230, title: 'BERT-base attention block (N=128, d=768, 12 heads, with projections)', N: 128, d: 768, H: 12, seed: 23,
  targets: [
    { label: 'A3 BERT-base attention block ≥ 2× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2 },
  ],
});
