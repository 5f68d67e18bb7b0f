// recurrent-memory.ts — rt.recurrentMemoryAttention: Transformer-XL attention with a segment-level
// recurrent memory carried across calls and relative positional attention.
//
// State: the keys and values of the last M positions (M = memoryLength), per batch entry and
// head, in Wasm memory. A call with a segment of n queries/keys/values (already projected) attends
// over keys/values [memory ; segment] (klen = m + n, m ≤ M the positions held), then — unless
// `update: false` — keeps the last min(M, klen) of them as the next memory. Transformer-XL keeps
// the layer's input hidden states and projects them again each segment; the projections are fixed
// and linear, so keeping the projected keys and values is the same computation without re-projecting.
//
// Score of segment query i (absolute position p = m + i in [mem ; seg]) and key j ≤ p, with
// distance δ = p − j (Dai et al. 2019, §3.3, terms (a)+(b) and (c)+(d)):
//     s_ij = scale · [ (q_i + u)·k_j  +  (q_i + v)·r_δ ]
//     r_δ  = W_r · R_min(δ, clampLen),   R_p = [sin(p·ω) | cos(p·ω)],  ω_c = 10000^(−2c/dModel)
// u = r_w_bias, v = r_r_bias ([heads, headDim]), W_r = r_net.weight ([heads·headDim, dModel]),
// R the sinusoidal encodings in the concatenated [sin | cos] layout of the reference
// (PositionalEmbedding over pos_seq = klen − 1 … 0). The reference computes (q + v)·r for every
// (i, row of R) and aligns it with `_rel_shift` (pad a zero column, reshape, drop a row) so that
// entry (i, j) reads the row of distance p − j; the result is a term that depends on i and δ only.
// Masks: causal (j ≤ p); `sameLength`: each query sees exactly M keys, itself included
// (j > p − M, the reference's tril(−mask_shift_len)); `clampLen` > 0 caps δ.
// Composition on the fused kernel, per (batch, head):
//   term (a)+(b): the kernel's q·k with query q + u (the kernel multiplies by scale);
//   term (c)+(d): B_i[δ] = scale·(q_i + v)·r_δ for δ = 0 … P − 1 (P = min(klen, M if sameLength,
//     clampLen + 1)) is ONE GEMM (n × headDim)·(headDim × P) written straight into the kernel's
//     per-row relative-bias table (row stride 2P − 1, index d + P − 1 for d = j − p = −δ; the
//     kernel clamps d to [−(P − 1), P − 1], which is exactly clampLen's cap), so the kernel adds
//     it after the scale: s = scale·(q + u)·k + B_i[p − j]. This table is n × (2P − 1) floats per
//     head — O(n·klen), the same size as the reference's BD matrix: acceptable because it only
//     spans one segment plus its memory (what Transformer-XL computes too), built head by head.
//   r = R·W_rᵀ ([P, heads·headDim]) is one GEMM, cached across calls (rows for distances P−1 … 0).
// Identities (tested): M = 0 with W_r = 0 and u = 0 is plain causal attention; a sequence fed in
// segments with memory ≥ its length equals one causal pass over the whole sequence.
// Reference: Z. Dai, Z. Yang, Y. Yang, J. Carbonell, Q. Le, R. Salakhutdinov, "Transformer-XL:
// Attentive Language Models Beyond a Fixed-Length Context" (ACL 2019) §3.2–3.3; kimiyoung/
// transformer-xl pytorch/mem_transformer.py (RelPartialLearnableMultiHeadAttn, _rel_shift,
// PositionalEmbedding, _update_mems, same_length, clamp_len).

import { runAttention } from '../attention/run-heads';
import { assertLive, optionKeys, readOptions } from '../attention/options';
import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { gemmKernels } from '../kernels/gemm';
import { rowKernels } from '../kernels/rows';
import { sinusoidalPositions } from '../position/sinusoidal';
import { AttentionError, f32At, f32Bytes, formatShape } from '../runtime/index';
import {
  checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, type TensorView, viewData, viewOut, viewTensor,
  type WasmTensor, writeOut,
} from '../tensor';

/** Configuration of `rt.recurrentMemoryAttention`. */
export interface RecurrentMemoryOptions {
  /** Attention heads (queries, keys and values have the same heads). */
  heads: number;
  /** Size of one query/key head. */
  headDim: number;
  /** Size of one value head. Default headDim. */
  valueDim?: number;
  /** M: positions kept as memory after each call (Transformer-XL's mem_len). 0 = no memory. */
  memoryLength: number;
  /** Batch entries (fixed for the memory's life). Default 1. */
  batch?: number;
  /**
   * W_r, projecting the sinusoidal relative encodings R ([P, dModel], [sin | cos]) to per-head
   * position keys: [heads·headDim, dModel] (Transformer-XL's r_net.weight, PyTorch Linear layout),
   * dModel even. Omitted: no position term.
   */
  positionWeights?: TensorLike;
  /** u, Transformer-XL's r_w_bias: [heads, headDim], added to the queries of the content term. Default 0. */
  rWBias?: TensorLike;
  /** v, Transformer-XL's r_r_bias: [heads, headDim], added to the queries of the position term. Default 0. */
  rRBias?: TensorLike;
  /** Every query sees exactly memoryLength keys (itself and memoryLength − 1 before; needs memoryLength ≥ 1). Default false. */
  sameLength?: boolean;
  /** Distances above clampLen use R_clampLen (Transformer-XL's clamp_len; 0, −1 or omitted: no cap). */
  clampLen?: number;
  /** Multiplier of the whole score (content + position). Default 1/√headDim. */
  scale?: number;
}

/** Options of `RecurrentMemoryAttention.forward`. */
export interface RecurrentMemoryForwardOptions {
  /** Keep the last memoryLength positions of [memory ; segment] as the next memory. Default true. */
  update?: boolean;
  /**
   * Write the output [batch, heads, n, valueDim] here: a WasmTensor (zero-copy) or a Tensor. Read
   * once. It may be (or overlap) an input: the output is then computed into a temporary block and
   * copied into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** What `RecurrentMemoryAttention.memory()` returns. */
export interface RecurrentMemoryState {
  /** Keys of the remembered positions, oldest first: [batch, heads, length, headDim]. */
  keys: Tensor;
  /** Values of the remembered positions, oldest first: [batch, heads, length, valueDim]. */
  values: Tensor;
}

const F32 = [Float32Array] as const;
const MEMORY_KEYS = optionKeys<RecurrentMemoryOptions>({
  heads: true, headDim: true, valueDim: true, memoryLength: true, batch: true, positionWeights: true, rWBias: true,
  rRBias: true, sameLength: true, clampLen: true, scale: true,
});
const FORWARD_KEYS = optionKeys<RecurrentMemoryForwardOptions>({ update: true, out: true });

function positiveInt(value: unknown, name: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function smallTensor(kernels: Kernels, value: unknown, name: string, shape: number[]): Float32Array {
  const view = viewTensor(value, name, F32, kernels.arena);
  if (view.shape.length !== shape.length || view.shape.some((d, i) => d !== shape[i])) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must have shape ${formatShape(shape)}, got ${formatShape(view.shape)}`);
  }
  const data = viewData(view).slice();
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new AttentionError('INVALID_ARGUMENT', `${name} must hold finite values, got ${data[i]} at index ${i}`);
  }
  return data;
}

/**
 * Transformer-XL attention with a recurrent memory (see the file header). Create it with
 * `rt.recurrentMemoryAttention(config)`, call `forward` once per segment, `dispose()` when done.
 */
export class RecurrentMemoryAttention {
  /** Heads. */
  readonly heads: number;
  /** Query/key head size. */
  readonly headDim: number;
  /** Value head size. */
  readonly valueDim: number;
  /** M: positions kept as memory. */
  readonly memoryLength: number;
  /** Batch entries. */
  readonly batch: number;
  /** Each query sees exactly memoryLength keys. */
  readonly sameLength: boolean;
  /** Cap on distances (0 = none). */
  readonly clampLen: number;
  /** Multiplier of the scores. */
  readonly scale: number;
  /** dModel of the relative encodings (0 without positionWeights). */
  readonly positionDim: number;
  private readonly kernelsOf: () => Kernels;
  private readonly arena: Kernels['arena'];
  private readonly hasU: boolean;
  private uPtr = 0;
  private vPtr = 0;
  private kMem = 0;
  private vMem = 0;
  private wr = 0;
  private rPtr = 0;
  private rRows = 0;
  private held = 0;
  private disposed = false;

  /** @internal use rt.recurrentMemoryAttention */
  constructor(kernelsOf: () => Kernels, optionsIn: RecurrentMemoryOptions) {
    if (typeof optionsIn !== 'object' || optionsIn === null || Array.isArray(optionsIn)) {
      throw new AttentionError('INVALID_OPTION', `recurrentMemoryAttention options must be { heads, headDim, memoryLength, … }, got ${String(optionsIn)}`);
    }
    const options = readOptions<RecurrentMemoryOptions>(optionsIn, MEMORY_KEYS, 'options', 'rt.recurrentMemoryAttention');
    this.heads = positiveInt(options.heads, 'options.heads');
    this.headDim = positiveInt(options.headDim, 'options.headDim');
    this.valueDim = options.valueDim === undefined ? this.headDim : positiveInt(options.valueDim, 'options.valueDim');
    if (options.memoryLength === undefined) {
      throw new AttentionError('INVALID_OPTION', 'options.memoryLength is required (an integer ≥ 0: positions kept across calls), got undefined');
    }
    this.memoryLength = positiveInt(options.memoryLength, 'options.memoryLength', 0);
    this.batch = options.batch === undefined ? 1 : positiveInt(options.batch, 'options.batch');
    if (options.sameLength !== undefined && typeof options.sameLength !== 'boolean') {
      throw new AttentionError('INVALID_OPTION', `options.sameLength must be true or false, got ${String(options.sameLength)}`);
    }
    this.sameLength = options.sameLength === true;
    if (this.sameLength && this.memoryLength === 0) {
      throw new AttentionError('INVALID_OPTION', 'options.sameLength needs options.memoryLength ≥ 1 (each query sees exactly memoryLength keys), got memoryLength 0');
    }
    const clamp = options.clampLen ?? 0;
    if (typeof clamp !== 'number' || !Number.isInteger(clamp) || clamp < -1 || clamp > 2 ** 31 - 1) {
      throw new AttentionError('INVALID_OPTION', `options.clampLen must be an integer ≥ 1 (or 0 / −1 for no cap), got ${String(clamp)}`);
    }
    this.clampLen = Math.max(0, clamp);
    const scale = options.scale ?? 1 / Math.sqrt(this.headDim);
    if (typeof scale !== 'number' || !Number.isFinite(scale)) {
      throw new AttentionError('INVALID_OPTION', `options.scale must be a finite number, got ${String(scale)}`);
    }
    this.scale = scale;
    const kernels = kernelsOf();
    this.kernelsOf = kernelsOf;
    this.arena = kernels.arena;
    const H = this.heads;
    const hd = H * this.headDim;
    this.hasU = options.rWBias !== undefined;
    const u = options.rWBias === undefined ? undefined : smallTensor(kernels, options.rWBias, 'options.rWBias', [H, this.headDim]);
    const v = options.rRBias === undefined ? new Float32Array(hd) : smallTensor(kernels, options.rRBias, 'options.rRBias', [H, this.headDim]);
    let wView: TensorView<Float32Array> | undefined;
    let dModel = 0;
    if (options.positionWeights !== undefined) {
      wView = viewTensor(options.positionWeights, 'options.positionWeights', F32, this.arena);
      const s = wView.shape;
      if (s.length !== 2 || s[0] !== hd || s[1] < 2 || s[1] % 2 !== 0) {
        throw new AttentionError('SHAPE_MISMATCH', `options.positionWeights (W_r, r_net.weight) must have shape [heads·headDim, dModel] = [${hd}, dModel] with dModel even ≥ 2, got ${formatShape(s)}`);
      }
      dModel = s[1];
    }
    this.positionDim = dModel;
    const kSize = this.batch * H * this.memoryLength * this.headDim;
    const vSize = this.batch * H * this.memoryLength * this.valueDim;
    checkElementCount(kSize, 'memory keys');
    checkElementCount(vSize, 'memory values');
    assertLive(kernels, { 'options.positionWeights': wView?.resident });
    const blocks: number[] = [];
    try {
      if (this.memoryLength > 0) {
        this.kMem = this.arena.alloc(f32Bytes(kSize));
        blocks.push(this.kMem);
        this.vMem = this.arena.alloc(f32Bytes(vSize));
        blocks.push(this.vMem);
      }
      if (wView) {
        this.wr = this.arena.alloc(f32Bytes(hd * dModel));
        blocks.push(this.wr);
        this.arena.f32(this.wr, hd * dModel).set(viewData(wView));
        this.vPtr = this.arena.alloc(f32Bytes(hd));
        blocks.push(this.vPtr);
        this.arena.f32(this.vPtr, hd).set(v);
      }
      if (u) {
        this.uPtr = this.arena.alloc(f32Bytes(hd));
        blocks.push(this.uPtr);
        this.arena.f32(this.uPtr, hd).set(u);
      }
    } catch (e) {
      for (const b of blocks) this.arena.release(b);
      throw e;
    }
  }

  /** Positions currently held in memory (≤ memoryLength). Throws DISPOSED once this object or its runtime was disposed. */
  get length(): number {
    this.kernels();
    return this.held;
  }

  private kernels(): Kernels {
    if (this.disposed) throw new AttentionError('DISPOSED', 'this recurrentMemoryAttention was disposed');
    return this.kernelsOf();
  }

  /** Empties the memory (a new sequence). */
  reset(): void {
    this.kernels();
    this.held = 0;
  }

  /** Copies of the memory: keys [batch, heads, length, headDim] and values [batch, heads, length, valueDim], oldest first. */
  memory(): RecurrentMemoryState {
    this.kernels();
    const { batch: B, heads: H, memoryLength: M, held: m } = this;
    const copy = (ptr: number, d: number): Tensor => {
      const data = new Float32Array(B * H * m * d);
      for (let x = 0; x < B * H; x++) data.set(this.arena.f32(f32At(ptr, x * M * d), m * d), x * m * d);
      return { data, shape: [B, H, m, d] };
    };
    return { keys: copy(this.kMem, this.headDim), values: copy(this.vMem, this.valueDim) };
  }

  /**
   * r = R·W_rᵀ for distances P − 1 … 0: a pointer to P rows of heads·headDim floats. Cached; rows
   * for a smaller P are the last P rows of a larger table.
   */
  private relative(kernels: Kernels, P: number): number {
    const hd = this.heads * this.headDim;
    if (P > this.rRows) {
      const rows = Math.max(P, Math.min(2 * this.rRows, P + 4096));
      const dModel = this.positionDim;
      checkElementCount(rows * Math.max(hd, dModel), 'relative encodings');
      const positions = Array.from({ length: rows }, (_, t) => rows - 1 - t);
      const pe = sinusoidalPositions(rows, dModel, { layout: 'concatenated', positions });
      gemmKernels(kernels).reserve(hd, dModel);
      const peP = this.arena.alloc(f32Bytes(rows * dModel));
      let r = 0;
      try {
        this.arena.f32(peP, rows * dModel).set(pe.data);
        r = this.arena.alloc(f32Bytes(rows * hd));
        gemmKernels(kernels).run({ a: peP, lda: dModel, b: this.wr, ldb: dModel, c: r, ldc: hd, bias: 0, m: rows, n: hd, k: dModel, transB: true, accumulate: false });
      } catch (e) {
        if (r) this.arena.release(r);
        throw e;
      } finally {
        this.arena.release(peP);
      }
      if (this.rPtr) this.arena.release(this.rPtr);
      this.rPtr = r;
      this.rRows = rows;
    }
    return f32At(this.rPtr, (this.rRows - P) * hd);
  }

  /**
   * Attention of one segment over [memory ; segment] (causal, relative positions), then the
   * memory update. q, k: [batch, heads, n, headDim]; v: [batch, heads, n, valueDim]. Returns
   * [batch, heads, n, valueDim].
   */
  forward(q: TensorLike, k: TensorLike, v: TensorLike, options: RecurrentMemoryForwardOptions = {}): Tensor {
    return this.kernels().operation(() => this.forwardOnce(q, k, v, options));
  }

  private forwardOnce(qIn: TensorLike, kIn: TensorLike, vIn: TensorLike, optionsIn: RecurrentMemoryForwardOptions): Tensor {
    this.kernels();
    const held = this.held;
    const options = readOptions<RecurrentMemoryForwardOptions>(optionsIn, FORWARD_KEYS, 'options', 'recurrentMemoryAttention.forward');
    const arena = this.arena;
    const { batch: B, heads: H, headDim: dh, valueDim: dv, memoryLength: M } = this;
    const q = viewTensor(qIn, 'q', F32, arena);
    const k = viewTensor(kIn, 'k', F32, arena);
    const v = viewTensor(vIn, 'v', F32, arena);
    const n = q.shape[2];
    const expect = (view: TensorView<Float32Array>, name: string, d: number): void => {
      const want = [B, H, n, d];
      if (view.shape.length !== 4 || view.shape.some((x, i) => x !== want[i])) {
        throw new AttentionError('SHAPE_MISMATCH', `${name} must have shape [batch, heads, n, ${name === 'v' ? 'valueDim' : 'headDim'}] = ${formatShape(want)} (this memory's batch ${B}, heads ${H}), got ${formatShape(view.shape)}`);
      }
    };
    if (q.shape.length !== 4) throw new AttentionError('SHAPE_MISMATCH', `q must be 4-D [batch, heads, n, headDim], got ${formatShape(q.shape)}`);
    expect(q, 'q', dh);
    expect(k, 'k', dh);
    expect(v, 'v', dv);
    if (options.update !== undefined && typeof options.update !== 'boolean') {
      throw new AttentionError('INVALID_OPTION', `options.update must be true or false, got ${String(options.update)}`);
    }
    const update = options.update ?? true;
    const outShape = [B, H, n, dv];
    checkElementCount(B * H * n * dv, 'output');
    const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena);
    const m = this.held;
    const klen = m + n;
    let P = klen;
    if (this.sameLength) P = Math.min(P, M);
    if (this.clampLen > 0) P = Math.min(P, this.clampLen + 1);
    const width = 2 * P - 1;
    const hasPos = this.wr !== 0 && n > 0;
    checkElementCount(B * H * klen * Math.max(dh, dv), 'keys and values');
    if (hasPos) checkElementCount(n * width, 'relative-position table');
    // The caller's getters have run: this memory, its runtime and every resident tensor must still be alive and unchanged.
    const kernels = this.kernels();
    assertLive(kernels, { q: qIn, k: kIn, v: vIn, 'options.out': options.out });
    if (this.held !== held) {
      throw new AttentionError('INVALID_ARGUMENT', 'recurrentMemoryAttention.forward: the memory was changed (forward or reset) by the caller\'s code during the call');
    }

    const scope = new Scope(arena);
    try {
      attentionKernels(kernels).reserve(klen, dh, dv);
      if (hasPos) gemmKernels(kernels).reserve(P, dh);
      const qp = scope.place(q);
      const kp = scope.place(k);
      const vp = scope.place(v);
      const op = outputBlock(scope, out, B * H * n * dv, 'output', [q, k, v]);
      if (n > 0) {
        // Keys and values [memory ; segment] per (batch, head), contiguous.
        const kb = scope.alloc(B * H * klen * dh, 'keys');
        const vb = scope.alloc(B * H * klen * dv, 'values');
        for (let x = 0; x < B * H; x++) {
          if (m > 0) {
            arena.f32(f32At(kb, x * klen * dh), m * dh).set(arena.f32(f32At(this.kMem, x * M * dh), m * dh));
            arena.f32(f32At(vb, x * klen * dv), m * dv).set(arena.f32(f32At(this.vMem, x * M * dv), m * dv));
          }
          arena.f32(f32At(kb, (x * klen + m) * dh), n * dh).set(arena.f32(f32At(kp, x * n * dh), n * dh));
          arena.f32(f32At(vb, (x * klen + m) * dv), n * dv).set(arena.f32(f32At(vp, x * n * dv), n * dv));
        }
        // q + u for the content term (q itself when u is 0).
        let qu = qp;
        if (this.hasU) {
          qu = scope.alloc(B * H * n * dh, 'q + u');
          for (let x = 0; x < B * H; x++) {
            rowKernels(kernels).biasScale({ src: f32At(qp, x * n * dh), srcStride: dh, n, d: dh, bias: f32At(this.uPtr, (x % H) * dh), scale: 1, dst: f32At(qu, x * n * dh), dstStride: dh });
          }
        }
        const table = hasPos ? scope.alloc(n * width, 'relative-position table') : 0;
        const qv = hasPos ? scope.alloc(n * dh, 'scale·(q + v)') : 0;
        if (hasPos) arena.f32(table, n * width).fill(0); // the d > 0 half stays 0 (causal: never visible)
        // The relative encodings are kept across calls: grown only after every block of this call
        // is reserved, so a call that runs out of memory leaves them as they were.
        const r = hasPos ? this.relative(kernels, P) : 0;
        const hd = H * dh;
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const x = b * H + h;
            if (hasPos) {
              // B_i[t] = scale·(q_i + v)·r_t, t = 0 … P − 1 ↔ distance P − 1 − t: one GEMM into the table.
              rowKernels(kernels).biasScale({ src: f32At(qp, x * n * dh), srcStride: dh, n, d: dh, bias: f32At(this.vPtr, h * dh), scale: this.scale, dst: qv, dstStride: dh });
              gemmKernels(kernels).run({ a: qv, lda: dh, b: f32At(r, h * dh), ldb: hd, c: table, ldc: width, bias: 0, m: n, n: P, k: dh, transB: true, accumulate: false });
            }
            runAttention(kernels, {
              batch: 1, qHeads: 1, kvHeads: 1, nq: n, nk: klen, dh, dv,
              q: { ptr: f32At(qu, x * n * dh), batchStride: 0, headStride: 0, rowStride: dh },
              k: { ptr: f32At(kb, x * klen * dh), batchStride: 0, headStride: 0, rowStride: dh },
              v: { ptr: f32At(vb, x * klen * dv), batchStride: 0, headStride: 0, rowStride: dv },
              o: { ptr: f32At(op, x * n * dv), batchStride: 0, headStride: 0, rowStride: dv },
              scale: this.scale, softcap: 0, mask: undefined, weights: undefined, offsets: [m], keyLens: [klen],
              left: this.sameLength ? M - 1 : -1, right: 0,
              relBias: hasPos ? { ptr: table, batchStride: 0, headStride: 0, rowStride: width, maxDistance: P - 1 } : undefined,
            });
          }
        }
        // Memory update: the last min(M, klen) positions of [memory ; segment].
        if (update && M > 0) {
          const keep = Math.min(M, klen);
          for (let x = 0; x < B * H; x++) {
            arena.f32(f32At(this.kMem, x * M * dh), keep * dh).set(arena.f32(f32At(kb, (x * klen + klen - keep) * dh), keep * dh));
            arena.f32(f32At(this.vMem, x * M * dv), keep * dv).set(arena.f32(f32At(vb, (x * klen + klen - keep) * dv), keep * dv));
          }
          this.held = keep;
        }
      }
      return writeOut(arena, out, op, outShape);
    } finally {
      scope.close();
    }
  }

  /** Frees the memory and tables. Using the object afterwards throws DISPOSED. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of [this.kMem, this.vMem, this.wr, this.rPtr, this.uPtr, this.vPtr]) if (p) this.arena.release(p);
    this.kMem = this.vMem = this.wr = this.rPtr = this.uPtr = this.vPtr = 0;
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
