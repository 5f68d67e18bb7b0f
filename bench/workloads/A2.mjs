// A2 — causal SDPA, H=12, N=1024, Dh=64. Work counted as half of full attention: 2·N²·D·H flops.
import { sdpa } from '../lib/kinds.mjs';

export default sdpa({
  id: 'A2', order: 220, title: 'causal SDPA H=12, N=1024, Dh=64', H: 12, Nq: 1024, D: 64, causal: true, seed: 22,
  targets: [
    { label: 'A2 causal SDPA N=1024 ≥ 3× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 3 },
  ],
});
