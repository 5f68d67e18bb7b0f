// Real attention weights of the tiny Llama (llama2.c's stories260K, examples/tiny-llama/model.ts):
// generate N tokens greedily from BOS, run the whole sequence once more as one prefill while
// recording each layer's attention input h = RMSNorm(x) (the layer's forward is wrapped: the
// model itself is unchanged), then per layer compute the real queries and keys
// q = RoPE(Wq·h), k = RoPE(Wk·h) (llama2.c's interleaved-pair RoPE, base 10000) and hand them to
// rt.attention(q, k, v, { causal: true, returnWeights: true }): the weights [1, heads, N, N] are
// exactly the probabilities the model applied (GQA: query head h reads key head h / (heads / kvHeads)).
// Used by the demo page (main.ts); runs the same in Node (the browser test's oracle does not use it).

import type { Runtime, WasmTensor } from 'wasm-attention';
import type { LlamaCheckpoint } from '../tiny-llama/loader';
import { TinyLlama } from '../tiny-llama/model';

/** BOS id of llama2.c's tokenizers. */
export const BOS = 1;

/** One run: the token ids and, per layer, the weights of every head. */
export interface LlamaAttention {
  /** BOS then the generated ids: the sequence whose attention is shown (length n) */
  ids: number[];
  n: number;
  layers: number;
  heads: number;
  /** per layer: [heads, n, n] row-major (query position × key position) */
  weights: Float32Array[];
}

type Forward = (x: unknown, options?: unknown) => unknown;

/**
 * Each layer's attention input for `ids` run as one prefill: per layer, a (n, dim) copy of h.
 * Wraps the private layers' forward for that call only.
 */
export function recordLayerInputs(model: TinyLlama, ids: number[]): Float32Array[] {
  const layers = (model as unknown as { layers: Array<{ attention: { forward: Forward } }> }).layers;
  const inputs: Float32Array[] = [];
  const originals = layers.map((l) => l.attention.forward);
  layers.forEach((l, i) => {
    l.attention.forward = function (this: unknown, x: unknown, options?: unknown) {
      inputs.push(Float32Array.from((x as WasmTensor).data));
      return originals[i].call(this, x, options);
    };
  });
  try {
    model.reset();
    model.forward(ids);
  } finally {
    // The wrappers are own properties over the class's method: removing them restores it.
    for (const l of layers) delete (l.attention as Partial<{ forward: Forward }>).forward;
    layers.forEach((l, i) => {
      if (l.attention.forward !== originals[i]) l.attention.forward = originals[i];
    });
  }
  return inputs;
}

/** (n, out) = h (n, dim) · Wᵀ, W (out, dim) row-major, by rt.matmul. */
function project(rt: Runtime, h: Float32Array, n: number, dim: number, w: Float32Array, out: number): Float32Array {
  return Float32Array.from(rt.matmul({ data: h, shape: [n, dim] }, { data: w, shape: [out, dim] }, { transposeB: true }).data);
}

/** RoPE in place on (n, heads·headSize) rows: pairs (2i, 2i+1) rotated by pos·10000^(−2i/headSize). */
export function ropeRows(x: Float32Array, n: number, heads: number, headSize: number): void {
  for (let pos = 0; pos < n; pos++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < headSize; i += 2) {
        const angle = pos * 10000 ** (-i / headSize);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const o = (pos * heads + h) * headSize + i;
        const a = x[o];
        const b = x[o + 1];
        x[o] = a * c - b * s;
        x[o + 1] = a * s + b * c;
      }
    }
  }
}

/** (n, heads·d) rows → [1, heads, n, d], head h taken from head `map(h)` of the source. */
function toHeads(x: Float32Array, n: number, srcHeads: number, heads: number, d: number): Float32Array {
  const out = new Float32Array(heads * n * d);
  const group = heads / srcHeads;
  for (let h = 0; h < heads; h++) {
    const src = Math.floor(h / group);
    for (let i = 0; i < n; i++) out.set(x.subarray((i * srcHeads + src) * d, (i * srcHeads + src + 1) * d), (h * n + i) * d);
  }
  return out;
}

/** Generates `n − 1` tokens greedily from BOS and returns every layer's attention weights over the n ids. */
export function llamaAttention(rt: Runtime, checkpoint: LlamaCheckpoint, n: number): LlamaAttention {
  const c = checkpoint.config;
  const model = new TinyLlama(rt, checkpoint, { maxLength: n });
  try {
    const ids = [BOS, ...model.generate([BOS], n - 1).tokens].slice(0, n);
    const inputs = recordLayerInputs(model, ids);
    const len = ids.length;
    const d = c.headSize;
    const weights = inputs.map((h, l) => {
      const w = checkpoint.layers[l];
      const q = project(rt, h, len, c.dim, w.wq, c.nHeads * d);
      const k = project(rt, h, len, c.dim, w.wk, c.nKvHeads * d);
      ropeRows(q, len, c.nHeads, d);
      ropeRows(k, len, c.nKvHeads, d);
      const shape = [1, c.nHeads, len, d];
      const qh = { data: toHeads(q, len, c.nHeads, c.nHeads, d), shape };
      const kh = { data: toHeads(k, len, c.nKvHeads, c.nHeads, d), shape };
      const v = { data: new Float32Array(c.nHeads * len * d), shape };
      return Float32Array.from(rt.attention(qh, kh, v, { causal: true, returnWeights: true }).weights.data);
    });
    return { ids, n: len, layers: c.nLayers, heads: c.nHeads, weights };
  } finally {
    model.dispose();
  }
}
