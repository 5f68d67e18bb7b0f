// mha.ts — rt.multiHeadAttention: a multi-head attention layer with Q/K/V/O projections whose
// weights live in Wasm memory (copied once, see weights.ts), on the fused attention kernel.
//
//   y = concat_h( softmax(scale·Q_h·K_hᵀ + bias + mask) · V_h ) · W_o + b_o
//   Q = x·W_q + b_q;  K = c·W_k + b_k;  V = c·W_v + b_v   (c = x for self-attention, else the context)
//
// One call:
//   1. projections: self-attention runs ONE GEMM x·[W_q | W_k | W_v] into a [B·S, (H + 2·Hkv)·Dh]
//      buffer; cross-attention one GEMM for Q and one for K|V (two when key ≠ value input).
//   2. RoPE (if configured) rotates the Q and K heads inside that buffer (f32_rope, in place).
//   3. the fused kernel reads the heads in place: head h of row r at column h·Dh, row stride
//      (H + 2·Hkv)·Dh — no transposition, no copy; GQA/MQA by kv head ⌊h / (H / Hkv)⌋.
//      Relative biases (ALiBi, T5, Shaw) are O(n) tables (position/bias.ts); masks are additive.
//      With a KV cache the new K/V go into the cache and the kernel reads it in place
//      (kv-cache.ts); a ring-buffer cache merges partial results by log-sum-exp.
//   4. output projection: one GEMM over the [B·S, H·Dh] attention output.
// Layout: x is [batch, seq, dModel] (batch first, PyTorch's batch_first=True), or [seq, dModel]
// unbatched. Errors are AttentionErrors raised before any Wasm memory is touched.
// Beside it: mha-options.ts (the config and forward option types, keys and input checks),
// mha-linear.ts (the projection products), weights.ts (how the weights are stored).

import { type HeadLayout, runAttention } from '../attention/run-heads';
import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { gemmKernels } from '../kernels/gemm';
import { PositionEncoding, type RelBias } from '../position/bias';
import { applyRope, resolvePositions, RopeTables } from '../position/rope';
import { AttentionError, f32At, formatShape, formatValue } from '../runtime/index';
import {
  asNumber, checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, type TensorView, viewOut, viewTensor, writeOut,
} from '../tensor';
import { assertLive, plainOptionData, readOptions } from '../attention/options';
import { KVCache } from './kv-cache';
import { checkMasks, composeMask } from './masks';
import { linear } from './mha-linear';
import {
  checkLayerInput, CONFIG_KEYS, FORWARD_KEYS, isKeyValuePair, type MultiHeadAttentionConfig, type MultiHeadAttentionForwardOptions,
  type MultiHeadAttentionOutput, PAIR_KEYS, posInt, WEIGHT_TYPES,
} from './mha-options';
import { type StoredWeights, storeWeights } from './weights';

export type { MultiHeadAttentionConfig, MultiHeadAttentionForwardOptions, MultiHeadAttentionOutput } from './mha-options';

const F32 = [Float32Array] as const;

/** A multi-head attention layer; see the file header. Create with `rt.multiHeadAttention(config)`. */
export class MultiHeadAttention {
  /** Model (embedding) size: the input and output feature size. */
  readonly dModel: number;
  /** Query heads. */
  readonly numHeads: number;
  /** Key/value heads (fewer than numHeads: GQA/MQA). */
  readonly numKvHeads: number;
  /** Size of one head. */
  readonly headDim: number;
  /** Feature size of the key source (cross-attention context). */
  readonly kdim: number;
  /** Feature size of the value source (cross-attention context). */
  readonly vdim: number;
  /** Whether the projections have biases. */
  readonly bias: boolean;
  /** Multiplier of Q·Kᵀ. */
  readonly scale: number;
  /** Score softcap (0 = none). */
  readonly softcap: number;
  private readonly kernelsOf: () => Kernels;
  private readonly arena: Kernels['arena'];
  private weights: StoredWeights | undefined;
  private readonly position: PositionEncoding | undefined;
  private readonly ropeTables: RopeTables | undefined;

  /** @internal use rt.multiHeadAttention */
  constructor(kernelsOf: () => Kernels, configIn: MultiHeadAttentionConfig) {
    const kernels = kernelsOf();
    this.kernelsOf = kernelsOf;
    this.arena = kernels.arena;
    if (typeof configIn !== 'object' || configIn === null) {
      throw new AttentionError('INVALID_ARGUMENT', `config must be { dModel, numHeads, weights, … }, got ${String(configIn)}`);
    }
    const config = readOptions<MultiHeadAttentionConfig>(configIn, CONFIG_KEYS, 'config', 'rt.multiHeadAttention');
    this.dModel = posInt(config.dModel, 'config.dModel');
    this.numHeads = posInt(config.numHeads, 'config.numHeads');
    this.numKvHeads = config.numKvHeads === undefined ? this.numHeads : posInt(config.numKvHeads, 'config.numKvHeads');
    if (this.numHeads % this.numKvHeads !== 0) {
      throw new AttentionError('INVALID_OPTION', `config.numKvHeads (${this.numKvHeads}) must divide config.numHeads (${this.numHeads})`);
    }
    if (config.headDim === undefined && this.dModel % this.numHeads !== 0) {
      throw new AttentionError('INVALID_OPTION', `config.dModel (${this.dModel}) must be divisible by config.numHeads (${this.numHeads}), or give config.headDim`);
    }
    this.headDim = config.headDim === undefined ? this.dModel / this.numHeads : posInt(config.headDim, 'config.headDim');
    this.kdim = config.kdim === undefined ? this.dModel : posInt(config.kdim, 'config.kdim');
    this.vdim = config.vdim === undefined ? this.dModel : posInt(config.vdim, 'config.vdim');
    const bias = config.bias ?? true;
    if (typeof bias !== 'boolean') throw new AttentionError('INVALID_OPTION', `config.bias must be a boolean, got ${String(config.bias)}`);
    const packWeights = config.packWeights ?? true;
    if (typeof packWeights !== 'boolean') {
      throw new AttentionError('INVALID_OPTION', `config.packWeights must be a boolean, got ${formatValue(config.packWeights)}`);
    }
    this.bias = bias;
    const weightType = config.weightType ?? 'f32';
    if (!(WEIGHT_TYPES as readonly unknown[]).includes(weightType)) {
      throw new AttentionError('INVALID_OPTION', `config.weightType must be one of ${WEIGHT_TYPES.map((t) => `'${t}'`).join(', ')}, got ${formatValue(weightType)}`);
    }
    if (weightType === 'q8_0' || weightType === 'q4_0') {
      const inputs = { dModel: this.dModel, kdim: this.kdim, vdim: this.vdim, 'numHeads·headDim': this.numHeads * this.headDim };
      const bad = Object.entries(inputs).find(([, size]) => size % 32 !== 0);
      if (bad) {
        throw new AttentionError('INVALID_OPTION', `config.weightType '${weightType}' stores blocks of 32 inputs: every projection's input size must be a multiple of 32, got ${bad[0]} = ${bad[1]}`);
      }
    }
    const softcap = config.softcap ?? 0;
    if (typeof softcap !== 'number' || !Number.isFinite(softcap) || softcap < 0) {
      throw new AttentionError('INVALID_OPTION', `config.softcap must be a number ≥ 0, got ${String(config.softcap)}`);
    }
    this.softcap = softcap;
    if (config.scale !== undefined && (typeof config.scale !== 'number' || !Number.isFinite(config.scale))) {
      throw new AttentionError('INVALID_OPTION', `config.scale must be a finite number, got ${String(config.scale)}`);
    }
    checkElementCount((this.numHeads + 2 * this.numKvHeads) * this.headDim * Math.max(this.dModel, this.kdim, this.vdim), 'weights');
    // Validate the position config and the weights before allocating anything that could leak.
    let position: PositionEncoding | undefined;
    if (config.position !== undefined) position = new PositionEncoding(kernels, config.position, this.numHeads, this.headDim, 'config.position');
    try {
      if (position?.scaleOverride !== undefined && config.scale !== undefined && config.scale !== position.scaleOverride) {
        throw new AttentionError('INVALID_OPTION', `config.scale (${config.scale}) contradicts config.position.unscaled (scale 1)`);
      }
      this.scale = config.scale ?? position?.scaleOverride ?? 1 / Math.sqrt(this.headDim);
      position?.setScale(this.scale);
      this.weights = storeWeights(kernels, config.weights, {
        dModel: this.dModel, kdim: this.kdim, vdim: this.vdim,
        qOut: this.numHeads * this.headDim, kOut: this.numKvHeads * this.headDim, vOut: this.numKvHeads * this.headDim, bias,
        pack: packWeights, weightType,
      });
    } catch (e) {
      position?.dispose();
      throw e;
    }
    this.position = position;
    this.ropeTables = position?.rope ? new RopeTables(kernels, position.rope) : undefined;
  }

  private kernels(): Kernels {
    if (!this.weights) throw new AttentionError('DISPOSED', 'this multiHeadAttention layer was disposed');
    return this.kernelsOf();
  }

  /** Pre-quantized weights are the caller's: each must still be alive (DISPOSED names it otherwise). */
  private assertWeightsLive(kernels: Kernels): void {
    const names = ['q', 'k', 'v', 'out'];
    this.weights?.borrowed?.forEach((q, i) => q.assertUsable(`config.weights.${names[i]}`, kernels));
  }

  private get qOut(): number {
    return this.numHeads * this.headDim;
  }

  private get kvOut(): number {
    return this.numKvHeads * this.headDim;
  }

  private checkCache(cache: unknown, name: string, batch: number, kernels: Kernels): KVCache {
    if (!(cache instanceof KVCache)) throw new AttentionError('INVALID_ARGUMENT', `${name} must be a KVCache (rt.kvCache), got ${String(cache)}`);
    if (cache.kernels() !== kernels) throw new AttentionError('INVALID_ARGUMENT', `${name} belongs to another runtime`);
    if (cache.heads !== this.numKvHeads || cache.headDim !== this.headDim || cache.valueDim !== this.headDim || cache.batch !== batch) {
      throw new AttentionError(
        'SHAPE_MISMATCH',
        `${name} must have heads = numKvHeads = ${this.numKvHeads}, headDim = valueDim = ${this.headDim}, batch = ${batch}; ` +
          `got heads ${cache.heads}, headDim ${cache.headDim}, valueDim ${cache.valueDim}, batch ${cache.batch}`,
      );
    }
    return cache;
  }

  /**
   * Runs the layer on x [batch, seq, dModel] (or [seq, dModel]); returns [batch, seq, dModel]
   * (and the attention weights with needWeights). See MultiHeadAttentionForwardOptions.
   */
  forward(x: TensorLike, options: MultiHeadAttentionForwardOptions & { needWeights: true }): MultiHeadAttentionOutput;
  forward(x: TensorLike, options?: MultiHeadAttentionForwardOptions): Tensor;
  forward(x: TensorLike, options: MultiHeadAttentionForwardOptions = {}): Tensor | MultiHeadAttentionOutput {
    return this.kernels().operation(() => this.forwardOnce(x, options));
  }

  private forwardOnce(xIn: TensorLike, optionsIn: MultiHeadAttentionForwardOptions): Tensor | MultiHeadAttentionOutput {
    const kernels = this.kernels();
    const arena = this.arena;
    const options = readOptions<MultiHeadAttentionForwardOptions>(optionsIn, FORWARD_KEYS, 'options', 'layer.forward');
    const xView = viewTensor(xIn, 'x', F32, arena);
    const unbatched = xView.shape.length === 2;
    const { view: x, batch: B, seq: S } = checkLayerInput(xView, 'x', this.dModel, 'dModel', unbatched);
    const H = this.numHeads;
    const Hkv = this.numKvHeads;
    const Dh = this.headDim;
    const qOut = this.qOut;
    const kvOut = this.kvOut;
    const W = this.weights!;

    // What kind of call.
    type Ctx = { kind: 'self' } | { kind: 'cross'; key: TensorView; value: TensorView; same: boolean; seq: number } | { kind: 'memory'; cache: KVCache };
    let ctx: Ctx = { kind: 'self' };
    const context = options.context; // (a plain copy: a { key, value } pair or a tensor snapshot, or the KVCache)
    if (isKeyValuePair(context)) readOptions(context, PAIR_KEYS, 'options.context', 'layer.forward'); // (unknown keys)
    if (context !== undefined) {
      if (context instanceof KVCache) {
        ctx = { kind: 'memory', cache: this.checkCache(context, 'options.context', B, kernels) };
      } else if (typeof context === 'object' && context !== null && 'key' in context && 'value' in context && !('data' in context)) {
        const kc = checkLayerInput(viewTensor(context.key, 'options.context.key', F32, arena), 'options.context.key', this.kdim, 'kdim', unbatched, B);
        const vc = checkLayerInput(viewTensor(context.value, 'options.context.value', F32, arena), 'options.context.value', this.vdim, 'vdim', unbatched, B);
        if (kc.seq !== vc.seq) {
          throw new AttentionError('SHAPE_MISMATCH', `options.context.key ${formatShape(kc.view.shape)} and options.context.value ${formatShape(vc.view.shape)} must have the same length`);
        }
        ctx = { kind: 'cross', key: kc.view, value: vc.view, same: false, seq: kc.seq };
      } else {
        if (this.kdim !== this.vdim) {
          throw new AttentionError('INVALID_ARGUMENT', `options.context as one tensor needs kdim = vdim (got ${this.kdim}, ${this.vdim}); pass { key, value }`);
        }
        const c = checkLayerInput(viewTensor(context, 'options.context', F32, arena), 'options.context', this.kdim, 'kdim', unbatched, B);
        ctx = { kind: 'cross', key: c.view, value: c.view, same: true, seq: c.seq };
      }
      if (this.position) {
        throw new AttentionError('INVALID_OPTION', `this layer has a ${this.position.type} position encoding, which applies to self-attention; create cross-attention layers without config.position`);
      }
      if (options.cache !== undefined) {
        throw new AttentionError('INVALID_OPTION', 'options.cache is the self-attention KV cache; for cross-attention pass the cache filled by layer.projectContext(encoderOutput) as options.context');
      }
    } else if (this.kdim !== this.dModel || this.vdim !== this.dModel) {
      throw new AttentionError('INVALID_ARGUMENT', `self-attention needs kdim = vdim = dModel (got kdim ${this.kdim}, vdim ${this.vdim}, dModel ${this.dModel}); pass options.context`);
    }
    const cache = options.cache === undefined ? undefined : this.checkCache(options.cache, 'options.cache', B, kernels);
    const cachePosition = cache?.position;
    const memoryPosition = ctx.kind === 'memory' ? ctx.cache.position : undefined;
    const causalOpt = options.causal ?? (cache !== undefined);
    if (causalOpt !== true && causalOpt !== false && causalOpt !== 'bottom-right' && causalOpt !== 'top-left') {
      throw new AttentionError('INVALID_OPTION', `options.causal must be true, false, 'bottom-right' or 'top-left', got ${formatValue(options.causal)}`);
    }
    if ((cache || ctx.kind === 'memory') && causalOpt === 'top-left') {
      throw new AttentionError('INVALID_OPTION', "options.causal 'top-left' has no meaning with a KV cache (new tokens follow the cached ones): use true");
    }
    const causal = causalOpt !== false;
    if (ctx.kind === 'memory' && causal) {
      throw new AttentionError('INVALID_OPTION', 'options.causal applies to self-attention; a cross-attention memory (KVCache context) is attended in full');
    }
    const nk = ctx.kind === 'self' ? (cache ? cache.keyCount(S) : S) : ctx.kind === 'cross' ? ctx.seq : ctx.cache.length;
    let keyLens: number[] | undefined;
    if (options.keyLengths !== undefined) {
      if (cache || ctx.kind === 'memory') {
        throw new AttentionError('INVALID_OPTION', 'options.keyLengths does not apply to a KV cache: use options.keyPaddingMask over the cached keys');
      }
      const v = options.keyLengths as unknown;
      const isArrayLike = Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
      const list = isArrayLike ? Array.from(v as ArrayLike<number | bigint>, asNumber) : [];
      if (!isArrayLike || list.length !== B || list.some((n) => !Number.isInteger(n) || n < 0 || n > nk)) {
        throw new AttentionError('INVALID_OPTION', `options.keyLengths must hold ${B} integers in [0, ${nk}] (one per batch entry), got ${isArrayLike ? `[${list.join(', ')}]` : String(v)}`);
      }
      keyLens = list;
    }
    if (options.positions !== undefined && !this.position?.rope) {
      throw new AttentionError('INVALID_OPTION', 'options.positions sets RoPE positions; this layer has no RoPE position encoding');
    }
    const needWeights = options.needWeights ?? false;
    const averageWeights = options.averageWeights ?? true;
    if (typeof needWeights !== 'boolean') throw new AttentionError('INVALID_OPTION', `options.needWeights must be a boolean, got ${String(needWeights)}`);
    if (typeof averageWeights !== 'boolean') throw new AttentionError('INVALID_OPTION', `options.averageWeights must be a boolean, got ${String(averageWeights)}`);
    const ropePositions = this.position?.rope
      ? resolvePositions(options.positions ?? (cache ? cache.position : 0), B, S, 'options.positions')
      : undefined;
    const masks = checkMasks({ mask: options.mask, keyPaddingMask: options.keyPaddingMask }, { batch: B, heads: H, q: S, k: nk }, arena);
    const outShape = unbatched ? [S, this.dModel] : [B, S, this.dModel];
    checkElementCount(B * S * (qOut + 2 * kvOut), 'projections');
    checkElementCount(B * S * Math.max(qOut, this.dModel), 'output');
    if (needWeights) checkElementCount(B * H * S * nk, 'weights');
    const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena);
    if (cache) cache.checkRoom(S, 'layer.forward');
    // The caller's getters have run: the layer, its runtime, the caches and every resident tensor must still be alive.
    this.kernels();
    const memory = ctx.kind === 'memory' ? ctx.cache : undefined;
    for (const c of [cache, memory]) c?.kernels();
    assertLive(kernels, {
      x: xIn, 'options.context': ctx.kind === 'cross' ? ctx.key.resident : undefined, 'options.context.value': ctx.kind === 'cross' ? ctx.value.resident : undefined,
      'options.mask': options.mask, 'options.keyPaddingMask': options.keyPaddingMask, 'options.out': options.out,
    });
    this.assertWeightsLive(kernels);
    cache?.checkUnchanged(cachePosition!, 'layer.forward');
    memory?.checkUnchanged(memoryPosition!, 'layer.forward');
    if (B * S === 0) return this.emptyForward(out?.result ?? { data: new Float32Array(0), shape: outShape }, needWeights, averageWeights, unbatched, B, S, nk);

    const scope = new Scope(arena);
    try {
      // Workspaces first (they only grow), then inputs.
      attentionKernels(kernels).reserve(Math.max(nk, 1), Dh, Dh);
      gemmKernels(kernels).reserve(Math.max(qOut + 2 * kvOut, this.dModel), Math.max(this.dModel, this.kdim, this.vdim, qOut));
      const xp = scope.place(x);
      const total = qOut + 2 * kvOut;
      let q: HeadLayout;
      let k: HeadLayout | undefined;
      let v: HeadLayout | undefined;
      if (ctx.kind === 'self') {
        // One GEMM: [B·S, dModel] · [dModel, (H + 2·Hkv)·Dh].
        const buf = scope.alloc(Math.max(1, B * S * total), 'projections');
        linear(kernels, xp, this.dModel, B * S, this.dModel, W.wq, total, W.bias, buf, total);
        q = { ptr: buf, batchStride: S * total, headStride: Dh, rowStride: total };
        k = { ptr: f32At(buf, qOut), batchStride: S * total, headStride: Dh, rowStride: total };
        v = { ptr: f32At(buf, (qOut + kvOut)), batchStride: S * total, headStride: Dh, rowStride: total };
        if (this.ropeTables && ropePositions) {
          const { positions: posPtr, ...table } = this.ropeTables.forPositions(scope, ropePositions);
          const spec = this.ropeTables.spec;
          applyRope(kernels, table, spec, { ptr: q.ptr, rows: B * S, rowStride: total, heads: H, headStride: Dh }, posPtr);
          applyRope(kernels, table, spec, { ptr: k.ptr, rows: B * S, rowStride: total, heads: Hkv, headStride: Dh }, posPtr);
        }
      } else {
        const qb = scope.alloc(Math.max(1, B * S * qOut), 'query projection');
        linear(kernels, xp, this.dModel, B * S, this.dModel, W.wq, qOut, W.bias, qb, qOut);
        q = { ptr: qb, batchStride: S * qOut, headStride: Dh, rowStride: qOut };
        if (ctx.kind === 'cross') {
          const Sk = ctx.seq;
          const kv = scope.alloc(Math.max(1, B * Sk * 2 * kvOut), 'key/value projection');
          const kp = scope.place(ctx.key);
          if (ctx.same && W.fused) {
            linear(kernels, kp, this.kdim, B * Sk, this.kdim, W.wk, 2 * kvOut, W.bias ? f32At(W.bias, qOut) : 0, kv, 2 * kvOut);
          } else {
            const vp = ctx.same ? kp : scope.place(ctx.value);
            linear(kernels, kp, this.kdim, B * Sk, this.kdim, W.wk, kvOut, W.bias ? f32At(W.bias, qOut) : 0, kv, 2 * kvOut);
            linear(kernels, vp, this.vdim, B * Sk, this.vdim, W.wv, kvOut, W.bias ? f32At(W.bias, (qOut + kvOut)) : 0, f32At(kv, kvOut), 2 * kvOut);
          }
          k = { ptr: kv, batchStride: Sk * 2 * kvOut, headStride: Dh, rowStride: 2 * kvOut };
          v = { ptr: f32At(kv, kvOut), batchStride: Sk * 2 * kvOut, headStride: Dh, rowStride: 2 * kvOut };
        }
      }

      // Relative position bias (absolute positions: queries from the cache position on).
      let relBias: RelBias | undefined;
      if (this.position?.hasBias) {
        const q0 = cache ? cache.position : 0;
        const k0 = cache ? cache.firstKeyPosition() : 0;
        relBias = this.position.prepare(scope, { qMin: q0, qMax: q0 + Math.max(S, 1) - 1, kMin: k0, kMax: k0 + Math.max(nk, 1) - 1 }, { q, batch: B, nq: S });
      }
      const mask = composeMask(scope, masks);
      const oPtr = scope.alloc(Math.max(1, B * S * qOut), 'attention output');
      const o: HeadLayout = { ptr: oPtr, batchStride: S * qOut, headStride: Dh, rowStride: qOut };
      const wPtr = needWeights ? scope.alloc(Math.max(1, B * H * S * nk), 'weights') : 0;

      if (cache || ctx.kind === 'memory') {
        const c = cache ?? (ctx as { cache: KVCache }).cache;
        c.run(kernels, scope, {
          batch: B, qHeads: H, nq: S, q, o, n: cache ? S : 0, kNew: cache ? k : undefined, vNew: cache ? v : undefined,
          scale: this.scale, softcap: this.softcap, causal: cache ? causal : false, mask, relBias,
          weights: needWeights ? wPtr : undefined,
        });
      } else {
        const lens = keyLens ?? new Array<number>(B).fill(nk);
        const offsets = ctx.kind === 'self' || causalOpt === 'top-left' ? new Array<number>(B).fill(0) : lens.map((len) => len - S);
        runAttention(kernels, {
          batch: B, qHeads: H, kvHeads: Hkv, nq: S, nk, dh: Dh, dv: Dh,
          q, k: k!, v: v!, o, scale: this.scale, softcap: this.softcap, mask, offsets, keyLens: lens,
          left: -1, right: causal ? 0 : -1, relBias,
          weights: needWeights ? { ptr: wPtr, mode: 3 } : undefined,
        });
      }

      // Output projection.
      const context = ctx.kind === 'cross' ? [ctx.key, ctx.value] : [];
      const yPtr = outputBlock(scope, out, Math.max(1, B * S * this.dModel), 'output', [x, ...context]);
      linear(kernels, oPtr, qOut, B * S, qOut, W.wo, this.dModel, W.bo, yPtr, this.dModel);
      const output = writeOut(arena, out, yPtr, outShape);
      if (!needWeights) return output;
      const wAll = arena.f32(wPtr, B * H * S * nk);
      let weights: Tensor;
      if (averageWeights) {
        const avg = new Float32Array(B * S * nk);
        const acc = new Float64Array(S * nk);
        for (let b = 0; b < B; b++) {
          acc.fill(0);
          for (let h = 0; h < H; h++) {
            const base = (b * H + h) * S * nk;
            for (let i = 0; i < S * nk; i++) acc[i] += wAll[base + i];
          }
          for (let i = 0; i < S * nk; i++) avg[b * S * nk + i] = acc[i] / H;
        }
        weights = { data: avg, shape: unbatched ? [S, nk] : [B, S, nk] };
      } else {
        weights = { data: wAll.slice(), shape: unbatched ? [H, S, nk] : [B, H, S, nk] };
      }
      return { output, weights };
    } finally {
      scope.close();
    }
  }

  /** The result of a forward call without tokens (batch may claim any count): nothing is computed. */
  private emptyForward(
    output: Tensor, needWeights: boolean, averageWeights: boolean, unbatched: boolean, B: number, S: number, nk: number,
  ): Tensor | MultiHeadAttentionOutput {
    if (!needWeights) return output;
    const H = this.numHeads;
    const shape = averageWeights ? (unbatched ? [S, nk] : [B, S, nk]) : (unbatched ? [H, S, nk] : [B, H, S, nk]);
    return { output, weights: { data: new Float32Array(0), shape } };
  }

  /**
   * Projects an encoder output (or { key, value }) into keys and values once, for cross-attention
   * in a decoding loop: returns a KVCache (the given one, reset and refilled, or a new one the
   * caller disposes) to pass as `options.context` on every step.
   */
  projectContext(context: TensorLike | { key: TensorLike; value: TensorLike }, cache?: KVCache): KVCache {
    return this.kernels().operation(() => this.projectContextOnce(context, cache));
  }

  private projectContextOnce(contextIn: TensorLike | { key: TensorLike; value: TensorLike }, cache?: KVCache): KVCache {
    const kernels = this.kernels();
    const arena = this.arena;
    // Read once: a { key, value } pair or a tensor, as a plain copy (see plainOptionData).
    const context = plainOptionData(contextIn) as TensorLike | { key: TensorLike; value: TensorLike };
    if (isKeyValuePair(context)) readOptions(context, PAIR_KEYS, 'context', 'layer.projectContext'); // (unknown keys)
    let keyIn: TensorLike;
    let valueIn: TensorLike;
    let same: boolean;
    if (typeof context === 'object' && context !== null && 'key' in context && 'value' in context && !('data' in context)) {
      keyIn = context.key;
      valueIn = context.value;
      same = false;
    } else {
      if (this.kdim !== this.vdim) {
        throw new AttentionError('INVALID_ARGUMENT', `context as one tensor needs kdim = vdim (got ${this.kdim}, ${this.vdim}); pass { key, value }`);
      }
      keyIn = context as TensorLike;
      valueIn = keyIn;
      same = true;
    }
    const keyName = same ? 'context' : 'context.key';
    const keyView = viewTensor(keyIn, keyName, F32, arena);
    const unbatched = keyView.shape.length === 2;
    const kc = checkLayerInput(keyView, keyName, this.kdim, 'kdim', unbatched);
    const vc = same ? kc : checkLayerInput(viewTensor(valueIn, 'context.value', F32, arena), 'context.value', this.vdim, 'vdim', unbatched, kc.batch);
    if (vc.seq !== kc.seq) throw new AttentionError('SHAPE_MISMATCH', `context.key and context.value must have the same length, got ${kc.seq} and ${vc.seq}`);
    const B = kc.batch;
    const Sk = kc.seq;
    if (cache !== undefined) {
      const checked = this.checkCache(cache, 'cache', B, kernels);
      if (checked.window !== undefined || checked.capacity < Sk) {
        throw new AttentionError('INVALID_ARGUMENT', `cache must be a linear kvCache with maxLength ≥ ${Sk} (the context length), got maxLength ${checked.maxLength}${checked.window !== undefined ? ` and window ${checked.window}` : ''}`);
      }
    }
    // The caller's getters have run: the layer, its runtime, the cache and resident inputs must still be alive.
    this.kernels();
    cache?.kernels();
    assertLive(kernels, { context: kc.view.resident, 'context.value': vc.view.resident });
    this.assertWeightsLive(kernels);
    const target = cache ?? new KVCache(this.kernelsOf, { heads: this.numKvHeads, headDim: this.headDim, maxLength: Math.max(1, Sk), batch: B });
    const W = this.weights!;
    const kvOut = this.kvOut;
    const qOut = this.qOut;
    const scope = new Scope(arena);
    try {
      gemmKernels(kernels).reserve(2 * kvOut, Math.max(this.kdim, this.vdim));
      const kp = scope.place(kc.view);
      const kv = scope.alloc(Math.max(1, B * Sk * 2 * kvOut), 'key/value projection');
      if (same && W.fused) {
        linear(kernels, kp, this.kdim, B * Sk, this.kdim, W.wk, 2 * kvOut, W.bias ? f32At(W.bias, qOut) : 0, kv, 2 * kvOut);
      } else {
        const vp = same ? kp : scope.place(vc.view);
        linear(kernels, kp, this.kdim, B * Sk, this.kdim, W.wk, kvOut, W.bias ? f32At(W.bias, qOut) : 0, kv, 2 * kvOut);
        linear(kernels, vp, this.vdim, B * Sk, this.vdim, W.wv, kvOut, W.bias ? f32At(W.bias, (qOut + kvOut)) : 0, f32At(kv, kvOut), 2 * kvOut);
      }
      target.reset();
      target.appendFrom(
        { ptr: kv, batchStride: Sk * 2 * kvOut, headStride: this.headDim, rowStride: 2 * kvOut },
        { ptr: f32At(kv, kvOut), batchStride: Sk * 2 * kvOut, headStride: this.headDim, rowStride: 2 * kvOut },
        Sk,
      );
      return target;
    } catch (e) {
      if (cache === undefined) target.dispose();
      throw e;
    } finally {
      scope.close();
    }
  }

  /** True once dispose() ran. */
  get isDisposed(): boolean {
    return this.weights === undefined;
  }

  /** Frees the weights and tables. Idempotent. */
  dispose(): void {
    if (!this.weights) return;
    for (const p of this.weights.blocks) this.arena.release(p);
    this.weights = undefined;
    this.position?.dispose();
    this.ropeTables?.dispose();
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
