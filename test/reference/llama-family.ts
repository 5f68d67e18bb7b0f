// reference/llama-family.ts — a float64 oracle of llama.cpp's `llama` and `qwen2` forward pass
// (llm_build_llama / llm_build_qwen2), token by token with a KV cache, from plain float32 weights.
// Independent of src/ and of examples/llama (weights come in as (out, in) row-major arrays; nothing
// of the model's code is called), so a wiring bug there cannot hide here.
//
// Per token at position pos:
//   x = embedding[token]
//   for each block:
//     h = RMSNorm(x)·attn_norm                      RMSNorm(x) = x / √(mean(x²) + eps)
//     q = Wq·h + bq, k = Wk·h + bk, v = Wv·h + bv   (biases zero when absent)
//     RoPE on each head's first ropeDim values, θ_i = pos · base^(−2i/ropeDim), i < ropeDim/2:
//       'interleaved' (llama): the pair (2i, 2i + 1);  'halves' (qwen2, NeoX): the pair (i, i + ropeDim/2)
//       (a, b) ← (a·cosθ − b·sinθ, a·sinθ + b·cosθ)
//     head h reads kv head ⌊h / (nHeads / nKvHeads)⌋: softmax over t ≤ pos of q_h·k_t / √headSize, Σ p_t·v_t
//     x += Wo·attn
//     h = RMSNorm(x)·ffn_norm;  x += W_down·(silu(W_gate·h) ⊙ (W_up·h))
//   logits = W_out·(RMSNorm(x)·output_norm)

/** The shape and numerics of a model. */
export interface ReferenceConfig {
  dim: number;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  hiddenDim: number;
  vocabSize: number;
  ropeBase: number;
  ropeDim: number;
  ropeStyle: 'interleaved' | 'halves';
  rmsEps: number;
}

/** One block's weights: matrices (out, in) row-major; biases optional. */
export interface ReferenceBlock {
  attnNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  o: Float32Array;
  ffnNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** A model's weights. */
export interface ReferenceWeights {
  embedding: Float32Array; // (vocab, dim)
  blocks: ReferenceBlock[];
  outputNorm: Float32Array;
  output: Float32Array; // (vocab, dim)
}

function rmsnorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const s = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, j) => w[j] * (s * v));
}

/** W (d, n) · x (n) [+ bias] */
function matvec(w: Float32Array, x: Float64Array, d: number, bias?: Float32Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let acc = bias ? bias[i] : 0;
    for (let j = 0; j < n; j++) acc += w[i * n + j] * x[j];
    out[i] = acc;
  }
  return out;
}

/** The weight matrices of a model, by the names ReferenceBlock uses ('output' for the classifier). */
export type MatrixName = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down' | 'output';

/**
 * How the inputs of some products are rounded before the product, as an engine that reads those
 * weights in a block format does (llama.cpp's vec_dot_q8_0_q8_0; this library's qd8b32 kernels):
 * `matrices` names the products, `round` maps the float32 input row to the values the integer
 * dot product sees.
 */
export interface ActivationRounding {
  matrices: ReadonlySet<MatrixName>;
  round: (row: Float32Array) => Float64Array;
}

/** A float64 llama / qwen2 model with its own cache. */
export class ReferenceLlamaFamily {
  private readonly keys: Float64Array[][];
  private readonly values: Float64Array[][];
  position = 0;

  constructor(private readonly c: ReferenceConfig, private readonly w: ReferenceWeights, private readonly rounding?: ActivationRounding) {
    this.keys = w.blocks.map(() => []);
    this.values = w.blocks.map(() => []);
  }

  /** The input of product `name`: rounded to float32, then by `rounding` when it names the product. */
  private input(name: MatrixName, x: Float64Array): Float64Array {
    if (!this.rounding?.matrices.has(name)) return x;
    return this.rounding.round(Float32Array.from(x));
  }

  private rope(vec: Float64Array, heads: number, pos: number): void {
    const { headSize, ropeDim, ropeBase, ropeStyle } = this.c;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < ropeDim / 2; i++) {
        const theta = pos * Math.pow(ropeBase, (-2 * i) / ropeDim);
        const [ia, ib] = ropeStyle === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + ropeDim / 2];
        const a = vec[h * headSize + ia];
        const b = vec[h * headSize + ib];
        vec[h * headSize + ia] = a * Math.cos(theta) - b * Math.sin(theta);
        vec[h * headSize + ib] = a * Math.sin(theta) + b * Math.cos(theta);
      }
    }
  }

  /** Runs one token at the next position; returns its logits. */
  step(token: number): Float64Array {
    const c = this.c;
    const pos = this.position;
    const hs = c.headSize;
    const kvDim = c.nKvHeads * hs;
    const x = Float64Array.from(this.w.embedding.subarray(token * c.dim, (token + 1) * c.dim));
    this.w.blocks.forEach((b, l) => {
      let h = rmsnorm(x, b.attnNorm, c.rmsEps);
      const q = matvec(b.q, this.input('q', h), c.nHeads * hs, b.qBias);
      const k = matvec(b.k, this.input('k', h), kvDim, b.kBias);
      const v = matvec(b.v, this.input('v', h), kvDim, b.vBias);
      this.rope(q, c.nHeads, pos);
      this.rope(k, c.nKvHeads, pos);
      this.keys[l].push(k);
      this.values[l].push(v);
      const attn = new Float64Array(c.nHeads * hs);
      const group = c.nHeads / c.nKvHeads;
      for (let head = 0; head < c.nHeads; head++) {
        const kvo = Math.floor(head / group) * hs;
        const scores = this.keys[l].map((kt) => {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[head * hs + i] * kt[kvo + i];
          return s / Math.sqrt(hs);
        });
        const max = Math.max(...scores);
        const p = scores.map((s) => Math.exp(s - max));
        const sum = p.reduce((a, e) => a + e, 0);
        this.values[l].forEach((vt, t) => {
          for (let i = 0; i < hs; i++) attn[head * hs + i] += (p[t] / sum) * vt[kvo + i];
        });
      }
      const o = matvec(b.o, this.input('o', attn), c.dim);
      for (let i = 0; i < c.dim; i++) x[i] += o[i];
      h = rmsnorm(x, b.ffnNorm, c.rmsEps);
      const gate = matvec(b.gate, this.input('gate', h), c.hiddenDim);
      const up = matvec(b.up, this.input('up', h), c.hiddenDim);
      const g = gate.map((a, i) => (a / (1 + Math.exp(-a))) * up[i]);
      const y = matvec(b.down, this.input('down', g), c.dim);
      for (let i = 0; i < c.dim; i++) x[i] += y[i];
    });
    this.position++;
    return matvec(this.w.output, this.input('output', rmsnorm(x, this.w.outputNorm, c.rmsEps)), c.vocabSize);
  }
}
