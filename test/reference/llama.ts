// reference/llama.ts — a float64 oracle of llama2.c's forward pass (run.c's `forward`), token by
// token with a KV cache, written from test/fixtures/stories260K's description and llama2.c's
// run.c. Independent of src/ and of examples/tiny-llama/model.ts (only the checkpoint's typed
// arrays come in), so a wiring bug there cannot hide here.
//
// Per token at position pos:
//   x = embedding[token]
//   for each layer l:
//     h = RMSNorm(x)·rms_att[l]                         RMSNorm(x) = x / √(mean(x²) + 1e-5)
//     q = wq·h, k = wk·h, v = wv·h                      (out, in) matrices
//     RoPE: for even j (index within the whole q or k vector), i = j mod headSize,
//           θ = pos · 10000^(−i/headSize); (x_j, x_{j+1}) ← (x_j·cosθ − x_{j+1}·sinθ, x_j·sinθ + x_{j+1}·cosθ)
//     cache k, v at pos
//     head h (kv head ⌊h / (nHeads / nKvHeads)⌋): softmax over t ≤ pos of q_h·k_t / √headSize, Σ_t p_t·v_t
//     x += wo·attn
//     h = RMSNorm(x)·rms_ffn[l];  x += w2·(silu(w1·h) ⊙ (w3·h)),  silu(a) = a / (1 + e^(−a))
//   logits = wcls·(RMSNorm(x)·rms_final)

import type { LlamaCheckpoint } from '../../examples/tiny-llama/loader';

/** A float64 llama2.c model with its own cache. */
export class ReferenceLlama {
  private readonly ck: LlamaCheckpoint;
  private readonly keys: Float64Array[];
  private readonly values: Float64Array[];
  position = 0;

  constructor(checkpoint: LlamaCheckpoint) {
    this.ck = checkpoint;
    const c = checkpoint.config;
    this.keys = checkpoint.layers.map(() => new Float64Array(c.seqLen * c.kvDim));
    this.values = checkpoint.layers.map(() => new Float64Array(c.seqLen * c.kvDim));
  }

  private static rmsnorm(x: Float64Array, w: Float32Array): Float64Array {
    let ss = 0;
    for (const v of x) ss += v * v;
    const s = 1 / Math.sqrt(ss / x.length + 1e-5);
    return x.map((v, j) => w[j] * (s * v));
  }

  /** W (d, n) · x (n) */
  private static matvec(w: Float32Array, x: Float64Array, d: number): Float64Array {
    const n = x.length;
    const out = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += w[i * n + j] * x[j];
      out[i] = acc;
    }
    return out;
  }

  /** Runs one token at the next position; returns its logits. */
  step(token: number): Float64Array {
    const { config: c, layers } = this.ck;
    const pos = this.position;
    if (pos >= c.seqLen) throw new Error('reference cache full');
    const hs = c.headSize;
    const x = Float64Array.from(this.ck.tokenEmbedding.subarray(token * c.dim, (token + 1) * c.dim));
    layers.forEach((w, l) => {
      let h = ReferenceLlama.rmsnorm(x, w.rmsAtt);
      const q = ReferenceLlama.matvec(w.wq, h, c.dim);
      const k = ReferenceLlama.matvec(w.wk, h, c.kvDim);
      const v = ReferenceLlama.matvec(w.wv, h, c.kvDim);
      for (const vec of [q, k]) {
        for (let j = 0; j < vec.length; j += 2) {
          const theta = pos * Math.pow(10000, -(j % hs) / hs);
          const [cos, sin] = [Math.cos(theta), Math.sin(theta)];
          const [a, b] = [vec[j], vec[j + 1]];
          vec[j] = a * cos - b * sin;
          vec[j + 1] = a * sin + b * cos;
        }
      }
      this.keys[l].set(k, pos * c.kvDim);
      this.values[l].set(v, pos * c.kvDim);
      const attn = new Float64Array(c.dim);
      const group = c.nHeads / c.nKvHeads;
      for (let head = 0; head < c.nHeads; head++) {
        const kvo = Math.floor(head / group) * hs;
        const scores = new Float64Array(pos + 1);
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[head * hs + i] * this.keys[l][t * c.kvDim + kvo + i];
          scores[t] = s / Math.sqrt(hs);
        }
        const max = Math.max(...scores);
        let sum = 0;
        for (let t = 0; t <= pos; t++) sum += (scores[t] = Math.exp(scores[t] - max));
        for (let t = 0; t <= pos; t++) {
          for (let i = 0; i < hs; i++) attn[head * hs + i] += (scores[t] / sum) * this.values[l][t * c.kvDim + kvo + i];
        }
      }
      const o = ReferenceLlama.matvec(w.wo, attn, c.dim);
      for (let i = 0; i < c.dim; i++) x[i] += o[i];
      h = ReferenceLlama.rmsnorm(x, w.rmsFfn);
      const a = ReferenceLlama.matvec(w.w1, h, c.hiddenDim);
      const b = ReferenceLlama.matvec(w.w3, h, c.hiddenDim);
      const g = a.map((ai, i) => (ai / (1 + Math.exp(-ai))) * b[i]);
      const y = ReferenceLlama.matvec(w.w2, g, c.dim);
      for (let i = 0; i < c.dim; i++) x[i] += y[i];
    });
    this.position++;
    return ReferenceLlama.matvec(this.ck.classifier, ReferenceLlama.rmsnorm(x, this.ck.rmsFinal), c.vocabSize);
  }
}
