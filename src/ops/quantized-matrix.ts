// quantized-matrix.ts — B of a product held in Wasm memory in a low-precision format, read in
// place by the quantized kernels: rt.quantizeMatrix (from float32 weights) and rt.quantizedMatrix
// (from data already quantized in a model file). See docs/low-precision.md for the formats.
//
// Storage (one arena block per matrix):
//   int8         qc8w panels (assembly/qgemm.ts): codes, scales, zero points and column sums
//   q8_0, q4_0   the n rows of k/32 GGUF blocks, byte for byte (34 / 18 bytes per block)
//   matmulnbits  ONNX MatMulNBits B (n, k/32, 16) uint8, then scales f32 (n · k/32), then the
//                optional zero points (n, ⌈k/64⌉) uint8
//   f16          binary16 bits: Bᵀ (n, k) from rt.quantizeMatrix (either input layout: the decode
//                path reads rows), B (k, n) or Bᵀ (n, k) as given to rt.quantizedMatrix

import type { Kernels } from '../kernels/instance';
import { quantizedKernels } from '../kernels/quantized';
import { AttentionError, f32Bytes, formatShape } from '../runtime/index';
import { type TensorLike, viewData, viewTensor } from '../tensor';
import { assertIntact, describeValue, isFakeTypedArray, snapshotTypedArray, type TypedArraySnapshot } from '../typed-arrays';
import { assertLive, booleanOption, optionKeys, readOptions } from '../attention/options';
import { BLOCK_BYTES, quantizeBlocks, quantizeInt8, type WeightAt } from './quantize';

/** The formats rt.quantizeMatrix produces from float32 weights. */
export type QuantizeType = 'int8' | 'q8_0' | 'q4_0' | 'f16';

/** Every format a QuantizedMatrix holds (rt.quantizedMatrix also takes ONNX MatMulNBits data). */
export type QuantizedType = QuantizeType | 'matmulnbits';

const QUANTIZE_TYPES: readonly QuantizeType[] = ['int8', 'q8_0', 'q4_0', 'f16'];
const QUANTIZED_TYPES: readonly QuantizedType[] = [...QUANTIZE_TYPES, 'matmulnbits'];

/** Largest depth of an int8 product (its 32-bit integer sums cannot overflow below it). */
export const INT8_MAX_K = 65536;

/** Where a matrix's parts are inside its block (byte addresses). */
interface Parts {
  w: number;
  scales: number;
  zeroPoints: number;
}

/**
 * B of a product A·B, resident in Wasm memory in a low-precision format. Made by
 * `rt.quantizeMatrix` or `rt.quantizedMatrix`; pass it as `b` to `rt.matmul`. `dispose()` frees it.
 */
export class QuantizedMatrix {
  /** The storage format. */
  readonly type: QuantizedType;
  /** Depth of the product (rows of B). */
  readonly k: number;
  /** Output columns of the product. */
  readonly n: number;
  /** Bytes of Wasm memory the matrix holds (codes, scales and zero points). */
  readonly bytes: number;
  /** @internal */
  readonly kernels: Kernels;
  /** @internal the arena block */
  readonly ptr: number;
  /** @internal */
  readonly parts: Parts;
  /** @internal f16: stored as Bᵀ (n, k) */
  readonly transB: boolean;
  private disposed = false;

  /** @internal made by quantizeMatrix / quantizedMatrix */
  constructor(kernels: Kernels, type: QuantizedType, k: number, n: number, ptr: number, bytes: number, parts: Parts, transB: boolean) {
    this.kernels = kernels;
    this.type = type;
    this.k = k;
    this.n = n;
    this.ptr = ptr;
    this.bytes = bytes;
    this.parts = parts;
    this.transB = transB;
    Object.freeze(this.parts);
  }

  /** The product's B shape, [K, N]. */
  get shape(): number[] {
    return [this.k, this.n];
  }

  /** True once `dispose()` ran. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the Wasm memory; using it afterwards throws DISPOSED. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kernels.arena.release(this.ptr);
  }

  /** Frees the Wasm memory (`using` declarations). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal throws DISPOSED, or INVALID_ARGUMENT for a matrix of another runtime */
  assertUsable(name: string, kernels: Kernels): void {
    if (this.disposed) throw new AttentionError('DISPOSED', `${name} is a disposed QuantizedMatrix`);
    if (this.kernels !== kernels) throw new AttentionError('INVALID_ARGUMENT', `${name} is a QuantizedMatrix of another runtime`);
  }
}

/** Options of `rt.quantizeMatrix`. */
export interface QuantizeMatrixOptions {
  /** The format: `'int8'` (per output column), `'q8_0'`, `'q4_0'` (GGUF blocks of 32) or `'f16'`. */
  type: QuantizeType;
  /** `b` is [N, K] and the product is A·Bᵀ (a PyTorch nn.Linear weight). Default false: [K, N]. */
  transposeB?: boolean;
}

const QUANTIZE_KEYS = optionKeys<QuantizeMatrixOptions>({ type: true, transposeB: true });

function typeOption<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new AttentionError('INVALID_OPTION', `${name} must be one of ${allowed.map((t) => `'${t}'`).join(', ')}, got ${describeValue(value)}`);
}

/** Checks the product's sizes for a format (K a multiple of 32 for blocks, K ≤ 65536 for int8). */
function checkDepth(type: QuantizedType, k: number, n: number, shape: string): void {
  if (k < 1 || n < 1) throw new AttentionError('SHAPE_MISMATCH', `a quantized matrix needs K ≥ 1 and N ≥ 1, got ${shape}`);
  if (type !== 'int8' && type !== 'f16' && k % 32 !== 0) {
    throw new AttentionError('SHAPE_MISMATCH', `${type} stores blocks of 32 along K: K must be a multiple of 32, got ${shape}`);
  }
  if (type === 'int8' && k > INT8_MAX_K) {
    throw new AttentionError('SHAPE_MISMATCH', `int8 products take K ≤ ${INT8_MAX_K} (32-bit integer sums), got ${shape}`);
  }
}

/** Allocates the matrix's block and runs `fill(ptr)`; the block is released if fill throws. */
function allocate(kernels: Kernels, bytes: number, fill: (ptr: number) => void): number {
  const ptr = kernels.arena.alloc(bytes);
  try {
    fill(ptr);
  } catch (error) {
    kernels.arena.release(ptr);
    throw error;
  }
  return ptr;
}

/** f32 values → f16 bits at dst through the Wasm conversion (exact, round to nearest even). */
function toF16(kernels: Kernels, values: Float32Array, dst: number): void {
  const tmp = kernels.arena.alloc(f32Bytes(values.length));
  try {
    kernels.arena.f32(tmp, values.length).set(values);
    quantizedKernels(kernels).f32ToF16({ src: tmp, dst, n: values.length });
  } finally {
    kernels.arena.release(tmp);
  }
}

export function quantizeMatrix(kernels: Kernels, bIn: TensorLike, optionsIn: QuantizeMatrixOptions): QuantizedMatrix {
  const options = readOptions<QuantizeMatrixOptions>(optionsIn, QUANTIZE_KEYS, 'options', 'rt.quantizeMatrix');
  const type = typeOption(options.type, QUANTIZE_TYPES, 'options.type');
  const transB = booleanOption(options.transposeB, 'options.transposeB', false);
  const b = viewTensor(bIn, 'b', [Float32Array], kernels.arena);
  if (b.shape.length !== 2) throw new AttentionError('SHAPE_MISMATCH', `b must be 2-D (${transB ? '[N, K]' : '[K, N]'}), got ${formatShape(b.shape)}`);
  const [rows, cols] = b.shape;
  const k = transB ? cols : rows;
  const n = transB ? rows : cols;
  checkDepth(type, k, n, `b ${formatShape(b.shape)}${transB ? ' (transposeB)' : ''}`);
  assertLive(kernels, { b: bIn });
  const data = Float32Array.from(viewData(b)); // a copy: allocations below may move Wasm memory
  if (type !== 'f16') {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new AttentionError('INVALID_ARGUMENT', `b[${i}] is ${data[i]}: ${type} holds finite weights only`);
    }
  }
  const index = transB ? (j: number, x: number) => j * k + x : (j: number, x: number) => x * n + j;
  const at: WeightAt = (j, x) => data[index(j, x)];
  const q = quantizedKernels(kernels);
  if (type === 'f16') {
    // Stored as Bᵀ (n, k) whatever the input's layout: the decode path reads weight rows in place
    // (1×4096×4096 in 3.6 ms, against 15 ms walking the columns of a (k, n) matrix); the
    // multi-row path converts either layout into the same f32 panels.
    const rowsOfBt = transB ? data : Float32Array.from({ length: n * k }, (_, i) => data[(i % k) * n + Math.floor(i / k)]);
    const bytes = n * k * 2;
    const ptr = allocate(kernels, bytes, (p) => toF16(kernels, rowsOfBt, p));
    return new QuantizedMatrix(kernels, type, k, n, ptr, bytes, { w: ptr, scales: 0, zeroPoints: 0 }, true);
  }
  if (type === 'int8') {
    const { codes, scales } = quantizeInt8(at, n, k, index);
    const bytes = q.int8PackedBytes(n, k);
    const ptr = allocate(kernels, bytes, (dst) => packInt8(kernels, codes, scales, undefined, { transB, k, n, dst, unsigned: false }));
    return new QuantizedMatrix(kernels, type, k, n, ptr, bytes, { w: ptr, scales: 0, zeroPoints: 0 }, false);
  }
  const { blocks, scales } = quantizeBlocks(type, at, n, k);
  const ptr = allocate(kernels, blocks.length, (p) => {
    const halves = kernels.arena.alloc(scales.length * 2);
    try {
      toF16(kernels, scales, halves);
      const h = kernels.arena.u8(halves, scales.length * 2);
      const size = BLOCK_BYTES[type];
      for (let t = 0; t < scales.length; t++) blocks.set(h.subarray(2 * t, 2 * t + 2), t * size);
    } finally {
      kernels.arena.release(halves);
    }
    kernels.arena.u8(p, blocks.length).set(blocks);
  });
  return new QuantizedMatrix(kernels, type, k, n, ptr, blocks.length, { w: ptr, scales: 0, zeroPoints: 0 }, true);
}

/** Copies int8/uint8 codes, scales and zero points into scratch blocks and packs them at dst. */
function packInt8(
  kernels: Kernels,
  codes: Int8Array | Uint8Array,
  scales: Float32Array,
  zeroPoints: Int8Array | Uint8Array | undefined,
  shape: { transB: boolean; k: number; n: number; dst: number; unsigned: boolean },
): void {
  const arena = kernels.arena;
  const blocks: number[] = [];
  const place = (bytes: Uint8Array): number => {
    const p = arena.alloc(bytes.length);
    blocks.push(p);
    arena.u8(p, bytes.length).set(bytes);
    return p;
  };
  try {
    const b = place(new Uint8Array(codes.buffer, codes.byteOffset, codes.length));
    const s = place(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength));
    const z = zeroPoints ? place(new Uint8Array(zeroPoints.buffer, zeroPoints.byteOffset, zeroPoints.length)) : 0;
    quantizedKernels(kernels).packInt8({
      b, ldb: shape.transB ? shape.k : shape.n, transB: shape.transB, unsigned: shape.unsigned, n: shape.n, k: shape.k,
      scale: s, scaleStride: scales.length === 1 ? 0 : 1, zeroPoint: z, zeroPointStride: zeroPoints && zeroPoints.length !== 1 ? 1 : 0,
      dst: shape.dst,
    });
  } finally {
    for (const p of blocks) arena.release(p);
  }
}

/** Data already quantized (a model file's tensor), for `rt.quantizedMatrix`. */
export interface QuantizedMatrixData {
  /**
   * The format. `'q8_0'`, `'q4_0'`: GGUF blocks; `'matmulnbits'`: ONNX MatMulNBits (bits 4,
   * block_size 32); `'int8'`: ONNX MatMulInteger / DynamicQuantizeMatMul weights; `'f16'`: binary16.
   */
  type: QuantizedType;
  /**
   * The stored matrix's shape. Block formats (`q8_0`, `q4_0`, `matmulnbits`): [N, K], one row of
   * K / 32 blocks per output column (how GGUF and MatMulNBits store a weight). `int8`, `f16`:
   * [K, N], or [N, K] with `transposeB`.
   */
  shape: readonly number[];
  /**
   * The codes: `Uint8Array` of the blocks byte for byte (q8_0: 34 bytes per block, q4_0: 18,
   * matmulnbits: 16); `Int8Array` or `Uint8Array` for int8 (uint8 is read as unsigned, with
   * its zero points); `Uint16Array` of binary16 bits for f16.
   */
  data: Uint8Array | Int8Array | Uint16Array;
  /** int8: `Float32Array` of N scales (one per output column) or 1; matmulnbits: N · K/32 (required). */
  scales?: Float32Array;
  /** int8: N zero points or 1, of data's element type; matmulnbits: N · ⌈K/64⌉ packed 4-bit bytes. Default: none (0, or 8 for matmulnbits). */
  zeroPoints?: Uint8Array | Int8Array;
  /** int8, f16: the data is [N, K] (product A·Bᵀ). Default false. */
  transposeB?: boolean;
}

const DATA_KEYS = optionKeys<QuantizedMatrixData>({ type: true, shape: true, data: true, scales: true, zeroPoints: true, transposeB: true });

/** A typed array argument of one of `kinds` and `length` elements, read once. */
function typedArgument(value: unknown, name: string, kinds: readonly string[], length: number | readonly number[]): TypedArraySnapshot {
  if (isFakeTypedArray(value)) throw new AttentionError('INVALID_ARGUMENT', `${name} must be a typed array, got ${describeValue(value)}`);
  const s = snapshotTypedArray(value, name);
  if (!s || !kinds.includes(s.name)) throw new AttentionError('DTYPE_MISMATCH', `${name} must be a ${kinds.join(' or ')}, got ${describeValue(value)}`);
  const lengths = typeof length === 'number' ? [length] : length;
  if (!lengths.includes(s.length)) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must hold ${lengths.join(' or ')} elements, got ${s.length}`);
  }
  return s;
}

function bytesOf(s: TypedArraySnapshot, name: string): Uint8Array {
  assertIntact(s, name);
  return new Uint8Array(s.buffer, s.byteOffset, s.view.byteLength);
}

function readShape(value: unknown): [number, number] {
  const shape = Array.isArray(value) ? [...(value as unknown[])] : undefined;
  if (!shape || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new AttentionError('SHAPE_MISMATCH', `data.shape must be two non-negative integers, got ${describeValue(value)}`);
  }
  return shape as [number, number];
}

export function quantizedMatrix(kernels: Kernels, specIn: QuantizedMatrixData): QuantizedMatrix {
  const spec = readOptions<QuantizedMatrixData>(specIn, DATA_KEYS, 'data', 'rt.quantizedMatrix');
  const type = typeOption(spec.type, QUANTIZED_TYPES, 'data.type');
  const [rows, cols] = readShape(spec.shape);
  const blockFormat = type === 'q8_0' || type === 'q4_0' || type === 'matmulnbits';
  if (blockFormat && spec.transposeB !== undefined) {
    throw new AttentionError('INVALID_OPTION', `data.transposeB does not apply to ${type}: its shape is always [N, K]`);
  }
  const transB = blockFormat || booleanOption(spec.transposeB, 'data.transposeB', false);
  const k = transB ? cols : rows;
  const n = transB ? rows : cols;
  const shapeText = `data.shape ${formatShape([rows, cols])}`;
  checkDepth(type, k, n, shapeText);
  if (type !== 'int8' && type !== 'matmulnbits') {
    for (const key of ['scales', 'zeroPoints'] as const) {
      if (spec[key] !== undefined) throw new AttentionError('INVALID_OPTION', `data.${key} does not apply to ${type} (its scales are inside the data)`);
    }
  }
  const nb = k / 32;
  const a = kernels.arena;
  if (type === 'q8_0' || type === 'q4_0') {
    const data = typedArgument(spec.data, 'data.data', ['Uint8Array'], n * nb * BLOCK_BYTES[type]);
    const bytes = data.length;
    const ptr = allocate(kernels, bytes, (p) => a.u8(p, bytes).set(bytesOf(data, 'data.data')));
    return new QuantizedMatrix(kernels, type, k, n, ptr, bytes, { w: ptr, scales: 0, zeroPoints: 0 }, true);
  }
  if (type === 'f16') {
    const data = typedArgument(spec.data, 'data.data', ['Uint16Array'], n * k);
    const ptr = allocate(kernels, n * k * 2, (p) => a.u8(p, n * k * 2).set(bytesOf(data, 'data.data')));
    return new QuantizedMatrix(kernels, type, k, n, ptr, n * k * 2, { w: ptr, scales: 0, zeroPoints: 0 }, transB);
  }
  if (type === 'matmulnbits') {
    const data = typedArgument(spec.data, 'data.data', ['Uint8Array'], n * nb * 16);
    if (spec.scales === undefined) throw new AttentionError('INVALID_ARGUMENT', `data.scales is required for matmulnbits (${n * nb} f32 scales, one per block)`);
    const scales = typedArgument(spec.scales, 'data.scales', ['Float32Array'], n * nb);
    const zpRow = Math.ceil(nb / 2);
    const zp = spec.zeroPoints === undefined ? undefined : typedArgument(spec.zeroPoints, 'data.zeroPoints', ['Uint8Array'], n * zpRow);
    const wBytes = n * nb * 16;
    const sAt = Math.ceil(wBytes / 16) * 16;
    const zAt = sAt + f32Bytes(n * nb);
    const bytes = zAt + (zp ? n * zpRow : 0);
    const ptr = allocate(kernels, bytes, (p) => {
      a.u8(p, wBytes).set(bytesOf(data, 'data.data'));
      a.u8(p + sAt, f32Bytes(n * nb)).set(bytesOf(scales, 'data.scales'));
      if (zp) a.u8(p + zAt, n * zpRow).set(bytesOf(zp, 'data.zeroPoints'));
    });
    return new QuantizedMatrix(kernels, type, k, n, ptr, bytes, { w: ptr, scales: ptr + sAt, zeroPoints: zp ? ptr + zAt : 0 }, true);
  }
  // int8 (ONNX MatMulInteger / DynamicQuantizeMatMul)
  const data = typedArgument(spec.data, 'data.data', ['Int8Array', 'Uint8Array'], n * k);
  if (spec.scales === undefined) throw new AttentionError('INVALID_ARGUMENT', `data.scales is required for int8 (a Float32Array of ${n} per-column scales, or 1)`);
  const scales = typedArgument(spec.scales, 'data.scales', ['Float32Array'], [n, 1]);
  const zp = spec.zeroPoints === undefined ? undefined : typedArgument(spec.zeroPoints, 'data.zeroPoints', [data.name], [n, 1]);
  const scaleValues = Float32Array.from(scales.view as Float32Array);
  for (let j = 0; j < scaleValues.length; j++) {
    if (!Number.isFinite(scaleValues[j])) throw new AttentionError('INVALID_ARGUMENT', `data.scales[${j}] is ${scaleValues[j]}: scales must be finite`);
  }
  const unsigned = data.name === 'Uint8Array';
  const codes = bytesOf(data, 'data.data').slice();
  const zeroPoints = zp ? bytesOf(zp, 'data.zeroPoints').slice() : undefined;
  const bytes = quantizedKernels(kernels).int8PackedBytes(n, k);
  const ptr = allocate(kernels, bytes, (dst) => packInt8(kernels, codes, scaleValues, zeroPoints, { transB, k, n, dst, unsigned }));
  return new QuantizedMatrix(kernels, type, k, n, ptr, bytes, { w: ptr, scales: 0, zeroPoints: 0 }, false);
}
