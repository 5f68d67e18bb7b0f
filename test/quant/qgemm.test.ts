// The int8 product (assembly/qgemm.ts: qc8w_gemm_pack_b, qd8_f32_qc8w_gemm, f32_qd8_convert) in
// both binaries, against test/reference/quant.ts:
//  - bit-exact against the same-quantization reference (exact integers, the documented float32
//    epilogue) on shapes hitting every tail (m % 4, n % 8, k % 4), for every weight layout
//    (B or Bᵀ, int8 or uint8, scale and zero point per column or per tensor), bias and
//    accumulation, strided A and C (padding never read or written), guard bytes intact;
//  - the 7-bit operand: activation codes never leave [0, 127], and extreme operands (weights
//    −128 / 127, uint8 0 / 255 with zero points, activation codes 0 and 127, where an 8-bit or
//    sign-extended code would saturate x86's pmaddubsw or flip sign) stay exact;
//  - accuracy on Gaussian data against the float32 product (relative RMS ≤ 2.5%);
//  - a NaN in a row of A makes exactly that row's outputs NaN.

import { describe, expect, it } from 'vitest';
import {
  f32, productF64, qc8wProductRef, quantizeQd8Row, quantizeWeightsInt8, relativeRms, type Qc8wWeights,
} from '../reference/quant';
import { gaussian, integers, rng, uniform } from './data';
import { KernelHost, type Isa } from './host';

const ISAS: Isa[] = ['simd128', 'relaxed'];
const PAD_VALUE = 12345.5; // C padding sentinel (a number, so a write of it is indistinguishable only if computed)

interface Case {
  m: number;
  a: Float32Array;
  /** Row stride of A in elements (≥ k); padding holds NaN. */
  lda?: number;
  w: Qc8wWeights;
  bias?: Float32Array;
  accumulate?: Float32Array;
  /** Row stride of C in elements (≥ n). */
  ldc?: number;
}

/** Packs the weights and runs the product; returns C (m × n) and the A codes the kernel stored. */
function run(h: KernelHost, c: Case): Float32Array {
  const { m, w } = c;
  const { k, n } = w;
  const lda = c.lda ?? k;
  const ldc = c.ldc ?? n;
  h.reset();
  const zp = w.zeroPoint;
  const packed = h.alloc(h.call('qc8w_gemm_packed_b_bytes', n, k), 0x5a);
  const pack = h.params('QPACK_', {
    B: h.put(w.data), LDB: w.ld, TRANS_B: w.transB ? 1 : 0, UNSIGNED: w.data instanceof Uint8Array ? 1 : 0,
    N: n, K: k, SCALE: h.put(w.scale), SCALE_STRIDE: w.scale.length === 1 ? 0 : 1,
    ZERO_POINT: zp ? h.put(zp) : 0, ZERO_POINT_STRIDE: zp && zp.length > 1 ? 1 : 0, DST: packed,
  });
  h.call('qc8w_gemm_pack_b', pack);
  const a = new Float32Array(Math.max(1, m * lda)).fill(NaN);
  for (let i = 0; i < m; i++) a.set(c.a.subarray(i * k, i * k + k), i * lda);
  const cInit = new Float32Array(Math.max(1, m * ldc)).fill(PAD_VALUE);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cInit[i * ldc + j] = c.accumulate ? c.accumulate[i * n + j] : NaN;
  const pc = h.put(cInit);
  const params = h.params('QGEMM_', {
    A: h.put(a), LDA: lda, B: packed, C: pc, LDC: ldc, BIAS: c.bias ? h.put(c.bias) : 0, M: m, N: n, K: k,
    WORKSPACE: h.alloc(h.call('qd8_f32_qc8w_gemm_workspace_bytes', m, k), 0x5a), ACCUMULATE: c.accumulate ? 1 : 0,
  });
  h.call('qd8_f32_qc8w_gemm', params);
  expect(h.guardDamage()).toBe(0);
  const all = h.f32(pc, cInit.length);
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < ldc; j++) {
      if (j < n) out[i * n + j] = all[i * ldc + j];
      else expect(all[i * ldc + j]).toBe(PAD_VALUE);
    }
  }
  return out;
}

/** Weights in one of the layouts the packer accepts (variant cycles through them). */
function weights(k: number, n: number, variant: number, next: () => number): Qc8wWeights {
  const transB = variant % 2 === 1;
  const unsigned = variant % 3 === 2;
  const pad = variant % 5;
  const ld = (transB ? k : n) + pad;
  const count = Math.max(1, (transB ? n : k) * ld);
  const data = unsigned ? Uint8Array.from(integers(count, next, 0, 255)) : Int8Array.from(integers(count, next, -128, 127));
  const perColumn = variant % 4 !== 3;
  const scale = Float32Array.from({ length: perColumn ? n : 1 }, () => 0.001 + next() * 0.02);
  let zeroPoint: Int8Array | Uint8Array | undefined;
  if (variant % 7 >= 4) {
    const zps = integers(perColumn ? n : 1, next, unsigned ? 0 : -128, unsigned ? 255 : 127);
    zeroPoint = unsigned ? Uint8Array.from(zps) : Int8Array.from(zps);
  } else if (unsigned && variant % 7 === 2) {
    zeroPoint = Uint8Array.of(128); // the common uint8 per-tensor zero point
  }
  return { k, n, data, transB, ld, scale, zeroPoint };
}

describe.each(ISAS)('int8 product (%s)', (isa) => {
  const h = new KernelHost(isa);

  it('equals the same-quantization reference bit for bit on every tail, layout and option', () => {
    const next = rng(7);
    let variant = 0;
    let cases = 0;
    for (const m of [1, 2, 3, 4, 5, 7, 9]) {
      for (const n of [1, 3, 8, 9, 17]) {
        for (const k of [1, 3, 4, 5, 31, 33, 64]) {
          variant++;
          const w = weights(k, n, variant, next);
          const c: Case = {
            m, a: uniform(m * k, next, -2, 1.5), w, lda: k + (variant % 3), ldc: n + (variant % 2),
            bias: variant % 2 ? uniform(n, next) : undefined,
            accumulate: variant % 3 === 1 ? uniform(m * n, next) : undefined,
          };
          const got = run(h, c);
          const want = qc8wProductRef(c.a, m, w, c).out;
          expect(Array.from(got), `m=${m} n=${n} k=${k} variant=${variant}`).toEqual(Array.from(want));
          cases++;
        }
      }
    }
    expect(cases).toBe(245);
  });

  it('covers the 4-row tile and several panel slices: m = 13, n = 70, k = 300', () => {
    const next = rng(11);
    const w = weights(300, 70, 4, next);
    const a = gaussian(13 * 300, next);
    expect(Array.from(run(h, { m: 13, a, w }))).toEqual(Array.from(qc8wProductRef(a, 13, w).out));
  });

  it('keeps every activation code in [0, 127] (the 7-bit operand), whatever the row', () => {
    const k = 37;
    const rows = [
      uniform(k, rng(1), -5, -1), // all negative
      uniform(k, rng(2), 1, 5), // all positive
      uniform(k, rng(3), -1e30, 1e30), // huge range
      uniform(k, rng(4), -1e-30, 1e-30), // below 2⁻¹⁰⁰: zeros
      Float32Array.from({ length: k }, (_, x) => (x % 2 ? 3.4e38 : -3.4e38)),
      Float32Array.from({ length: k }, (_, x) => x - 18),
    ];
    for (const row of rows) {
      h.reset();
      const m = 1;
      const ws = h.alloc(h.call('qd8_f32_qc8w_gemm_workspace_bytes', m, k), 0xff);
      h.call('f32_qd8_convert', h.params('QGEMM_', { A: h.put(row), LDA: k, M: m, K: k, WORKSPACE: ws }));
      // header: scale f32, zp i32, rowsum i32, 0; then one block of 4 rows × 4-code groups
      const header = h.i32(ws, 4);
      const ref = quantizeQd8Row(row);
      expect(header[1]).toBe(ref.zp);
      expect(header[2]).toBe(ref.rowSum);
      const elem = isa === 'relaxed' ? 1 : 2;
      const groups = Math.ceil(k / 4);
      const block = h.bytes(ws + 16, groups * 16 * elem);
      const codes: number[] = [];
      for (let g = 0; g < groups; g++) {
        for (let t = 0; t < 4; t++) {
          const at = g * 16 * elem + t * elem; // row 0 of the block
          codes.push(elem === 1 ? block[at] : block[at] | (block[at + 1] << 8));
        }
      }
      for (const q of codes) expect(q >= 0 && q <= 127).toBe(true);
      expect(codes.slice(0, k)).toEqual(Array.from(ref.codes));
      expect(codes.slice(k)).toEqual(new Array(groups * 4 - k).fill(0));
    }
  });

  it('stays exact with extreme operands (weights −128 / 127 and 0 / 255, codes 0 and 127)', () => {
    const k = 64;
    const n = 16;
    const m = 6;
    // Rows whose codes are only 0 and 127 (two-valued rows: min → 0, max → 127).
    const a = new Float32Array(m * k);
    for (let i = 0; i < m; i++) for (let x = 0; x < k; x++) a[i * k + x] = ((x >> i) & 1) ? 1 : i % 2 ? -1 : 0;
    const signed = Int8Array.from({ length: k * n }, (_, t) => ((t * 7) % 3 === 0 ? -128 : 127));
    const unsignedData = Uint8Array.from({ length: k * n }, (_, t) => ((t * 5) % 3 === 0 ? 0 : 255));
    const scale = Float32Array.from({ length: n }, (_, j) => 2 ** -(j % 5));
    const layouts: Qc8wWeights[] = [
      { k, n, data: signed, transB: false, ld: n, scale },
      { k, n, data: unsignedData, transB: false, ld: n, scale, zeroPoint: Uint8Array.from({ length: n }, (_, j) => (j * 37) % 256) },
      { k, n, data: signed, transB: true, ld: k, scale, zeroPoint: Int8Array.of(-128) },
    ];
    for (const w of layouts) {
      const got = run(h, { m, a, w });
      const ref = qc8wProductRef(a, m, w);
      for (let i = 0; i < m; i++) expect(Array.from(quantizeQd8Row(a.subarray(i * k, i * k + k)).codes).every((q) => q === 0 || q === 127)).toBe(true);
      expect(Array.from(got)).toEqual(Array.from(ref.out));
    }
  });

  it('shares one quantized A between products (QGEMM_A_QUANTIZED)', () => {
    const next = rng(5);
    const m = 6;
    const k = 48;
    const w1 = weights(k, 11, 1, next);
    const w2 = weights(k, 11, 2, next);
    const a = gaussian(m * k, next);
    h.reset();
    const ws = h.alloc(h.call('qd8_f32_qc8w_gemm_workspace_bytes', m, k));
    h.call('f32_qd8_convert', h.params('QGEMM_', { A: h.put(a), LDA: k, M: m, K: k, WORKSPACE: ws }));
    for (const w of [w1, w2]) {
      const packed = h.alloc(h.call('qc8w_gemm_packed_b_bytes', w.n, k));
      h.call('qc8w_gemm_pack_b', h.params('QPACK_', {
        B: h.put(w.data), LDB: w.ld, TRANS_B: w.transB ? 1 : 0, UNSIGNED: w.data instanceof Uint8Array ? 1 : 0,
        N: w.n, K: k, SCALE: h.put(w.scale), SCALE_STRIDE: w.scale.length === 1 ? 0 : 1, DST: packed,
        ZERO_POINT: w.zeroPoint ? h.put(w.zeroPoint) : 0, ZERO_POINT_STRIDE: w.zeroPoint && w.zeroPoint.length > 1 ? 1 : 0,
      }));
      const pc = h.alloc(m * w.n * 4);
      // A = 0 (never read): the workspace already holds its codes.
      h.call('qd8_f32_qc8w_gemm', h.params('QGEMM_', {
        A: 0, LDA: k, B: packed, C: pc, LDC: w.n, M: m, N: w.n, K: k, WORKSPACE: ws, A_QUANTIZED: 1,
      }));
      expect(Array.from(h.f32(pc, m * w.n))).toEqual(Array.from(qc8wProductRef(a, m, w).out));
    }
    expect(h.guardDamage()).toBe(0);
  });

  it('is within 2.5% relative RMS of the float32 product on Gaussian data (768 × 256)', () => {
    const next = rng(21);
    const m = 16;
    const k = 768;
    const n = 256;
    const a = gaussian(m * k, next);
    const wf = gaussian(k * n, next, 0.05);
    const { q, scale } = quantizeWeightsInt8(wf, k, n);
    const got = run(h, { m, a, w: { k, n, data: q, transB: false, ld: n, scale } });
    const want = productF64(a, m, k, n, (x, j) => wf[x * n + j]);
    const err = relativeRms(got, want);
    expect(err).toBeLessThan(0.025);
    expect(err).toBeGreaterThan(0.002); // the quantization is really there
  });

  it('turns exactly the rows holding NaN or ±∞ non-finite', () => {
    const next = rng(3);
    const m = 5;
    const k = 20;
    const n = 9;
    const w = weights(k, n, 1, next);
    const a = uniform(m * k, next);
    a[1 * k + 7] = NaN;
    a[3 * k + 2] = Infinity;
    const got = run(h, { m, a, w });
    const ref = qc8wProductRef(a, m, w).out;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        if (i === 1) expect(got[i * n + j]).toBeNaN();
        else if (i === 3) expect(Number.isFinite(got[i * n + j])).toBe(false);
        else expect(got[i * n + j]).toBe(ref[i * n + j]);
      }
    }
  });

  it('f32 epilogue: the bit-exact reference is within 1e-5 of the float64 value of the same integers', () => {
    // Guards the reference itself: f32(corr) · f32(sA · sB) against corr · sA · sB in float64.
    const next = rng(9);
    const w = weights(40, 12, 1, next);
    const a = gaussian(3 * 40, next);
    const { corr, out } = qc8wProductRef(a, 3, w);
    for (let i = 0; i < 3; i++) {
      const q = quantizeQd8Row(a.subarray(i * 40, i * 40 + 40));
      for (let j = 0; j < 12; j++) {
        const exact = corr[i * 12 + j] * q.scale * w.scale[j];
        expect(Math.abs(out[i * 12 + j] - exact)).toBeLessThanOrEqual(1e-5 * Math.abs(exact) + f32(0));
      }
    }
  });
});
