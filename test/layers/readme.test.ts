// readme.test.ts — the "Layers, caches and positions" examples of docs/layers.md, run as written (small
// sizes): an encoder layer with PyTorch in_proj weights and a key padding mask, attention weights
// per head, a cross-attention call with key lengths, and a decoding loop (GQA + RoPE self-attention
// with a KV cache, cross-attention over a projected memory, beam reorder) whose outputs equal the
// full causal pass.

import { afterAll, expect, it } from 'vitest';
import { createRuntimeSync, type Tensor } from '../../src/index';
import { mismatch } from '../helpers/numeric';
import { layerWeights, randomInput, randomLayer } from './fixtures';

const rt = createRuntimeSync();
afterAll(() => rt.dispose());

it('README: encoder layer, cross-attention, decoding loop', () => {
  const dModel = 32;
  // encoder layer (PyTorch nn.MultiheadAttention: in_proj_weight [3·dModel, dModel])
  const enc = randomLayer(1, { dModel, numHeads: 4 });
  const { qkv: inProjWeight, qkvBias: inProjBias, out: outProjWeight, outBias: outProjBias } = layerWeights(enc, 'torch-fused');
  const layer = rt.multiHeadAttention({ dModel, numHeads: 4, weights: { qkv: inProjWeight, qkvBias: inProjBias, out: outProjWeight, outBias: outProjBias } });
  const x = { data: randomInput(2, 2 * 6 * dModel), shape: [2, 6, dModel] };
  const keyPaddingMask = { data: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]), shape: [2, 6] };
  const y = layer.forward(x, { keyPaddingMask });
  expect(y.shape).toEqual([2, 6, dModel]);
  const { output, weights } = layer.forward(x, { needWeights: true, averageWeights: false });
  expect(output.shape).toEqual([2, 6, dModel]);
  expect(weights.shape).toEqual([2, 4, 6, 6]);

  // cross-attention
  const crossL = randomLayer(3, { dModel, numHeads: 4, numKvHeads: 2 });
  const cross = rt.multiHeadAttention({ ...crossL.shape, weights: layerWeights(crossL, 'torch-separate') });
  const encoderOut = layer.forward(x); // [2, 6, dModel]
  const decoderStates = { data: randomInput(4, 2 * 3 * dModel), shape: [2, 3, dModel] };
  const yc = cross.forward(decoderStates, { context: encoderOut, keyLengths: [6, 4] });
  expect(yc.shape).toEqual([2, 3, dModel]);

  // decoding loop
  const selfL = randomLayer(5, { dModel, numHeads: 4, numKvHeads: 2, bias: false });
  const self = rt.multiHeadAttention({ dModel, numHeads: 4, numKvHeads: 2, position: { type: 'rope' }, bias: false, weights: layerWeights(selfL, 'torch-separate') });
  const cache = rt.kvCache({ heads: 2, headDim: 8, maxLength: 16, batch: 2 });
  const memory = cross.projectContext(encoderOut);
  const steps = 5;
  const tokens = randomInput(6, 2 * steps * dModel);
  const tokenEmbedding = (t: number) => {
    const e = new Float32Array(2 * dModel);
    for (let b = 0; b < 2; b++) e.set(tokens.subarray((b * steps + t) * dModel, (b * steps + t + 1) * dModel), b * dModel);
    return { data: e, shape: [2, 1, dModel] };
  };
  const hs: Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const h = self.forward(tokenEmbedding(t), { cache });
    const yt = cross.forward(h, { context: memory });
    expect(yt.shape).toEqual([2, 1, dModel]);
    hs.push(h);
  }
  const full = self.forward({ data: tokens, shape: [2, steps, dModel] }, { causal: true });
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < 2; b++) {
      expect(mismatch(hs[t].data.subarray(b * dModel, (b + 1) * dModel), full.data.subarray((b * steps + t) * dModel, (b * steps + t + 1) * dModel), 2e-5, 1e-4)).toBeUndefined();
    }
  }
  const beamParents = [1, 1];
  cache.reorder(beamParents);
  cache.reset();
  for (const d of [memory, cache, self, cross, layer]) d.dispose();
});
