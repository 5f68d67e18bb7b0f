// errors.test.ts — bad input to the layer, the KV cache and the position encodings throws a
// typed AttentionError (code + a message naming the argument with the expected and actual
// shape), before any Wasm memory is touched: every failing call leaves the arena exactly as it
// was, and the same runtime (and layer / cache) keeps working afterwards.

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type MultiHeadAttentionConfig } from '../../src/index';
import { arenaStats } from '../helpers/numeric';
import { layerWeights, randomInput, randomLayer } from './fixtures';

const rt = createRuntimeSync();
afterAll(() => rt.dispose());

const E = 16;
const l = randomLayer(1, { dModel: E, numHeads: 2 });
const good = (): MultiHeadAttentionConfig => ({ dModel: E, numHeads: 2, weights: layerWeights(l, 'torch-fused') });
const t = (shape: number[], data?: Float32Array) => ({ data: data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });

/** Expects `f` to throw AttentionError(code) matching `message`, with the arena unchanged. */
function rejects(f: () => unknown, code: string, message: RegExp): void {
  const before = arenaStats(rt);
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an AttentionError ${code}`).toBeInstanceOf(AttentionError);
  expect((err as AttentionError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  expect(arenaStats(rt)).toEqual(before);
}

describe('layer configuration errors', () => {
  it('weight shapes that do not match dModel / heads', () => {
    const w = layerWeights(l, 'torch-separate');
    rejects(() => rt.multiHeadAttention({ ...good(), weights: { ...w, q: t([E, E + 1]) } }), 'SHAPE_MISMATCH',
      /config\.weights\.q must be \[16, 16\] .*format 'torch'.*got \[16, 17\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), dModel: 24, weights: layerWeights(l, 'torch-fused') }), 'SHAPE_MISMATCH',
      /config\.weights\.qkv must be \[72, 24\].*got \[48, 16\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), weights: { ...layerWeights(l, 'onnx-fused'), out: t([E, E + 2]) } }), 'SHAPE_MISMATCH',
      /config\.weights\.out must be \[16, 16\].*format 'onnx'.*got \[16, 18\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), weights: { ...layerWeights(l, 'torch-fused'), qkvBias: t([47]) } }), 'SHAPE_MISMATCH',
      /config\.weights\.qkvBias must be \[48\], got \[47\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), numKvHeads: 1 }), 'SHAPE_MISMATCH', /config\.weights\.qkv must be \[32, 16\]/);
  });

  it('inconsistent heads, layouts and biases', () => {
    rejects(() => rt.multiHeadAttention({ ...good(), numHeads: 3 }), 'INVALID_OPTION', /config\.dModel \(16\) must be divisible by config\.numHeads \(3\)/);
    rejects(() => rt.multiHeadAttention({ ...good(), numKvHeads: 3 }), 'INVALID_OPTION', /numKvHeads \(3\) must divide config\.numHeads \(2\)/);
    rejects(() => rt.multiHeadAttention({ ...good(), weights: { ...layerWeights(l, 'torch-fused'), q: t([E, E]) } }), 'INVALID_ARGUMENT', /either the fused qkv or the separate q, k, v/);
    const { qkvBias: _b, ...noBias } = layerWeights(l, 'torch-fused');
    rejects(() => rt.multiHeadAttention({ ...good(), weights: noBias }), 'INVALID_ARGUMENT', /qkvBias \[48\] is required when config\.bias is true/);
    rejects(() => rt.multiHeadAttention({ ...good(), bias: false }), 'INVALID_ARGUMENT', /qkvBias was given but config\.bias is false/);
    rejects(() => rt.multiHeadAttention({ ...good(), kdim: 8 }), 'INVALID_ARGUMENT', /fused\) needs kdim = vdim = dModel/);
    rejects(() => rt.multiHeadAttention({ ...good(), weights: { ...layerWeights(l, 'torch-fused'), format: 'tf' as never } }), 'INVALID_OPTION', /format must be 'torch' or 'onnx'/);
    rejects(() => rt.multiHeadAttention({ ...good(), weights: { ...layerWeights(l, 'torch-fused'), qkv: { data: new Float64Array(48 * 16), shape: [48, 16] } as never } }), 'DTYPE_MISMATCH', /config\.weights\.qkv\.data must be Float32Array/);
  });

  it('position encodings', () => {
    rejects(() => rt.multiHeadAttention({ ...good(), position: { type: 't5', weights: t([32, 3]) } }), 'SHAPE_MISMATCH', /config\.position\.weights must be \[numBuckets = 32, numHeads = 2\], got \[32, 3\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), position: { type: 'shaw', maxRelative: 2, embeddings: t([4, 8]) } }), 'SHAPE_MISMATCH', /embeddings must be \[2·maxRelative \+ 1 = 5, headDim = 8\].*got \[4, 8\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), position: { type: 'rope', rotaryDim: 9 } }), 'INVALID_OPTION', /rotaryDim must be an even integer in \[0, headDim = 8\]/);
    rejects(() => rt.multiHeadAttention({ ...good(), position: { type: 'alibi', slopes: [1] } }), 'INVALID_OPTION', /slopes must hold 2 finite numbers/);
    rejects(() => rt.multiHeadAttention({ ...good(), position: { type: 'relative' } as never }), 'INVALID_OPTION', /type must be 'rope', 'alibi', 't5' or 'shaw'/);
    rejects(() => rt.multiHeadAttention({ ...good(), scale: 0.5, position: { type: 't5', weights: t([32, 2]), unscaled: true } }), 'INVALID_OPTION', /contradicts config\.position\.unscaled/);
    rejects(() => rt.multiHeadAttention({ ...good(), position: { type: 't5', weights: t([4, 2]), numBuckets: 4, maxDistance: 1 } }), 'INVALID_OPTION', /maxDistance must be an integer > 1/);
  });
});

describe('forward errors leave the runtime usable', () => {
  const layer = rt.multiHeadAttention(good());
  const x = t([2, 3, E], randomInput(2, 2 * 3 * E));

  it('wrong input and context widths, batch sizes and options', () => {
    rejects(() => layer.forward(t([2, 3, E - 1])), 'SHAPE_MISMATCH', /^x must be \[batch, seq, dModel = 16\], got \[2, 3, 15\]$/);
    rejects(() => layer.forward(t([E])), 'SHAPE_MISMATCH', /x must be \[batch, seq, dModel = 16\], got \[16\]/);
    rejects(() => layer.forward(x, { context: t([2, 5, 12]) }), 'SHAPE_MISMATCH', /^options\.context must be \[batch = 2, seq, kdim = 16\], got \[2, 5, 12\]$/);
    rejects(() => layer.forward(x, { context: t([3, 5, E]) }), 'SHAPE_MISMATCH', /options\.context must be \[batch = 2, seq, kdim = 16\], got \[3, 5, 16\]/);
    rejects(() => layer.forward(x, { context: { key: t([2, 5, E]), value: t([2, 4, E]) } }), 'SHAPE_MISMATCH', /must have the same length/);
    rejects(() => layer.forward(x, { mask: t([3, 4]) }), 'SHAPE_MISMATCH', /options\.mask of shape \[3, 4\]/);
    rejects(() => layer.forward(x, { keyPaddingMask: { data: new Uint8Array(6), shape: [3, 2] } }), 'SHAPE_MISMATCH', /options\.keyPaddingMask must be \[batch = 2, keys = 3\] \(true = ignore the key\), got \[3, 2\]/);
    rejects(() => layer.forward(x, { keyLengths: [3, 4] }), 'INVALID_OPTION', /keyLengths must hold 2 integers in \[0, 3\]/);
    rejects(() => layer.forward(x, { causal: 'left' as never }), 'INVALID_OPTION', /options\.causal must be/);
    rejects(() => layer.forward(x, { positions: 3 }), 'INVALID_OPTION', /no RoPE position encoding/);
    rejects(() => layer.forward(x, { out: t([2, 3, E + 1]) }), 'SHAPE_MISMATCH', /options\.out must have the output shape \[2, 3, 16\], got \[2, 3, 17\]/);
    rejects(() => layer.forward(x, { needWeights: 'yes' as never }), 'INVALID_OPTION', /needWeights must be a boolean/);
    expect(layer.forward(x).shape).toEqual([2, 3, E]);
  });

  it('caches: mismatched cache, overflow, cache with context, top-left with a cache', () => {
    const small = rt.kvCache({ heads: 2, headDim: 8, maxLength: 4, batch: 2 });
    const wrong = rt.kvCache({ heads: 1, headDim: 8, maxLength: 4, batch: 2 });
    rejects(() => layer.forward(x, { cache: wrong }), 'SHAPE_MISMATCH', /options\.cache must have heads = numKvHeads = 2, headDim = valueDim = 8, batch = 2; got heads 1/);
    layer.forward(x, { cache: small });
    rejects(() => layer.forward(x, { cache: small }), 'CACHE_FULL', /layer\.forward: the kvCache is full: it holds 3 of maxLength 4 tokens and 3 more do not fit/);
    rejects(() => layer.forward(x, { cache: small, context: x }), 'INVALID_OPTION', /options\.cache is the self-attention KV cache/);
    rejects(() => layer.forward(x, { cache: small, causal: 'top-left' }), 'INVALID_OPTION', /'top-left' has no meaning with a KV cache/);
    rejects(() => layer.forward(x, { cache: small, keyLengths: [1, 1] }), 'INVALID_OPTION', /keyLengths does not apply to a KV cache/);
    rejects(() => layer.forward(x, { cache: {} as never }), 'INVALID_ARGUMENT', /options\.cache must be a KVCache/);
    expect(small.length).toBe(3);
    small.dispose();
    wrong.dispose();
    rejects(() => layer.forward(x, { cache: small }), 'DISPOSED', /kvCache was disposed/);
  });

  it('kvCache options, step shapes, reorder indices', () => {
    rejects(() => rt.kvCache({ heads: 2, headDim: 8, maxLength: 4, window: 5 }), 'INVALID_OPTION', /options\.window \(5\) must be ≤ options\.maxLength \(4\)/);
    rejects(() => rt.kvCache({ heads: 0, headDim: 8, maxLength: 4 }), 'INVALID_OPTION', /options\.heads must be an integer ≥ 1, got 0/);
    const c = rt.kvCache({ heads: 2, headDim: 4, maxLength: 8, batch: 2 });
    const q = t([2, 2, 1, 4]);
    rejects(() => c.step(q, t([2, 2, 1, 5]), t([2, 2, 1, 4])), 'SHAPE_MISMATCH', /^k must be \[batch = 2, heads = 2, 1, headDim = 4\], got \[2, 2, 1, 5\]$/);
    rejects(() => c.step(t([2, 3, 1, 4]), t([2, 2, 1, 4]), t([2, 2, 1, 4])), 'SHAPE_MISMATCH', /q must be \[batch = 2, qHeads \(a multiple of 2\), nq, headDim = 4\], got \[2, 3, 1, 4\]/);
    rejects(() => c.append(t([2, 2, 9, 4]), t([2, 2, 9, 4])), 'CACHE_FULL', /kvCache\.append: the kvCache is full: it holds 0 of maxLength 8 tokens and 9 more do not fit/);
    rejects(() => c.reorder([0, 2]), 'INVALID_ARGUMENT', /indices\[1\] must be an integer in \[0, 2\), got 2/);
    rejects(() => c.reorder([0]), 'SHAPE_MISMATCH', /indices must hold one source entry per batch entry \(2\), got 1/);
    expect(c.step(q, t([2, 2, 1, 4]), t([2, 2, 1, 4])).shape).toEqual([2, 2, 1, 4]);
    c.dispose();
  });

  it('cross-attention on a layer with positions; disposed layer and runtime', () => {
    const rope = rt.multiHeadAttention({ ...good(), position: { type: 'rope' } });
    rejects(() => rope.forward(x, { context: x }), 'INVALID_OPTION', /rope position encoding, which applies to self-attention/);
    rejects(() => rt.rope(t([2, 3, E]), {}), 'INVALID_OPTION', /options\.numHeads must be a positive integer for a 3-D x/);
    rejects(() => rt.rope(t([1, 2, 3, 8]), { positions: { data: [0, 1], shape: [2] } }), 'SHAPE_MISMATCH', /position ids\) must be \[1, 3\] or \[3\], got \[2\]/);
    rope.dispose();
    rejects(() => rope.forward(x), 'DISPOSED', /layer was disposed/);
    const other = createRuntimeSync();
    const l2 = other.multiHeadAttention(good());
    other.dispose();
    expect(() => l2.forward(x)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => other.kvCache({ heads: 1, headDim: 1, maxLength: 1 })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    // this runtime still works
    expect(layer.forward(x, { causal: true }).data.every(Number.isFinite)).toBe(true);
  });
});
