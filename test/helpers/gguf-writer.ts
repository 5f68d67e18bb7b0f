// gguf-writer.ts — writes GGUF files (version 3, little-endian; the layout of
// examples/llama/gguf.ts's header) for tests and benchmarks: metadata of every value type, tensors
// in F32, F16, Q8_0 and Q4_0 quantized here from float32 as ggml's reference quantizers do
// (gguf-quantize.ts), or any type given as raw bytes. In memory (`writeGguf`) or streamed to a file
// tensor by tensor (`writeGgufFile`: tensors' data may be functions called one at a time, so a
// 500 MB model never needs to be in memory twice). Test code: never shipped.
//
// Tensor data follows the header at the next multiple of the alignment; each tensor starts at a
// multiple of the alignment (zero padding), in the order given — what ggml's gguf writer does.

import { closeSync, openSync, writeSync } from 'node:fs';
import { GGML_TYPES, type GgmlTypeName } from '../../examples/llama/ggml-types';
import type { GgufItemType, GgufValue } from '../../examples/llama/gguf';
import { encodeF16, encodeF32, quantizeQ4_0, quantizeQ8_0 } from './gguf-quantize';

/** A tensor to write. Exactly one of `data` (float32, encoded to `type`) or `bytes` (already encoded). */
export interface GgufTensorSpec {
  name: string;
  /** The stored type. With `data`: F32, F16, Q8_0 or Q4_0. */
  type: GgmlTypeName;
  /** ggml order: ne0 (the row length) first. */
  dims: number[];
  /** Float32 values (row-major, rows of dims[0]), or a function giving them when written. */
  data?: Float32Array | (() => Float32Array);
  /** Encoded bytes, or a function giving them when written. */
  bytes?: Uint8Array | (() => Uint8Array);
}

/** A file to write. */
export interface GgufSpec {
  metadata: Iterable<[string, GgufValue]>;
  tensors: GgufTensorSpec[];
  /** Default 32; another value is also written as general.alignment (unless metadata has it). */
  alignment?: number;
  /** The version field (default 3). Tests of the reader write others. */
  version?: number;
}

/** Shorthands for metadata values. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: 'uint8', value }),
  i8: (value: number): GgufValue => ({ type: 'int8', value }),
  u16: (value: number): GgufValue => ({ type: 'uint16', value }),
  i16: (value: number): GgufValue => ({ type: 'int16', value }),
  u32: (value: number): GgufValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufValue => ({ type: 'int32', value }),
  f32: (value: number): GgufValue => ({ type: 'float32', value }),
  f64: (value: number): GgufValue => ({ type: 'float64', value }),
  u64: (value: bigint): GgufValue => ({ type: 'uint64', value }),
  i64: (value: bigint): GgufValue => ({ type: 'int64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  strings: (value: string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
  f32s: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'float32', value: Float32Array.from(value) }),
  i32s: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'int32', value: Int32Array.from(value) }),
};

const VALUE_TYPE_IDS: Record<GgufValue['type'], number> = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12,
};
const ITEM_SIZES: Record<Exclude<GgufItemType, 'string'>, number> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, uint64: 8, int64: 8, float64: 8,
};

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private readonly encoder = new TextEncoder();

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const grown = new Uint8Array(Math.max(2 * this.buf.length, this.length + n));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // reserve() may replace buf and view: call it before reading either.
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }

  u64(v: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }

  string(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  item(type: GgufItemType, v: number | bigint | boolean | string): void {
    if (type === 'string') return this.string(v as string);
    const at = this.reserve(ITEM_SIZES[type]);
    const w = this.view;
    switch (type) {
      case 'uint8': return w.setUint8(at, v as number);
      case 'int8': return w.setInt8(at, v as number);
      case 'uint16': return w.setUint16(at, v as number, true);
      case 'int16': return w.setInt16(at, v as number, true);
      case 'uint32': return w.setUint32(at, v as number, true);
      case 'int32': return w.setInt32(at, v as number, true);
      case 'float32': return w.setFloat32(at, v as number, true);
      case 'bool': return w.setUint8(at, v ? 1 : 0);
      case 'uint64': return w.setBigUint64(at, v as bigint, true);
      case 'int64': return w.setBigInt64(at, v as bigint, true);
      case 'float64': return w.setFloat64(at, v as number, true);
    }
  }

  value(v: GgufValue): void {
    this.u32(VALUE_TYPE_IDS[v.type]);
    if (v.type !== 'array') return this.item(v.type, v.value);
    this.u32(VALUE_TYPE_IDS[v.itemType]);
    this.u64(v.value.length);
    for (let i = 0; i < v.value.length; i++) this.item(v.itemType, v.value[i]);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const padTo = (n: number, alignment: number): number => Math.ceil(n / alignment) * alignment;

/** Bytes of a tensor of this type and dims. */
export function tensorByteLength(type: GgmlTypeName, dims: number[]): number {
  const t = GGML_TYPES[type];
  const elements = dims.reduce((a, b) => a * b, 1);
  if ((dims[0] ?? 1) % t.blockSize !== 0) throw new RangeError(`${type} rows need a multiple of ${t.blockSize} values, got ${dims[0]}`);
  return (elements / t.blockSize) * t.typeSize;
}

/** Float32 values → the bytes of `type` (F32, F16, Q8_0, Q4_0). */
export function encodeTensor(type: GgmlTypeName, data: Float32Array): Uint8Array {
  switch (type) {
    case 'F32': return encodeF32(data);
    case 'F16': return encodeF16(data);
    case 'Q8_0': return quantizeQ8_0(data);
    case 'Q4_0': return quantizeQ4_0(data);
    default: throw new RangeError(`the writer quantizes to F32, F16, Q8_0 and Q4_0, not ${type}: pass its bytes instead`);
  }
}

/** A tensor's bytes, encoded from its data if needed, checked against its dims. */
function tensorBytes(t: GgufTensorSpec): Uint8Array {
  const expected = tensorByteLength(t.type, t.dims);
  let bytes: Uint8Array;
  if (t.bytes !== undefined) bytes = typeof t.bytes === 'function' ? t.bytes() : t.bytes;
  else if (t.data !== undefined) bytes = encodeTensor(t.type, typeof t.data === 'function' ? t.data() : t.data);
  else throw new RangeError(`tensor '${t.name}' has neither data nor bytes`);
  if (bytes.length !== expected) throw new RangeError(`tensor '${t.name}' (${t.type} [${t.dims.join(', ')}]) needs ${expected} bytes, got ${bytes.length}`);
  return bytes;
}

/** The header (everything up to the tensor data, padding included) and each tensor's data offset. */
export function ggufHeader(spec: GgufSpec): { header: Uint8Array; offsets: number[]; dataBytes: number } {
  const alignment = spec.alignment ?? 32;
  const metadata = new Map(spec.metadata);
  if (alignment !== 32 && !metadata.has('general.alignment')) metadata.set('general.alignment', gv.u32(alignment));
  const w = new ByteWriter();
  w.u32(0x46554747); // "GGUF"
  w.u32(spec.version ?? 3);
  w.u64(spec.tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.value(value);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of spec.tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPES[t.type].id);
    w.u64(offset);
    offsets.push(offset);
    offset = padTo(offset + tensorByteLength(t.type, t.dims), alignment);
  }
  w.bytes(new Uint8Array(padTo(w.length, alignment) - w.length));
  return { header: w.result(), offsets, dataBytes: offset };
}

/** Writes a GGUF file into memory. */
export function writeGguf(spec: GgufSpec): Uint8Array<ArrayBuffer> {
  const { header, offsets, dataBytes } = ggufHeader(spec);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  spec.tensors.forEach((t, i) => out.set(tensorBytes(t), header.length + offsets[i]));
  // The last tensor's padding is part of dataBytes: the file ends aligned, as ggml writes it.
  return out;
}

/** writeSync may write less than asked: loops until all of `bytes` is written. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Writes a GGUF file to `path`, one tensor at a time; returns its size in bytes. */
export function writeGgufFile(path: string, spec: GgufSpec): number {
  const { header, offsets, dataBytes } = ggufHeader(spec);
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, header);
    let at = 0;
    spec.tensors.forEach((t, i) => {
      if (offsets[i] > at) writeAll(fd, new Uint8Array(offsets[i] - at));
      const bytes = tensorBytes(t);
      writeAll(fd, bytes);
      at = offsets[i] + bytes.length;
    });
    if (dataBytes > at) writeAll(fd, new Uint8Array(dataBytes - at));
  } finally {
    closeSync(fd);
  }
  return header.length + dataBytes;
}
