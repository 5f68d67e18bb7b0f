// onnx-cases.ts — loads the ONNX `Attention` conformance cases (test/fixtures/onnx-attention, see its
// PROVENANCE.md)
// into typed arrays. float16 tensors are widened to float32 (exactly: every float16 is a float32).
// Directory: $ONNX_CONFORMANCE_DIR, else the repository's own copy, ../fixtures/onnx-attention from here.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type CaseDtype = 'float32' | 'float16' | 'float64' | 'int64' | 'bool';

export interface CaseTensor {
  name: string;
  dtype: CaseDtype;
  shape: number[];
  data: string;
}

export interface ConformanceCase {
  name: string;
  op: string;
  opset: number;
  attributes: Record<string, number>;
  inputs: (CaseTensor | null)[];
  outputs: (CaseTensor | null)[];
}

export const INPUT_ORDER = ['Q', 'K', 'V', 'attn_mask', 'past_key', 'past_value', 'nonpad_kv_seqlen'] as const;
export const OUTPUT_ORDER = ['Y', 'present_key', 'present_value', 'qk_matmul_output'] as const;

export const CONFORMANCE_DIR =
  process.env['ONNX_CONFORMANCE_DIR'] ??
  fileURLToPath(new URL('../fixtures/onnx-attention/', import.meta.url));

/** Raw little-endian bytes from base64, in a fresh (aligned) ArrayBuffer. */
export function caseBytes(b64: string): ArrayBuffer {
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** IEEE 754 binary16 → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The tensor's values: float32 (float16/float64 converted), Uint8Array for bool, BigInt64Array for int64. */
export function decodeTensor(t: CaseTensor): Float32Array | Uint8Array | BigInt64Array {
  const buf = caseBytes(t.data);
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float16':
      return Float32Array.from(new Uint16Array(buf), halfToFloat);
    case 'float64':
      return Float32Array.from(new Float64Array(buf));
    case 'int64':
      return new BigInt64Array(buf);
    case 'bool':
      return new Uint8Array(buf);
  }
}

/** True when any input or output of the case is float16. */
export function isFloat16Case(c: ConformanceCase): boolean {
  return [...c.inputs, ...c.outputs].some((t) => t !== null && t.dtype === 'float16');
}

/** Every case in the directory, sorted by file name. */
export function loadConformanceCases(dir = CONFORMANCE_DIR): ConformanceCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ConformanceCase);
}
