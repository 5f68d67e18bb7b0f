// The GGUF writer's encoders (test/helpers/gguf-quantize.ts) against hand-derived bytes of ggml's
// reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref) and an exhaustive /
// brute-force check of the float32 → float16 rounding.

import { describe, expect, it } from 'vitest';
import {
  dequantizeQ4_0, dequantizeQ8_0, encodeF16, f16BitsToF32, f32ToF16Bits, quantizeQ4_0, quantizeQ8_0,
} from '../helpers/gguf-quantize';

/** A block of 32 values: `head` then zeros. */
const block = (head: number[]): Float32Array => {
  const x = new Float32Array(32);
  x.set(head);
  return x;
};

/** Seeded values (a linear congruential generator), uniform in (−scale, scale). */
function seeded(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

describe('float32 → float16 (ggml GGML_FP32_TO_FP16: round to nearest even)', () => {
  it('every finite half converts back to its own bits', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });

  it('midpoints between neighbouring halves go to the even one; anything off the midpoint to the nearer', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 0x7bff; h++) {
      const lo = f16BitsToF32(h);
      const hi = f16BitsToF32(h + 1);
      f[0] = (lo + hi) / 2; // exact in float32 (12 significant bits)
      expect(f[0]).toBe((lo + hi) / 2);
      const even = h % 2 === 0 ? h : h + 1;
      expect(f32ToF16Bits(f[0])).toBe(even);
      u[0] += 1; // the next float32 above the midpoint
      expect(f32ToF16Bits(f[0])).toBe(h + 1);
      u[0] -= 2; // the float32 below it
      expect(f32ToF16Bits(f[0])).toBe(h);
    }
  });

  it('matches a brute-force nearest half on seeded random floats of every magnitude', () => {
    const halves = Array.from({ length: 0x7c00 }, (_, h) => f16BitsToF32(h)); // 0 … 65504, ascending
    const values = seeded(4000, 7, 1).map((r, i) => r * 2 ** ((i % 46) - 26));
    for (const x of values) {
      const a = Math.abs(x);
      let best = 0;
      for (let h = 1; h < halves.length; h++) {
        const d = Math.abs(halves[h] - a) - Math.abs(halves[best] - a);
        if (d < 0 || (d === 0 && h % 2 === 0)) best = h;
      }
      if (a >= 65520) best = 0x7c00; // beyond the last midpoint: infinity
      expect(f32ToF16Bits(x), `x = ${x}`).toBe((x < 0 || Object.is(x, -0) ? 0x8000 : 0) | best);
    }
  });

  it('overflows to infinity at 65520, keeps signs of zero, and maps NaN to 0x7e00', () => {
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519.99)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e9)).toBe(0xfc00);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(NaN)).toBe(0x7e00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // half of the smallest subnormal: ties to even (zero)
    expect(f32ToF16Bits(Math.fround(2 ** -25 * 1.0000001))).toBe(1);
    expect(f32ToF16Bits(1.5 * 2 ** -24)).toBe(2);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x400); // the largest subnormal's tie rounds up to the smallest normal
  });
});

describe('Q8_0 (quantize_row_q8_0_ref)', () => {
  it('gives the bytes ggml gives for a block with scale 1 (roundf: halves away from zero)', () => {
    // amax = 127 → d = 1 (f16 0x3c00), id = 1; roundf(2.5) = 3, roundf(−2.5) = −3 (Math.round gives −2).
    const bytes = quantizeQ8_0(block([127, 2.5, -2.5, 0.5, -0.5, 1.49, -1.51, -126.5]));
    expect(Array.from(bytes.subarray(0, 10))).toEqual([0x00, 0x3c, 127, 3, 0xfd, 1, 0xff, 1, 0xfe, 0x81]);
    expect(bytes.subarray(10).every((b) => b === 0)).toBe(true);
    expect(bytes.length).toBe(34);
  });

  it('an all-zero block has d = 0 and zero quants', () => {
    expect(Array.from(quantizeQ8_0(new Float32Array(32)))).toEqual(new Array(34).fill(0));
  });

  it('scales by the block maximum: d = amax/127 as f16, |x − q·d| within half a step (seeded data, 64 blocks)', () => {
    const x = seeded(64 * 32, 3, 2);
    const bytes = quantizeQ8_0(x);
    const view = new DataView(bytes.buffer);
    const back = dequantizeQ8_0(bytes);
    for (let b = 0; b < 64; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
      const d = f16BitsToF32(view.getUint16(b * 34, true));
      expect(d).toBe(f16BitsToF32(f32ToF16Bits(amax / 127)));
      for (let j = 0; j < 32; j++) expect(Math.abs(x[b * 32 + j] - back[b * 32 + j])).toBeLessThanOrEqual(0.5 * d + 127 * d * 2 ** -11);
    }
  });
});

describe('Q4_0 (quantize_row_q4_0_ref)', () => {
  it('gives the bytes ggml gives for a block with scale 1 (truncation of x/d + 8.5, clamp at 15)', () => {
    // max = −8 → d = −8/−8 = 1 (0x3c00), id = 1; q = min(15, trunc(x + 8.5)).
    const x = block([-8, 7, 7.6, 0.4, -0.6, 0.5, -0.5, 3.49]);
    x[16] = -7; // q = trunc(1.5) = 1, the high nibble of byte 0
    x[17] = 6.6; // q = 15
    const bytes = quantizeQ4_0(x);
    // low nibbles: 0, 15, 15, 8, 7, 9, 8, 11, then 8 (zeros); high nibbles: 1, 15, then 8.
    expect(Array.from(bytes.subarray(0, 10))).toEqual([0x00, 0x3c, 0x10, 0xff, 0x8f, 0x88, 0x87, 0x89, 0x88, 0x8b]);
    expect(bytes.subarray(10).every((b) => b === 0x88)).toBe(true);
    expect(bytes.length).toBe(18);
  });

  it('takes the sign of the FIRST value of largest magnitude (d = max/−8)', () => {
    // max = +4 (first) → d = −0.5, id = −2: q(4) = trunc(0.5) = 0, q(−4) = min(15, 16) = 15.
    const bytes = quantizeQ4_0(block([4, -4]));
    expect(f16BitsToF32(bytes[0] | (bytes[1] << 8))).toBe(-0.5);
    expect(bytes[2]).toBe(0x80);
    expect(bytes[3]).toBe(0x8f);
  });

  it('an all-zero block stores d = −0 (0.0f / −8 in C: f16 0x8000) and nibbles of 8', () => {
    expect(Array.from(quantizeQ4_0(new Float32Array(32)))).toEqual([0x00, 0x80, ...new Array(16).fill(0x88)]);
  });

  it('|x − (q − 8)·d| stays within one step |d| on seeded data (64 blocks)', () => {
    const x = seeded(64 * 32, 5, 1);
    const bytes = quantizeQ4_0(x);
    const back = dequantizeQ4_0(bytes);
    for (let b = 0; b < 64; b++) {
      const d = Math.abs(f16BitsToF32(bytes[b * 18] | (bytes[b * 18 + 1] << 8)));
      for (let j = 0; j < 32; j++) expect(Math.abs(x[b * 32 + j] - back[b * 32 + j])).toBeLessThanOrEqual(d * (1 + 2 ** -9));
    }
  });
});

describe('F16 tensors', () => {
  it('are little-endian halves', () => {
    expect(Array.from(encodeF16(Float32Array.of(1, -2, 0.5)))).toEqual([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]);
  });

  it('reject blocks that are not whole', () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(/multiple of 32/);
    expect(() => quantizeQ4_0(new Float32Array(31))).toThrow(/multiple of 32/);
  });
});
