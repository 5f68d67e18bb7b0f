// A4 — decode step: 1 query against 2048 cached keys, 12 heads, Dh=64. Throughput in GB/s of K
// and V read (2·12·2048·64·4 bytes per call). For wasm-attention the cache stays in Wasm memory.
import { sdpa } from '../lib/kinds.mjs';

export default sdpa({
  id: 'A4', order: 240, title: 'decode step: 1 query × 2048 cached keys, H=12, Dh=64', H: 12, Nq: 1, Nk: 2048, D: 64, seed: 24,
  unit: 'GB/s',
  targets: [
    { label: 'A4 decode ≥ 4× onnxruntime-web GB/s', vs: 'onnxruntime-web', atLeast: 4 },
  ],
});
