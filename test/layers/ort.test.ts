// ort.test.ts — the layer against onnxruntime-node (CPU, float32) on random weights and biases:
//   • com.microsoft `Attention` (fused input projection `weights` [dModel, 3·dModel] + `bias`,
//     `mask_index` [batch, total] padding, `unidirectional`), followed by the output projection
//     (MatMul + Add) — our layer loads the same tensors with format 'onnx' (qkv / qkvBias);
//   • com.microsoft `MultiHeadAttention` for cross-attention (query/key/value from MatMul
//     projections, its packed `bias` [3·hidden], `key_padding_mask` [batch, keys] 1 = keep), with
//     kdim ≠ dModel and a context of another length;
//   • com.microsoft `MultiHeadAttention` self-attention with `attention_bias` = the ALiBi bias and
//     `unidirectional`, against our layer with position { type: 'alibi' };
//   • ONNX `Attention` (opset 23) with q_num_heads / kv_num_heads (GQA and MQA) and is_causal,
//     between MatMul+Add projections, against our layer with numKvHeads.
// Tolerance |got − want| ≤ 3e-5 + 1e-4·|want|. The worst error seen is printed.

import { afterAll, describe, expect, it } from 'vitest';
import { alibiSlopes, createRuntimeSync, type Runtime } from '../../src/index';
import { ISAS, mismatch } from '../helpers/numeric';
import { releaseOrtGraphSessions, runOrtGraph } from '../oracle/ort-graph';
import { layerWeights, maxAbsDiff, randomInput, randomLayer, transpose } from './fixtures';

const ATOL = 3e-5;
const RTOL = 1e-4;
let worst = 0;

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(async () => {
  runtimes.forEach((rt) => rt.dispose());
  await releaseOrtGraphSessions();
  console.log(`[layers/ort] worst |wasm − onnxruntime| = ${worst.toExponential(2)}`);
});

function check(got: Float32Array, want: Float32Array, shape: number[]): void {
  worst = Math.max(worst, maxAbsDiff(got, want));
  expect(mismatch(got, want, ATOL, RTOL, shape)).toBeUndefined();
}

const cat = (...a: Float32Array[]) => {
  const out = new Float32Array(a.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of a) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

describe.each(ISAS.map((isa, i) => [isa, i] as const))('layer vs onnxruntime (%s)', (_isa, index) => {
  const rt = runtimes[index];

  it.each([
    { B: 2, S: 7, E: 32, H: 4, unidirectional: 0 },
    { B: 3, S: 17, E: 48, H: 6, unidirectional: 1 },
    { B: 1, S: 65, E: 64, H: 2, unidirectional: 1 },
  ])('com.microsoft Attention + output projection (B=$B S=$S E=$E H=$H unidirectional=$unidirectional)', async (c) => {
    const l = randomLayer(c.S + c.E, { dModel: c.E, numHeads: c.H });
    const w = layerWeights(l, 'onnx-fused');
    const x = randomInput(c.S, c.B * c.S * c.E);
    const lens = Array.from({ length: c.B }, (_, b) => Math.max(1, c.S - 3 * b));
    const maskIndex = new Int32Array(c.B * c.S).map((_, i) => (i % c.S < lens[Math.floor(i / c.S)] ? 1 : 0));
    const ort = await runOrtGraph({
      nodes: [
        { op: 'Attention', domain: 'com.microsoft', inputs: ['x', 'W', 'b', 'mask'], outputs: ['att'], attributes: { num_heads: c.H, unidirectional: c.unidirectional } },
        { op: 'MatMul', inputs: ['att', 'Wo'], outputs: ['proj'] },
        { op: 'Add', inputs: ['proj', 'bo'], outputs: ['y'] },
      ],
      inputs: { x: { data: x, shape: [c.B, c.S, c.E] }, mask: { data: maskIndex, shape: [c.B, c.S] } },
      initializers: {
        W: { data: w.qkv!.data as Float32Array, shape: [c.E, 3 * c.E] }, b: { data: w.qkvBias!.data as Float32Array, shape: [3 * c.E] },
        Wo: { data: (w.out as { data: Float32Array }).data, shape: [c.E, c.E] }, bo: { data: w.outBias!.data as Float32Array, shape: [c.E] },
      },
      outputs: ['y'],
    });
    const layer = rt.multiHeadAttention({ dModel: c.E, numHeads: c.H, weights: w });
    const kpm = new Uint8Array(maskIndex.length).map((_, i) => (maskIndex[i] ? 0 : 1)); // PyTorch polarity: 1 = ignore
    const y = layer.forward({ data: x, shape: [c.B, c.S, c.E] }, { causal: c.unidirectional === 1, keyPaddingMask: { data: kpm, shape: [c.B, c.S] } });
    check(y.data, ort.y.data, y.shape as number[]);
    // the same padding as per-batch key lengths
    const y2 = layer.forward({ data: x, shape: [c.B, c.S, c.E] }, { causal: c.unidirectional === 1, keyLengths: lens });
    for (let b = 0; b < c.B; b++) {
      const rows = (a: Float32Array) => a.subarray(b * c.S * c.E, (b * c.S + lens[b]) * c.E);
      check(rows(y2.data), rows(ort.y.data), [lens[b], c.E]);
    }
    layer.dispose();
  });

  it.each([
    { B: 2, S: 3, Sk: 11, E: 32, kdim: 20, H: 4 },
    { B: 1, S: 9, Sk: 65, E: 24, kdim: 24, H: 3 },
  ])('com.microsoft MultiHeadAttention, cross-attention with key_padding_mask (S=$S Sk=$Sk kdim=$kdim)', async (c) => {
    const l = randomLayer(c.Sk + c.kdim, { dModel: c.E, numHeads: c.H, kdim: c.kdim, vdim: c.kdim });
    const w = layerWeights(l, 'onnx-separate');
    const x = randomInput(c.S + 1, c.B * c.S * c.E);
    const ctx = randomInput(c.Sk + 2, c.B * c.Sk * c.kdim);
    const keep = new Int32Array(c.B * c.Sk).map((_, i) => ((i * 5) % 7 === 3 ? 0 : 1));
    const ort = await runOrtGraph({
      nodes: [
        { op: 'MatMul', inputs: ['x', 'Wq'], outputs: ['q'] },
        { op: 'MatMul', inputs: ['ctx', 'Wk'], outputs: ['k'] },
        { op: 'MatMul', inputs: ['ctx', 'Wv'], outputs: ['v'] },
        { op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: ['q', 'k', 'v', 'bias', 'kpm'], outputs: ['att'], attributes: { num_heads: c.H } },
        { op: 'MatMul', inputs: ['att', 'Wo'], outputs: ['proj'] },
        { op: 'Add', inputs: ['proj', 'bo'], outputs: ['y'] },
      ],
      inputs: { x: { data: x, shape: [c.B, c.S, c.E] }, ctx: { data: ctx, shape: [c.B, c.Sk, c.kdim] }, kpm: { data: keep, shape: [c.B, c.Sk] } },
      initializers: {
        Wq: { data: (w.q as { data: Float32Array }).data, shape: [c.E, c.E] }, Wk: { data: (w.k as { data: Float32Array }).data, shape: [c.kdim, c.E] },
        Wv: { data: (w.v as { data: Float32Array }).data, shape: [c.kdim, c.E] },
        bias: { data: cat(w.qBias!.data as Float32Array, w.kBias!.data as Float32Array, w.vBias!.data as Float32Array), shape: [3 * c.E] },
        Wo: { data: (w.out as { data: Float32Array }).data, shape: [c.E, c.E] }, bo: { data: w.outBias!.data as Float32Array, shape: [c.E] },
      },
      outputs: ['y'],
    });
    const layer = rt.multiHeadAttention({ dModel: c.E, numHeads: c.H, kdim: c.kdim, vdim: c.kdim, weights: w });
    const kpm = new Uint8Array(keep.length).map((_, i) => (keep[i] ? 0 : 1));
    const y = layer.forward({ data: x, shape: [c.B, c.S, c.E] }, { context: { data: ctx, shape: [c.B, c.Sk, c.kdim] }, keyPaddingMask: { data: kpm, shape: [c.B, c.Sk] } });
    check(y.data, ort.y.data, y.shape as number[]);
    // and through a projected memory (decoding-loop style)
    const memory = layer.projectContext({ data: ctx, shape: [c.B, c.Sk, c.kdim] });
    const y2 = layer.forward({ data: x, shape: [c.B, c.S, c.E] }, { context: memory, keyPaddingMask: { data: kpm, shape: [c.B, c.Sk] } });
    check(y2.data, ort.y.data, y2.shape as number[]);
    memory.dispose();
    layer.dispose();
  });

  it('com.microsoft MultiHeadAttention with attention_bias = ALiBi, unidirectional ≡ position alibi', async () => {
    const B = 2, S = 13, E = 48, H = 6;
    const l = randomLayer(77, { dModel: E, numHeads: H, bias: false });
    const w = layerWeights(l, 'onnx-separate');
    const x = randomInput(78, B * S * E);
    const slopes = alibiSlopes(H);
    const bias = new Float32Array(H * S * S);
    for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) bias[(h * S + i) * S + j] = slopes[h] * (j - i);
    const ort = await runOrtGraph({
      nodes: [
        { op: 'MatMul', inputs: ['x', 'Wq'], outputs: ['q'] },
        { op: 'MatMul', inputs: ['x', 'Wk'], outputs: ['k'] },
        { op: 'MatMul', inputs: ['x', 'Wv'], outputs: ['v'] },
        { op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: ['q', 'k', 'v', '', '', 'ab'], outputs: ['att'], attributes: { num_heads: H, unidirectional: 1 } },
        { op: 'MatMul', inputs: ['att', 'Wo'], outputs: ['y'] },
      ],
      inputs: { x: { data: x, shape: [B, S, E] } },
      initializers: {
        Wq: { data: (w.q as { data: Float32Array }).data, shape: [E, E] }, Wk: { data: (w.k as { data: Float32Array }).data, shape: [E, E] },
        Wv: { data: (w.v as { data: Float32Array }).data, shape: [E, E] }, Wo: { data: (w.out as { data: Float32Array }).data, shape: [E, E] },
        ab: { data: bias, shape: [1, H, S, S] },
      },
      outputs: ['y'],
    });
    const layer = rt.multiHeadAttention({ dModel: E, numHeads: H, bias: false, position: { type: 'alibi' }, weights: w });
    const y = layer.forward({ data: x, shape: [B, S, E] }, { causal: true });
    check(y.data, ort.y.data, y.shape as number[]);
    layer.dispose();
  });

  it.each([
    { H: 8, Hkv: 2, S: 9, causal: 1 },
    { H: 4, Hkv: 1, S: 33, causal: 0 },
  ])('ONNX Attention-23 between projections: GQA/MQA (H=$H Hkv=$Hkv S=$S is_causal=$causal)', async (c) => {
    const B = 2, Dh = 8, E = 32;
    const l = randomLayer(c.H * 10 + c.S, { dModel: E, numHeads: c.H, numKvHeads: c.Hkv, headDim: Dh });
    const qOut = c.H * Dh, kvOut = c.Hkv * Dh;
    const x = randomInput(c.S * 3, B * c.S * E);
    const ort = await runOrtGraph({
      nodes: [
        { op: 'MatMul', inputs: ['x', 'Wq'], outputs: ['q0'] }, { op: 'Add', inputs: ['q0', 'bq'], outputs: ['q'] },
        { op: 'MatMul', inputs: ['x', 'Wk'], outputs: ['k0'] }, { op: 'Add', inputs: ['k0', 'bk'], outputs: ['k'] },
        { op: 'MatMul', inputs: ['x', 'Wv'], outputs: ['v0'] }, { op: 'Add', inputs: ['v0', 'bv'], outputs: ['v'] },
        { op: 'Attention', inputs: ['q', 'k', 'v'], outputs: ['att'], attributes: { q_num_heads: c.H, kv_num_heads: c.Hkv, is_causal: c.causal } },
        { op: 'MatMul', inputs: ['att', 'Wo'], outputs: ['o0'] }, { op: 'Add', inputs: ['o0', 'bo'], outputs: ['y'] },
      ],
      inputs: { x: { data: x, shape: [B, c.S, E] } },
      initializers: {
        Wq: { data: transpose(l.wq, qOut, E), shape: [E, qOut] }, bq: { data: l.bq!, shape: [qOut] },
        Wk: { data: transpose(l.wk, kvOut, E), shape: [E, kvOut] }, bk: { data: l.bk!, shape: [kvOut] },
        Wv: { data: transpose(l.wv, kvOut, E), shape: [E, kvOut] }, bv: { data: l.bv!, shape: [kvOut] },
        Wo: { data: transpose(l.wo, E, qOut), shape: [qOut, E] }, bo: { data: l.bo!, shape: [E] },
      },
      outputs: ['y'],
    });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-fused') });
    const y = layer.forward({ data: x, shape: [B, c.S, E] }, { causal: c.causal === 1 });
    check(y.data, ort.y.data, y.shape as number[]);
    layer.dispose();
  });
});
