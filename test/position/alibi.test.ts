// alibi.test.ts — ALiBi: slopes against the reference get_slopes (known values for 1, 6, 8, 12
// heads and the float64 transcription for 1…64 heads), and the layer with ALiBi against the same
// layer given the bias as an explicit additive mask [heads, S, S] (causal slope·(j − i) and
// symmetric −slope·|j − i|), on sequences that hit the kernel's tails and grow the table
// (S = 1, 5, 65, then 130 on the same layer); GQA; also against the float64 layer reference.
// Tolerance 3e-5 + 1e-4·|want|.

import { afterAll, describe, expect, it } from 'vitest';
import { alibiSlopes, createRuntimeSync, type Runtime } from '../../src/index';
import { ISAS, mismatch } from '../helpers/numeric';
import { referenceMha, refAlibiSlopes } from '../reference/mha';
import { layerWeights, randomInput, randomLayer, refConfig } from '../layers/fixtures';

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

describe('alibiSlopes', () => {
  it('matches the reference get_slopes', () => {
    expect(alibiSlopes(1)).toEqual([2 ** -8]);
    expect(alibiSlopes(8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i));
    // 6 heads: the 4-head slopes, then every other slope of the 8-head sequence
    expect(alibiSlopes(6)).toEqual([2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3]);
    const twelve = alibiSlopes(12);
    expect(twelve.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i));
    twelve.slice(8).forEach((s, i) => expect(s).toBeCloseTo(2 ** -(0.5 + i), 15));
    for (let n = 1; n <= 64; n++) expect(alibiSlopes(n)).toEqual(refAlibiSlopes(n));
    expect(() => alibiSlopes(0)).toThrow(/numHeads must be a positive integer/);
  });
});

describe.each(ISAS.map((isa, i) => [isa, i] as const))('ALiBi in the layer (%s)', (_isa, index) => {
  const rt = runtimes[index];

  it.each([
    { symmetric: false, causal: true, H: 4, Hkv: 2 },
    { symmetric: true, causal: false, H: 6, Hkv: 6 },
    { symmetric: false, causal: false, H: 3, Hkv: 1 },
  ])('≡ the same bias as an explicit additive mask (symmetric=$symmetric causal=$causal H=$H Hkv=$Hkv)', ({ symmetric, causal, H, Hkv }) => {
    const Dh = 8, dModel = H * Dh, B = 2;
    const l = randomLayer(10 + H, { dModel, numHeads: H, numKvHeads: Hkv });
    const withAlibi = rt.multiHeadAttention({ ...l.shape, position: { type: 'alibi', symmetric }, weights: layerWeights(l, 'torch-fused') });
    const plain = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-fused') });
    const slopes = alibiSlopes(H);
    for (const S of [1, 5, 65, 130]) {
      const x = { data: randomInput(S, B * S * dModel), shape: [B, S, dModel] };
      const mask = new Float32Array(H * S * S);
      for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) {
        mask[(h * S + i) * S + j] = symmetric ? -slopes[h] * Math.abs(j - i) : slopes[h] * (j - i);
      }
      const a = withAlibi.forward(x, { causal });
      const b = plain.forward(x, { causal, mask: { data: mask, shape: [H, S, S] } });
      expect(mismatch(a.data, b.data, 3e-5, 1e-4, a.shape), `S=${S}`).toBeUndefined();
      if (S <= 65) {
        const want = referenceMha(refConfig(l, { type: 'alibi', slopes, symmetric }), x.data, B, S, { causal });
        expect(mismatch(a.data, want.output, 3e-5, 1e-4, a.shape), `S=${S} vs float64`).toBeUndefined();
      }
    }
    withAlibi.dispose();
    plain.dispose();
  });

  it('explicit slopes are used as given', () => {
    const l = randomLayer(3, { dModel: 16, numHeads: 2 });
    const slopes = [0.7, 0.05];
    const layer = rt.multiHeadAttention({ ...l.shape, position: { type: 'alibi', slopes }, weights: layerWeights(l, 'onnx-fused') });
    const x = randomInput(4, 9 * 16);
    const y = layer.forward({ data: x, shape: [1, 9, 16] }, { causal: true });
    const want = referenceMha(refConfig(l, { type: 'alibi', slopes, symmetric: false }), x, 1, 9, { causal: true });
    expect(mismatch(y.data, want.output, 3e-5, 1e-4)).toBeUndefined();
    layer.dispose();
  });
});
