// A5 — long SDPA, H=12, N=4096, Dh=64, full (51.5 GFLOP per call). onnxruntime-web's fused
// Attention is known to fail at this size; the failure text is recorded as its result.
import { sdpa } from '../lib/kinds.mjs';

export default sdpa({
  id: 'A5', order: 250, title: 'SDPA H=12, N=4096, Dh=64', H: 12, Nq: 4096, D: 64, seed: 25,
  long: true,
  targets: [
    { label: 'A5 SDPA N=4096 ≥ 2.5× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2.5 },
    { label: 'A5 SDPA N=4096 peak Wasm memory (rt.memoryBytes)', memory: true },
    { label: 'A5 SDPA N=4096: 2 threads ≥ 1.8× 1 thread (relaxed)', scaling: { isa: 'relaxed', threads: 2 }, atLeast: 1.8 },
  ],
});
