// model.ts — a Llama (llama2.c's forward pass) on wasm-attention's public API: the Node example
// (run.ts), the browser page (examples/browser/llama.ts), the tests (test/llama/) and the bench
// (bench/workloads/tiny-llama.mjs) all run this file. It imports only types from the package; the
// runtime is handed in, so each caller brings the build it uses.
//
// Per token at position pos (llama2.c's run.c, the pass in test/fixtures/stories260K):
//   x = embedding[token]                              a row copy (a one-hot product: 512× the work)
//   for each layer:
//     h = RMSNorm(x)·rms_att                          JavaScript (dim floats per row)
//     x += Wo·attention(RoPE(Wq·h), RoPE(Wk·h), Wv·h)  rt.multiHeadAttention + rt.kvCache
//     h = RMSNorm(x)·rms_ffn                          JavaScript
//     x += W2·(silu(W1·h) ⊙ (W3·h))                   rt.matmul (W1|W3 as one [2·hidden, dim]); silu in JavaScript
//   logits = Wcls·(RMSNorm(x)·rms_final)              rt.matmul
// The attention layer: Q/K/V/O weights in PyTorch (out, in) layout, no biases; GQA by
// numKvHeads; RoPE on interleaved pairs (2i, 2i+1) at angle pos·base^(−2i/headSize) — exactly
// run.c's pos·10000^(−(j mod headSize)/headSize) for even j = 2i; scale 1/√headSize (default);
// positions follow the cache; causal by default with a cache. One call runs any number of tokens
// (prefill) or one (decode); both append to the per-layer KV caches.
// Matrix products: a decode step (fewer than 4 rows) passes the (out, in) weight tensor with
// transposeB, which runs the library's matrix-vector path reading it in place; a prefill (4 or
// more rows) passes the same weight packed once (rt.packMatrix) for the GEMM kernel.
// Activations live in Wasm memory (rt.tensor); views are re-derived after every library call
// (`.data` is a getter) because calls may grow the memory.

import type { KVCache, MultiHeadAttention, PackedMatrix, Runtime, WasmTensor } from 'wasm-attention';
import { generateGreedy, type GenerateOptions, type Generation } from './generate';
import type { LlamaCheckpoint, LlamaConfig } from './loader';

export { argmax, type GenerateOptions, type Generation } from './generate';

/** Options of `new TinyLlama`. */
export interface TinyLlamaOptions {
  /** Positions the KV caches hold (prompt + generated tokens). Default: the checkpoint's seq_len. */
  maxLength?: number;
  /** RMSNorm epsilon. Default 1e-5 (llama2.c). */
  eps?: number;
}

interface Layer {
  attention: MultiHeadAttention;
  cache: KVCache;
  rmsAtt: Float32Array;
  rmsFfn: Float32Array;
  /** [W1; W3] stacked: (2·hidden, dim), in place for decode; packed for prefill */
  w13: WasmTensor;
  w13Packed: PackedMatrix;
  w2: WasmTensor; // (dim, hidden)
  w2Packed: PackedMatrix;
}

/** Activations for calls of `rows` tokens. */
interface Buffers {
  rows: number;
  x: Float32Array; // residual stream (rows, dim), JavaScript
  h: WasmTensor; // normalized (rows, dim)
  attn: WasmTensor; // attention layer output (rows, dim)
  ff: WasmTensor; // [W1·h | W3·h] (rows, 2·hidden)
  g: WasmTensor; // silu(W1·h) ⊙ W3·h (rows, hidden)
  y: WasmTensor; // W2·g (rows, dim)
}

/** Rows from which products use the packed weights (below: matrix-vector, weights read in place). */
const PACKED_FROM_ROWS = 4;

/** A llama2.c-style Llama on wasm-attention. `dispose()` frees its Wasm memory. */
export class TinyLlama {
  readonly config: LlamaConfig;
  /** Positions the caches hold. */
  readonly maxLength: number;
  private readonly rt: Runtime;
  private readonly eps: number;
  private readonly embedding: Float32Array;
  private readonly rmsFinal: Float32Array;
  private readonly layers: Layer[] = [];
  private readonly owned: Array<{ dispose(): void }> = [];
  private classifier!: WasmTensor; // (vocab, dim)
  private classifierPacked!: PackedMatrix;
  private decodeBuffers: Buffers | undefined;
  private prefillBuffers: Buffers | undefined;
  private readonly last: WasmTensor; // (1, dim): final-normalized last row
  private readonly logits: WasmTensor; // (1, vocab)
  private disposed = false;

  constructor(rt: Runtime, checkpoint: LlamaCheckpoint, options: TinyLlamaOptions = {}) {
    const c = checkpoint.config;
    this.rt = rt;
    this.config = c;
    this.maxLength = options.maxLength ?? c.seqLen;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError(`options.maxLength must be a positive integer, got ${String(options.maxLength)}`);
    }
    this.eps = options.eps ?? 1e-5;
    this.embedding = checkpoint.tokenEmbedding;
    this.rmsFinal = checkpoint.rmsFinal;
    try {
      for (const w of checkpoint.layers) {
        const attention = this.own(rt.multiHeadAttention({
          dModel: c.dim,
          numHeads: c.nHeads,
          numKvHeads: c.nKvHeads,
          headDim: c.headSize,
          bias: false,
          position: { type: 'rope', interleaved: true, base: 10000 },
          weights: {
            format: 'torch',
            q: { data: w.wq, shape: [c.nHeads * c.headSize, c.dim] },
            k: { data: w.wk, shape: [c.kvDim, c.dim] },
            v: { data: w.wv, shape: [c.kvDim, c.dim] },
            out: { data: w.wo, shape: [c.dim, c.nHeads * c.headSize] },
          },
        }));
        const cache = this.own(rt.kvCache({ heads: c.nKvHeads, headDim: c.headSize, maxLength: this.maxLength }));
        const w13Data = new Float32Array(2 * c.hiddenDim * c.dim);
        w13Data.set(w.w1, 0);
        w13Data.set(w.w3, c.hiddenDim * c.dim);
        const w13 = this.own(rt.tensor([2 * c.hiddenDim, c.dim], w13Data));
        const w2 = this.own(rt.tensor([c.dim, c.hiddenDim], w.w2));
        this.layers.push({
          attention, cache, rmsAtt: w.rmsAtt, rmsFfn: w.rmsFfn,
          w13, w13Packed: this.own(rt.packMatrix(w13, { transposeB: true })),
          w2, w2Packed: this.own(rt.packMatrix(w2, { transposeB: true })),
        });
      }
      this.classifier = this.own(rt.tensor([c.vocabSize, c.dim], checkpoint.classifier));
      this.classifierPacked = this.own(rt.packMatrix(this.classifier, { transposeB: true }));
      this.last = this.own(rt.tensor([1, c.dim]));
      this.logits = this.own(rt.tensor([1, c.vocabSize]));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private own<T extends { dispose(): void }>(x: T): T {
    this.owned.push(x);
    return x;
  }

  /** Tokens in the caches: the position of the next token. */
  get position(): number {
    return this.layers[0].cache.position;
  }

  /** Empties the caches (a new sequence). */
  reset(): void {
    this.check();
    for (const l of this.layers) l.cache.reset();
  }

  /** Keeps the first `length` tokens of the caches (drops the rest). */
  truncate(length: number): void {
    this.check();
    for (const l of this.layers) l.cache.truncate(length);
  }

  private check(): void {
    if (this.disposed) throw new Error('this TinyLlama was disposed');
  }

  private buffers(rows: number): Buffers {
    const reuse = rows === 1 ? this.decodeBuffers : this.prefillBuffers;
    if (reuse && reuse.rows === rows) return reuse;
    const c = this.config;
    const rt = this.rt;
    const made: Array<{ dispose(): void }> = [];
    const t = (shape: number[]) => {
      const x = rt.tensor(shape);
      made.push(x);
      return x;
    };
    let b: Buffers;
    try {
      b = {
        rows,
        x: new Float32Array(rows * c.dim),
        h: t([rows, c.dim]),
        attn: t([rows, c.dim]),
        ff: t([rows, 2 * c.hiddenDim]),
        g: t([rows, c.hiddenDim]),
        y: t([rows, c.dim]),
      };
    } catch (e) {
      for (const x of made) x.dispose();
      throw e;
    }
    if (rows === 1) this.decodeBuffers = b;
    else {
      if (this.prefillBuffers) for (const k of ['h', 'attn', 'ff', 'g', 'y'] as const) this.prefillBuffers[k].dispose();
      this.prefillBuffers = b;
    }
    return b;
  }

  /** out[r] = RMSNorm(x[r])·weight for rows [r0, r1) of x (row width dim). */
  private rmsnorm(out: Float32Array, outRow0: number, x: Float32Array, r0: number, r1: number, weight: Float32Array): void {
    const dim = this.config.dim;
    for (let r = r0; r < r1; r++) {
      const xo = r * dim;
      let ss = 0;
      for (let j = 0; j < dim; j++) ss += x[xo + j] * x[xo + j];
      const scale = 1 / Math.sqrt(ss / dim + this.eps);
      const oo = (outRow0 + r - r0) * dim;
      for (let j = 0; j < dim; j++) out[oo + j] = weight[j] * (scale * x[xo + j]);
    }
  }

  /**
   * Runs `tokens` at the next positions (one call: a prefill for several, a decode step for one),
   * appending them to the caches, and returns the logits of the last one (a fresh Float32Array of
   * vocabSize). With `allLogits`, returns every token's logits (rows × vocabSize) instead.
   */
  forward(tokens: ArrayLike<number>, options: { allLogits?: boolean } = {}): Float32Array {
    this.check();
    const c = this.config;
    const rows = tokens.length;
    if (rows < 1) throw new RangeError('forward needs at least one token');
    for (let i = 0; i < rows; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new RangeError(`token ${i} is ${String(t)}, not an id in [0, ${c.vocabSize})`);
    }
    if (this.position + rows > this.maxLength) {
      throw new RangeError(`${rows} more tokens do not fit: ${this.position} of maxLength ${this.maxLength} positions are used`);
    }
    const rt = this.rt;
    const b = this.buffers(rows);
    const packed = rows >= PACKED_FROM_ROWS;
    const dim = c.dim;
    const hidden = c.hiddenDim;
    const x = b.x;
    for (let r = 0; r < rows; r++) x.set(this.embedding.subarray(tokens[r] * dim, (tokens[r] + 1) * dim), r * dim);

    for (const layer of this.layers) {
      // Attention block: x += Wo·attention(RMSNorm(x)), RoPE and the cache inside the layer.
      this.rmsnorm(b.h.data, 0, x, 0, rows, layer.rmsAtt);
      layer.attention.forward(b.h, { cache: layer.cache, out: b.attn });
      const a = b.attn.data;
      for (let i = 0; i < rows * dim; i++) x[i] += a[i];

      // Feed-forward block: x += W2·(silu(W1·h) ⊙ W3·h).
      this.rmsnorm(b.h.data, 0, x, 0, rows, layer.rmsFfn);
      if (packed) rt.matmul(b.h, layer.w13Packed, { out: b.ff });
      else rt.matmul(b.h, layer.w13, { transposeB: true, out: b.ff });
      const ff = b.ff.data;
      const g = b.g.data;
      for (let r = 0; r < rows; r++) {
        const fo = r * 2 * hidden;
        const go = r * hidden;
        for (let i = 0; i < hidden; i++) {
          const v = ff[fo + i];
          g[go + i] = (v / (1 + Math.exp(-v))) * ff[fo + hidden + i];
        }
      }
      if (packed) rt.matmul(b.g, layer.w2Packed, { out: b.y });
      else rt.matmul(b.g, layer.w2, { transposeB: true, out: b.y });
      const y = b.y.data;
      for (let i = 0; i < rows * dim; i++) x[i] += y[i];
    }

    if (options.allLogits) {
      this.rmsnorm(b.h.data, 0, x, 0, rows, this.rmsFinal);
      const out = rt.tensor([rows, c.vocabSize]);
      try {
        if (packed) rt.matmul(b.h, this.classifierPacked, { out });
        else rt.matmul(b.h, this.classifier, { transposeB: true, out });
        return out.data.slice();
      } finally {
        out.dispose();
      }
    }
    this.rmsnorm(this.last.data, 0, x, rows - 1, rows, this.rmsFinal);
    rt.matmul(this.last, this.classifier, { transposeB: true, out: this.logits });
    return this.logits.data.slice();
  }

  /**
   * Greedy decoding: runs the prompt in one forward call, then appends the argmax token and runs
   * it, `maxNewTokens` times at most (stopping after a stop token). Continues from the caches'
   * current position (call reset() first for a fresh sequence).
   */
  generate(prompt: ArrayLike<number>, maxNewTokens: number, options: GenerateOptions = {}): Generation {
    this.check();
    return generateGreedy(this, prompt, maxNewTokens, options);
  }

  /** Frees the layers, caches, weights and buffers. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of [this.decodeBuffers, this.prefillBuffers]) {
      if (b) for (const k of ['h', 'attn', 'ff', 'g', 'y'] as const) b[k].dispose();
    }
    for (const x of this.owned.reverse()) x.dispose();
    this.owned.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
