// weights.ts — validates a multi-head layer's projection weights and copies them into Wasm memory
// once, in one canonical layout: every matrix stored [in, out] row-major (x·W, the ONNX MatMul
// layout), so each projection is one GEMM without transposition.
//
// Accepted layouts (`format`):
//   'torch' (default): nn.Linear weights [out, in]
//       separate   q [H·Dh, dModel], k [Hkv·Dh, kdim], v [Hkv·Dh, vdim] (q_proj_weight, k_proj_weight,
//                  v_proj_weight, or q_proj.weight … in Hugging Face models)
//       fused      qkv [(H + 2·Hkv)·Dh, dModel]: rows Q, then K, then V — torch.nn.MultiheadAttention's
//                  in_proj_weight [3·E, E] when Hkv = H (and the fused qkv_proj of Phi-3-style GQA)
//       output     out [dModel, H·Dh] (out_proj.weight)
//   'onnx': MatMul weights [in, out]
//       separate   q [dModel, H·Dh], k [kdim, Hkv·Dh], v [vdim, Hkv·Dh]
//       fused      qkv [dModel, (H + 2·Hkv)·Dh]: columns Q | K | V — onnxruntime's com.microsoft
//                  `Attention` input `weights` [input_hidden_size, 3·hidden_size]
//       output     out [H·Dh, dModel]
// Biases: qkv_bias / in_proj_bias [(H + 2·Hkv)·Dh] (ORT Attention's `bias`), or q/k/v biases, and
// an output bias [dModel]. With `bias: true` (default, like PyTorch) they are required; with
// `bias: false` none may be given.
// Storage: when kdim = vdim = dModel, W_in is one block [dModel, (H + 2·Hkv)·Dh] (so self-attention
// projects Q, K and V with one GEMM and a cross-attention projects K and V with one); otherwise
// three blocks. The biases are one block [(H + 2·Hkv)·Dh].
// Low precision (`weightType` other than 'f32'): each projection (Q, K, V, output) is then quantized
// once from that layout by rt.quantizeMatrix's rules into a QuantizedMatrix, and the float32 blocks
// are freed; each StoredMatrix lists the quantized projections from its own on (wq: Q, K, V), so a
// product over adjacent output columns (self-attention's Q|K|V) runs them in turn. Pre-quantized
// QuantizedMatrix weights (all four) are used the same way, not copied, and not owned.

import { AttentionError, f32At, f32Bytes, formatShape, formatValue } from '../runtime/index';
import { type TensorLike, type TensorView, viewData, viewTensor } from '../tensor';
import type { Kernels } from '../kernels/instance';
import { gemmKernels } from '../kernels/gemm';
import { QuantizedMatrix, quantizeMatrix, type QuantizeType } from '../ops/quantized-matrix';
import { assertLive, optionKeys, readOptions } from '../attention/options';

/** Projection weights of a multi-head layer; see the layouts in src/layers/weights.ts. */
export interface MultiHeadAttentionWeights {
  /** 'torch' (nn.Linear [out, in], default) or 'onnx' (MatMul [in, out]). */
  format?: 'torch' | 'onnx';
  /** Fused Q/K/V projection (PyTorch in_proj_weight, or ORT Attention `weights`). */
  qkv?: TensorLike;
  /** Fused Q/K/V bias [(H + 2·Hkv)·Dh] (PyTorch in_proj_bias, or ORT Attention `bias`). */
  qkvBias?: TensorLike;
  /**
   * Query projection ([H·Dh, dModel] for 'torch', [dModel, H·Dh] for 'onnx'), or a QuantizedMatrix
   * [K = dModel, N = H·Dh] of this runtime (then k, v and out must be QuantizedMatrix too; the
   * layer reads them in place and does not dispose them — keep them alive while the layer is used).
   */
  q?: TensorLike | QuantizedMatrix;
  /** Key projection ([Hkv·Dh, kdim] for 'torch', [kdim, Hkv·Dh] for 'onnx'), or a QuantizedMatrix [kdim, Hkv·Dh]. */
  k?: TensorLike | QuantizedMatrix;
  /** Value projection ([Hkv·Dh, vdim] for 'torch', [vdim, Hkv·Dh] for 'onnx'), or a QuantizedMatrix [vdim, Hkv·Dh]. */
  v?: TensorLike | QuantizedMatrix;
  /** Query bias [H·Dh]. */
  qBias?: TensorLike;
  /** Key bias [Hkv·Dh]. */
  kBias?: TensorLike;
  /** Value bias [Hkv·Dh]. */
  vBias?: TensorLike;
  /** Output projection (PyTorch out_proj.weight [dModel, H·Dh], or [H·Dh, dModel] for 'onnx'), or a QuantizedMatrix [H·Dh, dModel]. */
  out: TensorLike | QuantizedMatrix;
  /** Output bias [dModel]. */
  outBias?: TensorLike;
}

/** A matrix in Wasm memory: element (row, col) at ptr + 4·(row·ld + col). */
export interface StoredMatrix {
  ptr: number;
  ld: number;
  /**
   * The same matrix (its first `packedN` columns) pre-packed into the GEMM kernel's B panels,
   * or absent: products of at least 4 rows with exactly packedN columns read it and skip packing.
   */
  packed?: { ptr: number; n: number };
  /**
   * Low precision: this projection and the ones after it in the same block, quantized (ptr is then
   * 0: the float32 copy was freed). A product over n columns runs them in turn until n are covered.
   */
  quantized?: QuantizedMatrix[];
}

/** The layer's weights in Wasm memory. */
export interface StoredWeights {
  /** true when Q, K, V share one block (kdim = vdim = dModel): wk = wq + qOut columns, wv = wk + kOut. */
  fused: boolean;
  wq: StoredMatrix;
  wk: StoredMatrix;
  wv: StoredMatrix;
  /** [qOut + kOut + vOut] or 0 */
  bias: number;
  wo: StoredMatrix;
  /** [dModel] or 0 */
  bo: number;
  blocks: number[];
  /** Pre-quantized projections handed in by the caller (not owned: checked live before each use). */
  borrowed?: QuantizedMatrix[];
}

export interface WeightDims {
  dModel: number;
  kdim: number;
  vdim: number;
  qOut: number;
  kOut: number;
  vOut: number;
  bias: boolean;
  /** Also keep pre-packed GEMM panels of the weights (about twice the weight memory; f32 only). */
  pack: boolean;
  /** The weights' storage format ('f32': as given). */
  weightType: 'f32' | QuantizeType;
}

const F32 = [Float32Array] as const;
const WEIGHT_TENSORS = ['qkv', 'qkvBias', 'q', 'k', 'v', 'qBias', 'kBias', 'vBias', 'out', 'outBias'] as const;
const WEIGHT_KEYS = optionKeys<MultiHeadAttentionWeights>({
  format: true, qkv: true, qkvBias: true, q: true, k: true, v: true, qBias: true, kBias: true, vBias: true, out: true, outBias: true,
});

/** Validates every weight, then copies them into Wasm memory (nothing is allocated on error). */
export function storeWeights(kernels: Kernels, optionsIn: MultiHeadAttentionWeights | undefined, dims: WeightDims): StoredWeights {
  if (typeof optionsIn !== 'object' || optionsIn === null) {
    throw new AttentionError('INVALID_ARGUMENT', `config.weights must be an object { qkv | q, k, v, out, … }, got ${String(optionsIn)}`);
  }
  const w = readOptions<MultiHeadAttentionWeights>(optionsIn, WEIGHT_KEYS, 'config.weights', 'rt.multiHeadAttention');
  const arena = kernels.arena;
  const format = w.format ?? 'torch';
  if (format !== 'torch' && format !== 'onnx') {
    throw new AttentionError('INVALID_OPTION', `config.weights.format must be 'torch' or 'onnx', got ${formatValue(format)}`);
  }
  const torch = format === 'torch';
  const { dModel, kdim, vdim, qOut, kOut, vOut } = dims;
  const total = qOut + kOut + vOut;
  const quantized = (['q', 'k', 'v', 'out'] as const).filter((key) => w[key] instanceof QuantizedMatrix);
  if (quantized.length > 0 && (quantized.length < 4 || w.qkv !== undefined)) {
    throw new AttentionError('INVALID_ARGUMENT', `config.weights: q, k, v and out must all be QuantizedMatrix or all tensors (got QuantizedMatrix for ${quantized.join(', ')}${w.qkv !== undefined ? ' beside a fused qkv' : ''})`);
  }
  if (quantized.length > 0 && dims.weightType !== 'f32') {
    throw new AttentionError('INVALID_OPTION', `config.weightType '${dims.weightType}' applies to float32 weights; QuantizedMatrix weights are used as they are`);
  }
  const expect = (name: string, value: TensorLike | QuantizedMatrix | undefined, inDim: number, outDim: number, what: string): TensorView => {
    if (value === undefined) throw new AttentionError('INVALID_ARGUMENT', `config.weights.${name} is required (${what})`);
    if (value instanceof QuantizedMatrix) {
      value.assertUsable(`config.weights.${name}`, kernels);
      if (value.k !== inDim || value.n !== outDim) {
        throw new AttentionError('SHAPE_MISMATCH', `config.weights.${name} must be a QuantizedMatrix [K = ${inDim}, N = ${outDim}] (${what}), got [${value.k}, ${value.n}]`);
      }
      return { shape: [] };
    }
    const v = viewTensor(value, `config.weights.${name}`, F32, arena);
    const want = torch ? [outDim, inDim] : [inDim, outDim];
    if (v.shape.length !== 2 || v.shape[0] !== want[0] || v.shape[1] !== want[1]) {
      throw new AttentionError(
        'SHAPE_MISMATCH',
        `config.weights.${name} must be ${formatShape(want)} (${what}; format '${format}': ${torch ? '[out, in], nn.Linear' : '[in, out], MatMul'}), got ${formatShape(v.shape)}`,
      );
    }
    return v;
  };
  const expectBias = (name: string, value: TensorLike | undefined, n: number): TensorView | undefined => {
    if (!dims.bias) {
      if (value !== undefined) throw new AttentionError('INVALID_ARGUMENT', `config.weights.${name} was given but config.bias is false`);
      return undefined;
    }
    if (value === undefined) throw new AttentionError('INVALID_ARGUMENT', `config.weights.${name} [${n}] is required when config.bias is true (the default); pass bias: false for a layer without biases`);
    const v = viewTensor(value, `config.weights.${name}`, F32, arena);
    if (v.shape.length !== 1 || v.shape[0] !== n) {
      throw new AttentionError('SHAPE_MISMATCH', `config.weights.${name} must be [${n}], got ${formatShape(v.shape)}`);
    }
    return v;
  };

  const fusedGiven = w.qkv !== undefined;
  const separateGiven = w.q !== undefined || w.k !== undefined || w.v !== undefined;
  if (fusedGiven && separateGiven) {
    throw new AttentionError('INVALID_ARGUMENT', 'config.weights: give either the fused qkv or the separate q, k, v, not both');
  }
  if (!fusedGiven && !separateGiven) {
    throw new AttentionError('INVALID_ARGUMENT', 'config.weights needs the input projections: qkv (fused) or q, k and v');
  }
  const fusable = kdim === dModel && vdim === dModel;
  let qkv: TensorView | undefined;
  let q: TensorView | undefined, k: TensorView | undefined, v: TensorView | undefined;
  if (fusedGiven) {
    if (!fusable) {
      throw new AttentionError('INVALID_ARGUMENT', `config.weights.qkv (fused) needs kdim = vdim = dModel (${dModel}), got kdim ${kdim}, vdim ${vdim}: give q, k and v separately`);
    }
    qkv = expect('qkv', w.qkv, dModel, total, `fused Q/K/V: (numHeads + 2·numKvHeads)·headDim = ${total} outputs of dModel = ${dModel} inputs`);
  } else {
    q = expect('q', w.q, dModel, qOut, `numHeads·headDim = ${qOut} outputs of dModel = ${dModel} inputs`);
    k = expect('k', w.k, kdim, kOut, `numKvHeads·headDim = ${kOut} outputs of kdim = ${kdim} inputs`);
    v = expect('v', w.v, vdim, vOut, `numKvHeads·headDim = ${vOut} outputs of vdim = ${vdim} inputs`);
  }
  const out = expect('out', w.out, qOut, dModel, `dModel = ${dModel} outputs of numHeads·headDim = ${qOut} inputs`);
  let qkvBias: TensorView | undefined;
  let qBias: TensorView | undefined, kBias: TensorView | undefined, vBias: TensorView | undefined;
  if (w.qkvBias !== undefined && (w.qBias !== undefined || w.kBias !== undefined || w.vBias !== undefined)) {
    throw new AttentionError('INVALID_ARGUMENT', 'config.weights: give either qkvBias or qBias, kBias, vBias, not both');
  }
  if (w.qkvBias !== undefined || (dims.bias && fusedGiven && w.qBias === undefined)) {
    qkvBias = expectBias('qkvBias', w.qkvBias, total);
  } else {
    qBias = expectBias('qBias', w.qBias, qOut);
    kBias = expectBias('kBias', w.kBias, kOut);
    vBias = expectBias('vBias', w.vBias, vOut);
  }
  const outBias = expectBias('outBias', w.outBias, dModel);

  // Copy in (validation is complete; the caller's getters have run, so check nothing was disposed meanwhile).
  assertLive(kernels, Object.fromEntries(WEIGHT_TENSORS.map((key) => [`config.weights.${key}`, w[key]])));
  const blocks: number[] = [];
  const alloc = (floats: number): number => {
    const p = arena.alloc(f32Bytes(Math.max(1, floats)));
    blocks.push(p);
    return p;
  };
  try {
    const source = (t: TensorView): Float32Array => viewData(t);
    /** Writes a [in, out] matrix (given in `format`) at column `col` of a block with row length ld. */
    const put = (dst: number, ld: number, col: number, t: TensorView, inDim: number, outDim: number): void => {
      const src = source(t);
      const mem = arena.f32(dst, inDim * ld);
      if (torch) {
        for (let o = 0; o < outDim; o++) {
          const row = o * inDim;
          for (let i = 0; i < inDim; i++) mem[i * ld + col + o] = src[row + i];
        }
      } else {
        for (let i = 0; i < inDim; i++) mem.set(src.subarray(i * outDim, (i + 1) * outDim), i * ld + col);
      }
    };
    let wq: StoredMatrix, wk: StoredMatrix, wv: StoredMatrix;
    const borrowed = quantized.length ? [w.q, w.k, w.v, w.out] as QuantizedMatrix[] : undefined;
    const fused = fusable && !borrowed;
    if (borrowed) {
      wq = { ptr: 0, ld: 0, quantized: [borrowed[0], borrowed[1], borrowed[2]] };
      wk = { ptr: 0, ld: 0, quantized: [borrowed[1], borrowed[2]] };
      wv = { ptr: 0, ld: 0, quantized: [borrowed[2]] };
    } else if (fused) {
      const block = alloc(dModel * total);
      if (qkv) put(block, total, 0, qkv, dModel, total);
      else {
        put(block, total, 0, q!, dModel, qOut);
        put(block, total, qOut, k!, dModel, kOut);
        put(block, total, qOut + kOut, v!, dModel, vOut);
      }
      wq = { ptr: block, ld: total };
      wk = { ptr: f32At(block, qOut), ld: total };
      wv = { ptr: f32At(block, (qOut + kOut)), ld: total };
    } else {
      const bq = alloc(dModel * qOut);
      put(bq, qOut, 0, q!, dModel, qOut);
      const bk = alloc(kdim * kOut);
      put(bk, kOut, 0, k!, kdim, kOut);
      const bv = alloc(vdim * vOut);
      put(bv, vOut, 0, v!, vdim, vOut);
      wq = { ptr: bq, ld: qOut };
      wk = { ptr: bk, ld: kOut };
      wv = { ptr: bv, ld: vOut };
    }
    let bias = 0;
    if (dims.bias) {
      bias = alloc(total);
      const mem = arena.f32(bias, total);
      if (qkvBias) mem.set(source(qkvBias));
      else {
        mem.set(source(qBias!), 0);
        mem.set(source(kBias!), qOut);
        mem.set(source(vBias!), qOut + kOut);
      }
    }
    const woBlock = borrowed ? 0 : alloc(qOut * dModel);
    if (!borrowed) put(woBlock, dModel, 0, out, qOut, dModel);
    let bo = 0;
    if (dims.bias) {
      bo = alloc(dModel);
      arena.f32(bo, dModel).set(source(outBias!));
    }
    const wo: StoredMatrix = borrowed ? { ptr: 0, ld: 0, quantized: [borrowed[3]] } : { ptr: woBlock, ld: dModel };
    if (borrowed) return { fused, wq, wk, wv, bias, wo, bo, blocks, borrowed };
    if (dims.weightType !== 'f32') {
      quantizeStored(kernels, dims.weightType, { wq, wk, wv, wo }, { dModel, kdim, vdim, qOut, kOut, vOut }, blocks);
      return { fused, wq, wk, wv, bias, wo, bo, blocks };
    }
    if (dims.pack) {
      // Pre-pack the products every forward runs (ONNX runtimes prepack constant weights too):
      // the fused Q|K|V block (or Q, K, V each) and the output projection.
      const pack = (w: StoredMatrix, k: number, n: number): void => {
        const dst = alloc(Math.ceil(gemmKernels(kernels).packedBytes(n, k) / 4));
        gemmKernels(kernels).pack({ b: w.ptr, ldb: w.ld, transB: false, n, k, dst });
        w.packed = { ptr: dst, n };
      };
      if (fused) pack(wq, dModel, total);
      else {
        pack(wq, dModel, qOut);
        pack(wk, kdim, kOut);
        pack(wv, vdim, vOut);
      }
      pack(wo, qOut, dModel);
    }
    return { fused, wq, wk, wv, bias, wo, bo, blocks };
  } catch (e) {
    for (const p of blocks) arena.release(p);
    throw e;
  }
}

/** [in, out] float32 copy of columns [col, col + out) of a stored block with row length ld. */
function readColumns(kernels: Kernels, w: StoredMatrix, inDim: number, col: number, out: number): Float32Array {
  const mem = kernels.arena.f32(w.ptr, inDim * w.ld);
  const m = new Float32Array(inDim * out);
  for (let i = 0; i < inDim; i++) m.set(mem.subarray(i * w.ld + col, i * w.ld + col + out), i * out);
  return m;
}

/**
 * Quantizes the projections of stored float32 weights into `type`, frees the float32 blocks (the
 * biases stay) and records the quantized matrices' blocks in `blocks` (freed with the layer).
 */
function quantizeStored(
  kernels: Kernels,
  type: QuantizeType,
  w: { wq: StoredMatrix; wk: StoredMatrix; wv: StoredMatrix; wo: StoredMatrix },
  d: { dModel: number; kdim: number; vdim: number; qOut: number; kOut: number; vOut: number },
  blocks: number[],
): void {
  const fused = w.wk.ptr === f32At(w.wq.ptr, d.qOut);
  const made: QuantizedMatrix[] = [];
  const quantize = (m: StoredMatrix, inDim: number, col: number, out: number): QuantizedMatrix => {
    const q = quantizeMatrix(kernels, { data: readColumns(kernels, m, inDim, col, out), shape: [inDim, out] }, { type });
    made.push(q);
    blocks.push(q.ptr);
    return q;
  };
  const q = quantize(w.wq, d.dModel, 0, d.qOut);
  const k = fused ? quantize(w.wq, d.dModel, d.qOut, d.kOut) : quantize(w.wk, d.kdim, 0, d.kOut);
  const v = fused ? quantize(w.wq, d.dModel, d.qOut + d.kOut, d.vOut) : quantize(w.wv, d.vdim, 0, d.vOut);
  const o = quantize(w.wo, d.qOut, 0, d.dModel);
  // The float32 copies are no longer read: free them (every block but the biases').
  const f32Blocks = new Set([w.wq.ptr, w.wk.ptr, w.wv.ptr, w.wo.ptr].filter((p) => blocks.includes(p)));
  for (const p of f32Blocks) {
    kernels.arena.release(p);
    blocks.splice(blocks.indexOf(p), 1);
  }
  Object.assign(w.wq, { ptr: 0, quantized: [q, k, v] });
  Object.assign(w.wk, { ptr: 0, quantized: [k, v] });
  Object.assign(w.wv, { ptr: 0, quantized: [v] });
  Object.assign(w.wo, { ptr: 0, quantized: [o] });
}
