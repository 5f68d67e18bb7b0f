// options.ts — how every public method reads its options: snapshot, then validate, then run.
//
//   snapshot  readOptions copies the caller's options object into a plain object, reading each
//             declared key exactly once (an accessor's getter runs once), own properties only —
//             an inherited `Object.prototype.causal` is never an option — and rejecting an unknown
//             key with the closest declared name (`options.casual is not an option of
//             rt.attention — did you mean 'causal'?`). Values are copied plain on the way
//             (nested objects and arrays element by element, tensor-likes by data/shape/dims),
//             so parsing them later runs none of the caller's code; nested option objects
//             (`window`, `random`, a router, a path…) get the same key check from the method.
//   validate  the checks below turn snapshot values into plain numbers and flags (junk is
//             rejected, never coerced), still before any Wasm memory is touched.
//   run       assertLive runs after the last caller value was read (so after every getter the
//             caller could have written) and before anything is written: a runtime, cache, layer,
//             `out` or resident input disposed by the caller's code meanwhile fails the call with
//             DISPOSED instead of being written through.

import type { Kernels } from '../kernels/instance';
import { AttentionError, formatValue } from '../runtime/index';
import { asNumber, WasmTensor } from '../tensor';

/**
 * The prototype of every snapshot: nothing but a toString (so String() and template literals in
 * messages work), and not Object.prototype, so a polluted Object.prototype never shows through.
 */
const SNAPSHOT_PROTOTYPE: object = Object.freeze(Object.create(null, { toString: { value: () => '[object Object]' } }));

/** An empty snapshot object (see SNAPSHOT_PROTOTYPE). */
const plainObject = (): Record<string, unknown> => Object.create(SNAPSHOT_PROTOTYPE) as Record<string, unknown>;

/** The declared keys of an options type: one entry per key, checked complete by the compiler. */
export type KeySet<T> = { readonly [K in keyof Required<T>]: true };

/** The keys of `set` as a list (what readOptions takes). */
export function optionKeys<T>(set: KeySet<T>): ReadonlyArray<keyof T & string> {
  return Object.keys(set) as Array<keyof T & string>;
}

/**
 * The caller's options `value` as a plain, snapshot (no Object.prototype in its chain) holding the keys of `keys`
 * that `value` has as own properties, each read exactly once, and their values copied plain
 * (plainOptionData: nested objects, arrays and tensor-likes read once) — except `out`, which is
 * written and so kept as given. `undefined` gives an empty snapshot; anything but a plain object
 * (null, a number, an array, a typed array) and any enumerable own key not in `keys` throw
 * INVALID_OPTION. `label` names the object in messages ('options', 'options.window'), `where`
 * the method ('rt.attention').
 */
export function readOptions<T>(value: unknown, keys: ReadonlyArray<keyof T & string>, label: string, where: string): Partial<T> {
  const out = plainObject();
  if (value === undefined) return out as Partial<T>;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw new AttentionError('INVALID_OPTION', `${label} must be an object (${where} takes ${keys.join(', ')}), got ${formatValue(value)}`);
  }
  const known: ReadonlyArray<string> = keys;
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key !== 'string') continue;
    const property = Reflect.getOwnPropertyDescriptor(value, key);
    if (property === undefined) continue;
    if (!known.includes(key)) {
      if (property.enumerable) throw unknownOption(label, key, known, where);
      continue;
    }
    const read = valueOf(value, property);
    out[key] = key === 'out' ? read : plainOptionData(read);
  }
  return out as Partial<T>;
}

/** INVALID_OPTION for an unknown key: the closest declared key, or all of them when none is close. */
function unknownOption(label: string, key: string, keys: ReadonlyArray<string>, where: string): AttentionError {
  const name = /^[A-Za-z_$][\w$]*$/.test(key) ? `${label}.${key}` : `${label}[${formatValue(key)}]`;
  const near = closestKey(key, keys);
  const hint = near !== undefined ? ` — did you mean '${near}'?` : `; its options are ${keys.map((k) => `'${k}'`).join(', ')}`;
  const noun = label === 'inputs' ? 'an input' : label === 'attributes' ? 'an attribute' : 'an option';
  return new AttentionError('INVALID_OPTION', `${name} is not ${noun} of ${where}${hint}`);
}

/** Case, `_` and `-` do not count: key_padding_mask is keyPaddingMask. */
const normalizeKey = (key: string): string => key.toLowerCase().replace(/[_-]/g, '');

/**
 * The declared key nearest to `key` by edit distance (insertions, deletions, substitutions and
 * swaps of neighbours, after normalizeKey), when it is within a third of the key's length
 * (at least 1); else undefined.
 */
export function closestKey(key: string, keys: ReadonlyArray<string>): string | undefined {
  if (key.length > 64) return undefined;
  const a = normalizeKey(key);
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(a.length / 3));
  for (const candidate of keys) {
    const d = editDistance(a, normalizeKey(candidate));
    if (d < bestDistance || (d === bestDistance && best === undefined)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal-string-alignment distance: Levenshtein plus the swap of two adjacent characters. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i].push(d);
    }
  }
  return rows[a.length][b.length];
}

/**
 * The property `key` of a tensor-like `value`: its own, or one its class defines (an onnxruntime
 * Tensor's `data` is a getter of its class), never one inherited from Object.prototype. Runs no getter.
 */
function fieldOf(value: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = value; o !== null && o !== Object.prototype; o = Reflect.getPrototypeOf(o)) {
    const property = Reflect.getOwnPropertyDescriptor(o, key);
    if (property !== undefined) return property;
  }
  return undefined;
}

/** The value of `property` of `owner`: its value, or its getter's result (run once). */
const valueOf = (owner: object, property: PropertyDescriptor): unknown =>
  'value' in property ? property.value : property.get ? Reflect.apply(property.get, owner, []) : undefined;

/**
 * A tensor-valued option (mask, bias, centroids, …) read once: a WasmTensor (or anything that is
 * not a plain object, left for the tensor check to reject) as is; else a plain `{ data, shape,
 * dims }` holding the fields the object has (see fieldOf), shape arrays copied. Later reads of
 * the snapshot run no caller code and see no inherited field.
 */
function readTensorOption(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof WasmTensor || Array.isArray(value) || ArrayBuffer.isView(value)) return value;
  const out = plainObject();
  for (const key of ['data', 'shape', 'dims']) {
    const property = fieldOf(value, key);
    const field = property && valueOf(value, property);
    if (field === undefined) continue;
    out[key] = key !== 'data' && (Array.isArray(field) || ArrayBuffer.isView(field)) ? Array.from(field as ArrayLike<unknown>) : field;
  }
  return out;
}

/**
 * A deep plain copy of an option's value, read once: plain objects (copies of their own enumerable
 * keys, without Object.prototype) and arrays element by element, tensor-likes (objects with a `data`
 * field) through readTensorOption; WasmTensors, typed arrays, class instances (a KVCache) and
 * primitives as they are. Parsing the copy runs none of the caller's code.
 */
export function plainOptionData(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || value instanceof WasmTensor || ArrayBuffer.isView(value) || depth > 8) return value;
  if (Array.isArray(value)) return Array.from(value as unknown[], (x) => plainOptionData(x, depth + 1));
  if (fieldOf(value, 'data')) return readTensorOption(value);
  const proto = Reflect.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out = plainObject();
  for (const key of Object.keys(value)) {
    const property = Reflect.getOwnPropertyDescriptor(value, key);
    if (property === undefined) continue;
    out[key] = plainOptionData(valueOf(value, property), depth + 1);
  }
  return out;
}

/**
 * Throws DISPOSED when the runtime, or a WasmTensor among `objects` (keyed by the argument's
 * name), was disposed while the caller's code ran during the call (option getters, tensor
 * fields). Every method calls it after reading its last argument, before writing anything
 * (objects of other kinds — a cache, a layer, a PackedMatrix — are checked by their own methods).
 */
export function assertLive(kernels: Kernels, objects: Record<string, unknown> = {}): void {
  kernels.assertLive();
  for (const name of Object.keys(objects)) {
    const o = objects[name];
    if (o instanceof WasmTensor && o.isDisposed) throw new AttentionError('DISPOSED', `${name} is a WasmTensor that was disposed during the call`);
  }
}

/** true or false, or the default when undefined; anything else (1, 'yes') is INVALID_OPTION. */
export function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new AttentionError('INVALID_OPTION', `${name} must be true or false, got ${formatValue(value)}`);
  return value;
}

/** A finite number, or the default when undefined. */
export function finiteOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AttentionError('INVALID_OPTION', `${name} must be a finite number, got ${formatValue(value)}`);
  }
  return value;
}

/** A finite number ≥ 0, or the default when undefined. */
export function nonNegativeOption(value: unknown, name: string, fallback: number): number {
  const v = finiteOption(value, name, fallback);
  if (v < 0) throw new AttentionError('INVALID_OPTION', `${name} must be ≥ 0, got ${v}`);
  return v;
}

/** An integer ≥ min, or the default when undefined. */
export function integerOption(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an integer ≥ ${min}, got ${formatValue(value)}`);
  }
  return value;
}

/** Per-batch integer lengths in [0, max], from any array-like (number, Int32Array, BigInt64Array). */
export function lengthsOption(value: unknown, name: string, batch: number, max: number): number[] {
  const isArrayLike = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!isArrayLike) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an array of ${batch} lengths, got ${formatValue(value)}`);
  }
  const list = Array.from(value as ArrayLike<number | bigint>, asNumber);
  if (list.length !== batch) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must hold one length per batch entry (${batch}), got ${list.length}`);
  }
  for (const x of list) {
    if (!Number.isInteger(x) || x < 0 || x > max) {
      throw new AttentionError('INVALID_OPTION', `${name} entries must be integers in [0, ${max}], got ${x}`);
    }
  }
  return list;
}

/** An integer option ≥ min that must be given. */
export function requiredInteger(value: unknown, name: string, min: number): number {
  if (value === undefined) throw new AttentionError('INVALID_OPTION', `${name} is required (an integer ≥ ${min}), got undefined`);
  return integerOption(value, name, 0, min);
}

/** A 32-bit seed: an integer in [0, 2³²). */
export function seedOption(value: unknown, name: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an integer in [0, 2^32), got ${String(value)}`);
  }
  return value >>> 0;
}

/**
 * Throws INVALID_OPTION unless `value` ≤ `bound`: options that multiply the work of a call are
 * capped relative to its input, so a tiny input cannot ask for unbounded work. `why` says what
 * the bound is (e.g. "the 16 queries and keys k-means clusters").
 */
export function checkAtMost(value: number, bound: number, name: string, why: string): void {
  if (value > bound) throw new AttentionError('INVALID_OPTION', `${name} must be ≤ ${bound} (${why}), got ${value}`);
}
