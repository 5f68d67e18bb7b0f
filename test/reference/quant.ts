// reference/quant.ts — oracles for the low-precision kernels (assembly/qd8.ts, qgemm.ts, qblocks.ts,
// f16.ts), written from the formats' definitions, independent of the kernels and of src/.
//
// Two kinds of reference:
//  - same quantization: the activation quantizers exactly as the kernel headers define them
//    (each float32 operation emulated with Math.fround, round half to even), the integer dot
//    products exact in JavaScript numbers, and the float32 epilogue in the documented order — so
//    a kernel must match bit for bit;
//  - float64: the plain product of the float32 (or dequantized) values, for error bounds and for
//    the accuracy of each format against the unquantized product.
// Weight quantizers (int8 per channel, GGUF q8_0 / q4_0 as ggml's quantize_row_*_ref,
// MatMulNBits 4-bit blocks) build test weights; f16 encode/decode are written from IEEE 754's
// definition of binary16 (exponent bias 15, 10 mantissa bits, subnormals below 2⁻¹⁴).

export const f32 = Math.fround;

/** Round half to even (Wasm's `nearest`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Wasm's saturating f32 → i32 truncation of an already integral value (NaN → 0). */
function toI32Sat(x: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.max(-2147483648, Math.min(2147483647, x));
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** 2⁻¹⁰⁰: ranges below it quantize to zeros (the kernels' guard against 127 / range overflowing). */
export const TINY_RANGE = 2 ** -100;

// ── f16 ──

/** The value of binary16 bits h (exact). */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** binary16 bits of a number, rounded to nearest even (NaN → 0x7e00 with its sign). */
export function numberToF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(a)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00; // 65504 is the largest f16; 65520 is halfway to 2¹⁶
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // may round up to 0x400, the smallest normal
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven(a / 2 ** (e - 10)); // in [1024, 2048]
  if (m === 2048) {
    m = 1024;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | (m - 1024);
}

/** binary16 bits of float32 bits (NaN keeps its sign and top 9 payload bits, made quiet). */
export function f32BitsToF16(bits: number): number {
  const exp = (bits >>> 23) & 255;
  const mant = bits & 0x7fffff;
  if (exp === 255 && mant !== 0) return ((bits >>> 16) & 0x8000) | 0x7e00 | (mant >>> 13);
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits >>> 0);
  return numberToF16(view.getFloat32(0));
}

// ── int8 W8A8 (qd8 activations × qc8w weights) ──

/** One row quantized as assembly/qd8.ts's header defines (7-bit codes, per-row scale and zero point). */
export interface Qd8Row {
  codes: Int32Array;
  scale: number;
  zp: number;
  rowSum: number;
}

export function quantizeQd8Row(row: ArrayLike<number>): Qd8Row {
  let mn = 0;
  let mx = 0;
  for (let x = 0; x < row.length; x++) {
    const v = row[x];
    mn = Number.isNaN(v) || Number.isNaN(mn) ? NaN : Math.min(mn, v);
    mx = Number.isNaN(v) || Number.isNaN(mx) ? NaN : Math.max(mx, v);
  }
  const range = f32(mx - mn);
  const scale = f32(range / 127);
  const inv = range >= TINY_RANGE ? f32(127 / range) : 0;
  const zp = clamp(toI32Sat(roundHalfEven(f32(-mn * inv))), 0, 127);
  const codes = new Int32Array(row.length);
  let rowSum = 0;
  for (let x = 0; x < row.length; x++) {
    codes[x] = clamp(toI32Sat(roundHalfEven(f32(row[x] * inv))) + zp, 0, 127);
    rowSum += codes[x];
  }
  return { codes, scale, zp, rowSum };
}

/** Weights of the int8 product: element (x, j) of B (k × n), stored row-major or transposed. */
export interface Qc8wWeights {
  k: number;
  n: number;
  /** Raw bytes: int8 or uint8 values. */
  data: Int8Array | Uint8Array;
  /** true: stored as Bᵀ (n, k); false: (k, n). */
  transB: boolean;
  /** Row stride of the stored matrix in elements. */
  ld: number;
  /** One scale per column, or one for the tensor. */
  scale: Float32Array;
  /** One zero point per column, or one for the tensor, or none (0). */
  zeroPoint?: Int8Array | Uint8Array;
}

/** B[x][j] as an integer. */
export function qc8wAt(w: Qc8wWeights, x: number, j: number): number {
  return w.transB ? w.data[j * w.ld + x] : w.data[x * w.ld + j];
}

export function qc8wZeroPoint(w: Qc8wWeights, j: number): number {
  if (!w.zeroPoint) return 0;
  return w.zeroPoint.length === 1 ? w.zeroPoint[0] : w.zeroPoint[j];
}

export function qc8wScale(w: Qc8wWeights, j: number): number {
  return w.scale.length === 1 ? w.scale[0] : w.scale[j];
}

export interface ProductOptions {
  bias?: Float32Array;
  /** Initial C (row-major m × n) for accumulation. */
  accumulate?: Float32Array;
}

/**
 * The int8 product with the kernel's quantization: exact integers corr[i][j] =
 * Σₓ (qa − zpA)(b − zpB), and out = [C +] (f32(corr) · f32(scaleA · scaleB) [+ bias]) in float32.
 */
export function qc8wProductRef(a: ArrayLike<number>, m: number, w: Qc8wWeights, opts: ProductOptions = {}): {
  corr: Float64Array;
  out: Float32Array;
} {
  const { k, n } = w;
  const corr = new Float64Array(m * n);
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const q = quantizeQd8Row(Array.from({ length: k }, (_, x) => a[i * k + x]));
    for (let j = 0; j < n; j++) {
      const zb = qc8wZeroPoint(w, j);
      let s = 0;
      for (let x = 0; x < k; x++) s += (q.codes[x] - q.zp) * (qc8wAt(w, x, j) - zb);
      corr[i * n + j] = s;
      let y = f32(f32(s) * f32(q.scale * qc8wScale(w, j)));
      if (opts.bias) y = f32(y + opts.bias[j]);
      if (opts.accumulate) y = f32(opts.accumulate[i * n + j] + y);
      out[i * n + j] = y;
    }
  }
  return { corr, out };
}

/** Per-channel symmetric int8 quantization of a float weight matrix W (k × n): q = rne(W / s). */
export function quantizeWeightsInt8(wf: ArrayLike<number>, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(k * n);
  const scale = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let amax = 0;
    for (let x = 0; x < k; x++) amax = Math.max(amax, Math.abs(wf[x * n + j]));
    scale[j] = amax / 127;
    for (let x = 0; x < k; x++) q[x * n + j] = scale[j] ? clamp(roundHalfEven(wf[x * n + j] / scale[j]), -127, 127) : 0;
  }
  return { q, scale };
}

// ── blocks of 32 (qd8b32 activations × GGUF q8_0 / q4_0 / MatMulNBits weights) ──

export interface Qd8b32Row {
  codes: Int32Array;
  d: Float32Array;
  s: Int32Array;
}

/** One row quantized in blocks of 32 as assembly/qd8.ts defines (signed codes, f32 d, sum). */
export function quantizeQd8b32Row(row: ArrayLike<number>): Qd8b32Row {
  const nb = row.length / 32;
  const codes = new Int32Array(row.length);
  const d = new Float32Array(nb);
  const s = new Int32Array(nb);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let t = 0; t < 32; t++) {
      const v = Math.abs(row[b * 32 + t]);
      amax = Number.isNaN(v) || Number.isNaN(amax) ? NaN : Math.max(amax, v);
    }
    d[b] = f32(amax / 127);
    const inv = amax >= TINY_RANGE ? f32(127 / amax) : 0;
    for (let t = 0; t < 32; t++) {
      const q = clamp(toI32Sat(roundHalfEven(f32(row[b * 32 + t] * inv))), -127, 127);
      codes[b * 32 + t] = q;
      s[b] += q;
    }
  }
  return { codes, d, s };
}

/** One weight row of a block format, decoded: integer values, zero point and scale per block. */
export interface BlockRow {
  /** Integer code per element (int8 value, or nibble 0..15). */
  q: Int32Array;
  /** Zero point per block (0 for q8_0). */
  zp: Int32Array;
  /** Scale per block (the f16 decoded exactly, or the f32 given). */
  d: Float64Array;
}

/** GGUF q8_0 row j of n rows (34-byte blocks { f16 d; int8 qs[32] }). */
export function decodeQ8_0Row(bytes: Uint8Array, k: number, j: number): BlockRow {
  const nb = k / 32;
  const base = j * nb * 34;
  const q = new Int32Array(k);
  const d = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    const at = base + b * 34;
    d[b] = f16ToNumber(bytes[at] | (bytes[at + 1] << 8));
    for (let t = 0; t < 32; t++) q[b * 32 + t] = (bytes[at + 2 + t] << 24) >> 24;
  }
  return { q, zp: new Int32Array(nb), d };
}

/** GGUF q4_0 row j (18-byte blocks { f16 d; uint8 qs[16] }: low nibbles elements 0..15, high 16..31). */
export function decodeQ4_0Row(bytes: Uint8Array, k: number, j: number): BlockRow {
  const nb = k / 32;
  const base = j * nb * 18;
  const q = new Int32Array(k);
  const d = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    const at = base + b * 18;
    d[b] = f16ToNumber(bytes[at] | (bytes[at + 1] << 8));
    for (let t = 0; t < 16; t++) {
      q[b * 32 + t] = bytes[at + 2 + t] & 15;
      q[b * 32 + 16 + t] = bytes[at + 2 + t] >> 4;
    }
  }
  return { q, zp: new Int32Array(nb).fill(8), d };
}

/** MatMulNBits (4 bits, block 32) row j: B (n, k/32, 16), element 2i low nibble of byte i; zero points packed 4-bit. */
export function decodeQb4wRow(b: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | undefined, k: number, j: number): BlockRow {
  const nb = k / 32;
  const q = new Int32Array(k);
  const d = new Float64Array(nb);
  const zp = new Int32Array(nb);
  const zpRow = Math.ceil(nb / 2);
  for (let blk = 0; blk < nb; blk++) {
    const at = (j * nb + blk) * 16;
    for (let i = 0; i < 16; i++) {
      q[blk * 32 + 2 * i] = b[at + i] & 15;
      q[blk * 32 + 2 * i + 1] = b[at + i] >> 4;
    }
    d[blk] = scales[j * nb + blk];
    zp[blk] = zeroPoints ? (zeroPoints[j * zpRow + (blk >> 1)] >> ((blk & 1) * 4)) & 15 : 8;
  }
  return { q, zp, d };
}

/**
 * The block product with the kernel's quantization: per block the exact integer
 * Σ qa·q − zp·sa, then acc = f32(acc + f32(f32(int) · f32(dw · da))) in block order, then
 * [C +] (acc [+ bias]). Also returns Σ_b |term_b| per output (for float64 error bounds) and the
 * float64 sum of the same terms.
 */
export function blockProductRef(a: ArrayLike<number>, m: number, k: number, rows: BlockRow[], opts: ProductOptions = {}): {
  out: Float32Array;
  exact: Float64Array;
  magnitude: Float64Array;
} {
  const n = rows.length;
  const nb = k / 32;
  const out = new Float32Array(m * n);
  const exact = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const act = quantizeQd8b32Row(Array.from({ length: k }, (_, x) => a[i * k + x]));
    for (let j = 0; j < n; j++) {
      const w = rows[j];
      let acc = 0;
      let e = 0;
      let mag = 0;
      for (let b = 0; b < nb; b++) {
        let dot = 0;
        for (let t = 0; t < 32; t++) dot += act.codes[b * 32 + t] * w.q[b * 32 + t];
        const l = dot - w.zp[b] * act.s[b];
        acc = f32(acc + f32(f32(l) * f32(f32(w.d[b]) * act.d[b])));
        e += l * w.d[b] * act.d[b];
        mag += Math.abs(l * w.d[b] * act.d[b]);
      }
      let y = acc;
      if (opts.bias) y = f32(y + opts.bias[j]);
      if (opts.accumulate) y = f32(opts.accumulate[i * n + j] + y);
      out[i * n + j] = y;
      exact[i * n + j] = e + (opts.bias ? opts.bias[j] : 0) + (opts.accumulate ? opts.accumulate[i * n + j] : 0);
      magnitude[i * n + j] = mag;
    }
  }
  return { out, exact, magnitude };
}

/** GGUF q8_0 blocks of rows W (n × k, k % 32 = 0), as ggml's quantize_row_q8_0_ref. */
export function quantizeQ8_0(wf: ArrayLike<number>, n: number, k: number): Uint8Array {
  const nb = k / 32;
  const out = new Uint8Array(n * nb * 34);
  for (let j = 0; j < n; j++) {
    for (let b = 0; b < nb; b++) {
      let amax = 0;
      for (let t = 0; t < 32; t++) amax = Math.max(amax, Math.abs(wf[j * k + b * 32 + t]));
      const d = f32(amax / 127);
      const id = d ? f32(1 / d) : 0;
      const h = numberToF16(d);
      const at = (j * nb + b) * 34;
      out[at] = h & 255;
      out[at + 1] = h >> 8;
      for (let t = 0; t < 32; t++) {
        const v = f32(wf[j * k + b * 32 + t] * id);
        out[at + 2 + t] = Math.sign(v) * Math.round(Math.abs(v)) & 255; // roundf: half away from zero
      }
    }
  }
  return out;
}

/** GGUF q4_0 blocks of rows W (n × k), as ggml's quantize_row_q4_0_ref. */
export function quantizeQ4_0(wf: ArrayLike<number>, n: number, k: number): Uint8Array {
  const nb = k / 32;
  const out = new Uint8Array(n * nb * 18);
  for (let j = 0; j < n; j++) {
    for (let b = 0; b < nb; b++) {
      let amax = 0;
      let max = 0;
      for (let t = 0; t < 32; t++) {
        const v = wf[j * k + b * 32 + t];
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = f32(max / -8);
      const id = d ? f32(1 / d) : 0;
      const h = numberToF16(d);
      const at = (j * nb + b) * 18;
      out[at] = h & 255;
      out[at + 1] = h >> 8;
      for (let t = 0; t < 16; t++) {
        const x0 = f32(wf[j * k + b * 32 + t] * id);
        const x1 = f32(wf[j * k + b * 32 + 16 + t] * id);
        const q0 = Math.min(15, Math.trunc(f32(x0 + 8.5)));
        const q1 = Math.min(15, Math.trunc(f32(x1 + 8.5)));
        out[at + 2 + t] = q0 | (q1 << 4);
      }
    }
  }
  return out;
}

/**
 * MatMulNBits 4-bit blocks of rows W (n × k): asymmetric (min/max per block, zero point in
 * 0..15) when `zeroPoints`, else symmetric around 8 (scale = amax / 7).
 */
export function quantizeQb4w(wf: ArrayLike<number>, n: number, k: number, zeroPoints: boolean): {
  b: Uint8Array;
  scales: Float32Array;
  zp?: Uint8Array;
} {
  const nb = k / 32;
  const zpRow = Math.ceil(nb / 2);
  const b = new Uint8Array(n * nb * 16);
  const scales = new Float32Array(n * nb);
  const zp = zeroPoints ? new Uint8Array(n * zpRow) : undefined;
  for (let j = 0; j < n; j++) {
    for (let blk = 0; blk < nb; blk++) {
      const v = Array.from({ length: 32 }, (_, t) => wf[j * k + blk * 32 + t]);
      let scale: number;
      let z: number;
      if (zp) {
        const lo = Math.min(0, ...v);
        const hi = Math.max(0, ...v);
        scale = (hi - lo) / 15 || 1;
        z = clamp(Math.round(-lo / scale), 0, 15);
        zp[j * zpRow + (blk >> 1)] |= z << ((blk & 1) * 4);
      } else {
        scale = Math.max(...v.map(Math.abs)) / 7 || 1;
        z = 8;
      }
      scales[j * nb + blk] = scale;
      for (let i = 0; i < 16; i++) {
        const q0 = clamp(Math.round(v[2 * i] / scale) + z, 0, 15);
        const q1 = clamp(Math.round(v[2 * i + 1] / scale) + z, 0, 15);
        b[(j * nb + blk) * 16 + i] = q0 | (q1 << 4);
      }
    }
  }
  return { b, scales, zp };
}

// ── float64 products and error measures ──

/** C = A (m × k) · B, B given as a function of (x, j), in float64. */
export function productF64(a: ArrayLike<number>, m: number, k: number, n: number, b: (x: number, j: number) => number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let x = 0; x < k; x++) s += a[i * k + x] * b(x, j);
      out[i * n + j] = s;
    }
  }
  return out;
}

/** ‖got − want‖₂ / ‖want‖₂. */
export function relativeRms(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}
