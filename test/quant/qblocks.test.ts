// The block-format products (assembly/qblocks.ts: GGUF q8_0 / q4_0, ONNX MatMulNBits 4-bit) in
// both binaries, against test/reference/quant.ts:
//  - bit-exact against the same-quantization reference (exact block dots, the documented float32
//    accumulation) on tails of m and n, k = 32 … 160, bias and accumulation, strided A and C;
//    also within 1e-5 of the float64 value of the same integers;
//  - the byte layouts, from hand-built blocks with known values: f16 d first and little-endian,
//    q4_0's low nibbles = elements 0..15 and high nibbles = 16..31, MatMulNBits' element 2i in
//    the low nibble of byte i, its 4-bit zero points two blocks per byte (low first), default 8;
//  - accuracy against the float32 product on Gaussian data: q8_0 ≤ 2%, q4_0 and MatMulNBits
//    ≤ 12% relative RMS.

import { describe, expect, it } from 'vitest';
import {
  blockProductRef, decodeQ4_0Row, decodeQ8_0Row, decodeQb4wRow, numberToF16, productF64, quantizeQ4_0,
  quantizeQ8_0, quantizeQb4w, relativeRms, type BlockRow,
} from '../reference/quant';
import { gaussian, integers, rng, uniform } from './data';
import { KernelHost, type Isa } from './host';

const ISAS: Isa[] = ['simd128', 'relaxed'];
type Format = 'q8_0' | 'q4_0' | 'qb4w';
const KERNEL: Record<Format, string> = { q8_0: 'qd8_f32_q8_0_gemm', q4_0: 'qd8_f32_q4_0_gemm', qb4w: 'qd8_f32_qb4w_gemm' };

/** Weights of one format as the kernel reads them, and their decoded rows for the reference. */
interface BlockWeights {
  format: Format;
  n: number;
  k: number;
  bytes: Uint8Array;
  scales?: Float32Array;
  zeroPoints?: Uint8Array;
}

function decode(w: BlockWeights): BlockRow[] {
  return Array.from({ length: w.n }, (_, j) =>
    w.format === 'q8_0' ? decodeQ8_0Row(w.bytes, w.k, j)
      : w.format === 'q4_0' ? decodeQ4_0Row(w.bytes, w.k, j)
        : decodeQb4wRow(w.bytes, w.scales!, w.zeroPoints, w.k, j));
}

/** Random weights of each format: random codes and scales (every byte pattern is legal). */
function randomWeights(format: Format, n: number, k: number, next: () => number, zeroPoints = false): BlockWeights {
  const nb = k / 32;
  if (format === 'qb4w') {
    return {
      format, n, k, bytes: Uint8Array.from(integers(n * nb * 16, next, 0, 255)),
      scales: Float32Array.from({ length: n * nb }, () => 0.01 + next() * 0.1),
      zeroPoints: zeroPoints ? Uint8Array.from(integers(n * Math.ceil(nb / 2), next, 0, 255)) : undefined,
    };
  }
  const blockBytes = format === 'q8_0' ? 34 : 18;
  const bytes = Uint8Array.from(integers(n * nb * blockBytes, next, 0, 255));
  for (let t = 0; t < n * nb; t++) {
    const h = numberToF16(0.005 + next() * 0.05);
    bytes[t * blockBytes] = h & 255;
    bytes[t * blockBytes + 1] = h >> 8;
  }
  return { format, n, k, bytes };
}

interface Options {
  lda?: number;
  ldc?: number;
  bias?: Float32Array;
  accumulate?: Float32Array;
}

function run(h: KernelHost, w: BlockWeights, a: Float32Array, m: number, o: Options = {}): Float32Array {
  const { n, k } = w;
  const lda = o.lda ?? k;
  const ldc = o.ldc ?? n;
  h.reset();
  const aPadded = new Float32Array(Math.max(1, m * lda)).fill(NaN);
  for (let i = 0; i < m; i++) aPadded.set(a.subarray(i * k, i * k + k), i * lda);
  const cInit = new Float32Array(Math.max(1, m * ldc)).fill(-7.25);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cInit[i * ldc + j] = o.accumulate ? o.accumulate[i * n + j] : NaN;
  const pc = h.put(cInit);
  h.call(KERNEL[w.format], h.params('QB_', {
    A: h.put(aPadded), LDA: lda, W: h.put(w.bytes), SCALES: w.scales ? h.put(w.scales) : 0,
    ZERO_POINTS: w.zeroPoints ? h.put(w.zeroPoints) : 0, C: pc, LDC: ldc, BIAS: o.bias ? h.put(o.bias) : 0,
    M: m, N: n, K: k, WORKSPACE: h.alloc(h.call('qd8_f32_qb_gemm_workspace_bytes', m, k), 0x5a),
    ACCUMULATE: o.accumulate ? 1 : 0,
  }));
  expect(h.guardDamage()).toBe(0);
  const all = h.f32(pc, cInit.length);
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < ldc; j++) {
      if (j < n) out[i * n + j] = all[i * ldc + j];
      else expect(all[i * ldc + j]).toBe(-7.25);
    }
  }
  return out;
}

describe.each(ISAS)('block-format products (%s)', (isa) => {
  const h = new KernelHost(isa);

  it.each([['q8_0'], ['q4_0'], ['qb4w']] as const)('%s: bit-exact against the same-quantization reference on tails', (format) => {
    const next = rng(format.length * 31 + 1);
    let variant = 0;
    for (const m of [1, 2, 3, 5]) {
      for (const n of [1, 2, 3, 4, 5, 7, 9, 17]) {
        for (const k of [32, 64, 160]) {
          variant++;
          const w = randomWeights(format, n, k, next, variant % 2 === 0);
          const a = uniform(m * k, next, -3, 2);
          const o: Options = {
            lda: k + (variant % 3), ldc: n + (variant % 2),
            bias: variant % 3 === 0 ? uniform(n, next) : undefined,
            accumulate: variant % 4 === 1 ? uniform(m * n, next) : undefined,
          };
          const got = run(h, w, a, m, o);
          const ref = blockProductRef(a, m, k, decode(w), o);
          const where = `m=${m} n=${n} k=${k} variant=${variant}`;
          expect(Array.from(got), where).toEqual(Array.from(ref.out));
          for (let t = 0; t < m * n; t++) {
            const bound = 1e-5 * (ref.magnitude[t] + Math.abs(o.bias?.[t % n] ?? 0) + Math.abs(o.accumulate?.[t] ?? 0)) + 1e-30;
            expect(Math.abs(got[t] - ref.exact[t]), where).toBeLessThanOrEqual(bound);
          }
        }
      }
    }
  });

  it('reads GGUF q8_0 byte for byte: { f16 d (little-endian); int8 qs[32] }', () => {
    // Two rows: d = 0.5 (0x3800) with qs[t] = t − 16, and d = −2 (0xc000) with qs[t] = 3·(t % 7) − 9.
    const bytes = new Uint8Array(2 * 34);
    bytes.set([0x00, 0x38], 0);
    bytes.set([0x00, 0xc0], 34);
    const want = (j: number, t: number) => (j === 0 ? 0.5 * (t - 16) : -2 * (3 * (t % 7) - 9));
    for (let t = 0; t < 32; t++) {
      bytes[2 + t] = (t - 16) & 255;
      bytes[34 + 2 + t] = (3 * (t % 7) - 9) & 255;
    }
    // One-hot rows of A pick single weights: e_t · Wᵀ = W[:, t].
    const a = new Float32Array(32 * 32);
    for (let t = 0; t < 32; t++) a[t * 32 + t] = 1;
    const w: BlockWeights = { format: 'q8_0', n: 2, k: 32, bytes };
    const got = run(h, w, a, 32);
    for (let t = 0; t < 32; t++) for (let j = 0; j < 2; j++) expect(got[t * 2 + j]).toBeCloseTo(want(j, t), 6);
    expect(Array.from(got)).toEqual(Array.from(blockProductRef(a, 32, 32, decode(w)).out));
  });

  it('reads GGUF q4_0 byte for byte: { f16 d; uint8 qs[16] }, low nibbles = elements 0..15', () => {
    // d = 1 (0x3c00); byte t holds nibbles t (low) and 15 − t (high): element t = t − 8 and
    // element 16 + t = 7 − t. Second block of the row: d = 0.25 (0x3400), bytes 0x5a → 2, −3.
    const bytes = new Uint8Array(36);
    bytes.set([0x00, 0x3c], 0);
    for (let t = 0; t < 16; t++) bytes[2 + t] = t | ((15 - t) << 4);
    bytes.set([0x00, 0x34], 18);
    bytes.fill(0x5a, 20, 36);
    const want = (x: number) => (x < 16 ? x - 8 : x < 32 ? 7 - (x - 16) : x < 48 ? 0.25 * (10 - 8) : 0.25 * (5 - 8));
    const a = new Float32Array(64 * 64);
    for (let x = 0; x < 64; x++) a[x * 64 + x] = 1;
    const w: BlockWeights = { format: 'q4_0', n: 1, k: 64, bytes };
    const got = run(h, w, a, 64);
    for (let x = 0; x < 64; x++) expect(got[x], `element ${x}`).toBeCloseTo(want(x), 6);
    expect(Array.from(got)).toEqual(Array.from(blockProductRef(a, 64, 64, decode(w)).out));
  });

  it('reads MatMulNBits byte for byte: element 2i in the low nibble of byte i, zero points packed low first', () => {
    // Row 0: byte i = i | (15 − i) << 4 → element 2i = i, 2i + 1 = 15 − i (codes); scales 0.5, 2.
    // Row 1: all bytes 0x31 → even elements 1, odd 3. Zero points: row 0 blocks (2, 13) = byte
    // 0xd2; row 1 blocks (0, 15) = byte 0xf0.
    const k = 64;
    const b = new Uint8Array(2 * 2 * 16);
    for (let blk = 0; blk < 2; blk++) for (let i = 0; i < 16; i++) b[blk * 16 + i] = i | ((15 - i) << 4);
    b.fill(0x31, 32);
    const scales = Float32Array.of(0.5, 2, 1, 0.25);
    const zeroPoints = Uint8Array.of(0xd2, 0xf0);
    const code = (j: number, x: number) => (j === 0 ? ((x % 32) % 2 === 0 ? (x % 32) / 2 : 15 - ((x % 32) - 1) / 2) : x % 2 === 0 ? 1 : 3);
    const zp = (j: number, blk: number) => (j === 0 ? [2, 13][blk] : [0, 15][blk]);
    const a = new Float32Array(k * k);
    for (let x = 0; x < k; x++) a[x * k + x] = 1;
    for (const withZp of [true, false]) {
      const w: BlockWeights = { format: 'qb4w', n: 2, k, bytes: b, scales, zeroPoints: withZp ? zeroPoints : undefined };
      const got = run(h, w, a, k);
      for (let x = 0; x < k; x++) {
        for (let j = 0; j < 2; j++) {
          const blk = x >> 5;
          const value = scales[j * 2 + blk] * (code(j, x) - (withZp ? zp(j, blk) : 8));
          expect(got[x * 2 + j], `element ${x} row ${j} zp=${withZp}`).toBeCloseTo(value, 5);
        }
      }
      expect(Array.from(got)).toEqual(Array.from(blockProductRef(a, k, k, decode(w)).out));
    }
  });

  it.each([
    ['q8_0', 0.02],
    ['q4_0', 0.12],
    ['qb4w', 0.12],
  ] as const)('%s: relative RMS against the float32 product on Gaussian data ≤ %s', (format, bound) => {
    const next = rng(99);
    const m = 8;
    const k = 768;
    const n = 96;
    const a = gaussian(m * k, next);
    const wf = gaussian(n * k, next, 0.05); // rows = output channels
    let w: BlockWeights;
    if (format === 'q8_0') w = { format, n, k, bytes: quantizeQ8_0(wf, n, k) };
    else if (format === 'q4_0') w = { format, n, k, bytes: quantizeQ4_0(wf, n, k) };
    else {
      const q = quantizeQb4w(wf, n, k, true);
      w = { format, n, k, bytes: q.b, scales: q.scales, zeroPoints: q.zp };
    }
    const got = run(h, w, a, m);
    const err = relativeRms(got, productF64(a, m, k, n, (x, j) => wf[j * k + x]));
    expect(err).toBeLessThan(bound);
    expect(err).toBeGreaterThan(bound / 50); // the quantization is really there
  });

  it('shares one quantized A between products (QB_A_QUANTIZED)', () => {
    const next = rng(4);
    const m = 3;
    const k = 96;
    const a = gaussian(m * k, next);
    h.reset();
    const ws = h.alloc(h.call('qd8_f32_qb_gemm_workspace_bytes', m, k));
    h.call('f32_qd8b32_convert', h.params('QB_', { A: h.put(a), LDA: k, M: m, K: k, WORKSPACE: ws }));
    for (const format of ['q8_0', 'q4_0', 'qb4w'] as const) {
      const w = randomWeights(format, 6, k, next, true);
      const pc = h.alloc(m * 6 * 4);
      h.call(KERNEL[format], h.params('QB_', {
        A: 0, LDA: k, W: h.put(w.bytes), SCALES: w.scales ? h.put(w.scales) : 0, ZERO_POINTS: w.zeroPoints ? h.put(w.zeroPoints) : 0,
        C: pc, LDC: 6, M: m, N: 6, K: k, WORKSPACE: ws, A_QUANTIZED: 1,
      }));
      expect(Array.from(h.f32(pc, m * 6))).toEqual(Array.from(blockProductRef(a, m, k, decode(w)).out));
    }
    expect(h.guardDamage()).toBe(0);
  });
});
