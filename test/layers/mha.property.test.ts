// mha.property.test.ts — fast-check drives random layers against the float64 reference:
// batch 1–3, heads 1–4 with a kv-head divisor (MHA / GQA / MQA), head sizes 1–9 (odd sizes too),
// sequence lengths 1–20, self- or cross-attention (another length, kdim ≠ dModel), every weight
// layout, biases on or off, causal or not, softcap, a random position encoding (none, RoPE
// rotate-half / interleaved with a partial dimension, ALiBi, symmetric ALiBi, T5 bi-/unidirectional,
// Shaw), random boolean masks, PyTorch key padding masks and key lengths.
// And random decoding schedules: a chunked pass through a linear or ring cache equals the full
// causal (windowed) pass.
// Tolerance 5e-5 + 2e-4·|want|. Reproduce with MHA_PROP_SEED=<seed> (printed), MHA_PROP_RUNS=<n>.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type PositionConfig, type Runtime } from '../../src/index';
import { ISAS, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { referenceMha, refAlibiSlopes, type RefPosition } from '../reference/mha';
import { layerWeights, randomInput, randomLayer, refConfig } from './fixtures';

const SEED = Number(process.env['MHA_PROP_SEED'] ?? 0x4a77);
const RUNS = Number(process.env['MHA_PROP_RUNS'] ?? 120);
console.log(`[mha.property] seed ${SEED} (MHA_PROP_SEED), ${RUNS} runs per property and binary`);

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

const LAYOUTS = ['torch-separate', 'torch-fused', 'onnx-separate', 'onnx-fused'] as const;
const POSITIONS = ['none', 'rope', 'rope-interleaved', 'alibi', 'alibi-symmetric', 't5', 't5-uni', 'shaw'] as const;

function positions(kind: (typeof POSITIONS)[number], H: number, Dh: number, seed: number): { cfg?: PositionConfig; ref?: RefPosition } {
  const next = rng(seed);
  switch (kind) {
    case 'none':
      return {};
    case 'rope':
    case 'rope-interleaved': {
      const rotaryDim = Dh - (Dh % 2) - (kind === 'rope' ? 0 : 2 * Math.floor(Dh / 4));
      const interleaved = kind !== 'rope';
      return { cfg: { type: 'rope', rotaryDim, interleaved, base: 100 }, ref: { type: 'rope', rotaryDim, interleaved, base: 100 } };
    }
    case 'alibi':
    case 'alibi-symmetric': {
      const symmetric = kind === 'alibi-symmetric';
      return { cfg: { type: 'alibi', symmetric }, ref: { type: 'alibi', slopes: refAlibiSlopes(H), symmetric } };
    }
    case 't5':
    case 't5-uni': {
      const bidirectional = kind === 't5';
      const numBuckets = 8, maxDistance = 6;
      const w = uniformF32(numBuckets * H, next, -1, 1);
      return {
        cfg: { type: 't5', weights: { data: w, shape: [numBuckets, H] }, bidirectional, numBuckets, maxDistance },
        ref: { type: 't5', weights: w, bidirectional, numBuckets, maxDistance },
      };
    }
    case 'shaw': {
      const k = 2;
      const e = uniformF32((2 * k + 1) * Dh, next, -1, 1);
      return { cfg: { type: 'shaw', maxRelative: k, embeddings: { data: e, shape: [2 * k + 1, Dh] } }, ref: { type: 'shaw', embeddings: e, perHead: false, maxRelative: k } };
    }
  }
}

const layerArb = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  kvHeads: fc.integer({ min: 1, max: 2 }),
  group: fc.integer({ min: 1, max: 2 }),
  Dh: fc.integer({ min: 1, max: 9 }),
  S: fc.integer({ min: 1, max: 20 }),
  Sk: fc.integer({ min: 1, max: 20 }),
  cross: fc.boolean(),
  kdimExtra: fc.integer({ min: 0, max: 5 }),
  layout: fc.constantFrom(...LAYOUTS),
  bias: fc.boolean(),
  causal: fc.boolean(),
  softcap: fc.constantFrom(0, 0, 2.5),
  position: fc.constantFrom(...POSITIONS),
  mask: fc.constantFrom('none', 'bool', 'kpm-bool', 'kpm-float', 'lengths'),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

describe.each(ISAS.map((isa, i) => [isa, i] as const))('layer properties (%s)', (_isa, index) => {
  const rt = runtimes[index];

  it('random layers ≡ float64 reference', () => {
    fc.assert(
      fc.property(layerArb, (c) => {
        const H = c.kvHeads * c.group;
        const dModel = H * c.Dh + (c.Dh % 2); // not always H·Dh: headDim given explicitly
        const cross = c.cross && c.position === 'none';
        const rope = c.position.startsWith('rope');
        const Dh = rope && c.Dh === 1 ? 2 : c.Dh;
        const kdim = cross && !c.layout.endsWith('fused') ? dModel + c.kdimExtra : dModel;
        const l = randomLayer(c.seed, { dModel, numHeads: H, numKvHeads: c.kvHeads, headDim: Dh, kdim, vdim: kdim, bias: c.bias, softcap: c.softcap });
        const pos = positions(c.position, H, Dh, c.seed + 1);
        const layer = rt.multiHeadAttention({ ...l.shape, position: pos.cfg, weights: layerWeights(l, c.layout) });
        try {
          const S = c.S;
          const nk = cross ? c.Sk : S;
          const x = randomInput(c.seed + 2, c.B * S * dModel);
          const ctx = cross ? randomInput(c.seed + 3, c.B * nk * kdim) : undefined;
          const next = rng(c.seed + 4);
          const opts: Record<string, unknown> = {};
          const ref: Parameters<typeof referenceMha>[4] = cross ? { key: ctx, value: ctx, keySeq: nk } : {};
          if (cross) opts.context = { data: ctx, shape: [c.B, nk, kdim] };
          if (c.causal) {
            opts.causal = true;
            ref.causal = cross ? 'bottom-right' : true;
          }
          if (c.mask === 'bool') {
            const m = new Uint8Array(S * nk).map(() => (next() < 0.7 ? 1 : 0));
            opts.mask = { data: m, shape: [S, nk] };
            ref.mask = { data: m, shape: [S, nk] };
          } else if (c.mask === 'kpm-bool' || c.mask === 'kpm-float') {
            const m = c.mask === 'kpm-bool' ? new Uint8Array(c.B * nk).map(() => (next() < 0.3 ? 1 : 0)) : uniformF32(c.B * nk, next, -3, 1);
            opts.keyPaddingMask = { data: m, shape: [c.B, nk] };
            ref.keyPaddingMask = m;
          } else if (c.mask === 'lengths') {
            const lens = Array.from({ length: c.B }, () => Math.floor(next() * (nk + 1)));
            opts.keyLengths = lens;
            ref.keyLengths = lens;
            if (!cross && c.causal) ref.causal = 'top-left';
          }
          const y = layer.forward({ data: x, shape: [c.B, S, dModel] }, opts);
          const want = referenceMha(refConfig(l, pos.ref), x, c.B, S, ref);
          // self-attention with key lengths: rows past a sequence's length are padding
          const rowsValid = (b: number) => (c.mask === 'lengths' && !cross ? (opts.keyLengths as number[])[b] : S);
          for (let b = 0; b < c.B; b++) {
            const span = [b * S * dModel, (b * S + rowsValid(b)) * dModel];
            const m = mismatch(y.data.subarray(span[0], span[1]), want.output.subarray(span[0], span[1]), 5e-5, 2e-4);
            if (m) throw new Error(`batch ${b}: ${m}`);
          }
        } finally {
          layer.dispose();
        }
      }),
      { seed: SEED + index, numRuns: RUNS },
    );
  });

  it('random decoding schedules through linear and ring caches ≡ the full causal (windowed) pass', () => {
    fc.assert(
      fc.property(
        fc.record({
          B: fc.integer({ min: 1, max: 2 }),
          kvHeads: fc.integer({ min: 1, max: 2 }),
          group: fc.integer({ min: 1, max: 3 }),
          Dh: fc.constantFrom(2, 4, 6, 8),
          S: fc.integer({ min: 1, max: 24 }),
          window: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
          chunks: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
          position: fc.constantFrom(...POSITIONS),
          seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        (c) => {
          const H = c.kvHeads * c.group;
          const dModel = H * c.Dh;
          const l = randomLayer(c.seed, { dModel, numHeads: H, numKvHeads: c.kvHeads });
          const pos = positions(c.position, H, c.Dh, c.seed + 1);
          const layer = rt.multiHeadAttention({ ...l.shape, position: pos.cfg, weights: layerWeights(l, 'torch-fused') });
          const cache = rt.kvCache({ heads: c.kvHeads, headDim: c.Dh, maxLength: c.window ?? c.S, window: c.window, batch: c.B });
          try {
            const x = randomInput(c.seed + 2, c.B * c.S * dModel);
            const W = c.window;
            const band = W === undefined ? undefined : new Uint8Array(c.S * c.S).map((_, i) => (Math.floor(i / c.S) - (i % c.S) < W ? 1 : 0));
            const full = layer.forward({ data: x, shape: [c.B, c.S, dModel] }, { causal: true, mask: band && { data: band, shape: [c.S, c.S] } });
            let t = 0;
            let k = 0;
            while (t < c.S) {
              const n = Math.min(c.chunks[k++ % c.chunks.length], c.S - t);
              const xs = new Float32Array(c.B * n * dModel);
              for (let b = 0; b < c.B; b++) xs.set(x.subarray((b * c.S + t) * dModel, (b * c.S + t + n) * dModel), b * n * dModel);
              const y = layer.forward({ data: xs, shape: [c.B, n, dModel] }, { cache });
              for (let b = 0; b < c.B; b++) {
                const m = mismatch(y.data.subarray(b * n * dModel, (b + 1) * n * dModel), full.data.subarray((b * c.S + t) * dModel, (b * c.S + t + n) * dModel), 5e-5, 2e-4);
                if (m) throw new Error(`tokens ${t}..${t + n}, batch ${b}: ${m}`);
              }
              t += n;
            }
          } finally {
            cache.dispose();
            layer.dispose();
          }
        },
      ),
      { seed: SEED + 7 + index, numRuns: RUNS },
    );
  });
});
