// fixtures.ts — random layer weights for the layer and position tests (not a test file itself).
// Weights are drawn in nn.Linear layout [out, in], uniform in ±1/√in (PyTorch's default init
// scale), so activations stay O(1); the same values are given to the Wasm layer in the layout a
// test wants (torch separate / torch fused in_proj_weight / onnx transposed) and to the float64
// reference.

import type { MultiHeadAttentionWeights } from '../../src/index';
import { rng, uniformF32 } from '../helpers/numeric';
import type { RefMhaConfig, RefPosition } from '../reference/mha';

export interface LayerShape {
  dModel: number;
  numHeads: number;
  numKvHeads?: number;
  headDim?: number;
  kdim?: number;
  vdim?: number;
  bias?: boolean;
  scale?: number;
  softcap?: number;
}

export interface RandomLayer {
  shape: Required<Omit<LayerShape, 'scale' | 'softcap'>> & { scale: number; softcap: number };
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  bq?: Float32Array;
  bk?: Float32Array;
  bv?: Float32Array;
  bo?: Float32Array;
}

export function randomLayer(seed: number, s: LayerShape): RandomLayer {
  const next = rng(seed);
  const numKvHeads = s.numKvHeads ?? s.numHeads;
  const headDim = s.headDim ?? s.dModel / s.numHeads;
  const kdim = s.kdim ?? s.dModel;
  const vdim = s.vdim ?? s.dModel;
  const bias = s.bias ?? true;
  const qOut = s.numHeads * headDim;
  const kvOut = numKvHeads * headDim;
  const lin = (out: number, inp: number) => uniformF32(out * inp, next, -1 / Math.sqrt(inp), 1 / Math.sqrt(inp));
  const layer: RandomLayer = {
    shape: { dModel: s.dModel, numHeads: s.numHeads, numKvHeads, headDim, kdim, vdim, bias, scale: s.scale ?? 1 / Math.sqrt(headDim), softcap: s.softcap ?? 0 },
    wq: lin(qOut, s.dModel),
    wk: lin(kvOut, kdim),
    wv: lin(kvOut, vdim),
    wo: lin(s.dModel, qOut),
  };
  if (bias) {
    layer.bq = uniformF32(qOut, next, -0.5, 0.5);
    layer.bk = uniformF32(kvOut, next, -0.5, 0.5);
    layer.bv = uniformF32(kvOut, next, -0.5, 0.5);
    layer.bo = uniformF32(s.dModel, next, -0.5, 0.5);
  }
  return layer;
}

/** [rows, cols] → [cols, rows] */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The layer's weights in one of the accepted layouts. */
export function layerWeights(l: RandomLayer, layout: 'torch-separate' | 'torch-fused' | 'onnx-separate' | 'onnx-fused'): MultiHeadAttentionWeights {
  const { dModel, numHeads, numKvHeads, headDim, kdim, vdim } = l.shape;
  const qOut = numHeads * headDim;
  const kvOut = numKvHeads * headDim;
  const total = qOut + 2 * kvOut;
  const t = (data: Float32Array, shape: number[]) => ({ data, shape });
  const biases = l.bq
    ? layout.endsWith('fused')
      ? { qkvBias: t(concat(l.bq, l.bk!, l.bv!), [total]), outBias: t(l.bo!, [dModel]) }
      : { qBias: t(l.bq, [qOut]), kBias: t(l.bk!, [kvOut]), vBias: t(l.bv!, [kvOut]), outBias: t(l.bo!, [dModel]) }
    : {};
  switch (layout) {
    case 'torch-separate':
      return { format: 'torch', q: t(l.wq, [qOut, dModel]), k: t(l.wk, [kvOut, kdim]), v: t(l.wv, [kvOut, vdim]), out: t(l.wo, [dModel, qOut]), ...biases };
    case 'torch-fused':
      return { format: 'torch', qkv: t(concat(l.wq, l.wk, l.wv), [total, dModel]), out: t(l.wo, [dModel, qOut]), ...biases };
    case 'onnx-separate':
      return {
        format: 'onnx', q: t(transpose(l.wq, qOut, dModel), [dModel, qOut]), k: t(transpose(l.wk, kvOut, kdim), [kdim, kvOut]),
        v: t(transpose(l.wv, kvOut, vdim), [vdim, kvOut]), out: t(transpose(l.wo, dModel, qOut), [qOut, dModel]), ...biases,
      };
    case 'onnx-fused':
      return {
        format: 'onnx', qkv: t(transpose(concat(l.wq, l.wk, l.wv), total, dModel), [dModel, total]),
        out: t(transpose(l.wo, dModel, qOut), [qOut, dModel]), ...biases,
      };
  }
}

/** The float64 reference configuration of the same layer. */
export function refConfig(l: RandomLayer, position?: RefPosition): RefMhaConfig {
  const s = l.shape;
  return {
    dModel: s.dModel, numHeads: s.numHeads, numKvHeads: s.numKvHeads, headDim: s.headDim, kdim: s.kdim, vdim: s.vdim,
    scale: s.scale, softcap: s.softcap, wq: l.wq, wk: l.wk, wv: l.wv, wo: l.wo, bq: l.bq, bk: l.bk, bv: l.bv, bo: l.bo, position,
  };
}

/** Random activations. */
export function randomInput(seed: number, n: number, lo = -1.5, hi = 1.5): Float32Array {
  return uniformF32(n, rng(seed), lo, hi);
}

/** Largest |a − b| (NaN → Infinity). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
