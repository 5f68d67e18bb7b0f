// shaw.test.ts — Shaw-style learned relative key embeddings (Shaw et al. 2018, eq. (4)):
// e_ij = scale·(q_i·k_j + q_i·a_clip(j − i, k)), through the kernel's per-row relative table,
// against the float64 layer reference; embeddings shared by all heads and per head; sequences
// longer than 2k + 1 (clipping on both sides), causal and not, GQA, the tile path (S = 65) and
// the row path (S = 3). Tolerance 3e-5 + 1e-4·|want|.

import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type Runtime } from '../../src/index';
import { ISAS, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { referenceMha } from '../reference/mha';
import { layerWeights, randomInput, randomLayer, refConfig } from '../layers/fixtures';

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

describe.each(ISAS.map((isa, i) => [isa, i] as const))('Shaw relative embeddings (%s)', (_isa, index) => {
  const rt = runtimes[index];

  it.each([
    { k: 2, perHead: false, causal: false, S: 9, H: 4, Hkv: 2 },
    { k: 4, perHead: true, causal: true, S: 65, H: 2, Hkv: 2 },
    { k: 0, perHead: false, causal: true, S: 3, H: 2, Hkv: 1 },
    { k: 16, perHead: true, causal: false, S: 7, H: 3, Hkv: 3 },
  ])('≡ float64 reference (k=$k perHead=$perHead causal=$causal S=$S H=$H Hkv=$Hkv)', (c) => {
    const Dh = 8, dModel = c.H * Dh, B = 2;
    const l = randomLayer(c.S * 3 + c.k, { dModel, numHeads: c.H, numKvHeads: c.Hkv });
    const rows = (c.perHead ? c.H : 1) * (2 * c.k + 1);
    const emb = uniformF32(rows * Dh, rng(c.k + 7), -1, 1);
    const shape = c.perHead ? [c.H, 2 * c.k + 1, Dh] : [2 * c.k + 1, Dh];
    const layer = rt.multiHeadAttention({ ...l.shape, position: { type: 'shaw', maxRelative: c.k, embeddings: { data: emb, shape } }, weights: layerWeights(l, 'onnx-fused') });
    const x = randomInput(c.S, B * c.S * dModel);
    const y = layer.forward({ data: x, shape: [B, c.S, dModel] }, { causal: c.causal });
    const want = referenceMha(refConfig(l, { type: 'shaw', embeddings: emb, perHead: c.perHead, maxRelative: c.k }), x, B, c.S, { causal: c.causal });
    expect(mismatch(y.data, want.output, 3e-5, 1e-4, y.shape)).toBeUndefined();
    layer.dispose();
  });
});
