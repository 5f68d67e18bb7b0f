// mha.test.ts — rt.multiHeadAttention against the float64 reference (test/reference/mha.ts).
//
// Covers every weight layout (PyTorch separate q/k/v, PyTorch in_proj_weight, ONNX MatMul
// separate, onnxruntime's fused Attention `weights`), self- and cross-attention (context of
// another length and width, one tensor or { key, value }), GQA and MQA, causal, masks (boolean,
// additive, broadcast), PyTorch key_padding_mask (boolean true = ignore, and additive), per-batch
// key lengths, both combined, softcap, unbatched input, attention weights per head and averaged,
// `out` tensors, on shapes that hit the kernels' tails (sequence 1, 3, 5, 7, 9, 17, 65; head
// sizes 6, 8, 16). Identity: one head with identity projections equals rt.attention (SDPA).
// Tolerance: |got − want| ≤ 3e-5 + 1e-4·|want| for outputs, 2e-6 + 1e-4·|want| for weights.

import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type Runtime } from '../../src/index';
import { arenaStats, ISAS, mismatch } from '../helpers/numeric';
import { referenceMha } from '../reference/mha';
import { layerWeights, randomInput, randomLayer, refConfig } from './fixtures';

const ATOL = 3e-5;
const RTOL = 1e-4;

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

const LAYOUTS = ['torch-separate', 'torch-fused', 'onnx-separate', 'onnx-fused'] as const;

describe.each(ISAS.map((isa, i) => [isa, i] as const))('multiHeadAttention (%s)', (_isa, index) => {
  const rt = runtimes[index];

  const selfCases = [
    { B: 1, S: 1, dModel: 16, H: 2, Hkv: 2, causal: false, layout: 'torch-fused' as const },
    { B: 2, S: 5, dModel: 24, H: 4, Hkv: 2, causal: true, layout: 'torch-separate' as const },
    { B: 1, S: 17, dModel: 32, H: 4, Hkv: 1, causal: false, layout: 'onnx-fused' as const },
    { B: 3, S: 9, dModel: 36, H: 6, Hkv: 3, causal: true, layout: 'onnx-separate' as const },
    { B: 1, S: 65, dModel: 64, H: 4, Hkv: 4, causal: true, layout: 'torch-fused' as const },
    { B: 2, S: 7, dModel: 48, H: 3, Hkv: 3, causal: false, layout: 'onnx-fused' as const, headDim: 8 },
  ];
  it.each(selfCases)('self-attention B=$B S=$S dModel=$dModel H=$H Hkv=$Hkv causal=$causal $layout', (c) => {
    const l = randomLayer(100 + c.S + c.H, { dModel: c.dModel, numHeads: c.H, numKvHeads: c.Hkv, headDim: c.headDim });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, c.layout) });
    const x = randomInput(7 + c.B, c.B * c.S * c.dModel);
    const y = layer.forward({ data: x, shape: [c.B, c.S, c.dModel] }, { causal: c.causal });
    const want = referenceMha(refConfig(l), x, c.B, c.S, { causal: c.causal });
    expect(y.shape).toEqual([c.B, c.S, c.dModel]);
    expect(mismatch(y.data, want.output, ATOL, RTOL, y.shape)).toBeUndefined();
    layer.dispose();
  });

  it('gives the same result for all four weight layouts', () => {
    const l = randomLayer(5, { dModel: 32, numHeads: 4, numKvHeads: 2 });
    const x = { data: randomInput(6, 2 * 9 * 32), shape: [2, 9, 32] };
    const outs = LAYOUTS.map((layout) => {
      const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, layout) });
      const y = layer.forward(x, { causal: true });
      layer.dispose();
      return y.data;
    });
    for (const o of outs.slice(1)) expect(mismatch(o, outs[0], 1e-6, 1e-6)).toBeUndefined();
  });

  it('cross-attention: context of another length and width ({ key, value } with kdim ≠ vdim)', () => {
    const l = randomLayer(11, { dModel: 32, numHeads: 4, numKvHeads: 2, kdim: 20, vdim: 12 });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-separate') });
    const B = 2, S = 5, Sk = 13;
    const x = randomInput(12, B * S * 32);
    const key = randomInput(13, B * Sk * 20);
    const value = randomInput(14, B * Sk * 12);
    const y = layer.forward({ data: x, shape: [B, S, 32] }, { context: { key: { data: key, shape: [B, Sk, 20] }, value: { data: value, shape: [B, Sk, 12] } } });
    const want = referenceMha(refConfig(l), x, B, S, { key, value, keySeq: Sk });
    expect(mismatch(y.data, want.output, ATOL, RTOL, y.shape)).toBeUndefined();
    layer.dispose();
  });

  it('cross-attention with one context tensor, key lengths, PyTorch key_padding_mask and a mask together', () => {
    const l = randomLayer(21, { dModel: 24, numHeads: 3 });
    const B = 3, S = 7, Sk = 9;
    for (const layout of ['torch-fused', 'onnx-separate'] as const) {
      const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, layout) });
      const x = randomInput(22, B * S * 24);
      const ctx = randomInput(23, B * Sk * 24);
      // key lengths
      const lens = [9, 4, 1];
      let y = layer.forward({ data: x, shape: [B, S, 24] }, { context: { data: ctx, shape: [B, Sk, 24] }, keyLengths: lens });
      let want = referenceMha(refConfig(l), x, B, S, { key: ctx, value: ctx, keySeq: Sk, keyLengths: lens });
      expect(mismatch(y.data, want.output, ATOL, RTOL, y.shape)).toBeUndefined();
      // boolean key_padding_mask (true = ignore) and an additive per-head mask
      const kpm = new Uint8Array(B * Sk);
      for (let b = 0; b < B; b++) for (let j = 0; j < Sk; j++) kpm[b * Sk + j] = (j * 7 + b * 3) % 5 === 0 ? 1 : 0;
      const mask = { data: randomInput(24, 3 * S * Sk, -2, 2), shape: [3, S, Sk] };
      mask.data[5] = -Infinity;
      y = layer.forward({ data: x, shape: [B, S, 24] }, { context: { data: ctx, shape: [B, Sk, 24] }, keyPaddingMask: { data: kpm, shape: [B, Sk] }, mask });
      want = referenceMha(refConfig(l), x, B, S, { key: ctx, value: ctx, keySeq: Sk, keyPaddingMask: kpm, mask });
      expect(mismatch(y.data, want.output, ATOL, RTOL, y.shape)).toBeUndefined();
      // additive float key_padding_mask alone, and a boolean mask alone
      const fk = randomInput(25, B * Sk, -3, 1);
      y = layer.forward({ data: x, shape: [B, S, 24] }, { context: { data: ctx, shape: [B, Sk, 24] }, keyPaddingMask: { data: fk, shape: [B, Sk] } });
      want = referenceMha(refConfig(l), x, B, S, { key: ctx, value: ctx, keySeq: Sk, keyPaddingMask: fk });
      expect(mismatch(y.data, want.output, ATOL, RTOL, y.shape)).toBeUndefined();
      const bm = new Uint8Array(S * Sk).map((_, i) => (i % 3 === 0 ? 0 : 1));
      y = layer.forward({ data: x, shape: [B, S, 24] }, { context: { data: ctx, shape: [B, Sk, 24] }, mask: { data: bm, shape: [S, Sk] } });
      want = referenceMha(refConfig(l), x, B, S, { key: ctx, value: ctx, keySeq: Sk, mask: { data: bm, shape: [S, Sk] } });
      expect(mismatch(y.data, want.output, ATOL, RTOL, y.shape)).toBeUndefined();
      layer.dispose();
    }
  });

  it('variable-length self-attention batch: key lengths (padding at the end), causal and not', () => {
    const l = randomLayer(31, { dModel: 16, numHeads: 2 });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-fused') });
    const B = 3, S = 9;
    const x = randomInput(32, B * S * 16);
    const lens = [9, 5, 2];
    for (const causal of [false, true]) {
      const y = layer.forward({ data: x, shape: [B, S, 16] }, { keyLengths: lens, causal });
      const want = referenceMha(refConfig(l), x, B, S, { keyLengths: lens, causal: causal ? 'top-left' : false });
      // rows past a sequence's length are padding: compare only the valid ones
      for (let b = 0; b < B; b++) {
        const got = y.data.subarray(b * S * 16, (b * S + lens[b]) * 16);
        const exp = want.output.subarray(b * S * 16, (b * S + lens[b]) * 16);
        expect(mismatch(got, exp, ATOL, RTOL)).toBeUndefined();
      }
    }
    layer.dispose();
  });

  it('attention weights per head and averaged over heads (PyTorch need_weights / average_attn_weights)', () => {
    const l = randomLayer(41, { dModel: 24, numHeads: 4, numKvHeads: 2, headDim: 6 });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-separate') });
    const B = 2, S = 5;
    const x = randomInput(42, B * S * 24);
    const want = referenceMha(refConfig(l), x, B, S, { causal: true });
    const per = layer.forward({ data: x, shape: [B, S, 24] }, { causal: true, needWeights: true, averageWeights: false });
    expect(per.weights.shape).toEqual([B, 4, S, S]);
    expect(mismatch(per.weights.data, want.weights, 2e-6, RTOL)).toBeUndefined();
    expect(mismatch(per.output.data, want.output, ATOL, RTOL)).toBeUndefined();
    const avg = layer.forward({ data: x, shape: [B, S, 24] }, { causal: true, needWeights: true });
    expect(avg.weights.shape).toEqual([B, S, S]);
    const wantAvg = new Float64Array(B * S * S);
    for (let b = 0; b < B; b++) for (let h = 0; h < 4; h++) for (let i = 0; i < S * S; i++) wantAvg[b * S * S + i] += want.weights[(b * 4 + h) * S * S + i] / 4;
    expect(mismatch(avg.weights.data, wantAvg, 2e-6, RTOL)).toBeUndefined();
    layer.dispose();
  });

  it('unbatched [seq, dModel] input, softcap, no biases, and out tensors', () => {
    const l = randomLayer(51, { dModel: 16, numHeads: 2, bias: false, softcap: 3 });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'onnx-fused') });
    const S = 5;
    const x = randomInput(52, S * 16, -4, 4);
    const y = layer.forward({ data: x, shape: [S, 16] }, { causal: true });
    expect(y.shape).toEqual([S, 16]);
    const want = referenceMha(refConfig(l), x, 1, S, { causal: true });
    expect(mismatch(y.data, want.output, ATOL, RTOL)).toBeUndefined();
    const out = rt.tensor([S, 16]);
    const r = layer.forward({ data: x, shape: [S, 16] }, { causal: true, out });
    expect(r).toBe(out);
    expect(mismatch(out.data, want.output, ATOL, RTOL)).toBeUndefined();
    const xw = rt.tensor([S, 16], x); // resident input
    const r2 = layer.forward(xw, { causal: true });
    expect(mismatch(r2.data, want.output, ATOL, RTOL)).toBeUndefined();
    const w = layer.forward({ data: x, shape: [S, 16] }, { causal: true, needWeights: true, averageWeights: false });
    expect(w.weights.shape).toEqual([2, S, S]);
    out.dispose();
    xw.dispose();
    layer.dispose();
  });

  it('identity: one head with identity projections and no biases equals rt.attention (SDPA)', () => {
    const d = 8;
    const eye = new Float32Array(d * d).map((_, i) => (i % (d + 1) === 0 ? 1 : 0));
    const layer = rt.multiHeadAttention({
      dModel: d, numHeads: 1, bias: false,
      weights: { q: { data: eye, shape: [d, d] }, k: { data: eye, shape: [d, d] }, v: { data: eye, shape: [d, d] }, out: { data: eye, shape: [d, d] } },
    });
    const B = 2, S = 9;
    const x = randomInput(61, B * S * d);
    for (const causal of [false, true]) {
      const y = layer.forward({ data: x, shape: [B, S, d] }, { causal });
      const t = { data: x, shape: [B, 1, S, d] };
      const sdpa = rt.attention(t, t, t, { causal });
      expect(mismatch(y.data, sdpa.data, 1e-6, 1e-6)).toBeUndefined();
    }
    layer.dispose();
  });

  it('pre-packed weights (the default) give bit-identical outputs to packWeights: false, for every layout and path, and cost more memory', () => {
    // The packed panels are the layout the GEMM kernel packs on every call otherwise, so the
    // products run the same arithmetic in the same order: equality is exact. S = 1, 2 and 3 rows
    // take the matrix-vector path (plain layout); 4+ rows read the packed panels.
    for (const layout of LAYOUTS) {
      const l = randomLayer(31, { dModel: 40, numHeads: 5, numKvHeads: 5 });
      const b0 = arenaStats(rt).bytes;
      const packed = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, layout) });
      const b1 = arenaStats(rt).bytes;
      const plain = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, layout), packWeights: false });
      const b2 = arenaStats(rt).bytes;
      expect(b1 - b0, `${layout}: a packed layer keeps its panels beside the weights`).toBeGreaterThan(1.8 * (b2 - b1));
      for (const S of [1, 3, 4, 9, 70]) {
        const x = { data: randomInput(32 + S, 2 * S * 40), shape: [2, S, 40] };
        const ctx = { data: randomInput(90 + S, 2 * 6 * 40), shape: [2, 6, 40] };
        expect(Array.from(packed.forward(x, { causal: true }).data), `${layout} self S=${S}`).toEqual(Array.from(plain.forward(x, { causal: true }).data));
        expect(Array.from(packed.forward(x, { context: ctx }).data), `${layout} cross S=${S}`).toEqual(Array.from(plain.forward(x, { context: ctx }).data));
        const want = referenceMha(refConfig(l), x.data, 2, S, { causal: true });
        expect(mismatch(packed.forward(x, { causal: true }).data, want.output, ATOL, RTOL)).toBeUndefined();
      }
      plain.dispose();
      packed.dispose();
    }
    expect(() => rt.multiHeadAttention({ dModel: 8, numHeads: 2, weights: layerWeights(randomLayer(1, { dModel: 8, numHeads: 2 }), 'onnx-fused'), packWeights: 1 as unknown as boolean }))
      .toThrow(/config\.packWeights must be a boolean, got 1/);
  });

  it('frees everything it allocates (weights on dispose, per-call buffers after each call)', () => {
    const before = arenaStats(rt);
    const l = randomLayer(71, { dModel: 16, numHeads: 2 });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-fused') });
    const x = { data: randomInput(72, 2 * 5 * 16), shape: [2, 5, 16] };
    layer.forward(x, { causal: true, needWeights: true });
    const during = arenaStats(rt);
    layer.forward(x, { context: x, mask: { data: new Uint8Array(5 * 5).fill(1), shape: [5, 5] } });
    expect(arenaStats(rt).blocks).toBe(during.blocks);
    layer.dispose();
    layer.dispose(); // idempotent
    expect(arenaStats(rt).blocks).toBeLessThanOrEqual(before.blocks + 1); // + the kernels' scratch, if it grew
  });
});
