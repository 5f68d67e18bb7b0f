// rt.multiHeadAttention({ weightType }) on both binaries: the projections quantized once at
// construction (f16, int8, q8_0, q4_0), against
//  - the float64 reference layer (test/reference/mha.ts) whose weights are the same quantized
//    weights, dequantized by test/reference/quant.ts (so only the activations' on-the-fly 8-bit
//    quantization and float32 rounding remain): relative RMS ≤ 1e-4 for f16 (no activation
//    quantization), ≤ 2% for the 8-bit-activation formats;
//  - the float32 layer, relative RMS: f16 ≤ 0.1%, int8 ≤ 3%, q8_0 ≤ 3%, q4_0 ≤ 15% (two quantized
//    products in a row: the input and the output projections);
// in self-attention (fused and separate weights, causal, GQA) and cross-attention (kdim ≠ dModel),
// decode steps through a KV cache, the memory a quantized layer keeps, and the typed errors.

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Isa, type Runtime } from '../../src/index';
import { layerWeights, randomInput, randomLayer, type RandomLayer, refConfig } from '../layers/fixtures';
import { referenceMha } from '../reference/mha';
import {
  decodeQ4_0Row, decodeQ8_0Row, f16ToNumber, numberToF16, quantizeQ4_0, quantizeQ8_0, quantizeWeightsInt8, relativeRms,
} from '../reference/quant';

type WeightType = 'f16' | 'int8' | 'q8_0' | 'q4_0';
const TYPES: WeightType[] = ['f16', 'int8', 'q8_0', 'q4_0'];
const ISAS: Isa[] = ['simd128', 'relaxed'];
const VS_F32 = { f16: 0.001, int8: 0.03, q8_0: 0.03, q4_0: 0.15 };
const VS_SAME = { f16: 1e-4, int8: 0.02, q8_0: 0.02, q4_0: 0.02 };

const runtimes: Runtime[] = [];
afterAll(() => runtimes.forEach((r) => r.dispose()));

/** nn.Linear weights [out, in] as the format stores them, dequantized by the reference. */
function dequantized(w: Float32Array, out: number, inp: number, type: WeightType): Float32Array {
  if (type === 'f16') return Float32Array.from(w, (x) => f16ToNumber(numberToF16(x)));
  if (type === 'int8') {
    // the reference quantizes W (k × n) = the [in, out] matrix, one scale per output column
    const t = new Float32Array(out * inp);
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i];
    const { q, scale } = quantizeWeightsInt8(t, inp, out);
    return Float32Array.from({ length: out * inp }, (_, at) => q[(at % inp) * out + Math.floor(at / inp)] * scale[Math.floor(at / inp)]);
  }
  const bytes = (type === 'q8_0' ? quantizeQ8_0 : quantizeQ4_0)(w, out, inp);
  const decode = type === 'q8_0' ? decodeQ8_0Row : decodeQ4_0Row;
  const r = new Float32Array(out * inp);
  for (let o = 0; o < out; o++) {
    const row = decode(bytes, inp, o);
    for (let i = 0; i < inp; i++) r[o * inp + i] = (row.q[i] - row.zp[i >> 5]) * row.d[i >> 5];
  }
  return r;
}

function dequantizedLayer(l: RandomLayer, type: WeightType): RandomLayer {
  const { dModel, numHeads, numKvHeads, headDim, kdim, vdim } = l.shape;
  return {
    ...l,
    wq: dequantized(l.wq, numHeads * headDim, dModel, type),
    wk: dequantized(l.wk, numKvHeads * headDim, kdim, type),
    wv: dequantized(l.wv, numKvHeads * headDim, vdim, type),
    wo: dequantized(l.wo, dModel, numHeads * headDim, type),
  };
}

describe.each(ISAS)('multi-head attention with quantized weights (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });
  runtimes.push(rt);

  for (const [label, shape, layout, cross] of [
    ['self, fused weights, causal', { dModel: 64, numHeads: 4 }, 'torch-fused', false],
    ['self, separate weights, GQA', { dModel: 96, numHeads: 6, numKvHeads: 2 }, 'torch-separate', false],
    ['cross, kdim 32 ≠ dModel', { dModel: 64, numHeads: 2, kdim: 32, vdim: 32 }, 'onnx-separate', true],
  ] as const) {
    it.each(TYPES)(`${label}: %s`, (type) => {
      const l = randomLayer(11, shape);
      const [B, S, Sk] = [2, 9, 7];
      const x = randomInput(12, B * S * shape.dModel);
      const ctx = cross ? randomInput(13, B * Sk * l.shape.kdim) : undefined;
      const forward = (layer: ReturnType<Runtime['multiHeadAttention']>) => layer.forward({ data: x, shape: [B, S, shape.dModel] }, cross
        ? { context: { key: { data: ctx!, shape: [B, Sk, l.shape.kdim] }, value: { data: ctx!, shape: [B, Sk, l.shape.vdim] } } }
        : { causal: true }).data;
      const f32Layer = rt.multiHeadAttention({ ...shape, weights: layerWeights(l, layout) });
      const qLayer = rt.multiHeadAttention({ ...shape, weights: layerWeights(l, layout), weightType: type });
      const got = forward(qLayer);
      const same = referenceMha(refConfig(dequantizedLayer(l, type)), x, B, S, cross ? { key: ctx, value: ctx, keySeq: Sk } : { causal: true });
      expect(relativeRms(got, same.output), 'vs the same quantization').toBeLessThanOrEqual(VS_SAME[type]);
      const vsF32 = relativeRms(got, forward(f32Layer));
      expect(vsF32, 'vs float32').toBeLessThanOrEqual(VS_F32[type]);
      expect(vsF32, 'quantized, so not exact').toBeGreaterThan(0);
      f32Layer.dispose();
      qLayer.dispose();
    });
  }

  it.each(TYPES)('decode through a KV cache equals the full causal forward (%s)', (type) => {
    const shape = { dModel: 64, numHeads: 4 };
    const l = randomLayer(21, shape);
    const S = 6;
    const x = randomInput(22, S * 64);
    const layer = rt.multiHeadAttention({ ...shape, weights: layerWeights(l, 'torch-fused'), weightType: type });
    const full = layer.forward({ data: x, shape: [1, S, 64] }, { causal: true }).data;
    const cache = rt.kvCache({ heads: 4, headDim: 16, maxLength: S });
    for (let t = 0; t < S; t++) {
      const y = layer.forward({ data: x.subarray(t * 64, (t + 1) * 64), shape: [1, 1, 64] }, { cache }).data;
      // one row through the decode kernels vs the same row of a batched product: within float32 rounding
      for (let j = 0; j < 64; j++) expect(Math.abs(y[j] - full[t * 64 + j])).toBeLessThanOrEqual(2e-5 + 2e-5 * Math.abs(full[t * 64 + j]));
    }
    cache.dispose();
    layer.dispose();
  });
});

describe.each(ISAS)('multi-head attention with pre-quantized weights (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });
  runtimes.push(rt);
  const shape = { dModel: 64, numHeads: 4, numKvHeads: 2 };
  const l = randomLayer(51, shape);
  const { qOut, kvOut } = { qOut: 64, kvOut: 32 };
  /** GGUF-style q8_0 blocks of nn.Linear weights [out, in], from the reference quantizer. */
  const q8 = (w: Float32Array, out: number, inp: number) => rt.quantizedMatrix({ type: 'q8_0', shape: [out, inp], data: quantizeQ8_0(w, out, inp) });

  it('QuantizedMatrix weights give exactly the weightType layer (the same ggml blocks)', () => {
    const x = randomInput(52, 2 * 5 * 64);
    const m = { q: q8(l.wq, qOut, 64), k: q8(l.wk, kvOut, 64), v: q8(l.wv, kvOut, 64), out: q8(l.wo, 64, qOut) };
    const biases = layerWeights(l, 'torch-separate');
    const pre = rt.multiHeadAttention({ ...shape, weights: { ...biases, ...m } });
    const own = rt.multiHeadAttention({ ...shape, weights: biases, weightType: 'q8_0' });
    const input = { data: x, shape: [2, 5, 64] };
    expect(pre.forward(input, { causal: true }).data).toEqual(own.forward(input, { causal: true }).data);
    pre.dispose();
    // the layer does not own them: still usable after the layer is gone
    expect(m.q.isDisposed).toBe(false);
    expect(rt.matmul({ data: new Float32Array(64), shape: [1, 64] }, m.q).shape).toEqual([1, qOut]);
    // a weight disposed under a live layer: DISPOSED naming it, and the layer works again with live ones
    const again = rt.multiHeadAttention({ ...shape, weights: { ...biases, ...m } });
    m.k.dispose();
    let error: unknown;
    try {
      again.forward(input);
    } catch (e) {
      error = e;
    }
    expect((error as AttentionError).code).toBe('DISPOSED');
    expect((error as AttentionError).message).toMatch(/config\.weights\.k/);
    for (const q of [m.q, m.v, m.out]) q.dispose();
    again.dispose();
    own.dispose();
  });

  it('mixed, misshaped or weightType-requantized QuantizedMatrix weights are typed errors', () => {
    const biases = layerWeights(l, 'torch-separate');
    const m = { q: q8(l.wq, qOut, 64), k: q8(l.wk, kvOut, 64), v: q8(l.wv, kvOut, 64), out: q8(l.wo, 64, qOut) };
    const code = (weights: object, extra: object = {}) => {
      try {
        rt.multiHeadAttention({ ...shape, weights: weights as never, ...extra }).dispose();
      } catch (e) {
        return `${(e as AttentionError).code}: ${(e as AttentionError).message}`;
      }
      return 'no error';
    };
    expect(code({ ...biases, q: m.q })).toMatch(/^INVALID_ARGUMENT: .*must all be QuantizedMatrix or all tensors \(got QuantizedMatrix for q\)/);
    expect(code({ ...biases, ...m, k: m.v, v: m.k })).toBe('no error'); // k and v have the same shape
    expect(code({ ...biases, ...m, q: m.k })).toMatch(/^SHAPE_MISMATCH: config\.weights\.q must be a QuantizedMatrix \[K = 64, N = 64\].*got \[64, 32\]/);
    expect(code({ ...biases, ...m }, { weightType: 'int8' })).toMatch(/^INVALID_OPTION: config\.weightType 'int8' applies to float32 weights/);
    const other = createRuntimeSync({ isa });
    runtimes.push(other);
    const foreign = other.quantizedMatrix({ type: 'q8_0', shape: [qOut, 64], data: quantizeQ8_0(l.wq, qOut, 64) });
    expect(code({ ...biases, ...m, q: foreign })).toMatch(/^INVALID_ARGUMENT: config\.weights\.q is a QuantizedMatrix of another runtime/);
    for (const q of Object.values(m)) q.dispose();
  });
});

describe('multi-head attention with quantized weights: memory and errors', () => {
  const rt = createRuntimeSync({ isa: 'simd128' });
  runtimes.push(rt);
  const live = () => (rt as unknown as { liveKernels(): { arena: { liveBytes: number } } }).liveKernels().arena.liveBytes;

  it('a q4_0 layer keeps ≤ 0.17× the bytes of the float32 layer (biases stay float32)', () => {
    const shape = { dModel: 256, numHeads: 4 };
    const l = randomLayer(31, shape);
    rt.quantizeMatrix({ data: new Float32Array(32), shape: [32, 1] }, { type: 'q4_0' }).dispose(); // the family's parameter block, made once
    const base = live();
    const f32Layer = rt.multiHeadAttention({ ...shape, weights: layerWeights(l, 'torch-fused'), packWeights: false });
    const f32Bytes = live() - base;
    const q4Layer = rt.multiHeadAttention({ ...shape, weights: layerWeights(l, 'torch-fused'), weightType: 'q4_0' });
    const q4Bytes = live() - base - f32Bytes;
    expect(q4Bytes / f32Bytes).toBeLessThanOrEqual(0.17);
    f32Layer.dispose();
    q4Layer.dispose();
    expect(live()).toBe(base);
  });

  it('bad weight types are typed errors naming the option; nothing is left allocated', () => {
    const before = live();
    const l = randomLayer(41, { dModel: 48, numHeads: 3 });
    const attempt = (weightType: unknown) => {
      try {
        rt.multiHeadAttention({ dModel: 48, numHeads: 3, weights: layerWeights(l, 'torch-fused'), weightType: weightType as never });
      } catch (e) {
        return e as AttentionError;
      }
      throw new Error('no error');
    };
    const unknown = attempt('q5_k');
    expect(unknown).toBeInstanceOf(AttentionError);
    expect(unknown.code).toBe('INVALID_OPTION');
    expect(unknown.message).toMatch(/config\.weightType must be one of 'f32', 'f16', 'int8', 'q8_0', 'q4_0', got "q5_k"/);
    const blocks = attempt('q4_0');
    expect(blocks.code).toBe('INVALID_OPTION');
    expect(blocks.message).toMatch(/multiple of 32, got dModel = 48/);
    expect(live()).toBe(before);
    // int8 and f16 have no block constraint
    rt.multiHeadAttention({ dModel: 48, numHeads: 3, weights: layerWeights(l, 'torch-fused'), weightType: 'int8' }).dispose();
    expect(live()).toBe(before);
  });
});
