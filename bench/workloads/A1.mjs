// A1 — scaled dot-product attention, H=12, N=512, Dh=64 (BERT-base at 512 tokens), full.
import { sdpa } from '../lib/kinds.mjs';

export default sdpa({
  id: 'A1', order: 210, title: 'SDPA H=12, N=512, Dh=64', H: 12, Nq: 512, D: 64, seed: 21,
  targets: [
    { label: 'A1 SDPA N=512 ≥ 2× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2 },
    { label: 'A1 SDPA N=512: 2 threads ≥ 1.8× 1 thread (relaxed)', scaling: { isa: 'relaxed', threads: 2 }, atLeast: 1.8 },
  ],
});
