// rt.slidingWindowAttention against the float64 oracle of test/reference/sliding-window.ts.
//
// Property (fast-check, fixed seed, 120 runs per kernel binary): n ∈ {1, 3, 4, 5, 7, 8, 9, 63, 64,
// 65, 129} (nq and nk independent), dh, dv ∈ {1, 3, 8, 16, 64}, batch 1–2, MHA/GQA/MQA heads,
// window sides 0–70, dilation 1–4, causal (false, true, 'top-left'), keyLengths.
// Tolerance: inputs uniform in [−2, 2], |got − ref| ≤ 2e-5 + 2e-5·|ref| (as rt.attention's tests).
// Long sequences (nq up to 1030, nk up to 5000) exercise the split into 256-row blocks, each
// call given only the keys its rows can see.
// Identities: a window covering every key is bit-identical to rt.attention (full or causal);
// dilation 1 is bit-identical to rt.attention's own window { left, right }; dilation d equals
// rt.attention on the de-interleaved sub-sequences. Cost: the time at 4n with a fixed window is
// ≤ 6× the time at n (linear, with slack for noise), never the 16× of n².
// Errors: window < 0, non-integer, missing; dilation < 1; causal with right > 0 → INVALID_OPTION.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntimeSync, type Tensor } from '../../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues, uniformF32 } from '../helpers/numeric';
import { checkProperty, expectCode, randomTensor, useRuntimes } from '../helpers/variant';
import { referenceSlidingWindow } from '../reference/sliding-window';

const ATOL = 2e-5;
const RTOL = 2e-5;
const SEQ = [1, 3, 4, 5, 7, 8, 9, 63, 64, 65, 129];
const HEAD = [1, 3, 8, 16, 64];
const HEADS: Array<[number, number]> = [[1, 1], [2, 1], [2, 2], [3, 1], [4, 2]];

const tensor = randomTensor;
const runtime = useRuntimes();

describe.each(ISAS)('slidingWindowAttention (%s)', (isa) => {
  it('matches the float64 reference on random shapes, windows and dilations', () => {
    const rt = runtime(isa);
    const warm = tensor([1, 1, 4, 4], rng(1));
    checkProperty(rt, {
      warmUp: () => rt.slidingWindowAttention(warm, warm, warm, { window: 1 }), // reserves the kernel workspace
      cases: fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        heads: fc.constantFrom(...HEADS),
        nq: fc.constantFrom(...SEQ),
        nk: fc.constantFrom(...SEQ),
        dh: fc.constantFrom(...HEAD),
        dv: fc.constantFrom(...HEAD),
        left: fc.integer({ min: 0, max: 70 }),
        right: fc.integer({ min: 0, max: 70 }),
        dilation: fc.integer({ min: 1, max: 4 }),
        causal: fc.constantFrom<boolean | 'top-left'>(false, true, 'top-left'),
        lengths: fc.option(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 2 }), { nil: undefined }),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      }),
      compute: (c) => {
        const next = rng(c.seed);
        const [hq, hkv] = c.heads;
        const q = tensor([c.batch, hq, c.nq, c.dh], next);
        const k = tensor([c.batch, hkv, c.nk, c.dh], next);
        const v = tensor([c.batch, hkv, c.nk, c.dv], next);
        const keyLengths = c.lengths?.slice(0, c.batch).map((m) => Math.round((m / 1000) * c.nk));
        const right = c.causal ? 0 : c.right;
        const got = rt.slidingWindowAttention(q, k, v, {
          window: { left: c.left, right }, dilation: c.dilation, causal: c.causal, keyLengths,
        });
        const want = referenceSlidingWindow(q, k, v, { left: c.left, right, dilation: c.dilation, causal: c.causal, keyLengths });
        return { got, want };
      },
      atol: ATOL, rtol: RTOL, numRuns: 120, seed: 5150,
    });
  });

  it('a window covering every key is bit-identical to full and causal rt.attention', () => {
    const rt = runtime(isa);
    const next = rng(7);
    for (const n of [1, 5, 64, 130]) {
      const q = tensor([1, 2, n, 16], next);
      const k = tensor([1, 2, n, 16], next);
      const v = tensor([1, 2, n, 8], next);
      const full = rt.attention(q, k, v);
      expect(sameValues(rt.slidingWindowAttention(q, k, v, { window: n }).data, full.data)).toBeUndefined();
      expect(sameValues(rt.slidingWindowAttention(q, k, v, { window: { left: n + 5, right: 3 * n } }).data, full.data)).toBeUndefined();
      const causal = rt.attention(q, k, v, { causal: true });
      expect(sameValues(rt.slidingWindowAttention(q, k, v, { window: n, causal: true }).data, causal.data)).toBeUndefined();
    }
  });

  it('dilation 1 is rt.attention with a window; dilation d is attention on the residue sub-sequences', () => {
    const rt = runtime(isa);
    const next = rng(8);
    const n = 97;
    const d = 3;
    const q = tensor([1, 1, n, 8], next);
    const k = tensor([1, 1, n, 8], next);
    const v = tensor([1, 1, n, 4], next);
    const win = { left: 6, right: 2 };
    expect(sameValues(
      rt.slidingWindowAttention(q, k, v, { window: win }).data,
      rt.attention(q, k, v, { window: win }).data,
    )).toBeUndefined();
    const dilated = rt.slidingWindowAttention(q, k, v, { window: win, dilation: d });
    for (let r = 0; r < d; r++) {
      const rows = Array.from({ length: Math.ceil((n - r) / d) }, (_, i) => r + i * d);
      const pick = (t: Tensor, D: number): Tensor => {
        const data = new Float32Array(rows.length * D);
        rows.forEach((i, x) => data.set(t.data.subarray(i * D, i * D + D), x * D));
        return { data, shape: [1, 1, rows.length, D] };
      };
      const sub = rt.attention(pick(q, 8), pick(k, 8), pick(v, 4), { window: win });
      const mine = pick(dilated, 4);
      expect(mismatch(mine.data, sub.data, 1e-6, 1e-6)).toBeUndefined();
    }
  });

  it('long sequences split into row blocks (each given only its keys) match the reference', () => {
    const rt = runtime(isa);
    const next = rng(12);
    const cases: Array<{ nq: number; nk: number; left: number; right: number; dilation: number; causal: boolean | 'top-left'; keyLengths?: number[] }> = [
      { nq: 700, nk: 700, left: 10, right: 7, dilation: 1, causal: false },
      { nq: 700, nk: 700, left: 13, right: 0, dilation: 2, causal: true, keyLengths: [650, 700] },
      { nq: 301, nk: 5000, left: 20, right: 3, dilation: 1, causal: false }, // a chunk of queries over a long cache
      { nq: 1030, nk: 1030, left: 60, right: 60, dilation: 3, causal: 'top-left' },
    ];
    for (const c of cases) {
      const q = tensor([2, 2, c.nq, 16], next);
      const k = tensor([2, 1, c.nk, 16], next);
      const v = tensor([2, 1, c.nk, 8], next);
      const right = c.causal ? 0 : c.right;
      const got = rt.slidingWindowAttention(q, k, v, { window: { left: c.left, right }, dilation: c.dilation, causal: c.causal, keyLengths: c.keyLengths });
      const want = referenceSlidingWindow(q, k, v, { left: c.left, right, dilation: c.dilation, causal: c.causal, keyLengths: c.keyLengths });
      expect(mismatch(got.data, want, ATOL, RTOL, got.shape), JSON.stringify(c)).toBeUndefined();
    }
  });

  it('works in O(n·w) memory: 4× the sequence needs at most about 4× the Wasm memory, no n×n buffer', () => {
    // Time is not asserted in tests (the machine is shared); the bench's L workload measures the
    // linear time. Memory is deterministic: a fresh runtime per length, its memory after one call.
    const next = rng(9);
    const memoryAfter = (n: number): number => {
      const rt = createRuntimeSync({ isa });
      const q = rt.tensor([1, 2, n, 64], uniformF32(2 * n * 64, next));
      rt.slidingWindowAttention(q, q, q, { window: 32 });
      const bytes = rt.memoryBytes;
      rt.dispose();
      return bytes;
    };
    const m1 = memoryAfter(4096);
    const m4 = memoryAfter(16384);
    // Inputs and output alone are 2·(2·n·64·4) bytes; an n×n score buffer would be 1 GiB at 16384.
    expect(m4 / m1, `memory ${m4} B at n = 16384, ${m1} B at n = 4096`).toBeLessThan(4.6);
    expect(m4).toBeLessThan(64 * 2 ** 20);
  });

  it('rejects bad options with typed errors and stays usable', () => {
    const rt = runtime(isa);
    const next = rng(10);
    const q = tensor([1, 1, 8, 4], next);
    rt.slidingWindowAttention(q, q, q, { window: 1 });
    const before = arenaStats(rt);
    expectCode(() => rt.slidingWindowAttention(q, q, q, { window: -1 }), 'INVALID_OPTION', 'options.window');
    expectCode(() => rt.slidingWindowAttention(q, q, q, { window: { left: -2 } }), 'INVALID_OPTION', 'options.window.left');
    expectCode(() => rt.slidingWindowAttention(q, q, q, { window: 1.5 }), 'INVALID_OPTION', '1.5');
    expectCode(() => rt.slidingWindowAttention(q, q, q, {} as never), 'INVALID_OPTION', 'options.window is required');
    expectCode(() => rt.slidingWindowAttention(q, q, q, { window: 2, dilation: 0 }), 'INVALID_OPTION', 'options.dilation');
    expectCode(() => rt.slidingWindowAttention(q, q, q, { window: { left: 2, right: 1 }, causal: true }), 'INVALID_OPTION', 'options.window.right must be 0');
    expectCode(() => rt.slidingWindowAttention(q, null as never, q, { window: 2 }), 'INVALID_ARGUMENT', 'k must be a tensor');
    expectCode(() => rt.slidingWindowAttention(q, q, q, { window: 2, keyLengths: [9] }), 'INVALID_OPTION', 'options.keyLengths');
    expect(arenaStats(rt)).toEqual(before);
    const ok = rt.slidingWindowAttention(q, q, q, { window: 2 });
    expect(mismatch(ok.data, referenceSlidingWindow(q, q, q, { left: 2, right: 2 }), ATOL, RTOL)).toBeUndefined();
  });

  it('writes into a WasmTensor out (zero-copy) with the same values', () => {
    const rt = runtime(isa);
    const next = rng(11);
    const q = tensor([2, 2, 33, 8], next);
    const o = rt.tensor([2, 2, 33, 8]);
    const y = rt.slidingWindowAttention(q, q, q, { window: 4, dilation: 2, out: o });
    expect(y).toBe(o);
    expect(sameValues(o.data, rt.slidingWindowAttention(q, q, q, { window: 4, dilation: 2 }).data)).toBeUndefined();
    o.dispose();
  });
});
