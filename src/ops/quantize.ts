// quantize.ts — float32 weights → the quantized formats rt.quantizeMatrix stores, in JavaScript
// (once per matrix, at load time): int8 with one scale per output column, and GGUF's q8_0 / q4_0
// blocks byte for byte as ggml's reference quantizers compute them. The block scales are returned
// as float32 here; the caller converts them to f16 with the Wasm kernel (exact round to nearest even).
//
//   int8, per column j:   s = f32(max |w[·][j]| / 127);  q = clamp(rne(w / s), −127, 127)  (s = 0: q = 0)
//   q8_0 (ggml quantize_row_q8_0_ref), per block of 32:  d = amax / 127;  id = d ? 1/d : 0;
//        q = roundf(x · id)  (halves away from zero)
//   q4_0 (ggml quantize_row_q4_0_ref), per block of 32:  max = the x of largest |x| (first on ties);
//        d = max / −8;  id = d ? 1/d : 0;  q = min(15, trunc(x · id + 8.5));  byte t = q(x[t]) | q(x[t+16]) << 4
// Every step is rounded to float32 (Math.fround), as ggml computes in float32.

/** Reads element (row j, depth x) of the weights: rows are output channels. */
export type WeightAt = (j: number, x: number) => number;

const f32 = Math.fround;

/** Round half to even (Wasm's `nearest`). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** int8 codes (stored in the caller's layout via `index(j, x)`) and one scale per output column. */
export function quantizeInt8(at: WeightAt, n: number, k: number, index: (j: number, x: number) => number): { codes: Int8Array; scales: Float32Array } {
  const codes = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let amax = 0;
    for (let x = 0; x < k; x++) amax = Math.max(amax, Math.abs(at(j, x)));
    const s = f32(amax / 127);
    scales[j] = s;
    if (s === 0) continue;
    for (let x = 0; x < k; x++) codes[index(j, x)] = Math.max(-127, Math.min(127, roundHalfEven(at(j, x) / s)));
  }
  return { codes, scales };
}

/** Bytes of one GGUF block of 32 weights. */
export const BLOCK_BYTES = { q8_0: 34, q4_0: 18 } as const;

/**
 * GGUF q8_0 or q4_0 blocks of the n rows (each k / 32 blocks, k a multiple of 32), with each
 * block's 2 scale bytes left 0, and the blocks' scales d as float32 (n · k/32, in block order).
 */
export function quantizeBlocks(format: 'q8_0' | 'q4_0', at: WeightAt, n: number, k: number): { blocks: Uint8Array; scales: Float32Array } {
  const nb = k / 32;
  const size = BLOCK_BYTES[format];
  const blocks = new Uint8Array(n * nb * size);
  const scales = new Float32Array(n * nb);
  const x = new Float32Array(32);
  for (let j = 0; j < n; j++) {
    for (let b = 0; b < nb; b++) {
      for (let t = 0; t < 32; t++) x[t] = at(j, b * 32 + t);
      const at0 = (j * nb + b) * size + 2;
      scales[j * nb + b] = format === 'q8_0' ? q8_0Block(x, blocks, at0) : q4_0Block(x, blocks, at0);
    }
  }
  return { blocks, scales };
}

function q8_0Block(x: Float32Array, out: Uint8Array, at: number): number {
  let amax = 0;
  for (let t = 0; t < 32; t++) amax = Math.max(amax, Math.abs(x[t]));
  const d = f32(amax / 127);
  const id = d ? f32(1 / d) : 0;
  for (let t = 0; t < 32; t++) {
    const v = f32(x[t] * id);
    out[at + t] = (Math.sign(v) * Math.round(Math.abs(v))) & 255; // roundf: halves away from zero
  }
  return d;
}

function q4_0Block(x: Float32Array, out: Uint8Array, at: number): number {
  let amax = 0;
  let max = 0;
  for (let t = 0; t < 32; t++) {
    if (Math.abs(x[t]) > amax) {
      amax = Math.abs(x[t]);
      max = x[t];
    }
  }
  const d = f32(max / -8);
  const id = d ? f32(1 / d) : 0;
  for (let t = 0; t < 16; t++) {
    const q0 = Math.min(15, Math.trunc(f32(f32(x[t] * id) + 8.5)));
    const q1 = Math.min(15, Math.trunc(f32(f32(x[t + 16] * id) + 8.5)));
    out[at + t] = q0 | (q1 << 4);
  }
  return d;
}
