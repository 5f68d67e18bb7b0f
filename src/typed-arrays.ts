// typed-arrays.ts — reading a caller's typed arrays and number arrays without trusting them.
//
// A typed array is recognized by its internal slots, read through the intrinsic getters of
// %TypedArray%.prototype (`Symbol.toStringTag`, `length`, `byteOffset`, `buffer`) applied with
// Reflect.apply: they answer for typed arrays of any realm (vm contexts, iframes) and cannot be
// overridden by a subclass or faked by a Proxy (a Proxy has no slots: the tag getter says
// undefined). Everything is read once into a snapshot holding a fixed-length view of this realm
// over the same elements; a later `isIntact` check tells whether the caller's buffer was detached
// or shrunk (resizable ArrayBuffer) since, so a copy never reads stale or missing memory.

import { AttentionError } from './runtime/index';

/** A typed array of this realm (what snapshots hold). */
export type AnyTypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** A typed array of numbers (not bigints) of this realm. */
export type NumberTypedArray = Exclude<AnyTypedArray, BigInt64Array | BigUint64Array>;

type TypedArrayConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => AnyTypedArray;

const CONSTRUCTORS: Record<string, TypedArrayConstructor> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

const TYPED_ARRAY_PROTOTYPE = Object.getPrototypeOf(Uint8Array.prototype) as object;
const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array) as abstract new () => object;

function intrinsicGetter(key: PropertyKey): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTOTYPE, key)!.get!;
}

const TAG = intrinsicGetter(Symbol.toStringTag);
const LENGTH = intrinsicGetter('length');
const BYTE_OFFSET = intrinsicGetter('byteOffset');
const BUFFER = intrinsicGetter('buffer');
/** %TypedArray%.prototype.keys: throws a TypeError for a detached or out-of-bounds view (ValidateTypedArray). */
const VALIDATE = (TYPED_ARRAY_PROTOTYPE as { keys: () => unknown }).keys;

/**
 * The element type ('Float32Array', 'Uint8Array', …) of a genuine typed array of any realm, read
 * from its internal slot; undefined for anything else (a Proxy, an object made from a typed
 * array's prototype, a DataView, a plain array). Never runs caller code.
 */
export function typedArrayName(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  return Reflect.apply(TAG, x, []) as string | undefined;
}

/** True when `x` inherits from this realm's typed-array prototypes but is not a typed array (a Proxy or a forged object). */
export function isFakeTypedArray(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typedArrayName(x) === undefined && x instanceof TYPED_ARRAY;
}

/** A caller's typed array, read once through the intrinsic getters. */
export interface TypedArraySnapshot {
  /** The element type, e.g. 'Float32Array'. */
  name: string;
  /** The caller's object itself (handed back in results that return it). */
  original: object;
  /** A fixed-length view of this realm over the same elements. */
  view: AnyTypedArray;
  /** The buffer the elements live in. */
  buffer: ArrayBufferLike;
  /** Byte offset of element 0 in `buffer`. */
  byteOffset: number;
  /** Number of elements when read. */
  length: number;
}

/**
 * Reads a typed array once (element type, buffer, offset, length) and returns a snapshot; undefined
 * when `x` is not a genuine typed array. Throws INVALID_ARGUMENT when its buffer is detached or has
 * shrunk below the view (a resizable ArrayBuffer), naming `name`.
 */
export function snapshotTypedArray(x: unknown, name: string): TypedArraySnapshot | undefined {
  const kind = typedArrayName(x);
  if (kind === undefined) return undefined;
  const ctor = CONSTRUCTORS[kind];
  if (!ctor) throw new AttentionError('DTYPE_MISMATCH', `${name} is a ${kind}, an element type this library does not read`);
  const array = x as object;
  try {
    const length = Reflect.apply(LENGTH, array, []) as number;
    // a detached view, or one whose resizable buffer shrank below it, reads as empty: tell it apart
    if (length === 0) Reflect.apply(VALIDATE, array, []);
    const byteOffset = Reflect.apply(BYTE_OFFSET, array, []) as number;
    const buffer = Reflect.apply(BUFFER, array, []) as ArrayBufferLike;
    return { name: kind, original: array, view: new ctor(buffer, byteOffset, length), buffer, byteOffset, length };
  } catch {
    throw new AttentionError('INVALID_ARGUMENT', `${name} is a ${kind} whose buffer is detached or smaller than the view (was it transferred or resized?)`);
  }
}

/** True while the snapshot's elements are all still there (its buffer was not detached or shrunk since). */
export function isIntact(s: TypedArraySnapshot): boolean {
  return (Reflect.apply(LENGTH, s.view, []) as number) === s.length;
}

/** Throws INVALID_ARGUMENT unless the snapshot is intact (see isIntact). */
export function assertIntact(s: TypedArraySnapshot, name: string): void {
  if (!isIntact(s)) {
    throw new AttentionError('INVALID_ARGUMENT', `${name} (a ${s.name} of ${s.length} elements) lost its elements during the call: its buffer was detached or shrunk`);
  }
}

/** True when two snapshots share a buffer and their byte ranges intersect. */
export function snapshotsOverlap(a: TypedArraySnapshot, b: TypedArraySnapshot): boolean {
  if (a.buffer !== b.buffer) return false;
  const aEnd = a.byteOffset + a.view.byteLength;
  const bEnd = b.byteOffset + b.view.byteLength;
  return a.byteOffset < bEnd && b.byteOffset < aEnd;
}

/** Largest integer a float32 element may come from without losing the caller's meaning (2^53 − 1). */
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A bigint element as a number, or an INVALID_ARGUMENT naming the index when it is beyond ±(2^53 − 1). */
function bigintElement(value: bigint, name: string, index: number): number {
  if (value > SAFE || value < -SAFE) {
    throw new AttentionError('INVALID_ARGUMENT', `${name}[${index}] is ${value}n, outside the safe integer range ±(2^53 − 1) a float32 value is read from`);
  }
  return Number(value);
}

/** Float32 copy of a bigint typed array, each element range-checked. */
function fromBigInts(view: BigInt64Array | BigUint64Array, name: string): Float32Array {
  const out = new Float32Array(view.length);
  for (let i = 0; i < view.length; i++) out[i] = bigintElement(view[i], name, i);
  return out;
}

/**
 * Float32 copy of a plain array or array-like of numbers: `length` and every index read exactly
 * once. Elements must be numbers (NaN and ±∞ included) or bigints in the safe integer range;
 * strings, booleans, objects are rejected with INVALID_ARGUMENT naming the index.
 */
function fromArrayLike(values: object, name: string, expected: number, need: string): Float32Array {
  const length = (values as { length?: unknown }).length;
  if (typeof length !== 'number') {
    throw new AttentionError('INVALID_ARGUMENT', `${name} must be an array of ${expected} numbers, got ${describeValue(values)} whose length is ${describeValue(length)}`);
  }
  if (length !== expected) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} has ${length} elements but ${need}`);
  }
  const out = new Float32Array(expected);
  const list = values as ArrayLike<unknown>;
  for (let i = 0; i < expected; i++) {
    const v = list[i];
    if (typeof v === 'number') out[i] = v;
    else if (typeof v === 'bigint') out[i] = bigintElement(v, name, i);
    else throw new AttentionError('INVALID_ARGUMENT', `${name}[${i}] must be a number, got ${describeValue(v)}`);
  }
  return out;
}

/**
 * Elements to copy into Wasm memory, read once from `values` (a typed array of any numeric element
 * type and realm, a plain array, or an array-like of numbers) and checked to hold `expected`
 * elements: the snapshot's view for typed arrays of numbers (check `snapshot` with isIntact right
 * before copying), or a Float32Array copy for bigint arrays and arrays of numbers. `need` ends
 * the message of a wrong length ("… has 5 elements but <need>").
 */
export function readElements(
  values: unknown,
  name: string,
  expected: number,
  need = `${expected} are needed`,
): { source: NumberTypedArray; snapshot?: TypedArraySnapshot } {
  if (typeof values !== 'object' || values === null) {
    throw new AttentionError('INVALID_ARGUMENT', `${name} must be an array of ${expected} numbers, got ${describeValue(values)}`);
  }
  if (isFakeTypedArray(values)) throw fakeTypedArrayError(values, name);
  const snapshot = snapshotTypedArray(values, name);
  if (!snapshot) return { source: fromArrayLike(values, name, expected, need) };
  if (snapshot.length !== expected) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} has ${snapshot.length} elements but ${need}`);
  }
  if (snapshot.view instanceof BigInt64Array || snapshot.view instanceof BigUint64Array) {
    return { source: fromBigInts(snapshot.view, name) };
  }
  return { source: snapshot.view as NumberTypedArray, snapshot };
}

/** The error for a Proxy (or forged object) posing as a typed array. */
export function fakeTypedArrayError(x: object, name: string): AttentionError {
  return new AttentionError('INVALID_ARGUMENT', `${name} must be a typed array, got ${describeValue(x)}: pass the typed array itself`);
}

/**
 * A short description of a caller's value for error messages, never running caller code that
 * could throw: typed arrays by element type and length (and realm, when foreign), Proxies posing
 * as typed arrays by what they pretend, arrays by length, primitives by value.
 */
export function describeValue(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'symbol') return 'a symbol';
  if (typeof x === 'function') return 'a function';
  if (typeof x !== 'object') return String(x);
  const kind = typedArrayName(x);
  if (kind !== undefined) return `${kind}(${Reflect.apply(LENGTH, x, []) as number})`;
  if (isFakeTypedArray(x)) return 'an object that inherits from a typed array\'s prototype without being a typed array (a Proxy, or made by Object.create)';
  if (ArrayBuffer.isView(x)) return 'a DataView';
  if (Array.isArray(x)) return 'an Array';
  let ctorName: unknown;
  try {
    ctorName = (x as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    ctorName = undefined;
  }
  return typeof ctorName === 'string' && ctorName !== 'Object' ? `an object of class ${ctorName} (not a typed array)` : 'an object';
}
