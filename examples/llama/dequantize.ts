// dequantize.ts — ggml tensor bytes (F32, F16, Q8_0, Q4_0) to float32 values, row by row or whole:
// the token embedding's rows are looked up this way, and weights are widened this way where a
// model keeps them as f32. The block layouts are ggml-types.ts's (ggml-common.h):
//   Q8_0  { f16 d; i8 qs[32] }   x[j] = qs[j]·d
//   Q4_0  { f16 d; u8 qs[16] }   x[j] = ((qs[j] & 15) − 8)·d, x[j + 16] = ((qs[j] >> 4) − 8)·d  (j < 16)
// Exact: every value is a float32 product of a half and a small integer, as ggml's
// dequantize_row_q8_0 / dequantize_row_q4_0 compute it.

import type { GgmlTypeInfo } from './ggml-types';

/** The ggml types these functions widen. */
export const DEQUANTIZABLE_TYPES: readonly string[] = ['F32', 'F16', 'Q8_0', 'Q4_0'];

/** An IEEE half (its 16 bits) as a number (exact). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Widens `count` values of a tensor of `type`, starting at value `first` (a multiple of the
 * type's block size), into `out` at `outOffset`. Throws for a type outside DEQUANTIZABLE_TYPES.
 */
export function dequantizeInto(
  type: GgmlTypeInfo, bytes: Uint8Array, first: number, count: number, out: Float32Array, outOffset = 0,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type.name) {
    case 'F32':
      for (let i = 0; i < count; i++) out[outOffset + i] = view.getFloat32(4 * (first + i), true);
      return;
    case 'F16':
      for (let i = 0; i < count; i++) out[outOffset + i] = halfToFloat(view.getUint16(2 * (first + i), true));
      return;
    case 'Q8_0':
      for (let b = 0; b < count / 32; b++) {
        const at = ((first / 32) + b) * 34;
        const d = halfToFloat(view.getUint16(at, true));
        for (let j = 0; j < 32; j++) out[outOffset + 32 * b + j] = view.getInt8(at + 2 + j) * d;
      }
      return;
    case 'Q4_0':
      for (let b = 0; b < count / 32; b++) {
        const at = ((first / 32) + b) * 18;
        const d = halfToFloat(view.getUint16(at, true));
        const o = outOffset + 32 * b;
        for (let j = 0; j < 16; j++) {
          const q = bytes[at + 2 + j];
          out[o + j] = ((q & 15) - 8) * d;
          out[o + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      return;
    default:
      throw new Error(`cannot widen ggml type ${type.name} to float32; known: ${DEQUANTIZABLE_TYPES.join(', ')}`);
  }
}

/** A whole tensor widened to float32 (a copy; for F32, the bytes copied). */
export function dequantize(type: GgmlTypeInfo, bytes: Uint8Array, elements: number): Float32Array {
  const out = new Float32Array(elements);
  dequantizeInto(type, bytes, 0, elements, out);
  return out;
}
