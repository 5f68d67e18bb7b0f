// rt.routingAttention, rt.routingCentroids and rt.routedAttention against the float64 oracles of
// test/reference/routing.ts (and the path oracles of the long-sequence variants).
//
// Clustering (fast-check, fixed seed, 30 runs per kernel binary): nq ∈ {1, 3, 5, 8, 9, 17, 64, 65},
// cross-attention lengths too, dh, dv ∈ {1, 3, 8, 16}, batch 1–2, MHA/GQA heads, clusters 1–6,
// w and w' from 1 to n, causal, random centroids, with or without an EMA update. Tolerance:
// inputs uniform in [−2, 2]; |got − ref| ≤ 3e-5 + 3e-5·|ref| (centroids ≤ 1e-5). Routing decisions
// are compared through the outputs, so the centroids are random here: k-means centroids tie
// exactly in real arithmetic on tiny inputs (a two-member cluster's centroid scores both members
// equally), where float32 and float64 rounding pick different members. The seeded k-means is
// checked on its own (rt.routingCentroids vs the oracle, ≤ 1e-5), and routing without given
// centroids is checked to start from exactly those centroids.
// Paths: π = softmax(q·W_r + b) (per head or shared W_r, or a router input), mixture of full,
// causal, window, segmented and clustering paths vs the oracles' mixture (≤ 3e-5); over heads.
// Identities: one cluster with w = n is full attention (bit-identical; causal ≤ 1e-6); a one-hot
// route (explicit, or by −∞ biases) is that path alone (bit-identical).
// Errors: w > n, bad centroids shape, W_r of the wrong shape, bad bias/routes/paths → typed errors.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AttentionPath, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { referenceAttention } from '../reference/attention';
import { referenceRouted, referenceRoutes, referenceRouting, referenceRoutingCentroids } from '../reference/routing';
import { referenceSegmented } from '../reference/segmented';
import { referenceSlidingWindow } from '../reference/sliding-window';

const ATOL = 3e-5;
const RTOL = 3e-5;
const SEQ = [1, 3, 5, 8, 9, 17, 64, 65];
const HEAD = [1, 3, 8, 16];

const tensor = randomTensor;
const runtime = useRuntimes();

const flat = (mus: Float64Array[][]): Float64Array => Float64Array.from(mus.flatMap((m) => m.flatMap((r) => Array.from(r))));
const nested = (t: Tensor): Float64Array[][] => {
  const [H, C, d] = t.shape;
  return Array.from({ length: H }, (_, h) => Array.from({ length: C }, (_, c) => Float64Array.from(t.data.subarray((h * C + c) * d, (h * C + c + 1) * d))));
};

describe.each(ISAS)('routingAttention (%s)', (isa) => {
  it('matches the float64 reference (clusters, top-w, causal, centroids, EMA)', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.routingAttention(warm, warm, warm, { clusters: 2 }),
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom<[number, number]>([1, 1], [2, 1], [2, 2], [4, 2]),
        nq: fc.constantFrom(...SEQ),
        cross: fc.constantFrom(0, 0, 1, 7),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        C: fc.integer({ min: 1, max: 6 }),
        wFrac: fc.double({ min: 0, max: 1, noNaN: true }),
        kwFrac: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
        causal: fc.boolean(),
        ema: fc.option(fc.constantFrom(0, 0.5, 0.9)),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.seed);
        const [hq, hkv] = c.heads;
        const causal = c.causal && c.cross === 0;
        const nk = causal ? c.nq : c.nq + c.cross;
        const q = tensor([c.batch, hq, c.nq, c.dh], next);
        const k = tensor([c.batch, hkv, nk, c.dh], next);
        const v = tensor([c.batch, hkv, nk, c.dv], next);
        const w = 1 + Math.floor(c.wFrac * (c.nq - 1));
        const kw = c.kwFrac === null ? undefined : 1 + Math.floor(c.kwFrac * (nk - 1));
        const centroids = tensor([hq, c.C, c.dh], next, -1, 1);
        const got = rt.routingAttention(q, k, v, {
          clusters: c.C, windowSize: w, keyWindowSize: kw, causal, centroids, emaDecay: c.ema ?? undefined, returnCentroids: true,
        });
        const want = referenceRouting(q, k, v, {
          clusters: c.C, windowSize: w, keyWindowSize: kw, causal, centroids: nested(centroids), emaDecay: c.ema ?? undefined,
        });
        const label = { ...c, w, kw, nk };
        return [
          { got: got.output, want: want.output, label },
          { got: got.centroids, want: flat(want.centroids), label, what: 'centroids', atol: 1e-5, rtol: 1e-5 },
        ];
      },
      atol: ATOL, rtol: RTOL, numRuns: 30, seed: 6063,
    });
  });

  it('routingCentroids is the seeded k-means of the normalized queries and keys', () => {
    const rt = runtime(isa);
    const next = rng(81);
    const q = tensor([2, 2, 40, 8], next);
    const k = tensor([2, 1, 30, 8], next);
    for (const [C, seed, iterations] of [[1, 0, 10], [4, 7, 0], [5, 3, 10], [100, 1, 2]]) {
      const got = rt.routingCentroids(q, k, { clusters: C, seed, iterations });
      expect(got.shape).toEqual([2, C, 8]);
      expect(mismatch(got.data, flat(referenceRoutingCentroids(q, k, { clusters: C, seed, iterations })), 1e-5, 1e-5)).toBeUndefined();
    }
    const alone = rt.routingCentroids(q, null, { clusters: 3, seed: 2 });
    expect(mismatch(alone.data, flat(referenceRoutingCentroids(q, null, { clusters: 3, seed: 2 })), 1e-5, 1e-5)).toBeUndefined();
    // The same centroids routingAttention starts from without given centroids.
    const a = rt.routingAttention(q, q, q, { clusters: 3, seed: 5, returnCentroids: true });
    const b = rt.routingAttention(q, q, q, { clusters: 3, centroids: rt.routingCentroids(q, q, { clusters: 3, seed: 5 }) });
    expect(sameValues(a.output.data, b.data)).toBeUndefined();
  });

  it('one cluster with w = n is full attention', () => {
    const rt = runtime(isa);
    const next = rng(82);
    for (const n of [1, 7, 64, 100]) {
      const q = tensor([2, 4, n, 16], next);
      const k = tensor([2, 2, n, 16], next);
      const v = tensor([2, 2, n, 8], next);
      const full = rt.routingAttention(q, k, v, { clusters: 1, windowSize: n });
      expect(sameValues(full.data, rt.attention(q, k, v).data)).toBeUndefined();
      const causal = rt.routingAttention(q, k, v, { clusters: 1, windowSize: n, causal: true });
      expect(mismatch(causal.data, rt.attention(q, k, v, { causal: true }).data, 1e-6, 1e-6)).toBeUndefined();
    }
  });

  it('writes into out (a WasmTensor, or a Tensor) as the plain call', () => {
    const rt = runtime(isa);
    const next = rng(84);
    const q = tensor([1, 2, 40, 8], next);
    const want = rt.routingAttention(q, q, q, { clusters: 3, seed: 2 });
    const o = rt.tensor([1, 2, 40, 8]);
    expect(rt.routingAttention(q, q, q, { clusters: 3, seed: 2, out: o })).toBe(o);
    expect(sameValues(o.data, want.data)).toBeUndefined();
    const js = { data: new Float32Array(640), shape: [1, 2, 40, 8] };
    const got = rt.routingAttention(q, q, q, { clusters: 3, seed: 2, out: js });
    expect(got.shape).toEqual([1, 2, 40, 8]);
    expect(sameValues(js.data, want.data)).toBeUndefined();
    const paths: AttentionPath[] = [{ type: 'full' }, { type: 'window', window: 3 }];
    const routes = { data: new Float32Array(160).fill(0.5), shape: [1, 2, 40, 2] };
    const mix = rt.routedAttention(q, q, q, { paths, routes });
    expect(rt.routedAttention(q, q, q, { paths, routes, out: o })).toBe(o);
    expect(sameValues(o.data, mix.data)).toBeUndefined();
    o.dispose();
  });

  it('rejects bad options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(83);
    const q = tensor([1, 2, 10, 4], next);
    rt.routingAttention(q, q, q, { clusters: 2 });
    const before = arenaStats(rt);
    expectCode(() => rt.routingAttention(q, q, q, {} as never), 'INVALID_OPTION', 'options.clusters is required');
    expectCode(() => rt.routingAttention(q, q, q, { clusters: 2, windowSize: 11 }), 'INVALID_OPTION', 'options.windowSize (w, the tokens each cluster takes) must be ≤ the sequence length n = 10, got 11');
    expectCode(() => rt.routingAttention(q, q, q, { clusters: 2, keyWindowSize: 11 }), 'INVALID_OPTION', 'must be ≤ the key length nk = 10, got 11');
    expectCode(() => rt.routingAttention(q, q, q, { clusters: 2, centroids: tensor([2, 3, 4], next) }), 'SHAPE_MISMATCH', 'options.centroids must have shape [heads, clusters, headDim] = [2, 2, 4], got [2, 3, 4]');
    expectCode(() => rt.routingAttention(q, q, q, { clusters: 2, emaDecay: 1.5 }), 'INVALID_OPTION', 'options.emaDecay must be in [0, 1], got 1.5');
    const k = tensor([1, 2, 9, 4], next);
    expectCode(() => rt.routingAttention(q, k, k, { clusters: 2, causal: true }), 'SHAPE_MISMATCH', 'options.causal needs self-attention (nq = nk), got nq = 10 and nk = 9');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.routingAttention(q, k, k, { clusters: 3, windowSize: 4 });
    expect(mismatch(ok.data, referenceRouting(q, k, k, { clusters: 3, windowSize: 4 }).output, ATOL, RTOL)).toBeUndefined();
  });
});

describe.each(ISAS)('routedAttention (%s)', (isa) => {
  it('mixes the paths by softmax(x·W_r + b) as the float64 oracles do', () => {
    const rt = runtime(isa);
    const next = rng(91);
    for (const [B, H, Hkv, n, dh, dv] of [[1, 2, 1, 33, 8, 8], [2, 2, 2, 9, 3, 5], [1, 1, 1, 1, 4, 4], [1, 4, 2, 70, 16, 8]]) {
      const q = tensor([B, H, n, dh], next);
      const k = tensor([B, Hkv, n, dh], next);
      const v = tensor([B, Hkv, n, dv], next);
      const cents = tensor([H, 2, dh], next, -1, 1);
      const paths: AttentionPath[] = [
        { type: 'full' }, { type: 'full', causal: true }, { type: 'window', window: 3 },
        { type: 'segmented', segmentLength: 8, overlap: 2 }, { type: 'routing', clusters: 2, centroids: cents },
      ];
      const outs = [
        referenceAttention(q, k, v).output, referenceAttention(q, k, v, { causal: true }).output,
        referenceSlidingWindow(q, k, v, { left: 3, right: 3 }), referenceSegmented(q, k, v, { segmentLength: 8, overlap: 2 }),
        referenceRouting(q, k, v, { clusters: 2, centroids: nested(cents) }).output,
      ];
      const P = paths.length;
      // Per-head W_r on the queries, a bias.
      const W = tensor([H, dh, P], next);
      const bias = tensor([P], next);
      const got = rt.routedAttention(q, k, v, { paths, router: { weights: W, bias }, returnRoutes: true });
      const pi = new Float64Array(B * H * n * P);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const x = q.data.subarray((b * H + h) * n * dh, (b * H + h + 1) * n * dh);
          pi.set(referenceRoutes(x, n, dh, W.data.subarray(h * dh * P, (h + 1) * dh * P), P, bias.data), (b * H + h) * n * P);
        }
      }
      expect(mismatch(got.routes.data, pi, 1e-6, 1e-6)).toBeUndefined();
      expect(mismatch(got.output.data, referenceRouted(outs, pi, B, H, H, n, dv, P), ATOL, RTOL, got.output.shape)).toBeUndefined();
      // A router input shared by the heads.
      const dIn = 6;
      const xIn = tensor([B, n, dIn], next);
      const Wx = tensor([dIn, P], next);
      const got2 = rt.routedAttention(q, k, v, { paths, router: { weights: Wx, input: xIn } });
      const pi2 = referenceRoutes(xIn.data, B * n, dIn, Wx.data, P);
      expect(mismatch(got2.data, referenceRouted(outs, pi2, B, H, 1, n, dv, P), ATOL, RTOL, got2.shape)).toBeUndefined();
      // Over heads: π_i over the H heads from the concatenated query heads.
      const Wh = tensor([H * dh, H], next, -0.5, 0.5);
      const got3 = rt.routedAttention(q, k, v, { paths: [{ type: 'window', window: 5 }], over: 'heads', router: { weights: Wh } });
      const xcat = new Float32Array(B * n * H * dh);
      for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) for (let h = 0; h < H; h++) xcat.set(q.data.subarray(((b * H + h) * n + i) * dh, ((b * H + h) * n + i + 1) * dh), (b * n + i) * H * dh + h * dh);
      const pih = referenceRoutes(xcat, B * n, H * dh, Wh.data, H);
      const oh = referenceSlidingWindow(q, k, v, { left: 5, right: 5 });
      const want3 = new Float64Array(B * n * dv);
      for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) for (let h = 0; h < H; h++) for (let e = 0; e < dv; e++) want3[(b * n + i) * dv + e] += pih[(b * n + i) * H + h] * oh[((b * H + h) * n + i) * dv + e];
      expect(got3.shape).toEqual([B, 1, n, dv]);
      expect(mismatch(got3.data, want3, ATOL, RTOL, got3.shape)).toBeUndefined();
    }
  });

  it('a one-hot route is that path alone', () => {
    const rt = runtime(isa);
    const next = rng(92);
    const q = tensor([1, 2, 50, 8], next);
    const k = tensor([1, 2, 50, 8], next);
    const v = tensor([1, 2, 50, 8], next);
    const paths: AttentionPath[] = [{ type: 'full' }, { type: 'window', window: 4 }, { type: 'lsh', buckets: 4, seed: 3 }];
    const alone = [rt.attention(q, k, v), rt.slidingWindowAttention(q, k, v, { window: 4 }), rt.lshAttention(q, k, v, { buckets: 4, seed: 3 })];
    for (let p = 0; p < 3; p++) {
      const routes = new Float32Array(2 * 50 * 3);
      for (let i = 0; i < 100; i++) routes[i * 3 + p] = 1;
      const a = rt.routedAttention(q, k, v, { paths, routes: { data: routes, shape: [1, 2, 50, 3] } });
      expect(sameValues(a.data, alone[p].data), `path ${p}, explicit routes`).toBeUndefined();
      const bias = new Float32Array([-Infinity, -Infinity, -Infinity]);
      bias[p] = 0;
      const b = rt.routedAttention(q, k, v, { paths, router: { weights: tensor([8, 3], next), bias: { data: bias, shape: [3] } } });
      expect(sameValues(b.data, alone[p].data), `path ${p}, −∞ biases`).toBeUndefined();
    }
  });

  it('rejects a router of the wrong shape and bad paths with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(93);
    const q = tensor([1, 2, 10, 4], next);
    const paths: AttentionPath[] = [{ type: 'full' }, { type: 'window', window: 2 }];
    rt.routedAttention(q, q, q, { paths, router: { weights: tensor([4, 2], next) } });
    const before = arenaStats(rt);
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: tensor([4, 3], next) } }), 'SHAPE_MISMATCH', 'options.router.weights (W_r) must have shape [headDim, paths] = [4, 2] or [heads, headDim, paths] = [2, 4, 2], got [4, 3]');
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: tensor([3, 4, 2], next) } }), 'SHAPE_MISMATCH', 'got [3, 4, 2]');
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: tensor([5, 2], next), input: tensor([1, 10, 6], next) } }), 'SHAPE_MISMATCH', 'options.router.weights (W_r) must have shape [inputDim, paths] = [6, 2], got [5, 2]');
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: tensor([6, 2], next), input: tensor([1, 9, 6], next) } }), 'SHAPE_MISMATCH', 'options.router.input must have shape [batch, n, inputDim] = [1, 10, inputDim], got [1, 9, 6]');
    expectCode(() => rt.routedAttention(q, q, q, { paths: [paths[0]], over: 'heads', router: { weights: tensor([4, 2], next) } }), 'SHAPE_MISMATCH', '[heads·headDim, heads] = [8, 2]');
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: tensor([4, 2], next), bias: tensor([3], next) } }), 'SHAPE_MISMATCH', 'options.router.bias must have shape [2], got [3]');
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: tensor([4, 2], next), bias: { data: new Float32Array([-Infinity, -Infinity]), shape: [2] } } }), 'INVALID_OPTION', 'must leave at least one route open');
    expectCode(() => rt.routedAttention(q, q, q, { paths, router: { weights: { data: new Float32Array(8).fill(NaN), shape: [4, 2] } } }), 'INVALID_OPTION', 'options.router.weights must hold finite values');
    expectCode(() => rt.routedAttention(q, q, q, { paths, routes: { data: new Float32Array(40).fill(-1), shape: [1, 2, 10, 2] } }), 'INVALID_OPTION', 'options.routes must hold finite weights ≥ 0, got -1');
    expectCode(() => rt.routedAttention(q, q, q, { paths, routes: { data: new Float32Array(30), shape: [1, 1, 10, 3] } }), 'SHAPE_MISMATCH', 'options.routes must have shape [1, 2 or 1, 10, 2]');
    expectCode(() => rt.routedAttention(q, q, q, { paths } as never), 'INVALID_OPTION', 'options.router must be { weights, bias?, input? }');
    expectCode(() => rt.routedAttention(q, q, q, { paths: [], router: { weights: tensor([4, 0], next) } }), 'INVALID_OPTION', 'options.paths must be a non-empty array');
    expectCode(() => rt.routedAttention(q, q, q, { paths: [{ type: 'dense' } as never], router: { weights: tensor([4, 1], next) } }), 'INVALID_OPTION', "options.paths[0] must be { type: 'full' | 'window'");
    expectCode(() => rt.routedAttention(q, q, q, { paths, over: 'heads', router: { weights: tensor([8, 2], next) } }), 'INVALID_OPTION', 'exactly one path when routing over heads');
    expectCode(() => rt.routedAttention(q, q, q, { paths: [paths[0], { type: 'routing', clusters: 2, windowSize: 11 }], router: { weights: tensor([4, 2], next) } }), 'INVALID_OPTION', 'options.paths[1] (routing): options.windowSize (w, the tokens each cluster takes) must be ≤ the sequence length n = 10, got 11');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.routedAttention(q, q, q, { paths, routes: { data: new Float32Array(20).fill(0.5), shape: [1, 1, 10, 2] } });
    const want = referenceRouted([referenceAttention(q, q, q).output, referenceSlidingWindow(q, q, q, { left: 2, right: 2 })], new Float64Array(20).fill(0.5), 1, 2, 1, 10, 4, 2);
    expect(mismatch(ok.data, want, ATOL, RTOL)).toBeUndefined();
  });
});
