// bias.ts — position encodings of the multi-head layer, prepared once per layer and turned into
// what the fused kernel reads on each call.
//
//   rope   rotates Q and K in place after projection (rope.ts); no bias.
//   alibi  per-head table slope·d over d ∈ [−R, R] (alibi.ts); R ≥ every distance of the call.
//   t5     per-head table weights[bucket(d), h] over d ∈ [−R, R], R ≤ max_distance (t5.ts).
//   shaw   Shaw, Uszkoreit, Vaswani, "Self-Attention with Relative Position Representations"
//          (NAACL 2018), eq. (4)–(5), key term: e_ij = scale·(q_i·k_j + q_i·a_clip(j−i, k)) with
//          learned a_{−k..k} ∈ R^{headDim}; the per-row table scale·q_i·a_d (2k + 1 floats per
//          query row) is one small GEMM per (batch, head), and the kernel's clamp to [−k, k] is
//          exactly Shaw's clip. (The value-side term a^V of eq. (3) is not supported.)
// The kernel adds the bias after softcap: score = cap(scale·q·k) + bias(d) + mask, with
// d = key position − query position; distances are absolute, so the same tables serve cached
// decoding and ring-buffer segments. No nq × nk buffer is ever built.

import type { Kernels } from '../kernels/instance';
import { gemmKernels } from '../kernels/gemm';
import { AttentionError, f32At, f32Bytes, formatShape, formatValue } from '../runtime/index';
import { asNumber, type Scope, type TensorLike, viewData, viewTensor } from '../tensor';
import { assertLive, optionKeys, readOptions } from '../attention/options';
import { alibiSlopes, fillAlibiTable } from './alibi';
import { checkRopeParameters, type RopeParameters, type RopeSpec } from './rope';
import { checkT5Parameters, fillT5Table } from './t5';

/** RoPE on queries and keys (see rope.ts). */
export interface RopePosition extends RopeParameters {
  /** Selects RoPE. */
  type: 'rope';
}

/** ALiBi linear biases (see alibi.ts). */
export interface AlibiPosition {
  /** Selects ALiBi. */
  type: 'alibi';
  /** One slope per query head; default `alibiSlopes(numHeads)` (the reference get_slopes). */
  slopes?: ArrayLike<number>;
  /** −slope·|d| instead of slope·d (bidirectional encoders). Default false. */
  symmetric?: boolean;
}

/** T5 relative-position buckets (see t5.ts). */
export interface T5Position {
  /** Selects T5 relative-position buckets. */
  type: 't5';
  /** Learned bias per bucket and head: [numBuckets, numHeads] (T5's relative_attention_bias.weight). */
  weights: TensorLike;
  /** Encoder-style (true, default) or decoder-style causal buckets (false). */
  bidirectional?: boolean;
  /** Default 32. */
  numBuckets?: number;
  /** Default 128. */
  maxDistance?: number;
  /** T5 does not scale scores by 1/√headDim: true sets the layer's scale to 1. Default false. */
  unscaled?: boolean;
}

/** Shaw-style learned relative key embeddings (see the header). */
export interface ShawPosition {
  /** Selects Shaw relative key embeddings. */
  type: 'shaw';
  /** a_{−k} … a_{k}: [2k + 1, headDim] shared by all heads, or [numHeads, 2k + 1, headDim]. */
  embeddings: TensorLike;
  /** k: distances are clipped to [−k, k]. */
  maxRelative: number;
}

/** Position encoding of a multi-head layer. */
export type PositionConfig = RopePosition | AlibiPosition | T5Position | ShawPosition;

/** What the attention plan needs (matches AttentionPlan.relBias). */
export interface RelBias {
  ptr: number;
  batchStride: number;
  headStride: number;
  rowStride: number;
  maxDistance: number;
}

/** Query rows of one call, for the Shaw table: head (b, h) row i at ptr + 4·(b·batchStride + h·headStride + i·rowStride). */
export interface QueryRows {
  ptr: number;
  batchStride: number;
  headStride: number;
  rowStride: number;
}

const F32 = [Float32Array] as const;

/** The keys of each position type (the union is read once, then only the type's keys are allowed). */
const POSITION_KEYS: Record<PositionConfig['type'], readonly string[]> = {
  rope: optionKeys<RopePosition>({ type: true, rotaryDim: true, base: true, interleaved: true }),
  alibi: optionKeys<AlibiPosition>({ type: true, slopes: true, symmetric: true }),
  t5: optionKeys<T5Position>({ type: true, weights: true, bidirectional: true, numBuckets: true, maxDistance: true, unscaled: true }),
  shaw: optionKeys<ShawPosition>({ type: true, embeddings: true, maxRelative: true }),
};

/** A layer's position config read once (own properties, the keys of its type only; tensors snapshot). */
function readPositionConfig(optionsIn: object, name: string): PositionConfig {
  const all = readOptions<Record<string, unknown>>(optionsIn, [...new Set(Object.values(POSITION_KEYS).flat())], name, 'rt.multiHeadAttention');
  const type = all.type;
  if (typeof type !== 'string' || !Object.hasOwn(POSITION_KEYS, type)) {
    throw new AttentionError('INVALID_OPTION', `${name}.type must be 'rope', 'alibi', 't5' or 'shaw', got ${formatValue(type)}`);
  }
  return readOptions<Record<string, unknown>>(all, POSITION_KEYS[type as PositionConfig['type']], name, `rt.multiHeadAttention (a '${type}' position)`) as unknown as PositionConfig;
}

/** A layer's position encoding, with its tables in Wasm memory. */
export class PositionEncoding {
  readonly type: PositionConfig['type'];
  /** RoPE parameters (type 'rope') */
  readonly rope: RopeSpec | undefined;
  /** scale forced by the encoding (T5 unscaled), else undefined */
  readonly scaleOverride: number | undefined;
  private readonly kernels: Kernels;
  private readonly heads: number;
  private readonly headDim: number;
  private readonly slopes: number[] = [];
  private readonly symmetric: boolean = false;
  private t5: { bidirectional: boolean; numBuckets: number; maxDistance: number } | undefined;
  private t5Weights: Float32Array | undefined;
  private shawK = 0;
  private shawPerHead = false;
  /** table block (ALiBi: grows; T5: fixed; Shaw: scaled embeddings) */
  private table = 0;
  private tableR = -1;

  constructor(kernels: Kernels, optionsIn: PositionConfig, heads: number, headDim: number, name: string) {
    this.kernels = kernels;
    this.heads = heads;
    this.headDim = headDim;
    if (typeof optionsIn !== 'object' || optionsIn === null) {
      throw new AttentionError('INVALID_OPTION', `${name} must be { type: 'rope' | 'alibi' | 't5' | 'shaw', … }, got ${String(optionsIn)}`);
    }
    const config = readPositionConfig(optionsIn, name);
    this.type = config.type;
    const arena = kernels.arena;
    switch (config.type) {
      case 'rope':
        this.rope = checkRopeParameters(config, headDim, name);
        break;
      case 'alibi': {
        const slopes = config.slopes === undefined ? alibiSlopes(heads) : Array.from(config.slopes, asNumber);
        if (slopes.length !== heads || slopes.some((s) => !Number.isFinite(s))) {
          throw new AttentionError('INVALID_OPTION', `${name}.slopes must hold ${heads} finite numbers (one per query head), got ${slopes.length}`);
        }
        this.slopes = slopes;
        if (config.symmetric !== undefined && typeof config.symmetric !== 'boolean') {
          throw new AttentionError('INVALID_OPTION', `${name}.symmetric must be a boolean, got ${String(config.symmetric)}`);
        }
        this.symmetric = config.symmetric ?? false;
        break;
      }
      case 't5': {
        const bidirectional = config.bidirectional ?? true;
        if (typeof bidirectional !== 'boolean') throw new AttentionError('INVALID_OPTION', `${name}.bidirectional must be a boolean, got ${String(bidirectional)}`);
        const numBuckets = config.numBuckets ?? 32;
        const maxDistance = config.maxDistance ?? 128;
        checkT5Parameters(numBuckets, maxDistance, bidirectional, name);
        const w = viewTensor(config.weights, `${name}.weights`, F32, arena);
        if (w.shape.length !== 2 || w.shape[0] !== numBuckets || w.shape[1] !== heads) {
          throw new AttentionError('SHAPE_MISMATCH', `${name}.weights must be [numBuckets = ${numBuckets}, numHeads = ${heads}], got ${formatShape(w.shape)}`);
        }
        if (config.unscaled !== undefined && typeof config.unscaled !== 'boolean') {
          throw new AttentionError('INVALID_OPTION', `${name}.unscaled must be a boolean, got ${String(config.unscaled)}`);
        }
        if (config.unscaled) this.scaleOverride = 1;
        this.t5 = { bidirectional, numBuckets, maxDistance };
        this.t5Weights = viewData(w).slice();
        break;
      }
      case 'shaw': {
        const k = config.maxRelative;
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > 1 << 20) {
          throw new AttentionError('INVALID_OPTION', `${name}.maxRelative must be a non-negative integer, got ${String(k)}`);
        }
        const e = viewTensor(config.embeddings, `${name}.embeddings`, F32, arena);
        const shared = e.shape.length === 2 && e.shape[0] === 2 * k + 1 && e.shape[1] === headDim;
        const perHead = e.shape.length === 3 && e.shape[0] === heads && e.shape[1] === 2 * k + 1 && e.shape[2] === headDim;
        if (!shared && !perHead) {
          throw new AttentionError('SHAPE_MISMATCH', `${name}.embeddings must be [2·maxRelative + 1 = ${2 * k + 1}, headDim = ${headDim}] or [numHeads = ${heads}, ${2 * k + 1}, ${headDim}], got ${formatShape(e.shape)}`);
        }
        this.shawK = k;
        this.shawPerHead = perHead;
        const size = e.shape.reduce((a, d) => a * d, 1);
        assertLive(kernels, { [`${name}.embeddings`]: e.resident });
        this.table = arena.alloc(f32Bytes(size));
        arena.f32(this.table, size).set(viewData(e));
        break;
      }
      default:
        throw new AttentionError('INVALID_OPTION', `${name}.type must be 'rope', 'alibi', 't5' or 'shaw', got ${formatValue((config as { type: unknown }).type)}`);
    }
  }

  /** True when the encoding adds a bias to the scores (everything but RoPE). */
  get hasBias(): boolean {
    return this.type !== 'rope';
  }

  /** Multiplies the Shaw embeddings by the layer's score scale once (the kernel adds the table after scaling q·k). */
  setScale(scale: number): void {
    if (this.type !== 'shaw') return;
    const size = (this.shawPerHead ? this.heads : 1) * (2 * this.shawK + 1) * this.headDim;
    const v = this.kernels.arena.f32(this.table, size);
    for (let i = 0; i < size; i++) v[i] *= scale;
  }

  /**
   * The bias of one call, for query positions [qMin, qMax] and key positions [kMin, kMax]
   * (absolute; distances d = key − query). Shaw also needs the query rows and allocates its
   * per-row table in `scope`.
   */
  prepare(scope: Scope, span: { qMin: number; qMax: number; kMin: number; kMax: number }, rows?: { q: QueryRows; batch: number; nq: number }): RelBias | undefined {
    const need = Math.max(0, span.qMax - span.kMin, span.kMax - span.qMin);
    switch (this.type) {
      case 'rope':
        return undefined;
      case 'alibi':
        return this.perHeadTable(need, (out, R) => fillAlibiTable(out, this.slopes, R, this.symmetric));
      case 't5': {
        const t5 = this.t5!;
        return this.perHeadTable(Math.min(need, t5.maxDistance), (out, R) =>
          fillT5Table(out, this.t5Weights!, this.heads, R, t5.bidirectional, t5.numBuckets, t5.maxDistance));
      }
      case 'shaw':
        return this.shawTable(scope, rows!);
    }
  }

  /** A per-head table over [−R, R], from the layer's block (rebuilt larger when needed). */
  private perHeadTable(R: number, fill: (out: Float32Array, R: number) => void): RelBias {
    const arena = this.kernels.arena;
    if (R > this.tableR) {
      // ALiBi grows with the sequence: keep headroom; T5 is capped at max_distance by the caller.
      const cap = this.type === 't5' ? Math.min(Math.max(R, 2 * this.tableR), this.t5!.maxDistance) : Math.max(R, 2 * this.tableR, 64);
      const size = this.heads * (2 * cap + 1);
      const next = arena.alloc(f32Bytes(size));
      if (this.table) arena.release(this.table);
      this.table = next;
      this.tableR = cap;
      fill(arena.f32(next, size), cap);
    }
    const width = 2 * this.tableR + 1;
    return { ptr: f32At(this.table, (this.tableR - R)), batchStride: 0, headStride: width, rowStride: 0, maxDistance: R };
  }

  /** Shaw: table[b, h, i, d + k] = scale·q_i·a_d via one GEMM per (batch, head). */
  private shawTable(scope: Scope, rows: { q: QueryRows; batch: number; nq: number }): RelBias {
    const k = this.shawK;
    const width = 2 * k + 1;
    const { q, batch, nq } = rows;
    const ptr = scope.alloc(Math.max(1, batch * this.heads * nq * width), 'Shaw relative table');
    gemmKernels(this.kernels).reserve(width, this.headDim);
    const calls = [];
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < this.heads; h++) {
        calls.push({
          a: f32At(q.ptr, (b * q.batchStride + h * q.headStride)), lda: q.rowStride,
          b: this.table + (this.shawPerHead ? f32Bytes(h * width * this.headDim) : 0), ldb: this.headDim,
          c: f32At(ptr, ((b * this.heads + h) * nq * width)), ldc: width,
          bias: 0, m: nq, n: width, k: this.headDim, transB: true, accumulate: false,
        });
      }
    }
    if (nq > 0) gemmKernels(this.kernels).runMany(calls);
    return { ptr, batchStride: this.heads * nq * width, headStride: nq * width, rowStride: width, maxDistance: k };
  }

  dispose(): void {
    if (this.table) this.kernels.arena.release(this.table);
    this.table = 0;
    this.tableR = -1;
  }
}
