// f16 (assembly/f16.ts, f16w.ts) in both binaries, against test/reference/quant.ts:
//  - f16_f32_convert (through its F16_CONVERT_* block, like every conversion here) on all 65536
//    bit patterns (exact values; NaN keeps its sign and payload);
//  - f32_f16_convert round to nearest even on random bit patterns and on the edge cases (halfway
//    points, the largest finite, overflow to ∞, the subnormal range and its boundary, ±0, NaN
//    payloads), and the round trip f16 → f32 → f16 is the identity for every non-NaN pattern;
//  - f32_f16w_gemm against the float64 product of the decoded weights (the f32_gemm tolerance)
//    on the GEMM and matrix-vector paths, B and Bᵀ, bias and accumulation, padding untouched;
//    weights holding ±∞ / NaN give the non-finite results float arithmetic gives;
//  - accuracy against float32 weights on Gaussian data: relative RMS ≤ 0.1%.

import { describe, expect, it } from 'vitest';
import { f16ToNumber, f32BitsToF16, numberToF16, productF64, relativeRms } from '../reference/quant';
import { gaussian, rng, uniform } from './data';
import { KernelHost, type Isa } from './host';

const ISAS: Isa[] = ['simd128', 'relaxed'];

/** f32 bits of a number (the kernel output for an f16 NaN is checked bitwise). */
const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];

describe.each(ISAS)('f16 conversion (%s)', (isa) => {
  const h = new KernelHost(isa);

  it('f16_f32_convert is exact for all 65536 bit patterns (n = 65536 and a 7-element tail)', () => {
    for (const n of [65536, 7]) {
      h.reset();
      const src = Uint16Array.from({ length: n }, (_, i) => (n === 7 ? 0x7c01 + i * 0x1111 : i) & 0xffff);
      const ps = h.put(src);
      const pd = h.alloc(n * 4);
      h.call('f16_f32_convert', h.params('F16_CONVERT_', { SRC: ps, DST: pd, N: n }));
      expect(h.guardDamage()).toBe(0);
      const out = h.f32(pd, n);
      for (let i = 0; i < n; i++) {
        const want = f16ToNumber(src[i]);
        if (Number.isNaN(want)) {
          // quiet or signalling, the payload moves to the top mantissa bits and the sign stays
          const bits = ((src[i] & 0x8000) << 16) | 0x7f800000 | ((src[i] & 0x3ff) << 13);
          expect(new Uint32Array(h.f32(pd + 4 * i, 1).slice().buffer)[0]).toBe(bits >>> 0);
        } else {
          expect(Object.is(out[i], want), `0x${src[i].toString(16)}: ${out[i]} vs ${want}`).toBe(true);
        }
      }
    }
  });

  it('f32_f16_convert rounds to nearest even, with the IEEE edge cases', () => {
    const next = rng(17);
    const edge = [
      0, -0, 1, -1, 65504, 65519.99609375, 65520, -65520, 1e10, Infinity, -Infinity,
      2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -24, 2 ** -25, 2 ** -25 + 2 ** -40, 3 * 2 ** -25, 2 ** -26, 1e-10, -1e-10,
      1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 2049, 2051, 4097, 0.1, -0.3333333432674408,
    ];
    const bits: number[] = edge.map(bitsOf);
    bits.push(0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff, 0xff812345); // NaNs: quiet, payloads, signalling
    for (let i = 0; i < 20000; i++) bits.push((next() * 2 ** 32) >>> 0);
    for (let e = 100; e < 150; e++) for (let t = 0; t < 20; t++) bits.push(((e << 23) | ((next() * 2 ** 23) >>> 0)) >>> 0);
    h.reset();
    const n = bits.length;
    const ps = h.put(Uint32Array.from(bits));
    const pd = h.alloc(n * 2);
    h.call('f32_f16_convert', h.params('F16_CONVERT_', { SRC: ps, DST: pd, N: n }));
    expect(h.guardDamage()).toBe(0);
    const out = new Uint16Array(h.exports.memory.buffer, pd, n);
    for (let i = 0; i < n; i++) expect(out[i], `f32 bits 0x${bits[i].toString(16)}`).toBe(f32BitsToF16(bits[i]));
  });

  it('f16 → f32 → f16 is the identity for every non-NaN pattern', () => {
    h.reset();
    const n = 65536;
    const ps = h.put(Uint16Array.from({ length: n }, (_, i) => i));
    const pf = h.alloc(n * 4);
    const pb = h.alloc(n * 2);
    h.call('f16_f32_convert', h.params('F16_CONVERT_', { SRC: ps, DST: pf, N: n }));
    h.call('f32_f16_convert', h.params('F16_CONVERT_', { SRC: pf, DST: pb, N: n }));
    const back = new Uint16Array(h.exports.memory.buffer, pb, n);
    for (let i = 0; i < n; i++) if ((i & 0x7c00) !== 0x7c00 || (i & 0x3ff) === 0) expect(back[i]).toBe(i);
  });
});

describe.each(ISAS)('f16-weight product f32_f16w_gemm (%s)', (isa) => {
  const h = new KernelHost(isa);

  /** Runs the product; B given as f16 bits in its stored layout. */
  function run(m: number, n: number, k: number, a: Float32Array, b: Uint16Array, ldb: number, transB: boolean,
    o: { bias?: Float32Array; accumulate?: Float32Array; ldc?: number } = {}): Float32Array {
    const ldc = o.ldc ?? n;
    h.reset();
    const cInit = new Float32Array(Math.max(1, m * ldc)).fill(-3.5);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cInit[i * ldc + j] = o.accumulate ? o.accumulate[i * n + j] : NaN;
    const pc = h.put(cInit);
    h.call('f32_f16w_gemm', h.params('GEMM_', {
      A: h.put(a.length ? a : new Float32Array(1)), LDA: k, B: h.put(b.length ? b : new Uint16Array(2)), LDB: ldb, C: pc, LDC: ldc,
      BIAS: o.bias ? h.put(o.bias) : 0, M: m, N: n, K: k, TRANS_B: transB ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0,
      WORKSPACE: h.alloc(h.call('f32_f16w_gemm_workspace_bytes', n, k), 0x7f),
    }));
    expect(h.guardDamage()).toBe(0);
    const all = h.f32(pc, cInit.length);
    const out = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < ldc; j++) {
        if (j < n) out[i * n + j] = all[i * ldc + j];
        else expect(all[i * ldc + j]).toBe(-3.5);
      }
    }
    return out;
  }

  it('matches the float64 product of the decoded weights on GEMM and matrix-vector tails', () => {
    const next = rng(23);
    let variant = 0;
    for (const m of [1, 2, 3, 4, 5, 9]) {
      for (const n of [1, 3, 4, 8, 9, 17, 33]) {
        for (const k of [1, 7, 8, 9, 16, 31, 64, 300]) {
          variant++;
          const transB = variant % 2 === 0;
          const ldb = (transB ? k : n) + (variant % 3);
          const b = Uint16Array.from({ length: (transB ? n : k) * ldb }, () => numberToF16((next() - 0.5) * 2));
          const a = uniform(m * k, next);
          const bias = variant % 3 === 0 ? uniform(n, next) : undefined;
          const accumulate = variant % 4 === 1 ? uniform(m * n, next) : undefined;
          const got = run(m, n, k, a, b, ldb, transB, { bias, accumulate, ldc: n + (variant % 2) });
          const w = (x: number, j: number) => f16ToNumber(transB ? b[j * ldb + x] : b[x * ldb + j]);
          const want = productF64(a, m, k, n, w);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let mag = 1 + Math.abs(bias?.[j] ?? 0) + Math.abs(accumulate?.[i * n + j] ?? 0);
              for (let x = 0; x < k; x++) mag += Math.abs(a[i * k + x] * w(x, j));
              const ref = want[i * n + j] + (bias?.[j] ?? 0) + (accumulate?.[i * n + j] ?? 0);
              expect(Math.abs(got[i * n + j] - ref), `m=${m} n=${n} k=${k} transB=${transB}`).toBeLessThanOrEqual(1e-5 * mag);
            }
          }
        }
      }
    }
  });

  it.each([1, 6])('propagates ±∞ and NaN weights like float arithmetic (m = %i)', (m) => {
    const k = 40;
    const n = 9;
    const next = rng(m);
    const a = uniform(m * k, next, 0.5, 1); // positive, so ∞ · a keeps its sign
    const b = Uint16Array.from({ length: n * k }, () => numberToF16(next() - 0.5));
    b[2 * k + 5] = 0x7c00; // +∞ in output column 2
    b[4 * k + 39] = 0xfc00; // −∞ in column 4 (the k % 8 tail)
    b[7 * k + 0] = 0x7e01; // NaN in column 7
    const got = run(m, n, k, a, b, k, true);
    for (let i = 0; i < m; i++) {
      expect(got[i * n + 2]).toBe(Infinity);
      expect(got[i * n + 4]).toBe(-Infinity);
      expect(got[i * n + 7]).toBeNaN();
      for (const j of [0, 1, 3, 5, 6, 8]) expect(Number.isFinite(got[i * n + j])).toBe(true);
    }
  });

  it('is within 0.1% relative RMS of the float32-weight product on Gaussian data', () => {
    const next = rng(31);
    const m = 2;
    const k = 768;
    const n = 64;
    const a = gaussian(m * k, next);
    const wf = gaussian(n * k, next, 0.05);
    const b = Uint16Array.from(wf, (v) => numberToF16(v));
    for (const rows of [m, 5]) {
      const aa = rows === m ? a : gaussian(rows * k, next);
      const err = relativeRms(run(rows, n, k, aa, b, k, true), productF64(aa, rows, k, n, (x, j) => wf[j * k + x]));
      expect(err).toBeLessThan(0.001);
      expect(err).toBeGreaterThan(1e-6);
    }
  });
});
