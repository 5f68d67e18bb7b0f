// t5.test.ts — T5 relative-position buckets: the bucket function against hand-computed values of
// transformers' T5Attention._relative_position_bucket (num_buckets 32, max_distance 128) and
// against the float64 transcription over distances −600…600 for several parameter sets; the
// layer with T5 biases (bidirectional encoder, unidirectional decoder, unscaled scores) against
// the float64 layer reference, on sequences longer than max_distance (so the table clamp is
// exercised and must be exact). Tolerance 3e-5 + 1e-4·|want|.

import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type Runtime, t5RelativeBucket } from '../../src/index';
import { ISAS, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { referenceMha, refT5Bucket } from '../reference/mha';
import { layerWeights, randomInput, randomLayer, refConfig } from '../layers/fixtures';

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

describe('t5RelativeBucket', () => {
  it('matches known T5 buckets (32 buckets, max distance 128)', () => {
    // bidirectional: 16 per direction, 8 exact; n > 0 (keys after the query) add 16
    const bi = (n: number) => t5RelativeBucket(n, true, 32, 128);
    expect([0, -1, -7, 1, 7].map(bi)).toEqual([0, 1, 7, 17, 23]);
    // ⌊ln(n/8)/ln(16)·8⌋ + 8: n = 8 → 8, 20 → 10, 100 → 15, 127 → 15, 1000 → 15
    expect([-8, -20, -100, -127, -1000].map(bi)).toEqual([8, 10, 15, 15, 15]);
    expect([8, 20, 1000].map(bi)).toEqual([24, 26, 31]);
    // unidirectional: future keys all bucket 0; 16 exact buckets
    const uni = (n: number) => t5RelativeBucket(n, false, 32, 128);
    expect([5, 1, 0, -1, -15, -16, -40, -127, -500].map(uni)).toEqual([0, 0, 0, 1, 15, 16, 23, 31, 31]);
  });

  it('equals the float64 transcription of the reference for many parameters', () => {
    for (const [nb, md] of [[32, 128], [8, 12], [16, 20], [64, 512], [6, 5]]) {
      for (const bidirectional of [true, false]) {
        for (let n = -600; n <= 600; n++) expect(t5RelativeBucket(n, bidirectional, nb, md)).toBe(refT5Bucket(n, bidirectional, nb, md));
      }
    }
  });
});

describe.each(ISAS.map((isa, i) => [isa, i] as const))('T5 biases in the layer (%s)', (_isa, index) => {
  const rt = runtimes[index];

  it.each([
    { bidirectional: true, causal: false, numBuckets: 32, maxDistance: 128, S: 9, unscaled: true },
    { bidirectional: true, causal: false, numBuckets: 8, maxDistance: 10, S: 40, unscaled: true },
    { bidirectional: false, causal: true, numBuckets: 12, maxDistance: 16, S: 70, unscaled: false },
  ])('≡ float64 reference (bidirectional=$bidirectional S=$S buckets=$numBuckets maxDistance=$maxDistance unscaled=$unscaled)', (c) => {
    const H = 4, Dh = 8, dModel = 32, B = 2;
    const l = randomLayer(c.S, { dModel, numHeads: H, numKvHeads: 2, bias: false, scale: c.unscaled ? 1 : undefined });
    const weights = uniformF32(c.numBuckets * H, rng(c.S + 1), -2, 2);
    const layer = rt.multiHeadAttention({
      ...l.shape, scale: undefined,
      position: { type: 't5', weights: { data: weights, shape: [c.numBuckets, H] }, bidirectional: c.bidirectional, numBuckets: c.numBuckets, maxDistance: c.maxDistance, unscaled: c.unscaled },
      weights: layerWeights(l, 'torch-separate'),
    });
    expect(layer.scale).toBe(c.unscaled ? 1 : 1 / Math.sqrt(Dh));
    const x = randomInput(c.S + 2, B * c.S * dModel, -0.5, 0.5);
    const y = layer.forward({ data: x, shape: [B, c.S, dModel] }, { causal: c.causal });
    const want = referenceMha(refConfig(l, { type: 't5', weights, bidirectional: c.bidirectional, numBuckets: c.numBuckets, maxDistance: c.maxDistance }), x, B, c.S, { causal: c.causal });
    expect(mismatch(y.data, want.output, 3e-5, 1e-4, y.shape)).toBeUndefined();
    layer.dispose();
  });
});
