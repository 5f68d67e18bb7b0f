// Numerical edge cases, each explicitly, on every kernel binary, against the
// float64 oracle (test/reference/attention.ts): logits of ±1e4, −∞ masks, NaN and ±∞ in masked-out
// keys and values (ONNX's "poison" case) through every path that masks (boolean and float masks,
// key lengths, causal, windows, ONNX attn_mask and nonpad_kv_seqlen, a KV cache's padding mask,
// the sliding-window variant), rows with every key masked, N = 1, head sizes 1 and 256, and
// unmasked NaN / ∞ (which propagate to exactly the rows or outputs that see them).
// docs/guarantees.md states these behaviours.
//
// Tolerances: |got − ref| ≤ 2e-5 + 2e-5·|ref| on unit-scale inputs (5e-5 at head size 256, where
// the dot products are longer); exact equality where the answer is exact (one-hot softmax, zeros).

import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type Isa, type Runtime, type Tensor } from '../../src/index';
import { ISAS, mismatch, mismatchNonFinite, rng, sameValues, uniformF32 } from '../helpers/numeric';
import { referenceAttention } from '../reference/attention';
import { referenceSlidingWindow } from '../reference/sliding-window';

const T = (shape: number[], seed: number, lo = -2, hi = 2): Tensor => ({ data: uniformF32(shape.reduce((a, b) => a * b, 1), rng(seed), lo, hi), shape });
const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 2e-5) => expect(mismatch(got, want, tol, tol)).toBeUndefined();
const allFinite = (x: ArrayLike<number>) => Array.from(x).every(Number.isFinite);

const runtimes = new Map<Isa, Runtime>();
const rtOf = (isa: Isa): Runtime => {
  let rt = runtimes.get(isa);
  if (!rt) runtimes.set(isa, (rt = createRuntimeSync({ isa })));
  return rt;
};
afterAll(() => runtimes.forEach((rt) => rt.dispose()));

/** Sets row j of every (batch, head) of a [B, H, n, D] tensor to `value`. */
function poisonRow(t: Tensor, j: number, value: number): Tensor {
  const [B, H, n, D] = t.shape;
  const data = Float32Array.from(t.data);
  for (let x = 0; x < B * H; x++) data.fill(value, (x * n + j) * D, (x * n + j + 1) * D);
  return { data, shape: t.shape };
}

describe.each(ISAS)('numerical edge cases (%s)', (isa) => {
  it('logits of ±1e4: no overflow; a one-hot softmax is exact', () => {
    const rt = rtOf(isa);
    // head size 1, q = 100, k_j = integers in [−100, 100]: scores 100·k_j are exact in float32
    // and reach ±1e4; neighbours differ by 100, so softmax is one-hot up to e^−100.
    for (const nk of [1, 3, 8, 65, 130]) {
      const kvals = Array.from({ length: nk }, (_, j) => ((j * 37) % 201) - 100);
      const k = { data: Float32Array.from(kvals), shape: [1, 1, nk, 1] };
      const v = T([1, 1, nk, 3], nk);
      for (const [qv, nq] of [[100, 1], [-100, 5]] as const) {
        const q = { data: new Float32Array(nq).fill(qv), shape: [1, 1, nq, 1] };
        const r = rt.attention(q, k, v, { scale: 1, returnWeights: true });
        const best = qv > 0 ? kvals.indexOf(Math.max(...kvals)) : kvals.indexOf(Math.min(...kvals));
        for (let i = 0; i < nq; i++) {
          expect(Array.from(r.output.data.subarray(i * 3, i * 3 + 3))).toEqual(Array.from(v.data.subarray(best * 3, best * 3 + 3)));
          expect(r.weights.data[i * nk + best]).toBe(1);
        }
        close(r.output.data, referenceAttention(q, k, v, { scale: 1 }).output);
      }
    }
  });

  it('logits of ±1e4 on random data match the float64 reference (and softcap bounds them)', () => {
    const rt = rtOf(isa);
    for (const [nq, nk, dh] of [[4, 9, 8], [1, 65, 16], [7, 64, 3]]) {
      const q = T([1, 2, nq, dh], nq * 100 + nk, -40, 40);
      const k = T([1, 2, nk, dh], nq * 100 + nk + 1, -40, 40);
      const v = T([1, 2, nk, 4], nq * 100 + nk + 2);
      const want = referenceAttention(q, k, v, { scale: 1 });
      let maxLogit = 0;
      for (let i = 0; i < q.data.length; i += dh) maxLogit = Math.max(maxLogit, Math.abs(q.data[i]) * 40 * dh);
      const got = rt.attention(q, k, v, { scale: 1 });
      expect(allFinite(got.data)).toBe(true);
      // scores of magnitude ~1e4 carry float32 rounding of ~1e4·2⁻²⁴·dh in the exponent, so the
      // weights of near-tied keys may differ by ~1e-3 relative: the tolerance says so
      close(got.data, want.output, 1e-2);
      const capped = rt.attention(q, k, v, { scale: 1, softcap: 30 });
      close(capped.data, referenceAttention(q, k, v, { scale: 1, softcap: 30 }).output);
    }
  });

  it('−∞ in a float mask equals a boolean mask; a finite −1e9 fill behaves the same; −∞ everywhere gives zeros', () => {
    const rt = rtOf(isa);
    const q = T([2, 2, 5, 8], 1);
    const k = T([2, 2, 7, 8], 2);
    const v = T([2, 2, 7, 3], 3);
    const keep = Uint8Array.from({ length: 5 * 7 }, (_, i) => (i % 3 === 1 ? 0 : 1));
    const bool = rt.attention(q, k, v, { mask: { data: keep, shape: [5, 7] } });
    const inf = rt.attention(q, k, v, { mask: { data: Float32Array.from(keep, (x) => (x ? 0 : -Infinity)), shape: [5, 7] } });
    const fill = rt.attention(q, k, v, { mask: { data: Float32Array.from(keep, (x) => (x ? 0 : -1e9)), shape: [5, 7] } });
    expect(sameValues(inf.data, bool.data)).toBeUndefined();
    close(fill.data, bool.data, 1e-6);
    close(bool.data, referenceAttention(q, k, v, { mask: { data: keep, shape: [5, 7] } }).output);
    const none = rt.attention(q, k, v, { mask: { data: new Float32Array(7).fill(-Infinity), shape: [7] }, returnWeights: true });
    expect(Array.from(none.output.data).every((x) => x === 0)).toBe(true);
    expect(Array.from(none.weights.data).every((x) => x === 0)).toBe(true);
  });

  it('NaN and ±∞ in masked-out keys and values never leak (ONNX "poison"), on every masking path', () => {
    const rt = rtOf(isa);
    for (const nq of [1, 3, 4, 9]) {
      const nk = 9;
      const q = T([2, 2, nq, 8], nq);
      const k0 = T([2, 1, nk, 8], nq + 1);
      const v0 = T([2, 1, nk, 5], nq + 2);
      for (const poison of [Number.NaN, Infinity, -Infinity]) {
        // key 6 is hidden by each mechanism below; its K and V rows hold the poison
        const k = poisonRow(k0, 6, poison);
        const v = poisonRow(v0, 6, poison);
        const hide6 = Uint8Array.from({ length: nk }, (_, j) => (j === 6 ? 0 : 1));
        const cases: Array<[string, Parameters<Runtime['attention']>[3]]> = [
          ['boolean mask', { mask: { data: hide6, shape: [nk] } }],
          ['float −∞ mask', { mask: { data: Float32Array.from(hide6, (x) => (x ? 0 : -Infinity)), shape: [1, 1, 1, nk] } }],
          ['keyLengths', { keyLengths: [6, 6] }],
          ['causal top-left', { causal: 'top-left' as const }],
          ['window', { window: { left: 0, right: 0 }, causal: 'top-left' as const }],
        ];
        for (const [name, options] of cases) {
          if (name === 'causal top-left' && nq > 6) continue; // rows ≥ 6 see key 6
          if (name === 'window' && nq > 6) continue;
          const got = rt.attention(q, k, v, { ...options, returnWeights: true });
          const clean = rt.attention(q, k0, v0, { ...options, returnWeights: true });
          const label = `${name}, nq ${nq}, poison ${poison}`;
          expect(allFinite(got.output.data), label).toBe(true);
          // (not always bit-identical: with non-finite values in V the kernel takes its zero-skipping
          // P·V micro-kernel, whose fused multiply-adds round in another order on relaxed SIMD)
          expect(mismatch(got.output.data, clean.output.data, 1e-6, 1e-6), label).toBeUndefined();
          expect(sameValues(got.weights.data, clean.weights.data), label).toBeUndefined();
          close(got.output.data, referenceAttention(q, k0, v0, options as never).output);
        }
        // ONNX Attention: a boolean attn_mask, and nonpad_kv_seqlen (the ONNX poison test's own form)
        const onnx = rt.onnxAttention({ Q: q, K: k, V: v, attn_mask: { data: hide6, shape: [nk] } });
        close(onnx.Y.data, rt.onnxAttention({ Q: q, K: k0, V: v0, attn_mask: { data: hide6, shape: [nk] } }).Y.data, 1e-6);
        const lens = rt.onnxAttention({ Q: q, K: k, V: v, nonpad_kv_seqlen: { data: BigInt64Array.from([6n, 6n]), shape: [2] } });
        expect(allFinite(lens.Y.data)).toBe(true);
        // the sliding-window variant with key lengths
        const sw = rt.slidingWindowAttention(q, k, v, { window: 3, keyLengths: [6, 6] });
        close(sw.data, referenceSlidingWindow(q, k0, v0, { left: 3, right: 3, keyLengths: [6, 6] }));
      }
    }
    // a KV cache: poisoned key ignored through PyTorch's key_padding_mask
    const cache = rt.kvCache({ heads: 1, headDim: 4, maxLength: 8 });
    const kc = T([1, 1, 5, 4], 50);
    const vc = T([1, 1, 5, 4], 51);
    cache.append(poisonRow(kc, 2, Number.NaN), poisonRow(vc, 2, Infinity));
    const qc = T([1, 2, 1, 4], 52);
    const ignore2 = { data: Uint8Array.from([0, 0, 1, 0, 0]), shape: [1, 5] };
    const y = cache.attend(qc, { keyPaddingMask: ignore2 });
    close(y.data, referenceAttention(qc, kc, vc, { mask: { data: Uint8Array.from([1, 1, 0, 1, 1]), shape: [5] } }).output);
    cache.dispose();
  });

  it('rows with every key masked give zeros (output and weights), never NaN', () => {
    const rt = rtOf(isa);
    const q = T([2, 2, 5, 8], 7);
    const k = T([2, 2, 6, 8], 8);
    const v = T([2, 2, 6, 3], 9);
    const zero = (x: ArrayLike<number>) => Array.from(x).every((e) => e === 0);
    // every row of batch 1 (keyLengths 0), rows 0–1 under a window that reaches no key
    const r = rt.attention(q, k, v, { keyLengths: [6, 0], returnWeights: true });
    expect(zero(r.output.data.subarray(60))).toBe(true);
    expect(zero(r.weights.data.subarray(60))).toBe(true);
    close(r.output.data, referenceAttention(q, k, v, { keyLengths: [6, 0] }).output);
    const mask = { data: Uint8Array.from({ length: 5 * 6 }, (_, i) => (i < 6 ? 0 : 1)), shape: [5, 6] }; // row 0 sees nothing
    const m = rt.attention(q, k, v, { mask, returnWeights: true });
    for (let bh = 0; bh < 4; bh++) expect(zero(m.output.data.subarray(bh * 15, bh * 15 + 3))).toBe(true);
    close(m.output.data, referenceAttention(q, k, v, { mask }).output);
    const onnx = rt.onnxAttention({ Q: q, K: k, V: v, attn_mask: { data: new Uint8Array(6), shape: [6] } });
    expect(zero(onnx.Y.data)).toBe(true);
    expect(zero(rt.slidingWindowAttention(q, k, v, { window: 2, keyLengths: [0, 0] }).data)).toBe(true);
    // a layer whose keys are all padding: the attention part is zeros, the output is the out bias
    const layer = rt.multiHeadAttention({
      dModel: 4, numHeads: 2,
      weights: { qkv: T([12, 4], 10), qkvBias: T([12], 11), out: T([4, 4], 12), outBias: T([4], 13) },
    });
    const y = layer.forward(T([1, 3, 4], 14), { keyPaddingMask: { data: new Uint8Array(3).fill(1), shape: [1, 3] } });
    const outBias = T([4], 13).data;
    for (let s = 0; s < 3; s++) expect(Array.from(y.data.subarray(s * 4, s * 4 + 4))).toEqual(Array.from(outBias));
    layer.dispose();
  });

  it('N = 1: one query and one key give exactly that value; masked, zeros', () => {
    const rt = rtOf(isa);
    for (const d of [1, 3, 8, 65]) {
      const q = T([2, 3, 1, d], d);
      const k = T([2, 3, 1, d], d + 1);
      const v = T([2, 3, 1, d], d + 2);
      for (const causal of [false, true, 'top-left'] as const) {
        expect(sameValues(rt.attention(q, k, v, { causal }).data, v.data)).toBeUndefined();
      }
      const masked = rt.attention(q, k, v, { mask: { data: new Uint8Array(1), shape: [1] } });
      expect(Array.from(masked.data).every((x) => x === 0)).toBe(true);
      expect(sameValues(rt.slidingWindowAttention(q, k, v, { window: 0 }).data, v.data)).toBeUndefined();
      const cache = rt.kvCache({ heads: 3, headDim: d, maxLength: 1 });
      expect(sameValues(cache.step(q.shape[0] === 2 ? { data: q.data.subarray(0, 3 * d), shape: [1, 3, 1, d] } : q, { data: k.data.subarray(0, 3 * d), shape: [1, 3, 1, d] }, { data: v.data.subarray(0, 3 * d), shape: [1, 3, 1, d] }).data, v.data.subarray(0, 3 * d))).toBeUndefined();
      cache.dispose();
    }
  });

  it('head sizes 1 and 256 (and value sizes 1 and 256) match the float64 reference', () => {
    const rt = rtOf(isa);
    for (const [dh, dv] of [[1, 1], [1, 256], [256, 1], [256, 256]]) {
      for (const [nq, nk] of [[1, 1], [3, 70], [9, 9], [64, 65]]) {
        const q = T([1, 2, nq, dh], dh + nq, -1, 1);
        const k = T([1, 1, nk, dh], dh + nk, -1, 1);
        const v = T([1, 1, nk, dv], dv + nk);
        for (const options of [{}, { causal: true }, { mask: { data: Uint8Array.from({ length: nk }, (_, j) => (j % 4 === 3 ? 0 : 1)), shape: [nk] } }]) {
          const got = rt.attention(q, k, v, { ...options, returnWeights: true });
          const want = referenceAttention(q, k, v, { ...options, returnWeights: true });
          const tol = dh === 256 ? 5e-5 : 2e-5;
          expect(mismatch(got.output.data, want.output, tol, tol), `dh ${dh}, dv ${dv}, nq ${nq}, nk ${nk}`).toBeUndefined();
          expect(mismatch(got.weights.data, want.weights!, tol, tol)).toBeUndefined();
        }
      }
    }
  });

  it('online softmax across key tiles: slow ramps, jumps past the rescale slack, falls, NaN inside an interior tile', () => {
    // Head size 1, scale 1: query row i times key j is the score, so each pattern drives the
    // running max of the 4-row tiles through 64-key tiles exactly as written (no mask: the fast
    // interior path). Rises smaller and larger than the kernel's lazy-rescale slack (8) both occur.
    const rt = rtOf(isa);
    const nk = 320;
    const nq = 9;
    const q = { data: Float32Array.from({ length: nq }, (_, i) => 0.5 + 0.25 * i), shape: [1, 1, nq, 1] };
    const v = T([1, 1, nk, 5], 40);
    const patterns: Record<string, (j: number) => number> = {
      'slow ramp': (j) => 0.05 * j,
      'jumps of 20 per tile': (j) => 20 * Math.floor(j / 64) + Math.sin(j),
      'falling': (j) => 10 - 0.07 * j,
      'saw': (j) => (j % 64) * 0.3,
      'large ramp': (j) => 40 * j,
    };
    for (const [name, f] of Object.entries(patterns)) {
      const k = { data: Float32Array.from({ length: nk }, (_, j) => f(j)), shape: [1, 1, nk, 1] };
      const got = rt.attention(q, k, v, { scale: 1 });
      expect(mismatch(got.data, referenceAttention(q, k, v, { scale: 1 }).output, 2e-5, 2e-5), name).toBeUndefined();
    }
    for (const nanKeys of [[70], Array.from({ length: 64 }, (_, j) => j), [319]]) {
      const k = { data: Float32Array.from({ length: nk }, (_, j) => 0.01 * j), shape: [1, 1, nk, 1] };
      for (const j of nanKeys) k.data[j] = Number.NaN;
      const got = rt.attention(q, k, v, { scale: 1 });
      expect(Array.from(got.data).every(Number.isNaN), `NaN at keys ${nanKeys[0]}…${nanKeys[nanKeys.length - 1]}`).toBe(true);
    }
  });

  it('unmasked NaN propagates to exactly the rows (or outputs) that see it; ±∞ in a visible key makes its rows NaN', () => {
    const rt = rtOf(isa);
    const q = T([1, 1, 6, 4], 30);
    const k = T([1, 1, 6, 4], 31);
    const v = T([1, 1, 6, 3], 32);
    // NaN in key 2, causal top-left: rows 0–1 do not see it (finite, correct), rows 2–5 are NaN
    const kn = poisonRow(k, 2, Number.NaN);
    const a = rt.attention(q, kn, v, { causal: 'top-left' });
    const wantA = referenceAttention(q, kn, v, { causal: 'top-left' }).output;
    expect(mismatchNonFinite(a.data, wantA, 2e-5, 2e-5)).toBeUndefined();
    expect(allFinite(a.data.subarray(0, 6))).toBe(true);
    expect(Array.from(a.data.subarray(6)).every(Number.isNaN)).toBe(true);
    // NaN in one value element: only that output column of the rows that see the key
    const vn = { data: Float32Array.from(v.data), shape: v.shape };
    vn.data[3 * 3 + 1] = Number.NaN; // key 3, column 1
    const b = rt.attention(q, k, vn, { causal: 'top-left' });
    for (let i = 0; i < 6; i++) for (let e = 0; e < 3; e++) expect(Number.isNaN(b.data[i * 3 + e]), `row ${i} column ${e}`).toBe(i >= 3 && e === 1);
    expect(mismatchNonFinite(b.data, referenceAttention(q, k, vn, { causal: 'top-left' }).output, 2e-5, 2e-5)).toBeUndefined();
    // NaN in a query row: that row only
    const qn = poisonRow(q, 4, Number.NaN);
    const c = rt.attention(qn, k, v);
    for (let i = 0; i < 6; i++) expect(Array.from(c.data.subarray(i * 3, i * 3 + 3)).every(Number.isNaN), `row ${i}`).toBe(i === 4);
    // +∞ in a visible key: its scores are ±∞ or NaN, softmax of such a row is NaN (as float64)
    const ki = poisonRow(k, 1, Infinity);
    const d = rt.attention(q, ki, v, { causal: 'top-left' });
    expect(mismatchNonFinite(d.data, referenceAttention(q, ki, v, { causal: 'top-left' }).output, 2e-5, 2e-5)).toBeUndefined();
    expect(allFinite(d.data.subarray(0, 3))).toBe(true);
  });
});
