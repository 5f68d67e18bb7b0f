// plain-js.mjs — attention as a plain JavaScript loop: the float32 baseline a JS developer would
// write, and the float64 reference the demo checks against. Layout [heads, seq, dim], one batch.

function attentionLoop(q, k, v, H, N, D, causal, Store) {
  const out = new Store(H * N * D);
  const scores = new Store(N);
  const scale = 1 / Math.sqrt(D);
  for (let h = 0; h < H; h++) {
    const base = h * N * D;
    for (let i = 0; i < N; i++) {
      const last = causal ? i : N - 1;
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let dot = 0;
        for (let x = 0; x < D; x++) dot += q[base + i * D + x] * k[base + j * D + x];
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      for (let x = 0; x < D; x++) {
        let acc = 0;
        for (let j = 0; j <= last; j++) acc += scores[j] * v[base + j * D + x];
        out[base + i * D + x] = acc / sum;
      }
    }
  }
  return out;
}

/** Float32 storage: what a plain JS implementation computes. */
export function plainJsAttention(q, k, v, H, N, D, causal = false) {
  return attentionLoop(q, k, v, H, N, D, causal, Float32Array);
}

/** Float64 storage and arithmetic: the reference. */
export function float64Attention(q, k, v, H, N, D, causal = false) {
  return attentionLoop(q, k, v, H, N, D, causal, Float64Array);
}
