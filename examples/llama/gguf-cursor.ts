// gguf-cursor.ts — bounded little-endian reads for the GGUF reader (gguf.ts): the error type, the
// metadata value types, and a read position over a file (or over a prefix of it, when gguf.ts reads
// a Blob piece by piece) that checks every read and every count against the bytes left.

/** Why a GGUF file (or the model in it) was rejected. */
export type GgufErrorCode =
  | 'NOT_GGUF'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'UNSUPPORTED_VALUE_TYPE'
  | 'UNSUPPORTED_TENSOR_TYPE'
  | 'CORRUPT'
  | 'MISSING_KEY'
  | 'INVALID_KEY'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'MISSING_TENSOR'
  | 'INVALID_TENSOR';

/** A GGUF file (or model) that cannot be read; `code` says why, the message says where. */
export class GgufError extends Error {
  /** Machine-readable category. */
  readonly code: GgufErrorCode;
  /** An error with a stable `code`. */
  constructor(code: GgufErrorCode, message: string) {
    super(message);
    this.name = 'GgufError';
    this.code = code;
  }
}

/** GGUF metadata value types, by their id in the file (9 is the array). */
export const VALUE_TYPES = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
] as const;

/** A metadata value type's name. */
export type GgufValueType = (typeof VALUE_TYPES)[number];
/** The metadata value types that hold a JavaScript number. */
export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
/** The element type of an array: anything but an array. */
export type GgufItemType = Exclude<GgufValueType, 'array'>;
/** An array's items: a typed array for numbers, else a plain array. */
export type GgufArrayItems =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
  | BigUint64Array | BigInt64Array | boolean[] | string[];

/** A metadata value with its GGUF type (64-bit integers are bigints). */
export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: 'uint64' | 'int64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufItemType; value: GgufArrayItems };

/** Bytes of one item of each type (a string: at least its 8-byte length). */
export const ITEM_BYTES: Record<GgufItemType, number> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, string: 8, uint64: 8, int64: 8, float64: 8,
};

/** Formats a number for messages: 1,234,567. */
export const fmt = (n: number | bigint): string => n.toLocaleString('en-US');

/** Thrown inside the parser when a Blob prefix ends before the file does: read more and retry. */
export class NeedMoreBytes {
  constructor(readonly atLeast: number) {}
}

/** A read position over a prefix of a file of `fileSize` bytes. */
export class Cursor {
  pos = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8');
  constructor(private readonly bytes: Uint8Array, private readonly fileSize: number, private readonly name: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes of the file after the position. */
  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Ensures `n` more bytes exist (in the file: TRUNCATED otherwise; in the prefix: read more). */
  need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new GgufError(
        'TRUNCATED',
        `${this.name} is truncated: ${what} at byte ${fmt(this.pos)} needs ${fmt(n)} bytes but the file has ${fmt(this.remaining)} left ` +
          `(it ends at byte ${fmt(this.fileSize)})`,
      );
    }
    if (this.pos + n > this.bytes.length) throw new NeedMoreBytes(this.pos + n);
  }

  /** One byte. */
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  /** A little-endian u32. */
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A little-endian u64. */
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 that must fit a JavaScript number exactly (a count, a length, a dim, an offset). */
  safeU64(what: string): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufError('CORRUPT', `${this.name} is corrupt: ${what} at byte ${fmt(at)} is ${fmt(v)}, beyond any file (more than 2^53)`);
    }
    return Number(v);
  }

  /** A u64 count of items of at least `minBytes` each: more than the rest of the file can hold is TRUNCATED. */
  count(what: string, minBytes: number): number {
    const at = this.pos;
    const n = this.safeU64(what);
    if (n * minBytes > this.remaining) {
      throw new GgufError(
        'TRUNCATED',
        `${this.name} is truncated or corrupt: ${what} at byte ${fmt(at)} is ${fmt(n)}, needing at least ${fmt(n * minBytes)} ` +
          `more bytes, but the file has ${fmt(this.remaining)} left (it ends at byte ${fmt(this.fileSize)})`,
      );
    }
    return n;
  }

  /** A GGUF string: u64 length, UTF-8 bytes. */
  string(what: string): string {
    const length = this.count(`the length of ${what}`, 1);
    this.need(length, what);
    const s = this.decoder.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return s;
  }

  /** A value of metadata type `type` (arrays excluded). */
  scalar(type: GgufItemType, what: string): number | bigint | boolean | string {
    if (type === 'string') return this.string(what);
    const size = ITEM_BYTES[type];
    this.need(size, what);
    const v = this.view;
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case 'uint8': return v.getUint8(p);
      case 'int8': return v.getInt8(p);
      case 'uint16': return v.getUint16(p, true);
      case 'int16': return v.getInt16(p, true);
      case 'uint32': return v.getUint32(p, true);
      case 'int32': return v.getInt32(p, true);
      case 'float32': return v.getFloat32(p, true);
      case 'bool': return v.getUint8(p) !== 0;
      case 'uint64': return v.getBigUint64(p, true);
      case 'int64': return v.getBigInt64(p, true);
      case 'float64': return v.getFloat64(p, true);
    }
  }
}
