// gguf.ts — reads GGUF files (llama.cpp's model format, versions 2 and 3): the header, every
// metadata value, the tensor infos and views of the tensor bytes, WITHOUT converting them (a Q8_0
// tensor comes back as its Q8_0 blocks). No dependency on the library: bytes in, plain objects out.
// From memory (`parseGguf`: an ArrayBuffer / Uint8Array, e.g. a file read in Node or
// `await blob.arrayBuffer()`) or lazily from a Blob (`openGgufBlob`: reads only the header, then one
// tensor at a time by slicing; a browser File is a Blob).
//
// Layout (little-endian; ggml's gguf.cpp and docs/gguf.md):
//   "GGUF" · u32 version (2 or 3; 3 added big-endian files, which this reader rejects) ·
//   u64 tensor_count · u64 metadata_kv_count ·
//   metadata: { string key · u32 value_type · value }*   (string = u64 length · UTF-8 bytes;
//             value types 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (1 byte), 8 string,
//             9 array (u32 item type · u64 count · items; arrays of arrays are rejected, as ggml
//             does), 10 u64, 11 i64, 12 f64) ·
//   tensor infos: { string name · u32 n_dims (≤ 4) · u64 ne[n_dims] · u32 ggml type · u64 offset }* ·
//   padding to `general.alignment` (a u32 power of two, default 32) · tensor data, each tensor at
//   data_offset + offset (offset a multiple of the alignment).
// A tensor's dims are ggml's ne: ne0 first, the row length (a PyTorch (out, in) weight is stored
// with ne0 = in, ne1 = out); `shape` is the same reversed, row-major ([rows, cols] for a matrix).
//
// RoPE (what a model built on these tensors must do; see config.ts): llama.cpp rotates the pairs of
// CONSECUTIVE head values (2i, 2i + 1) for `llama` (LLAMA_ROPE_TYPE_NORM) and the pairs (i, i + d/2)
// for `qwen2` (LLAMA_ROPE_TYPE_NEOX). Its converter from Hugging Face checkpoints permutes the Q and
// K rows of `llama` models back to Meta's interleaved order for that reason; Qwen2 is not permuted.
//
// Errors: every rejection is a GgufError whose `code` says why and whose message names the file, the
// part being read (header, metadata key, tensor info, tensor data), the offset, what was expected
// and what was found. Every count and length is checked against the bytes left in the file before
// anything is allocated, so a corrupt count costs no memory. Codes:
//   NOT_GGUF                 the magic is not "GGUF"
//   UNSUPPORTED_VERSION      version 1 (obsolete), 0, > 3, or a big-endian file
//   TRUNCATED                the file ends inside the header, the metadata, the tensor infos, the
//                            padding or a tensor's data (or a corrupt count/length/offset points
//                            past the end: the two cannot be told apart)
//   UNSUPPORTED_VALUE_TYPE   a metadata value type outside 0–12, or an array of arrays
//   UNSUPPORTED_TENSOR_TYPE  a ggml type without a known block layout (see ggml-types.ts)
//   CORRUPT                  impossible values in a complete file: an empty or duplicate key or
//                            tensor name, more than 4 dims, a row length that is not a multiple of
//                            the type's block, a count beyond 2^53, a bad general.alignment, a
//                            misaligned or overlapping tensor offset
// config.ts adds MISSING_KEY, INVALID_KEY, UNSUPPORTED_ARCHITECTURE, MISSING_TENSOR, INVALID_TENSOR.
// A GgufError rather than the library's AttentionError: this is file-format code that needs no
// runtime (like examples/tiny-llama/loader.ts and its CheckpointError); catch by `code`.
//
// Why not @huggingface/gguf (0.4.6): it reads by URL through fetch with HTTP range requests (local
// files only in Node, behind allowLocalFile), not from bytes already in memory; it pulls in
// @huggingface/tasks; and it throws plain Errors. What is needed here is a few hundred lines.

import { describeGgmlType, ggmlByteLength, ggmlTypeInfo, type GgmlTypeInfo, SUPPORTED_GGML_TYPE_NAMES } from './ggml-types';
import {
  Cursor, fmt, type GgufArrayItems, GgufError, type GgufValue, type GgufValueType, ITEM_BYTES, NeedMoreBytes,
  VALUE_TYPES,
} from './gguf-cursor';

export { GgufError } from './gguf-cursor';
export type { GgufArrayItems, GgufErrorCode, GgufItemType, GgufNumberType, GgufValue, GgufValueType } from './gguf-cursor';

/** Where a tensor is and what it holds. */
export interface GgufTensorInfo {
  /** e.g. `blk.0.attn_q.weight` */
  name: string;
  /** The element type and its block layout. */
  type: GgmlTypeInfo;
  /** ggml's ne, ne0 (the row length) first. */
  dims: number[];
  /** dims reversed: row-major, [rows, cols] for a matrix. */
  shape: number[];
  /** Product of the dims. */
  elements: number;
  /** Byte offset of the tensor's data from the start of the file. */
  fileOffset: number;
  /** Bytes of the tensor's data. */
  byteLength: number;
}

/** A tensor with its bytes (not converted: blocks of its type). */
export interface GgufTensor extends GgufTensorInfo {
  /** A view into the file's bytes (parseGguf) or a copy of the slice (openGgufBlob). */
  bytes: Uint8Array;
}

/** A parsed header: everything before the tensor data. */
export interface GgufHeader {
  /** 2 or 3. */
  version: number;
  /** general.alignment, or 32. */
  alignment: number;
  /** Byte offset of the tensor data section. */
  dataOffset: number;
  /** The metadata, in file order. */
  metadata: Map<string, GgufValue>;
  /** The tensor infos, in file order. */
  tensorInfos: GgufTensorInfo[];
}

/** A GGUF file read from memory. */
export interface GgufFile extends GgufHeader {
  /** Every tensor, in file order, with views of its bytes. */
  tensors: GgufTensor[];
  /** The tensor called `name`, if any. */
  tensor(name: string): GgufTensor | undefined;
}

/** A GGUF file read lazily from a Blob: the header now, tensors on demand. */
export interface GgufBlobFile extends GgufHeader {
  /** The tensor info called `name`, if any. */
  info(name: string): GgufTensorInfo | undefined;
  /** Reads one tensor's bytes from the Blob. */
  readTensor(info: GgufTensorInfo): Promise<GgufTensor>;
}

/** Options of the readers. */
export interface GgufReadOptions {
  /** Names the file in error messages (default "the GGUF file"). */
  name?: string;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
/** Fewest bytes one metadata entry takes: key length (8), an empty key is rejected (1), type (4), a u8 value (1). */
const MIN_KV_BYTES = 14;
/** Fewest bytes one tensor info takes: name length (8) + 1, n_dims (4), type (4), offset (8). */
const MIN_TENSOR_INFO_BYTES = 25;

/** A value type id read from the file, or UNSUPPORTED_VALUE_TYPE. */
function valueType(c: Cursor, name: string, what: string): GgufValueType {
  const at = c.pos;
  const id = c.u32(`${what} type`);
  const type = VALUE_TYPES[id];
  if (type === undefined) {
    throw new GgufError(
      'UNSUPPORTED_VALUE_TYPE',
      `${name}: ${what} at byte ${fmt(at)} has value type ${fmt(id)}; GGUF defines 0–12 (${VALUE_TYPES.join(', ')})`,
    );
  }
  return type;
}

function readArray(c: Cursor, name: string, what: string): GgufValue {
  const at = c.pos;
  const itemType = valueType(c, name, `${what}'s array item`);
  if (itemType === 'array') {
    throw new GgufError('UNSUPPORTED_VALUE_TYPE', `${name}: ${what} at byte ${fmt(at)} is an array of arrays, which GGUF readers (ggml's included) do not accept`);
  }
  const n = c.count(`the item count of ${what}`, ITEM_BYTES[itemType]);
  const item = (i: number) => c.scalar(itemType, `${what}[${i}]`);
  const fill = <T extends { [i: number]: number | bigint }>(a: T): T => {
    for (let i = 0; i < n; i++) a[i] = item(i) as never;
    return a;
  };
  let value: GgufArrayItems;
  switch (itemType) {
    case 'uint8': value = fill(new Uint8Array(n)); break;
    case 'int8': value = fill(new Int8Array(n)); break;
    case 'uint16': value = fill(new Uint16Array(n)); break;
    case 'int16': value = fill(new Int16Array(n)); break;
    case 'uint32': value = fill(new Uint32Array(n)); break;
    case 'int32': value = fill(new Int32Array(n)); break;
    case 'float32': value = fill(new Float32Array(n)); break;
    case 'float64': value = fill(new Float64Array(n)); break;
    case 'uint64': value = fill(new BigUint64Array(n)); break;
    case 'int64': value = fill(new BigInt64Array(n)); break;
    case 'bool': value = Array.from({ length: n }, (_, i) => item(i) as boolean); break;
    case 'string': value = Array.from({ length: n }, (_, i) => item(i) as string); break;
  }
  return { type: 'array', itemType, value };
}

function readMetadata(c: Cursor, name: string, count: number): Map<string, GgufValue> {
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < count; i++) {
    const at = c.pos;
    const key = c.string(`metadata key ${i}`);
    if (key === '') throw new GgufError('CORRUPT', `${name} is corrupt: metadata key ${i} at byte ${fmt(at)} is empty`);
    if (metadata.has(key)) throw new GgufError('CORRUPT', `${name} is corrupt: metadata key ${i} ('${key}') at byte ${fmt(at)} repeats an earlier key`);
    const what = `metadata '${key}'`;
    const type = valueType(c, name, what);
    const value: GgufValue = type === 'array' ? readArray(c, name, what) : ({ type, value: c.scalar(type, what) } as GgufValue);
    metadata.set(key, value);
  }
  return metadata;
}

function alignmentOf(metadata: Map<string, GgufValue>, name: string): number {
  const a = metadata.get('general.alignment');
  if (a === undefined) return DEFAULT_ALIGNMENT;
  if (a.type !== 'uint32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) {
    throw new GgufError('CORRUPT', `${name} is corrupt: general.alignment must be a uint32 power of two, got ${a.type} ${String(a.value)}`);
  }
  return a.value;
}

function readTensorInfo(c: Cursor, name: string, i: number, seen: Set<string>): Omit<GgufTensorInfo, 'fileOffset'> & { offset: number } {
  const at = c.pos;
  const tensorName = c.string(`tensor info ${i} name`);
  if (tensorName === '') throw new GgufError('CORRUPT', `${name} is corrupt: tensor info ${i} at byte ${fmt(at)} has an empty name`);
  if (seen.has(tensorName)) throw new GgufError('CORRUPT', `${name} is corrupt: tensor info ${i} at byte ${fmt(at)} repeats the name '${tensorName}'`);
  seen.add(tensorName);
  const what = `tensor info ${i} ('${tensorName}')`;
  const nDimsAt = c.pos;
  const nDims = c.u32(`${what} n_dims`);
  if (nDims > MAX_DIMS) throw new GgufError('CORRUPT', `${name} is corrupt: ${what} at byte ${fmt(nDimsAt)} has ${fmt(nDims)} dims; ggml tensors have at most ${MAX_DIMS}`);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    dims.push(c.safeU64(`${what} ne${d}`));
    elements *= dims[d];
    if (elements > Number.MAX_SAFE_INTEGER) {
      throw new GgufError('CORRUPT', `${name} is corrupt: ${what} has dims [${dims.join(', ')}], more than 2^53 elements`);
    }
  }
  const typeAt = c.pos;
  const typeId = c.u32(`${what} type`);
  const type = ggmlTypeInfo(typeId);
  if (!type) {
    throw new GgufError(
      'UNSUPPORTED_TENSOR_TYPE',
      `${name}: ${what} at byte ${fmt(typeAt)} has ggml type ${describeGgmlType(typeId)}; this reader knows ${SUPPORTED_GGML_TYPE_NAMES.join(', ')}`,
    );
  }
  const rowLength = dims[0] ?? 1;
  if (rowLength % type.blockSize !== 0) {
    throw new GgufError(
      'CORRUPT',
      `${name} is corrupt: ${what} is ${type.name} with rows of ${fmt(rowLength)} elements, not a multiple of its ${type.blockSize}-element block`,
    );
  }
  const offset = c.safeU64(`${what} offset`);
  return { name: tensorName, type, dims, shape: [...dims].reverse(), elements, byteLength: ggmlByteLength(type, elements), offset };
}

/** Parses the header of a file of `fileSize` bytes from `bytes`, a prefix of it. */
function parseHeader(bytes: Uint8Array, fileSize: number, name: string): GgufHeader {
  const c = new Cursor(bytes, fileSize, name);
  if (fileSize < 4) throw new GgufError('TRUNCATED', `${name} has ${fileSize} bytes, fewer than the 4-byte GGUF magic: truncated or not a GGUF file`);
  const magic = c.u32('the magic');
  if (magic !== MAGIC) {
    const ascii = Array.from(bytes.subarray(0, 4), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '?')).join('');
    throw new GgufError('NOT_GGUF', `${name} is not a GGUF file: it starts with "${ascii}" (0x${magic.toString(16).padStart(8, '0')}), not "GGUF"`);
  }
  const version = c.u32('the header (version)');
  if ((version & 0xffff) === 0 && version !== 0) {
    throw new GgufError('UNSUPPORTED_VERSION', `${name} is a big-endian GGUF file (version field 0x${version.toString(16)}); this reader reads little-endian files`);
  }
  if (version !== 2 && version !== 3) {
    const why = version === 1 ? ' (GGUF v1 is obsolete; llama.cpp no longer reads it either)' : '';
    throw new GgufError('UNSUPPORTED_VERSION', `${name} is GGUF version ${version}${why}; this reader reads versions 2 and 3`);
  }
  const tensorCount = c.count('the header\'s tensor count', MIN_TENSOR_INFO_BYTES);
  const kvCount = c.count('the header\'s metadata count', MIN_KV_BYTES);
  const metadata = readMetadata(c, name, kvCount);
  const alignment = alignmentOf(metadata, name);
  const seen = new Set<string>();
  const raw = Array.from({ length: tensorCount }, (_, i) => readTensorInfo(c, name, i, seen));
  const dataOffset = tensorCount > 0 ? Math.ceil(c.pos / alignment) * alignment : c.pos;
  if (dataOffset > fileSize) {
    throw new GgufError('TRUNCATED', `${name} is truncated: it ends at byte ${fmt(fileSize)}, inside the padding before the tensor data (at ${fmt(dataOffset)})`);
  }
  const tensorInfos = raw.map(({ offset, ...t }) => {
    if (offset % alignment !== 0) {
      throw new GgufError('CORRUPT', `${name} is corrupt: tensor '${t.name}' has data offset ${fmt(offset)}, not a multiple of the alignment ${alignment}`);
    }
    return { ...t, fileOffset: dataOffset + offset };
  });
  checkPlacement(tensorInfos, fileSize, name);
  return { version, alignment, dataOffset, metadata, tensorInfos };
}

/** Every tensor's data lies inside the file, and no two overlap. */
function checkPlacement(infos: GgufTensorInfo[], fileSize: number, name: string): void {
  for (const t of infos) {
    if (t.fileOffset + t.byteLength > fileSize) {
      throw new GgufError(
        'TRUNCATED',
        `${name} is truncated (or the offset is corrupt): tensor '${t.name}' (${t.type.name} [${t.dims.join(', ')}], ${fmt(t.byteLength)} bytes) ` +
          `at byte ${fmt(t.fileOffset)} ends at ${fmt(t.fileOffset + t.byteLength)}, past the end of the file (${fmt(fileSize)} bytes)`,
      );
    }
  }
  const sorted = infos.filter((t) => t.byteLength > 0).sort((a, b) => a.fileOffset - b.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].fileOffset < prev.fileOffset + prev.byteLength) {
      throw new GgufError(
        'CORRUPT',
        `${name} is corrupt: tensor '${sorted[i].name}' at byte ${fmt(sorted[i].fileOffset)} overlaps tensor '${prev.name}' ` +
          `(bytes ${fmt(prev.fileOffset)}–${fmt(prev.fileOffset + prev.byteLength)})`,
      );
    }
  }
}

function bytesOf(data: ArrayBuffer | ArrayBufferView, name: string): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new GgufError('NOT_GGUF', `${name} must be an ArrayBuffer or a byte view (Uint8Array, Buffer), got ${Object.prototype.toString.call(data)}`);
}

/**
 * Parses a whole GGUF file held in memory. Tensors are views into `data` (no copy, no conversion).
 * Throws GgufError (see the codes in this file's header).
 */
export function parseGguf(data: ArrayBuffer | ArrayBufferView, options: GgufReadOptions = {}): GgufFile {
  const name = options.name ?? 'the GGUF file';
  const bytes = bytesOf(data, name);
  const header = parseHeader(bytes, bytes.length, name);
  const tensors = header.tensorInfos.map((t) => ({ ...t, bytes: bytes.subarray(t.fileOffset, t.fileOffset + t.byteLength) }));
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return { ...header, tensors, tensor: (n) => byName.get(n) };
}

/** First bytes read from a Blob for the header; doubled until the header fits. */
const FIRST_READ_BYTES = 1 << 20;

/**
 * Reads a GGUF file's header from a Blob (a browser File, or Node's Blob), reading a prefix that
 * grows until the metadata and tensor infos fit; tensors are read later, one slice each.
 * Throws GgufError like parseGguf.
 */
export async function openGgufBlob(blob: Blob, options: GgufReadOptions = {}): Promise<GgufBlobFile> {
  const name = options.name ?? 'the GGUF file';
  let length = Math.min(blob.size, FIRST_READ_BYTES);
  let header: GgufHeader | undefined;
  while (!header) {
    const prefix = new Uint8Array(await blob.slice(0, length).arrayBuffer());
    try {
      header = parseHeader(prefix, blob.size, name);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      length = Math.min(blob.size, Math.max(2 * length, e.atLeast));
    }
  }
  const byName = new Map(header.tensorInfos.map((t) => [t.name, t]));
  return {
    ...header,
    info: (n) => byName.get(n),
    readTensor: async (info) => {
      const bytes = new Uint8Array(await blob.slice(info.fileOffset, info.fileOffset + info.byteLength).arrayBuffer());
      return { ...info, bytes };
    },
  };
}
