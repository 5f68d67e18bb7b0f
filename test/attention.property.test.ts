// Property tests: rt.attention against the float64 oracle of test/reference/attention.ts.
//
// Random cases (fast-check, fixed seeds) cover tail sizes nq, nk ∈ {1, 3, 4, 5, 7, 8, 9, 63, 64,
// 65, 127, 129}, head sizes dh, dv ∈ {1, 3, 4, 8, 16, 64, 65} (independent), batch 1–2, heads
// with MHA / GQA / MQA, causal (true, 'bottom-right', 'top-left'), windows, keyLengths, boolean
// and float masks of every broadcast rank (last dim nk or 1), softcap, scale, returnWeights — on
// every kernel binary the engine accepts (simd128, and relaxed when isaSupported('relaxed')).
//
// Tolerance: inputs are float32 uniform in [−2, 2] (float masks in [−3, 3] or −∞), scale at most
// 2/√dh, softcap ≤ 30; every output and weight must satisfy
//     |got − ref| ≤ 2e-5 + 2e-5·|ref|
// where ref is the float64 evaluation of the same float32 inputs. Non-finite values never match
// (except in the NaN-propagation tests, where NaN must meet NaN).
//
// Identities (each also checked against the reference): a window covering every key equals full
// attention; one kv head equals that head repeated for every query head (MQA); keyLengths = nk
// equals no keyLengths; causal 'top-left' equals 'bottom-right' when nq = nk; an all-true mask
// (or all-zero float mask) equals no mask. Zero-copy: WasmTensor inputs, mask and `out` give
// bit-identical results to plain arrays. Poison: NaN/±∞ stored in K/V where no query can see
// them must not reach the output; NaN in V reaches exactly the outputs that see it. Empty
// dimensions (nq, nk, batch, headDim = 0) are checked too.
//
// Two regression tests pin library bugs this file found (fixed): a row whose every visible score
// is NaN must be NaN (not zeros), and returnWeights with valueDim = 0 must return the softmax.
//
// Runs per property: 200 (300 for "every option together"), per kernel binary.
// Every property also checks that the runtime's arena holds the same blocks after each call
// (reaching into internals via helpers/numeric.ts arenaStats).

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AttentionOptions, type AttentionWithWeights, createRuntimeSync, type Runtime, type Tensor,
} from '../src/index';
import {
  arenaStats, attentionParts, ISAS, mismatch, mismatchNonFinite, rng, sameValues, uniformF32,
} from './helpers/numeric';
import { referenceAttention, type ReferenceAttentionOptions } from './reference/attention';

const ATOL = 2e-5;
const RTOL = 2e-5;
const RUNS = 200;

const SEQ = [1, 3, 4, 5, 7, 8, 9, 63, 64, 65, 127, 129];
const HEAD = [1, 3, 4, 8, 16, 64, 65];
/** [query heads, kv heads]: MHA, GQA and MQA */
const HEADS: Array<[number, number]> = [[1, 1], [2, 1], [2, 2], [3, 1], [3, 3], [4, 1], [4, 2], [4, 4], [6, 2], [6, 3]];
const WINDOW_SIZES = [0, 1, 2, 5, 17, 64, 300];

type Causal = undefined | boolean | 'bottom-right' | 'top-left';

interface MaskSpec {
  kind: 'bool' | 'float';
  rank: number; // 1–4
  full: boolean[]; // per axis of [B, H, nq, nk]: the mask has the full size (else 1)
  density: number; // probability that an entry attends
}

interface Case {
  batch: number;
  hq: number;
  hkv: number;
  nq: number;
  nk: number;
  dh: number;
  dv: number;
  scale?: number; // factor of 1/√dh
  causal: Causal;
  window?: { left?: number; right?: number };
  keyLengths?: number[]; // per mille of nk
  mask?: MaskSpec;
  softcap?: number;
  returnWeights: boolean;
  seed: number;
}

const maskArb: fc.Arbitrary<MaskSpec> = fc.record({
  kind: fc.constantFrom<'bool' | 'float'>('bool', 'float'),
  rank: fc.integer({ min: 1, max: 4 }),
  full: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  density: fc.constantFrom(0.05, 0.5, 0.9, 1),
});

const windowArb = fc.record(
  { left: fc.constantFrom(...WINDOW_SIZES), right: fc.constantFrom(...WINDOW_SIZES) },
  { requiredKeys: [] },
);

const perMille = fc.oneof(fc.constantFrom(0, 1000), fc.integer({ min: 0, max: 1000 }));

/** A random case; `parts` switches option groups on (each then appears in about half the cases). */
function caseArb(parts: { causal?: boolean; window?: boolean; keyLengths?: boolean; mask?: boolean; softcap?: boolean; weights?: boolean } = {}): fc.Arbitrary<Case> {
  const maybe = <T>(on: boolean | undefined, arb: fc.Arbitrary<T>) => (on ? fc.option(arb, { nil: undefined }) : fc.constant(undefined));
  return fc.record({
    batch: fc.integer({ min: 1, max: 2 }),
    heads: fc.constantFrom(...HEADS),
    nq: fc.constantFrom(...SEQ),
    nk: fc.constantFrom(...SEQ),
    dh: fc.constantFrom(...HEAD),
    dv: fc.constantFrom(...HEAD),
    scale: fc.option(fc.constantFrom(0, 0.25, 1, 2), { nil: undefined }),
    causal: parts.causal ? fc.constantFrom<Causal>(undefined, false, true, 'bottom-right', 'top-left') : fc.constant<Causal>(undefined),
    window: maybe(parts.window, windowArb),
    keyLengths: maybe(parts.keyLengths, fc.array(perMille, { minLength: 2, maxLength: 2 })),
    mask: maybe(parts.mask, maskArb),
    softcap: maybe(parts.softcap, fc.constantFrom(0, 1, 5, 30)),
    returnWeights: parts.weights ? fc.boolean() : fc.constant(false),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  }).map(({ heads, ...rest }) => ({ ...rest, hq: heads[0], hkv: heads[1] }));
}

interface Built {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  options: AttentionOptions;
  ref: ReferenceAttentionOptions;
  keyLengths?: number[];
}

/** Concrete float32 tensors and options (for the library and the reference) of a case. */
function build(c: Case): Built {
  const next = rng(c.seed);
  const q = { data: uniformF32(c.batch * c.hq * c.nq * c.dh, next), shape: [c.batch, c.hq, c.nq, c.dh] };
  const k = { data: uniformF32(c.batch * c.hkv * c.nk * c.dh, next), shape: [c.batch, c.hkv, c.nk, c.dh] };
  const v = { data: uniformF32(c.batch * c.hkv * c.nk * c.dv, next), shape: [c.batch, c.hkv, c.nk, c.dv] };
  const options: AttentionOptions = {};
  if (c.scale !== undefined) options.scale = c.scale / Math.sqrt(c.dh);
  if (c.causal !== undefined) options.causal = c.causal;
  if (c.window !== undefined) options.window = c.window;
  let keyLengths: number[] | undefined;
  if (c.keyLengths !== undefined) {
    keyLengths = c.keyLengths.slice(0, c.batch).map((pm) => Math.round((pm / 1000) * c.nk));
    options.keyLengths = keyLengths;
  }
  if (c.mask !== undefined) options.mask = makeMask(c.mask, [c.batch, c.hq, c.nq, c.nk], next);
  if (c.softcap !== undefined) options.softcap = c.softcap;
  if (c.returnWeights) options.returnWeights = true;
  const ref: ReferenceAttentionOptions = {
    scale: options.scale,
    causal: options.causal,
    window: options.window,
    keyLengths,
    mask: options.mask as ReferenceAttentionOptions['mask'],
    softcap: options.softcap,
    returnWeights: true,
  };
  return { q, k, v, options, ref, keyLengths };
}

function makeMask(spec: MaskSpec, target: number[], next: () => number): { data: Uint8Array | Float32Array; shape: number[] } {
  const shape: number[] = [];
  for (let a = 4 - spec.rank; a < 4; a++) shape.push(spec.full[a] ? target[a] : 1);
  const size = shape.reduce((p, d) => p * d, 1);
  if (spec.kind === 'bool') {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = next() < spec.density ? 1 : 0;
    return { data, shape };
  }
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = next() < spec.density ? -3 + 6 * next() : -Infinity;
  return { data, shape };
}

function describeCase(c: Case, b: Built): string {
  const o = { ...b.options, mask: b.options.mask ? `${b.options.mask.data.constructor.name}[${(b.options.mask as Tensor).shape}]` : undefined };
  return `q [${b.q.shape}] k [${b.k.shape}] v [${b.v.shape}] options ${JSON.stringify(o)}`;
}

/** Asserts output (and weights) of the library against the reference, with context. */
function expectMatches(
  result: Tensor | AttentionWithWeights,
  want: ReturnType<typeof referenceAttention>,
  context: string,
): void {
  const got = attentionParts(result);
  expect(got.output.shape, context).toEqual(want.outputShape);
  const bad = mismatch(got.output.data, want.output, ATOL, RTOL, want.outputShape);
  expect(bad, `output ${bad} — ${context}`).toBeUndefined();
  if (got.weights) {
    expect(got.weights.shape, context).toEqual(want.weightsShape);
    const badW = mismatch(got.weights.data, want.weights!, ATOL, RTOL, want.weightsShape);
    expect(badW, `weights ${badW} — ${context}`).toBeUndefined();
  }
}

/** Runs `body` as a seeded property with RUNS runs and checks the arena is unchanged after each. */
function property(rt: Runtime, seed: number, arb: fc.Arbitrary<Case>, body: (c: Case) => void, numRuns = RUNS): void {
  // warm up the workspace so the block count is steady
  rt.attention({ data: new Float32Array(4), shape: [1, 1, 1, 4] }, { data: new Float32Array(4), shape: [1, 1, 1, 4] }, { data: new Float32Array(4), shape: [1, 1, 1, 4] });
  const before = arenaStats(rt).blocks;
  let runs = 0;
  fc.assert(
    fc.property(arb, (c) => {
      runs++;
      body(c);
      expect(arenaStats(rt).blocks, 'arena blocks after the call').toBe(before);
    }),
    { seed, numRuns },
  );
  expect(runs).toBeGreaterThanOrEqual(numRuns);
}

describe.each(ISAS)('rt.attention vs float64 reference (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });
  afterAll(() => rt.dispose());

  it('uses the requested binary', () => {
    expect(rt.isa).toBe(isa);
  });

  it('tail shapes, GQA/MQA, scale (no masking)', () => {
    property(rt, 101, caseArb(), (c) => {
      const b = build(c);
      expectMatches(rt.attention(b.q, b.k, b.v, b.options), referenceAttention(b.q, b.k, b.v, b.ref), describeCase(c, b));
    });
  });

  it('causal alignments, windows and keyLengths', () => {
    property(rt, 202, caseArb({ causal: true, window: true, keyLengths: true }), (c) => {
      const b = build(c);
      expectMatches(rt.attention(b.q, b.k, b.v, b.options), referenceAttention(b.q, b.k, b.v, b.ref), describeCase(c, b));
    });
  });

  it('boolean and float masks of every broadcast rank, softcap', () => {
    property(rt, 303, caseArb({ mask: true, softcap: true }), (c) => {
      const b = build(c);
      expectMatches(rt.attention(b.q, b.k, b.v, b.options), referenceAttention(b.q, b.k, b.v, b.ref), describeCase(c, b));
    });
  });

  it('every option together, with returnWeights', () => {
    property(rt, 404, caseArb({ causal: true, window: true, keyLengths: true, mask: true, softcap: true, weights: true }), (c) => {
      const b = build(c);
      expectMatches(rt.attention(b.q, b.k, b.v, b.options), referenceAttention(b.q, b.k, b.v, b.ref), describeCase(c, b));
    }, 300);
  });

  it('NaN/±∞ in K and V where no query can see them never leak', () => {
    const poisons = [Number.NaN, Infinity, -Infinity];
    let poisoned = 0;
    property(rt, 505, caseArb({ causal: true, window: true, keyLengths: true, mask: true, softcap: true, weights: true }), (c) => {
      const b = build(c);
      // A key (b, kvh, j) is hidden when no query row of any head of its group gives it weight.
      const clean = referenceAttention(b.q, b.k, b.v, b.ref);
      const w = clean.weights!;
      const group = c.hq / c.hkv;
      const next = rng(c.seed ^ 0x9e3779b9);
      const kd = b.k.data;
      const vd = b.v.data;
      for (let bb = 0; bb < c.batch; bb++) {
        for (let kvh = 0; kvh < c.hkv; kvh++) {
          for (let j = 0; j < c.nk; j++) {
            let seen = false;
            for (let h = kvh * group; h < (kvh + 1) * group && !seen; h++) {
              for (let i = 0; i < c.nq && !seen; i++) if (w[((bb * c.hq + h) * c.nq + i) * c.nk + j] !== 0) seen = true;
            }
            if (seen) continue;
            const kRow = ((bb * c.hkv + kvh) * c.nk + j) * c.dh;
            const vRow = ((bb * c.hkv + kvh) * c.nk + j) * c.dv;
            for (let d = 0; d < c.dh; d++) kd[kRow + d] = poisons[Math.floor(next() * 3)];
            for (let d = 0; d < c.dv; d++) vd[vRow + d] = poisons[Math.floor(next() * 3)];
            poisoned++;
          }
        }
      }
      const want = referenceAttention(b.q, b.k, b.v, b.ref); // the oracle must not read them either
      expectMatches(rt.attention(b.q, b.k, b.v, b.options), want, describeCase(c, b));
    });
    expect(poisoned).toBeGreaterThan(1000); // the property did exercise hidden keys
  });

  it('NaN in V propagates exactly to the outputs that see it, and nowhere else', () => {
    // Scale ≤ 1/√dh keeps every visible probability far from float32 underflow, so "sees it" is
    // the same in float32 and float64: a visible NaN value spoils its output column of the rows
    // that see it; a hidden one changes nothing.
    let spoiled = 0;
    let clean = 0;
    const arb = caseArb({ causal: true, window: true, keyLengths: true, mask: true, softcap: true, weights: true })
      .map((c) => ({ ...c, scale: c.scale === 2 ? 1 : c.scale }));
    property(rt, 515, arb, (c) => {
      const b = build(c);
      const next = rng(c.seed ^ 0x51ed27);
      const vd = b.v.data;
      const count = 1 + Math.floor(next() * 6);
      for (let n = 0; n < count; n++) vd[Math.floor(next() * vd.length)] = Number.NaN;
      const want = referenceAttention(b.q, b.k, b.v, b.ref);
      const got = attentionParts(rt.attention(b.q, b.k, b.v, b.options));
      const bad = mismatchNonFinite(got.output.data, want.output, ATOL, RTOL, want.outputShape);
      expect(bad, `output ${bad} — ${describeCase(c, b)}`).toBeUndefined();
      if (got.weights) {
        const badW = mismatch(got.weights.data, want.weights!, ATOL, RTOL, want.weightsShape);
        expect(badW, `weights ${badW} — ${describeCase(c, b)}`).toBeUndefined();
      }
      for (const x of want.output) if (Number.isNaN(x)) spoiled++;
      else clean++;
    });
    expect(spoiled, 'some outputs saw a NaN').toBeGreaterThan(1000);
    expect(clean, 'most did not').toBeGreaterThan(spoiled);
  });

  it('a NaN score among finite ones makes its row NaN (output and weights)', () => {
    const T = (d: ArrayLike<number>, shape: number[]): Tensor => ({ data: Float32Array.from(d), shape });
    const k65 = Array.from({ length: 65 }, (_, j) => (j === 64 ? Number.NaN : j / 64));
    const cases: Array<[string, Tensor, Tensor, Tensor, AttentionOptions]> = [
      ['NaN key among 3', T([1], [1, 1, 1, 1]), T([Number.NaN, 1, 1], [1, 1, 3, 1]), T([1, 2, 3], [1, 1, 3, 1]), {}],
      ['NaN key in the second tile', T([1], [1, 1, 1, 1]), T(k65, [1, 1, 65, 1]), T(new Array(65).fill(3), [1, 1, 65, 1]), {}],
      ['NaN key seen by causal rows ≥ 1 only', T([1, 1, 1], [1, 1, 3, 1]), T([1, Number.NaN, 2], [1, 1, 3, 1]), T([5, 6, 7], [1, 1, 3, 1]), { causal: true }],
    ];
    for (const [name, q, k, v, options] of cases) {
      const got = attentionParts(rt.attention(q, k, v, { ...options, returnWeights: true }));
      const want = referenceAttention(q, k, v, { ...(options as ReferenceAttentionOptions), returnWeights: true });
      expect(mismatchNonFinite(got.output.data, want.output, ATOL, RTOL), name).toBeUndefined();
      expect(mismatchNonFinite(got.weights!.data, want.weights!, ATOL, RTOL), name).toBeUndefined();
    }
  });

  // Regression: when EVERY visible score of a row is NaN (NaN in K at the only visible key — nk = 1,
  // or query row 0 under causal), the row is NaN, as NumPy/ONNX/PyTorch softmax and the float64
  // oracle give (the kernel's tile max once dropped NaN and wrote zeros).
  it('a row whose only visible key has a NaN score is NaN, not zeros', () => {
    const T = (d: ArrayLike<number>, shape: number[]): Tensor => ({ data: Float32Array.from(d), shape });
    const q = T([1, 1, 1], [1, 1, 3, 1]);
    const k = T([Number.NaN, 1, 2], [1, 1, 3, 1]);
    const v = T([5, 6, 7], [1, 1, 3, 1]);
    const got = attentionParts(rt.attention(q, k, v, { causal: true, returnWeights: true }));
    const want = referenceAttention(q, k, v, { causal: true, returnWeights: true });
    // want: output [NaN, NaN, NaN]; got: [0, NaN, NaN] (weights row 0: NaN in both)
    expect(mismatchNonFinite(got.output.data, want.output, ATOL, RTOL)).toBeUndefined();
  });

  // ── identities ────────────────────────────────────────────────────────────────────────────────

  it('a window covering every key equals full attention', () => {
    property(rt, 606, caseArb({ causal: true, keyLengths: true, mask: true }), (c) => {
      const b = build(c);
      const big = c.nq + c.nk + (c.seed % 50);
      const full = rt.attention(b.q, b.k, b.v, b.options) as Tensor;
      const windowed = rt.attention(b.q, b.k, b.v, { ...b.options, window: { left: big, right: big } }) as Tensor;
      const want = referenceAttention(b.q, b.k, b.v, b.ref);
      expectMatches(windowed, want, describeCase(c, b));
      expectMatches(full, want, describeCase(c, b));
      expect(mismatch(windowed.data, full.data, 1e-6, 0)).toBeUndefined();
    });
  });

  it('one kv head equals that head repeated for every query head (MQA)', () => {
    const arb = caseArb({ causal: true, window: true, keyLengths: true, mask: true, softcap: true })
      .map((c) => ({ ...c, hkv: 1, hq: 1 + (c.seed % 4) }));
    property(rt, 707, arb, (c) => {
      const b = build(c);
      const repeat = (t: Tensor, d: number): Tensor => {
        const data = new Float32Array(c.batch * c.hq * c.nk * d);
        for (let bb = 0; bb < c.batch; bb++) {
          for (let h = 0; h < c.hq; h++) data.set(t.data.subarray(bb * c.nk * d, (bb + 1) * c.nk * d), (bb * c.hq + h) * c.nk * d);
        }
        return { data, shape: [c.batch, c.hq, c.nk, d] };
      };
      const mqa = rt.attention(b.q, b.k, b.v, b.options) as Tensor;
      const mha = rt.attention(b.q, repeat(b.k, c.dh), repeat(b.v, c.dv), b.options) as Tensor;
      const want = referenceAttention(b.q, b.k, b.v, b.ref);
      expectMatches(mqa, want, describeCase(c, b));
      expectMatches(mha, want, describeCase(c, b));
      expect(mismatch(mqa.data, mha.data, 1e-6, 0)).toBeUndefined();
    });
  });

  it('keyLengths = nk equals no keyLengths', () => {
    property(rt, 808, caseArb({ causal: true, window: true, mask: true, softcap: true }), (c) => {
      const b = build(c);
      const none = rt.attention(b.q, b.k, b.v, b.options) as Tensor;
      const lengths = rt.attention(b.q, b.k, b.v, { ...b.options, keyLengths: new Array(c.batch).fill(c.nk) }) as Tensor;
      const want = referenceAttention(b.q, b.k, b.v, b.ref);
      expectMatches(none, want, describeCase(c, b));
      expectMatches(lengths, want, describeCase(c, b));
      expect(mismatch(lengths.data, none.data, 1e-6, 0)).toBeUndefined();
    });
  });

  it("causal 'top-left' equals 'bottom-right' when nq = nk", () => {
    const arb = caseArb({ window: true, mask: true, softcap: true }).map((c) => ({ ...c, nk: c.nq }));
    property(rt, 909, arb, (c) => {
      const b = build(c);
      const topLeft = rt.attention(b.q, b.k, b.v, { ...b.options, causal: 'top-left' }) as Tensor;
      const bottomRight = rt.attention(b.q, b.k, b.v, { ...b.options, causal: true }) as Tensor;
      const want = referenceAttention(b.q, b.k, b.v, { ...b.ref, causal: 'bottom-right' });
      expectMatches(topLeft, want, describeCase(c, b));
      expectMatches(bottomRight, want, describeCase(c, b));
      expect(mismatch(topLeft.data, bottomRight.data, 1e-6, 0)).toBeUndefined();
    });
  });

  it('an all-true mask (or all-zero float mask) equals no mask', () => {
    property(rt, 1010, caseArb({ causal: true, window: true, keyLengths: true, softcap: true, mask: true }), (c) => {
      const b = build(c);
      const spec = c.mask ?? { kind: 'bool', rank: 4, full: [true, true, true, true], density: 1 };
      const allTrue = makeMask({ ...spec, density: 1 }, [c.batch, c.hq, c.nq, c.nk], rng(c.seed));
      if (allTrue.data instanceof Float32Array) allTrue.data.fill(0);
      const noMask = { ...b.options, mask: undefined };
      const plain = rt.attention(b.q, b.k, b.v, noMask) as Tensor;
      const masked = rt.attention(b.q, b.k, b.v, { ...b.options, mask: allTrue }) as Tensor;
      const want = referenceAttention(b.q, b.k, b.v, { ...b.ref, mask: undefined });
      expectMatches(plain, want, describeCase(c, b));
      expectMatches(masked, want, describeCase(c, b));
      expect(mismatch(masked.data, plain.data, 1e-6, 0)).toBeUndefined();
    });
  });

  // ── zero-copy ─────────────────────────────────────────────────────────────────────────────────

  it('WasmTensor inputs, mask and out give the same results as plain arrays', () => {
    property(rt, 1111, caseArb({ causal: true, window: true, keyLengths: true, mask: true, softcap: true, weights: true }), (c) => {
      const b = build(c);
      const plainResult = rt.attention(b.q, b.k, b.v, b.options);
      const q = rt.tensor(b.q.shape, b.q.data);
      const k = rt.tensor(b.k.shape, b.k.data);
      const v = rt.tensor(b.v.shape, b.v.data);
      const out = rt.tensor([c.batch, c.hq, c.nq, c.dv]);
      // a float mask may live in Wasm memory too
      const maskT = b.options.mask && b.options.mask.data instanceof Float32Array
        ? rt.tensor((b.options.mask as Tensor).shape, b.options.mask.data as Float32Array)
        : undefined;
      try {
        const resident = attentionParts(rt.attention(q, k, v, { ...b.options, out, mask: maskT ?? b.options.mask }));
        expect(resident.output).toBe(out); // written in place
        const plain = attentionParts(plainResult);
        expect(sameValues(out.data, plain.output.data), 'WasmTensor out vs plain arrays').toBeUndefined();
        expect(resident.weights === undefined).toBe(!c.returnWeights);
        if (plain.weights && resident.weights) {
          expect(sameValues(resident.weights.data, plain.weights.data), 'weights').toBeUndefined();
        }
        // a plain Tensor as out is filled too
        const jsOut = { data: new Float32Array(out.size), shape: [c.batch, c.hq, c.nq, c.dv] };
        const viaJs = attentionParts(rt.attention(b.q, b.k, b.v, { ...b.options, out: jsOut }));
        expect(viaJs.output.data).toBe(jsOut.data);
        expect(sameValues(jsOut.data, plain.output.data), 'plain Tensor out').toBeUndefined();
        // inputs untouched, and everything right
        expect(sameValues(q.data, b.q.data), 'q untouched').toBeUndefined();
        expect(sameValues(k.data, b.k.data), 'k untouched').toBeUndefined();
        expect(sameValues(v.data, b.v.data), 'v untouched').toBeUndefined();
        const outCopy: Tensor = { data: out.toArray(), shape: [...out.shape] };
        const got = resident.weights ? { output: outCopy, weights: resident.weights } : outCopy;
        expectMatches(got, referenceAttention(b.q, b.k, b.v, b.ref), describeCase(c, b));
      } finally {
        q.dispose();
        k.dispose();
        v.dispose();
        out.dispose();
        maskT?.dispose();
      }
    });
  });

  // ── empty dimensions ──────────────────────────────────────────────────────────────────────────

  const empty = (shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((p, d) => p * d, 1)), shape });
  const filled = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((p, d) => p * d, 1), rng(seed)), shape });

  it('empty dimensions: nq = 0, nk = 0, batch = 0, headDim = 0', () => {
    // dirty the arena first so that uninitialized output would show
    rt.attention(filled([2, 2, 64, 64], 1), filled([2, 2, 64, 64], 2), filled([2, 2, 64, 64], 3), { returnWeights: true });
    const cases: Array<[string, Tensor, Tensor, Tensor, AttentionOptions]> = [
      ['nq = 0', empty([1, 2, 0, 4]), filled([1, 1, 3, 4], 4), filled([1, 1, 3, 2], 5), {}],
      ['nk = 0 (every row sees nothing: zeros)', filled([1, 2, 3, 4], 6), empty([1, 1, 0, 4]), empty([1, 1, 0, 2]), { returnWeights: true }],
      ['nk = 0, causal', filled([2, 1, 5, 4], 6), empty([2, 1, 0, 4]), empty([2, 1, 0, 3]), { causal: true }],
      ['keyLengths all 0', filled([2, 2, 5, 4], 7), filled([2, 1, 6, 4], 8), filled([2, 1, 6, 3], 9), { keyLengths: [0, 0], returnWeights: true }],
      ['batch = 0', empty([0, 2, 3, 4]), empty([0, 1, 3, 4]), empty([0, 1, 3, 2]), { returnWeights: true }],
      ['headDim = 0 (uniform weights)', empty([1, 1, 3, 0]), empty([1, 1, 4, 0]), filled([1, 1, 4, 2], 10), { returnWeights: true }],
      ['headDim = 0, causal', empty([1, 2, 3, 0]), empty([1, 2, 4, 0]), filled([1, 2, 4, 5], 11), { causal: 'top-left', returnWeights: true }],
    ];
    for (const [name, q, k, v, options] of cases) {
      const got = rt.attention(q, k, v, options);
      const want = referenceAttention(q, k, v, { ...(options as ReferenceAttentionOptions), returnWeights: true });
      expectMatches(got, want, name);
      if (options.returnWeights) expect(attentionParts(got).weights, name).toBeDefined();
    }
  });

  it('keyLengths as number[], Int32Array or BigInt64Array give the same result', () => {
    const q = filled([2, 2, 9, 8], 21);
    const k = filled([2, 1, 65, 8], 22);
    const v = filled([2, 1, 65, 3], 23);
    const want = referenceAttention(q, k, v, { keyLengths: [64, 3], causal: true });
    for (const keyLengths of [[64, 3], new Int32Array([64, 3]), new BigInt64Array([64n, 3n])]) {
      const got = rt.attention(q, k, v, { keyLengths: keyLengths as ArrayLike<number>, causal: true });
      expectMatches(got, want, keyLengths.constructor.name);
    }
  });

  // Regression: with a value head size of 0 the weights are still computed (they once came back
  // as stale arena memory because the driver returned before the weights pass).
  it('returnWeights with valueDim = 0 still returns the softmax weights', () => {
    rt.attention(filled([1, 1, 64, 64], 12), filled([1, 1, 64, 64], 13), filled([1, 1, 64, 64], 14)); // leave data behind
    const q = filled([1, 1, 3, 4], 15);
    const k = filled([1, 1, 3, 4], 16);
    const v = empty([1, 1, 3, 0]);
    const got = rt.attention(q, k, v, { returnWeights: true });
    expectMatches(got, referenceAttention(q, k, v, { returnWeights: true }), 'dv = 0');
  });
});
