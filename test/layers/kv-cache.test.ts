// kv-cache.test.ts — the KV cache (rt.kvCache) and decoding through the layer.
//
// Identities (Wasm against Wasm, tolerance 2e-5 + 1e-4·|want|; the two sides differ only in
// float32 summation order: the decode path sums keys in a different order than the full pass):
//   • decoding token by token (and in chunks of 2, 3 and 5) through a linear cache equals one full
//     causal pass, for MHA, GQA and MQA, with every position encoding (RoPE rotate-half and
//     interleaved with a partial rotary dimension, ALiBi, T5 unidirectional buckets, Shaw);
//   • a ring-buffer cache (window W) equals sliding-window attention (rt.attention with causal and
//     window.left = W − 1), token by token and in chunks, including chunks longer than W, across
//     many wrap-arounds; with ALiBi it equals the full pass with the same window as a mask;
//   • cache.step equals rt.attention on the concatenated keys; weights from a ring buffer equal
//     those of the full pass; cross-attention memory (layer.projectContext) equals passing the
//     encoder output as context; beam reorder equals decoding the reordered beams from scratch.
// Also: keys()/values() in time order, reset, the error when full, and the cache being read in
// place (its storage does not move and no per-step block outlives the step).

import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type MultiHeadAttention, type PositionConfig, type Runtime, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { layerWeights, randomInput, randomLayer } from './fixtures';

const ATOL = 2e-5;
const RTOL = 1e-4;

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

/** Rows [t0, t1) of every batch entry of [B, S, E]. */
function slice(x: Float32Array, B: number, S: number, E: number, t0: number, t1: number): { data: Float32Array; shape: number[] } {
  const n = t1 - t0;
  const out = new Float32Array(B * n * E);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * S + t0) * E, (b * S + t1) * E), b * n * E);
  return { data: out, shape: [B, n, E] };
}

/** Decodes x [B, S, E] through `cache` in chunks; returns the outputs reassembled as [B, S, E]. */
function decode(layer: MultiHeadAttention, cache: ReturnType<Runtime['kvCache']>, x: Float32Array, B: number, S: number, E: number, chunks: number[]): Float32Array {
  const out = new Float32Array(B * S * E);
  let t = 0;
  let c = 0;
  while (t < S) {
    const n = Math.min(chunks[c++ % chunks.length], S - t);
    const y = layer.forward(slice(x, B, S, E, t, t + n), { cache }) as Tensor;
    for (let b = 0; b < B; b++) out.set(y.data.subarray(b * n * E, (b + 1) * n * E), (b * S + t) * E);
    t += n;
  }
  return out;
}

const POSITIONS: Array<[string, (H: number, Dh: number, seed: number) => PositionConfig | undefined]> = [
  ['none', () => undefined],
  ['rope rotate-half', () => ({ type: 'rope' })],
  ['rope interleaved partial', (_H, Dh) => ({ type: 'rope', interleaved: true, rotaryDim: Dh / 2, base: 500 })],
  ['alibi', () => ({ type: 'alibi' })],
  ['t5 unidirectional', (H, _Dh, seed) => ({ type: 't5', bidirectional: false, numBuckets: 8, maxDistance: 12, weights: { data: uniformF32(8 * H, rng(seed), -1, 1), shape: [8, H] } })],
  ['shaw', (_H, Dh, seed) => ({ type: 'shaw', maxRelative: 3, embeddings: { data: uniformF32(7 * Dh, rng(seed), -1, 1), shape: [7, Dh] } })],
];

describe.each(ISAS.map((isa, i) => [isa, i] as const))('kvCache (%s)', (_isa, index) => {
  const rt = runtimes[index];

  describe.each(POSITIONS)('decoding ≡ one causal pass, position %s', (_name, position) => {
    it.each([
      { B: 1, S: 9, dModel: 32, H: 4, Hkv: 4, chunks: [1] },
      { B: 2, S: 13, dModel: 32, H: 4, Hkv: 2, chunks: [3, 1, 5] },
      { B: 2, S: 11, dModel: 24, H: 3, Hkv: 1, chunks: [2] },
    ])('B=$B S=$S H=$H Hkv=$Hkv chunks=$chunks', (c) => {
      const Dh = c.dModel / c.H;
      const l = randomLayer(200 + c.S, { dModel: c.dModel, numHeads: c.H, numKvHeads: c.Hkv });
      const layer = rt.multiHeadAttention({ ...l.shape, position: position(c.H, Dh, 300 + c.S), weights: layerWeights(l, 'torch-fused') });
      const x = randomInput(400 + c.S, c.B * c.S * c.dModel);
      const full = layer.forward({ data: x, shape: [c.B, c.S, c.dModel] }, { causal: true });
      const cache = rt.kvCache({ heads: c.Hkv, headDim: Dh, maxLength: c.S, batch: c.B });
      const got = decode(layer, cache, x, c.B, c.S, c.dModel, c.chunks);
      expect(mismatch(got, full.data, ATOL, RTOL, full.shape)).toBeUndefined();
      expect(cache.length).toBe(c.S);
      cache.dispose();
      layer.dispose();
    });
  });

  it.each([
    { W: 4, S: 23, chunks: [1] },
    { W: 5, S: 31, chunks: [2, 3, 1] },
    { W: 3, S: 20, chunks: [7, 1, 4] }, // chunks longer than the window
    { W: 8, S: 70, chunks: [65, 5] }, // a prefill through the tile path, then decoding
  ])('ring buffer (window $W) ≡ sliding-window attention, chunks $chunks', ({ W, S, chunks }) => {
    const B = 2, H = 4, Hkv = 2, Dh = 8;
    const next = rng(W * 100 + S);
    const q = uniformF32(B * H * S * Dh, next);
    const k = uniformF32(B * Hkv * S * Dh, next);
    const v = uniformF32(B * Hkv * S * Dh, next);
    const want = rt.attention({ data: q, shape: [B, H, S, Dh] }, { data: k, shape: [B, Hkv, S, Dh] }, { data: v, shape: [B, Hkv, S, Dh] }, { causal: true, window: { left: W - 1 } }) as Tensor;
    const cache = rt.kvCache({ heads: Hkv, headDim: Dh, maxLength: W, window: W, batch: B });
    const cut = (a: Float32Array, heads: number, t0: number, t1: number) => {
      const n = t1 - t0;
      const out = new Float32Array(B * heads * n * Dh);
      for (let b = 0; b < B; b++) for (let h = 0; h < heads; h++) out.set(a.subarray(((b * heads + h) * S + t0) * Dh, ((b * heads + h) * S + t1) * Dh), ((b * heads + h) * n) * Dh);
      return { data: out, shape: [B, heads, n, Dh] };
    };
    let t = 0;
    let c = 0;
    while (t < S) {
      const n = Math.min(chunks[c++ % chunks.length], S - t);
      const y = cache.step(cut(q, H, t, t + n), cut(k, Hkv, t, t + n), cut(v, Hkv, t, t + n));
      const exp = cut(want.data, H, t, t + n);
      expect(mismatch(y.data, exp.data, ATOL, RTOL, y.shape), `tokens ${t}..${t + n}`).toBeUndefined();
      t += n;
      expect(cache.length).toBe(Math.min(t, W));
      expect(cache.position).toBe(t);
    }
    // keys() returns the last W keys in time order
    expect(mismatch(cache.keys().data, cut(k, Hkv, S - W, S).data, 0, 0)).toBeUndefined();
    expect(mismatch(cache.values().data, cut(v, Hkv, S - W, S).data, 0, 0)).toBeUndefined();
    cache.dispose();
  });

  it('ring buffer through the layer with ALiBi ≡ full pass with the window as a mask; weights too', () => {
    const B = 1, S = 19, dModel = 16, H = 2, W = 5;
    const l = randomLayer(501, { dModel, numHeads: H });
    const layer = rt.multiHeadAttention({ ...l.shape, position: { type: 'alibi' }, weights: layerWeights(l, 'torch-fused') });
    const x = randomInput(502, B * S * dModel);
    const band = new Uint8Array(S * S).map((_, i) => (Math.floor(i / S) - (i % S) < W ? 1 : 0));
    const full = layer.forward({ data: x, shape: [B, S, dModel] }, { causal: true, mask: { data: band, shape: [S, S] }, needWeights: true, averageWeights: false });
    const cache = rt.kvCache({ heads: H, headDim: 8, maxLength: W, window: W });
    for (let t = 0; t < S; t++) {
      const r = layer.forward(slice(x, B, S, dModel, t, t + 1), { cache, needWeights: true, averageWeights: false });
      expect(mismatch(r.output.data, full.output.data.subarray(t * dModel, (t + 1) * dModel), ATOL, RTOL)).toBeUndefined();
      // weights over the keys in time order: the W cached ones (positions t − W … t − 1; the oldest
      // just left the window, so its weight is 0), then the new one
      const first = Math.max(0, t - W);
      const nk = t - first + 1;
      expect(r.weights.shape).toEqual([1, H, 1, nk]);
      for (let h = 0; h < H; h++) {
        const wantRow = full.weights.data.subarray((h * S + t) * S + first, (h * S + t) * S + t + 1);
        expect(mismatch(r.weights.data.subarray(h * nk, (h + 1) * nk), wantRow, 2e-6, RTOL)).toBeUndefined();
      }
    }
    cache.dispose();
    layer.dispose();
  });

  it('cache.step ≡ rt.attention on the concatenated keys (with masks); cache.attend; weights', () => {
    const B = 2, H = 4, Hkv = 2, Dh = 16, P = 6, n = 3;
    const next = rng(9);
    const kAll = uniformF32(B * Hkv * (P + n) * Dh, next);
    const vAll = uniformF32(B * Hkv * (P + n) * Dh, next);
    const q = uniformF32(B * H * n * Dh, next);
    const part = (a: Float32Array, t0: number, t1: number) => {
      const out = new Float32Array(B * Hkv * (t1 - t0) * Dh);
      for (let bh = 0; bh < B * Hkv; bh++) out.set(a.subarray((bh * (P + n) + t0) * Dh, (bh * (P + n) + t1) * Dh), bh * (t1 - t0) * Dh);
      return { data: out, shape: [B, Hkv, t1 - t0, Dh] };
    };
    const cache = rt.kvCache({ heads: Hkv, headDim: Dh, maxLength: 16, batch: B });
    cache.append(part(kAll, 0, P), part(vAll, 0, P));
    const kpm = new Uint8Array(B * (P + n)).map((_, i) => (i % 4 === 1 ? 1 : 0));
    const r = cache.step({ data: q, shape: [B, H, n, Dh] }, part(kAll, P, P + n), part(vAll, P, P + n), { keyPaddingMask: { data: kpm, shape: [B, P + n] }, returnWeights: true });
    const attendMask = new Uint8Array(kpm.length).map((_, i) => (kpm[i] ? 0 : 1));
    const want = rt.attention({ data: q, shape: [B, H, n, Dh] }, { data: kAll, shape: [B, Hkv, P + n, Dh] }, { data: vAll, shape: [B, Hkv, P + n, Dh] }, {
      causal: true, mask: { data: attendMask, shape: [B, 1, 1, P + n] }, returnWeights: true,
    }) as { output: Tensor; weights: Tensor };
    expect(mismatch(r.output.data, want.output.data, ATOL, RTOL)).toBeUndefined();
    expect(mismatch(r.weights.data, want.weights.data, 2e-6, RTOL)).toBeUndefined();
    // truncate (roll back) and redo the step into an `out` tensor: the same result
    cache.truncate(P);
    const out = rt.tensor([B, H, n, Dh]);
    const again = cache.step({ data: q, shape: [B, H, n, Dh] }, part(kAll, P, P + n), part(vAll, P, P + n), { keyPaddingMask: { data: kpm, shape: [B, P + n] }, out });
    expect(again).toBe(out);
    expect(mismatch(out.data, r.output.data, 0, 0)).toBeUndefined();
    out.dispose();
    // attend: the same queries over everything, nothing appended
    const a = cache.attend({ data: q, shape: [B, H, n, Dh] });
    const wantAll = rt.attention({ data: q, shape: [B, H, n, Dh] }, { data: kAll, shape: [B, Hkv, P + n, Dh] }, { data: vAll, shape: [B, Hkv, P + n, Dh] }) as Tensor;
    expect(mismatch(a.data, wantAll.data, ATOL, RTOL)).toBeUndefined();
    expect(cache.length).toBe(P + n);
    cache.dispose();
  });

  it('cross-attention memory: projectContext once, then forward({ context: memory }) ≡ forward({ context })', () => {
    const l = randomLayer(601, { dModel: 24, numHeads: 4, numKvHeads: 2 });
    for (const layout of ['torch-fused', 'onnx-separate'] as const) {
      const cross = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, layout) });
      const B = 2, Sk = 11;
      const enc = { data: randomInput(602, B * Sk * 24), shape: [B, Sk, 24] };
      const memory = cross.projectContext(enc);
      expect(memory.length).toBe(Sk);
      for (let t = 0; t < 3; t++) {
        const y = { data: randomInput(610 + t, B * 24), shape: [B, 1, 24] };
        const a = cross.forward(y, { context: memory });
        const b = cross.forward(y, { context: enc });
        expect(mismatch(a.data, b.data, ATOL, RTOL)).toBeUndefined();
      }
      const again = cross.projectContext(enc, memory); // refill the same cache
      expect(again).toBe(memory);
      memory.dispose();
      cross.dispose();
    }
  });

  it('beam search: reorder(indices) ≡ decoding the reordered beams from scratch', () => {
    const l = randomLayer(701, { dModel: 16, numHeads: 2 });
    const layer = rt.multiHeadAttention({ ...l.shape, position: { type: 'rope' }, weights: layerWeights(l, 'torch-fused') });
    const B = 4, S = 6, E = 16;
    const x = randomInput(702, B * S * E);
    for (const window of [undefined, 4]) {
      const cache = rt.kvCache({ heads: 2, headDim: 8, maxLength: 8, batch: B, window });
      decode(layer, cache, x, B, S, E, [1]);
      const idx = [2, 2, 0, 3];
      cache.reorder(idx);
      // reference: a fresh cache fed the reordered prefixes
      const xr = new Float32Array(B * S * E);
      idx.forEach((s, b) => xr.set(x.subarray(s * S * E, (s + 1) * S * E), b * S * E));
      const ref = rt.kvCache({ heads: 2, headDim: 8, maxLength: 8, batch: B, window });
      decode(layer, ref, xr, B, S, E, [1]);
      expect(mismatch(cache.keys().data, ref.keys().data, 0, 0)).toBeUndefined();
      expect(mismatch(cache.values().data, ref.values().data, 0, 0)).toBeUndefined();
      const step = { data: randomInput(703, B * E), shape: [B, 1, E] };
      expect(mismatch(layer.forward(step, { cache }).data, layer.forward(step, { cache: ref }).data, 0, 0)).toBeUndefined();
      cache.dispose();
      ref.dispose();
    }
    layer.dispose();
  });

  it('reset, full cache error (nothing written), in-place reads, no leaks', () => {
    const before = arenaStats(rt);
    const l = randomLayer(801, { dModel: 16, numHeads: 2 });
    const layer = rt.multiHeadAttention({ ...l.shape, weights: layerWeights(l, 'torch-fused') });
    const cache = rt.kvCache({ heads: 2, headDim: 8, maxLength: 4 });
    const x = { data: randomInput(802, 3 * 16), shape: [1, 3, 16] };
    layer.forward(x, { cache });
    const blocks = arenaStats(rt).blocks;
    const keys = cache.keys();
    let err: unknown;
    try {
      layer.forward(x, { cache });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'AttentionError', code: 'CACHE_FULL' });
    expect(String((err as Error).message)).toMatch(/kvCache is full: it holds 3 of maxLength 4 tokens and 3 more do not fit/);
    expect(cache.length).toBe(3);
    expect(mismatch(cache.keys().data, keys.data, 0, 0)).toBeUndefined();
    expect(() => cache.append({ data: new Float32Array(2 * 2 * 8), shape: [1, 2, 2, 8] }, { data: new Float32Array(2 * 2 * 8), shape: [1, 2, 2, 8] })).toThrow(/kvCache is full/);
    // still usable: one more token fits, then reset
    layer.forward({ data: x.data.subarray(0, 16), shape: [1, 1, 16] }, { cache });
    expect(cache.length).toBe(4);
    expect(arenaStats(rt).blocks).toBe(blocks);
    expect(() => cache.truncate(5)).toThrow(/length must be an integer in \[0, 4\]/);
    const ring = rt.kvCache({ heads: 2, headDim: 8, maxLength: 2, window: 2 });
    layer.forward(x, { cache: ring });
    expect(() => ring.truncate(1)).toThrow(/cannot truncate a ring-buffer kvCache that has wrapped/);
    ring.dispose();
    cache.reset();
    expect(cache.length).toBe(0);
    layer.forward(x, { cache });
    expect(cache.length).toBe(3);
    cache.dispose();
    layer.dispose();
    expect(arenaStats(rt).blocks).toBeLessThanOrEqual(before.blocks + 1);
  });
});
