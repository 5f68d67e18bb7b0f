// gguf-quantize.ts — float32 → the ggml block formats the GGUF writer produces (F16, Q8_0, Q4_0),
// byte for byte as ggml's reference quantizers (ggml-quants.c, "reference implementation for
// deterministic creation of model files"), and back (for tests). Test code: never shipped.
//
// ggml computes in float32; every step here is rounded to float32 with Math.fround (a float64
// product, quotient or sum of float32 operands rounds to the same float32 as the float32 operation).
//   quantize_row_q8_0_ref, per block of 32:  amax = max |x|;  d = amax / 127;  id = d ? 1/d : 0;
//     qs[j] = roundf(x[j]·id)   (roundf: halves away from zero, unlike Math.round);  d stored as f16
//   quantize_row_q4_0_ref, per block of 32:  max = the x of largest |x| (the first one on ties);
//     d = max / −8;  id = d ? 1/d : 0;  q(x) = min(15, (int8)(x·id + 8.5))  (truncation toward zero);
//     qs[j] = q(x[j]) | q(x[j + 16]) << 4 for j < 16;  d stored as f16
//   GGML_FP32_TO_FP16: IEEE round to nearest, ties to even; overflow → ±inf; NaN → 0x7e00 (sign kept).
// A compiler that contracts x·id + 8.5 into one fused multiply-add (-ffp-contract with FMA
// hardware) can differ from the reference in rare ties; the reference is what is written here.

/** Elements per Q8_0 / Q4_0 block. */
export const QK = 32;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE binary16 bits, round to nearest even (ggml's GGML_FP32_TO_FP16). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const w = u32[0];
  const sign = (w >>> 16) & 0x8000;
  const exp = (w >>> 23) & 0xff;
  const mant = w & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf, or a quiet NaN
  const e = exp - 127 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large: inf
  if (e <= 0) {
    // A half subnormal (units of 2^-24) or zero: drop 14 − e bits of the 24-bit significand.
    if (e < -10) return sign; // below 2^-25: rounds to zero
    const full = mant | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h; // h = 0x400 (the smallest normal) encodes correctly too
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry may reach inf: correct
  return sign | h;
}

/** IEEE binary16 bits → the number (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function checkBlocks(x: Float32Array, format: string): number {
  if (x.length % QK !== 0) throw new RangeError(`${format} needs a multiple of ${QK} values, got ${x.length}`);
  return x.length / QK;
}

/** C's roundf: to nearest, halves away from zero. */
const roundf = (v: number): number => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

/** Float32 values → Q8_0 blocks (34 bytes per 32 values), as quantize_row_q8_0_ref. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const blocks = checkBlocks(x, 'Q8_0');
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x0 = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[x0 + j]));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = b * 34;
    view.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < QK; j++) out[o + 2 + j] = roundf(Math.fround(x[x0 + j] * id)) & 0xff;
  }
  return out;
}

/** Float32 values → Q4_0 blocks (18 bytes per 32 values), as quantize_row_q4_0_ref. */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const blocks = checkBlocks(x, 'Q4_0');
  const out = new Uint8Array(blocks * 18);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x0 = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[x0 + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = b * 18;
    view.setUint16(o, f32ToF16Bits(d), true);
    const q = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < QK / 2; j++) out[o + 2 + j] = q(x[x0 + j]) | (q(x[x0 + QK / 2 + j]) << 4);
  }
  return out;
}

/** Float32 values → F16 (2 bytes each, little-endian). */
export function encodeF16(x: Float32Array): Uint8Array {
  const out = new Uint8Array(2 * x.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) view.setUint16(2 * i, f32ToF16Bits(x[i]), true);
  return out;
}

/** Float32 values → F32 bytes (little-endian). */
export function encodeF32(x: Float32Array): Uint8Array {
  const out = new Uint8Array(4 * x.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) view.setFloat32(4 * i, x[i], true);
  return out;
}

/** Q8_0 blocks → float32 values (ggml's dequantize_row_q8_0: qs·d). */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / 34;
  const out = new Float32Array(blocks * QK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const d = f16BitsToF32(view.getUint16(b * 34, true));
    for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(b * 34 + 2 + j) * d;
  }
  return out;
}

/** Q4_0 blocks → float32 values (ggml's dequantize_row_q4_0: (nibble − 8)·d). */
export function dequantizeQ4_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / 18;
  const out = new Float32Array(blocks * QK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const d = f16BitsToF32(view.getUint16(b * 18, true));
    for (let j = 0; j < QK / 2; j++) {
      const byte = bytes[b * 18 + 2 + j];
      out[b * QK + j] = ((byte & 0x0f) - 8) * d;
      out[b * QK + QK / 2 + j] = ((byte >>> 4) - 8) * d;
    }
  }
  return out;
}
