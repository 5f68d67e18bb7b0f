// model.ts — a Llama-family model (GGUF `llama` and `qwen2`, and llama2.c checkpoints) on
// wasm-attention's public API, built from weights.ts's description. Example code: it imports only
// types from the package; the runtime is handed in, so each caller brings the build it uses.
//
// Per call of n tokens at positions p … p + n − 1 (llama.cpp's llm_build_llama / llm_build_qwen2):
//   x = token_embd[token]                                  rows widened from the file's type (JavaScript)
//   for each block:
//     h = RMSNorm(x; eps)·attn_norm                        JavaScript (eps: the file's)
//     x += Wo·attention(RoPE(Wq·h + bq), RoPE(Wk·h + bk), Wv·h + bv)
//                                                          rt.multiHeadAttention + rt.kvCache: GQA
//                                                          by head_count_kv; biases where the file
//                                                          has them (qwen2); RoPE on consecutive
//                                                          pairs (llama) or on the halves (qwen2,
//                                                          NeoX), rope.dimension_count values per head
//     h = RMSNorm(x; eps)·ffn_norm
//     x += W_down·(silu(W_gate·h) ⊙ (W_up·h))               rt.matmul (gate|up stacked as one matrix)
//   logits = W_out·(RMSNorm(x; eps)·output_norm)           W_out = token_embd when tied
// One call runs the whole prompt (the prefill) or one token (a decode step); both append to the
// per-block KV caches. Threads: the runtime's (createRuntime({ threads })); products of 4 or more
// rows are split across them.
//
// Weights: every matrix goes through `loadMatrix`, the one place that decides how a file's tensor
// lives in Wasm memory. Q8_0, Q4_0 and F16 tensors stay in their format, byte for byte
// (rt.quantizedMatrix: the products read the blocks in place, so Wasm memory holds about the
// file's tensor bytes); F32 tensors stay f32 ([out, in], read in place by the matrix-vector path
// of a decode step; a prefill's GEMM packs it per call) and, with `packWeights`, are also packed
// once for the GEMM (twice the memory; not faster as measured, see LlamaModelOptions). The
// attention projections go to rt.multiHeadAttention the same way (QuantizedMatrix weights when
// all four are quantized). Norms, biases and the token embedding rows are widened to f32.
// Activations live in Wasm memory (rt.tensor); views are re-derived after every library call
// (`.data` is a getter) because calls may grow the memory.

import type { KVCache, MultiHeadAttention, PackedMatrix, QuantizedMatrix, Runtime, WasmTensor } from 'wasm-attention';
import { generateGreedy, type GenerateOptions, type Generation } from '../tiny-llama/generate';
import { dequantize, dequantizeInto } from './dequantize';
import type { GgufModelConfig } from './config';
import type { LlamaWeights, WeightTensor } from './weights';

export type { GenerateOptions, Generation } from '../tiny-llama/generate';

/** Options of `new LlamaModel`. */
export interface LlamaModelOptions {
  /** Positions the KV caches hold (prompt + generated tokens). Default: the file's context length. */
  maxLength?: number;
  /**
   * Also keep every f32 weight matrix packed for the GEMM kernel, so prefills skip packing them on
   * every call. Costs a second copy of the weights in Wasm memory. Default false: on the synthetic
   * 15M model (F32, 128-token prefill, one thread) the packed copies measured no faster (1.0–1.6k
   * tokens/s against 1.8–2.0k unpacked) and doubled the Wasm memory (2.09× the tensor and cache
   * bytes against 1.04×).
   */
  packWeights?: boolean;
  /**
   * Classifier rows (vocabulary entries) per product. Default 4096. rt.matmul reserves a packing
   * workspace of 256 × N floats for any product with N outputs, a matrix-vector one included, so one
   * product over a vocabulary of 32000–49152 would hold 32–50 MB of Wasm memory for nothing; slices
   * of 4096 rows hold 4 MB.
   */
  classifierSliceRows?: number;
  /**
   * Store the weight matrices in this format whatever the file holds: `'f32'` widens everything;
   * `'f16'`, `'int8'`, `'q8_0'`, `'q4_0'` quantize each matrix once with rt.quantizeMatrix (the
   * block formats only where the row length is a multiple of 32; other matrices stay f32).
   * Default: the file's own format (Q8_0 / Q4_0 / F16 kept as they are, others widened to f32).
   */
  weightType?: 'f32' | 'f16' | 'int8' | 'q8_0' | 'q4_0';
  /**
   * Element type of the KV caches (rt.kvCache's dtype): `'f32'` (default), `'f16'` (half the
   * bytes) or `'int8'` (codes with a scale per token: about a quarter).
   */
  kvType?: 'f32' | 'f16' | 'int8';
}

/** A weight matrix [out, in] in Wasm memory, as the products read it. */
type Matrix =
  | {
    /** [out, in]: decode steps read it in place (transposeB). */
    inPlace: WasmTensor;
    /** The same, packed for the GEMM kernel (prefill), with packWeights. */
    packed?: PackedMatrix;
    quantized?: undefined;
  }
  | {
    /** The file's Q8_0 / Q4_0 / F16 data, read in place by every product. */
    quantized: QuantizedMatrix;
  };

/** The library's format of a file tensor type kept as it is (others are widened to f32). */
const KEPT_TYPES: Record<string, 'q8_0' | 'q4_0' | 'f16'> = { Q8_0: 'q8_0', Q4_0: 'q4_0', F16: 'f16' };

interface Block {
  attention: MultiHeadAttention;
  cache: KVCache;
  attnNorm: Float32Array;
  ffnNorm: Float32Array;
  /** [gate; up] stacked: (2·hidden, dim) */
  gateUp: Matrix;
  /** (dim, hidden) */
  down: Matrix;
}

/** Activations for calls of `rows` tokens. */
interface Buffers {
  rows: number;
  x: Float32Array; // residual stream (rows, dim), JavaScript
  h: WasmTensor; // normalized (rows, dim)
  attn: WasmTensor; // attention block output (rows, dim)
  ff: WasmTensor; // [gate·h | up·h] (rows, 2·hidden)
  g: WasmTensor; // silu(gate·h) ⊙ up·h (rows, hidden)
  y: WasmTensor; // down·g (rows, dim)
}

const BUFFER_TENSORS = ['h', 'attn', 'ff', 'g', 'y'] as const;

/** Rows from which products use the packed weights (below: matrix-vector, weights read in place). */
const PACKED_FROM_ROWS = 4;


/** Rows [first, first + rows) of the classifier, with its one-row output. */
interface ClassifierSlice {
  first: number;
  rows: number;
  matrix: Matrix;
  /** (1, rows): a decode step's logits of these rows */
  out: WasmTensor;
}

/** A Llama-family model on wasm-attention. `dispose()` frees its Wasm memory. */
export class LlamaModel {
  /** The configuration the model was built from. */
  readonly config: GgufModelConfig;
  /** Positions the caches hold. */
  readonly maxLength: number;
  private readonly rt: Runtime;
  private readonly embedding: WeightTensor;
  private readonly outputNorm: Float32Array;
  private readonly blocks: Block[] = [];
  private readonly owned: Array<{ dispose(): void }> = [];
  private readonly packWeights: boolean;
  private readonly weightType: LlamaModelOptions['weightType'];
  private readonly kvType: NonNullable<LlamaModelOptions['kvType']>;
  private readonly classifier: ClassifierSlice[] = []; // (vocab, dim) in row slices
  private decodeBuffers: Buffers | undefined;
  private prefillBuffers: Buffers | undefined;
  private readonly last: WasmTensor; // (1, dim): the final-normalized last row
  private disposed = false;

  constructor(rt: Runtime, weights: LlamaWeights, options: LlamaModelOptions = {}) {
    const c = weights.config;
    const t = weights.tensors;
    this.rt = rt;
    this.config = c;
    this.maxLength = options.maxLength ?? c.contextLength;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError(`options.maxLength must be a positive integer, got ${String(options.maxLength)}`);
    }
    this.packWeights = options.packWeights ?? false;
    if (options.weightType !== undefined && !['f32', 'f16', 'int8', 'q8_0', 'q4_0'].includes(options.weightType)) {
      throw new RangeError(`options.weightType must be 'f32', 'f16', 'int8', 'q8_0' or 'q4_0', got ${String(options.weightType)}`);
    }
    this.weightType = options.weightType;
    if (options.kvType !== undefined && !['f32', 'f16', 'int8'].includes(options.kvType)) {
      throw new RangeError(`options.kvType must be 'f32', 'f16' or 'int8', got ${String(options.kvType)}`);
    }
    this.kvType = options.kvType ?? 'f32';
    this.embedding = t.tokenEmbedding;
    this.outputNorm = widen(t.outputNorm);
    try {
      for (const w of t.layers) this.blocks.push(this.loadBlock(w));
      const sliceRows = options.classifierSliceRows ?? 4096;
      if (!Number.isInteger(sliceRows) || sliceRows < 1) {
        throw new RangeError(`options.classifierSliceRows must be a positive integer, got ${String(options.classifierSliceRows)}`);
      }
      for (let first = 0; first < c.vocabSize; first += sliceRows) {
        const rows = Math.min(sliceRows, c.vocabSize - first);
        this.classifier.push({
          first, rows, matrix: this.loadMatrix([rowsOf(t.output, first, rows)], rows, c.dim), out: this.own(rt.tensor([1, rows])),
        });
      }
      this.last = this.own(rt.tensor([1, c.dim]));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private own<T extends { dispose(): void }>(x: T): T {
    this.owned.push(x);
    return x;
  }

  /**
   * The attention projections: QuantizedMatrix [in, out] when all four tensors keep their format
   * (read in place by the layer, owned here), else f32 nn.Linear weights [out, in].
   */
  private projections(w: LlamaWeights['tensors']['layers'][number], qDim: number) {
    const c = this.config;
    const shapes = [[w.q, qDim, c.dim], [w.k, c.kvDim, c.dim], [w.v, c.kvDim, c.dim], [w.o, c.dim, qDim]] as const;
    const requantized = this.weightType !== undefined && this.weightType !== 'f32' && !((this.weightType === 'q8_0' || this.weightType === 'q4_0') && (c.dim % 32 !== 0 || qDim % 32 !== 0));
    if (requantized || (this.weightType === undefined && shapes.every(([t]) => KEPT_TYPES[t.type.name]))) {
      const [q, k, v, out] = shapes.map(([t, out, inputs]) => this.quantizedMatrix([t], out, inputs)!);
      return { q, k, v, out };
    }
    const [q, k, v, out] = shapes.map(([t, out, inputs]) => ({ data: widen(t), shape: [out, inputs] }));
    return { q, k, v, out };
  }

  /** The attention layer (projections, RoPE, biases), its cache and the feed-forward weights of one block. */
  private loadBlock(w: LlamaWeights['tensors']['layers'][number]): Block {
    const c = this.config;
    const qDim = c.nHeads * c.headSize;
    const biased = w.qBias !== undefined || w.kBias !== undefined || w.vBias !== undefined;
    const bias = (x: WeightTensor | undefined, n: number) => (x ? widen(x) : new Float32Array(n));
    const attention = this.own(this.rt.multiHeadAttention({
      dModel: c.dim,
      numHeads: c.nHeads,
      numKvHeads: c.nKvHeads,
      headDim: c.headSize,
      bias: biased,
      packWeights: this.packWeights,
      position: { type: 'rope', interleaved: c.ropeStyle === 'interleaved', base: c.ropeBase, rotaryDim: c.ropeDim },
      weights: {
        format: 'torch',
        ...this.projections(w, qDim),
        ...(biased && {
          qBias: { data: bias(w.qBias, qDim), shape: [qDim] },
          kBias: { data: bias(w.kBias, c.kvDim), shape: [c.kvDim] },
          vBias: { data: bias(w.vBias, c.kvDim), shape: [c.kvDim] },
          outBias: { data: new Float32Array(c.dim), shape: [c.dim] },
        }),
      },
    }));
    const cache = this.own(this.rt.kvCache({ heads: c.nKvHeads, headDim: c.headSize, maxLength: this.maxLength, dtype: this.kvType }));
    return {
      attention, cache, attnNorm: widen(w.attnNorm), ffnNorm: widen(w.ffnNorm),
      gateUp: this.loadMatrix([w.gate, w.up], 2 * c.hiddenDim, c.dim),
      down: this.loadMatrix([w.down], c.dim, c.hiddenDim),
    };
  }

  /**
   * The matrix [out, in] made of `parts` stacked by rows (each a file tensor [in, rows]), placed in
   * Wasm memory the way the products read it (see the header).
   */
  private loadMatrix(parts: WeightTensor[], out: number, inputs: number): Matrix {
    const quantized = this.quantizedMatrix(parts, out, inputs);
    if (quantized) return { quantized };
    const data = new Float32Array(out * inputs);
    let at = 0;
    for (const p of parts) {
      dequantizeInto(p.type, p.bytes, 0, p.elements, data, at);
      at += p.elements;
    }
    const inPlace = this.own(this.rt.tensor([out, inputs], data));
    return { inPlace, ...(this.packWeights && { packed: this.own(this.rt.packMatrix(inPlace, { transposeB: true })) }) };
  }

  /**
   * The matrix [out, in] made of `parts` as a QuantizedMatrix in the parts' own format, when they
   * all have one the library reads (Q8_0, Q4_0, F16); undefined otherwise (then it is widened).
   */
  private quantizedMatrix(parts: WeightTensor[], out: number, inputs: number): QuantizedMatrix | undefined {
    const wanted = this.weightType;
    if (wanted === 'f32') return undefined;
    if (wanted !== undefined) {
      if ((wanted === 'q8_0' || wanted === 'q4_0') && inputs % 32 !== 0) return undefined;
      const data = new Float32Array(out * inputs);
      let at = 0;
      for (const p of parts) {
        dequantizeInto(p.type, p.bytes, 0, p.elements, data, at);
        at += p.elements;
      }
      return this.own(this.rt.quantizeMatrix({ data, shape: [out, inputs] }, { type: wanted, transposeB: true }));
    }
    const type = KEPT_TYPES[parts[0].type.name];
    if (!type || parts.some((p) => p.type !== parts[0].type)) return undefined;
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.bytes.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p.bytes, at);
      at += p.bytes.byteLength;
    }
    return this.own(type === 'f16'
      ? this.rt.quantizedMatrix({ type, shape: [out, inputs], data: new Uint16Array(bytes.buffer), transposeB: true })
      : this.rt.quantizedMatrix({ type, shape: [out, inputs], data: bytes }));
  }

  /** out = a · mᵀ for `rows` rows of a. */
  private multiply(a: WasmTensor, m: Matrix, out: WasmTensor, rows: number): void {
    if (m.quantized) this.rt.matmul(a, m.quantized, { out });
    else if (m.packed && rows >= PACKED_FROM_ROWS) this.rt.matmul(a, m.packed, { out });
    else this.rt.matmul(a, m.inPlace, { transposeB: true, out });
  }

  /** Bytes of Wasm memory the KV caches take (all layers; scales and means included). */
  get kvCacheBytes(): number {
    return this.blocks.reduce((sum, b) => sum + b.cache.bytes, 0);
  }

  /** Tokens in the caches: the position of the next token. */
  get position(): number {
    return this.blocks[0].cache.position;
  }

  /** Empties the caches (a new sequence). */
  reset(): void {
    this.check();
    for (const b of this.blocks) b.cache.reset();
  }

  private check(): void {
    if (this.disposed) throw new Error('this LlamaModel was disposed');
  }

  private buffers(rows: number): Buffers {
    const reuse = rows === 1 ? this.decodeBuffers : this.prefillBuffers;
    if (reuse && reuse.rows === rows) return reuse;
    const c = this.config;
    const made: WasmTensor[] = [];
    const t = (shape: number[]) => {
      const x = this.rt.tensor(shape);
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
      if (this.prefillBuffers) for (const k of BUFFER_TENSORS) this.prefillBuffers[k].dispose();
      this.prefillBuffers = b;
    }
    return b;
  }

  /** out[r] = RMSNorm(x[r])·weight for rows [r0, r1) of x, written from row outRow0 of out. */
  private rmsnorm(out: Float32Array, outRow0: number, x: Float32Array, r0: number, r1: number, weight: Float32Array): void {
    const dim = this.config.dim;
    for (let r = r0; r < r1; r++) {
      const xo = r * dim;
      let ss = 0;
      for (let j = 0; j < dim; j++) ss += x[xo + j] * x[xo + j];
      const scale = 1 / Math.sqrt(ss / dim + this.config.rmsEps);
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
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`token ${i} is ${String(id)}, not an id in [0, ${c.vocabSize})`);
    }
    if (this.position + rows > this.maxLength) {
      throw new RangeError(`${rows} more tokens do not fit: ${this.position} of maxLength ${this.maxLength} positions are used`);
    }
    const b = this.buffers(rows);
    const { dim, hiddenDim: hidden } = c;
    const x = b.x;
    for (let r = 0; r < rows; r++) dequantizeInto(this.embedding.type, this.embedding.bytes, tokens[r] * dim, dim, x, r * dim);

    for (const block of this.blocks) {
      // Attention: x += Wo·attention(RMSNorm(x)); projections, RoPE and the cache inside the layer.
      this.rmsnorm(b.h.data, 0, x, 0, rows, block.attnNorm);
      block.attention.forward(b.h, { cache: block.cache, out: b.attn });
      const a = b.attn.data;
      for (let i = 0; i < rows * dim; i++) x[i] += a[i];

      // Feed-forward: x += W_down·(silu(W_gate·h) ⊙ W_up·h).
      this.rmsnorm(b.h.data, 0, x, 0, rows, block.ffnNorm);
      this.multiply(b.h, block.gateUp, b.ff, rows);
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
      this.multiply(b.g, block.down, b.y, rows);
      const y = b.y.data;
      for (let i = 0; i < rows * dim; i++) x[i] += y[i];
    }

    if (options.allLogits) {
      this.rmsnorm(b.h.data, 0, x, 0, rows, this.outputNorm);
      return this.classify(b.h, rows);
    }
    this.rmsnorm(this.last.data, 0, x, rows - 1, rows, this.outputNorm);
    return this.classify(this.last, 1);
  }

  /** The logits (rows × vocab) of `rows` final-normalized rows of `h`, slice by slice. */
  private classify(h: WasmTensor, rows: number): Float32Array {
    const vocab = this.config.vocabSize;
    const logits = new Float32Array(rows * vocab);
    for (const slice of this.classifier) {
      const out = rows === 1 ? slice.out : this.rt.tensor([rows, slice.rows]);
      try {
        this.multiply(h, slice.matrix, out, rows);
        const data = out.data;
        for (let r = 0; r < rows; r++) logits.set(data.subarray(r * slice.rows, (r + 1) * slice.rows), r * vocab + slice.first);
      } finally {
        if (out !== slice.out) out.dispose();
      }
    }
    return logits;
  }

  /**
   * Greedy decoding: the prompt in one forward call, then the argmax token appended and run,
   * `maxNewTokens` times at most (stopping after a stop token). Continues from the caches'
   * position (call reset() first for a fresh sequence).
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
      if (b) for (const k of BUFFER_TENSORS) b[k].dispose();
    }
    for (const x of this.owned.reverse()) x.dispose();
    this.owned.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Rows [first, first + count) of a matrix tensor (a view of its bytes; rows are whole blocks). */
function rowsOf(t: WeightTensor, first: number, count: number): WeightTensor {
  const rowBytes = (t.dims[0] / t.type.blockSize) * t.type.typeSize;
  return {
    name: `${t.name}[${first}:${first + count}]`, type: t.type, dims: [t.dims[0], count], elements: t.dims[0] * count,
    bytes: t.bytes.subarray(first * rowBytes, (first + count) * rowBytes),
  };
}

/** A (small) tensor widened to float32: norms and biases. */
function widen(t: WeightTensor): Float32Array {
  return dequantize(t.type, t.bytes, t.elements);
}
