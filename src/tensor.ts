// tensor.ts — the tensor types of the public API; a caller's tensor read exactly once into a
// TensorView (typed-arrays.ts does the untrusting reads) before any Wasm memory is touched;
// placing views in Wasm memory for one call (Scope); and where a result goes: a caller's `out`,
// read once, written after the computation.
//
// Aliasing: `out` may be, or overlap, an input (`rt.matmul(t, t, { out: t })`). Kernels read
// resident inputs in place while they write, so when a resident `out` shares memory with any input
// (overlapsAny), outputBlock gives the kernel a temporary block and writeOut copies it into `out`
// at the end. JavaScript inputs are copied into Wasm memory before any kernel runs and JavaScript
// outs are written after, so they cannot be clobbered mid-call either.

import { type Arena, AttentionError, f32At, f32Bytes, formatShape, formatValue } from './runtime/index';
import {
  assertIntact, describeValue, fakeTypedArrayError, isFakeTypedArray, type NumberTypedArray,
  readElements, snapshotTypedArray, type TypedArraySnapshot,
} from './typed-arrays';
import { isWasmTensor, shapeSize, WasmTensor } from './wasm-tensor';

export { shapeSize, WasmTensor } from './wasm-tensor';

/** A dense row-major float32 tensor held in JavaScript memory. */
export interface Tensor {
  /** The elements, row-major. */
  readonly data: Float32Array;
  /** The dimensions, outermost first. */
  readonly shape: readonly number[];
}

/** Element arrays accepted for tensors (float32 values, boolean 0/1 masks, int64 lengths). */
export type TensorData = Float32Array | Uint8Array | Int32Array | BigInt64Array;

/** A tensor as callers may pass it: `{ data, shape }`, onnxruntime-style `{ data, dims }`, or a WasmTensor. */
export type TensorLike<D extends TensorData = Float32Array> =
  | {
    /** The elements, row-major. */
    readonly data: D;
    /** The dimensions, outermost first. */
    readonly shape: readonly number[] }
  | {
    /** The elements, row-major. */
    readonly data: D;
    /** The dimensions, outermost first (onnxruntime's name). */
    readonly dims: readonly number[] }
  | WasmTensor;


/**
 * A new WasmTensor of `shape`, zeroed or filled from `values` (a typed array of any numeric type
 * and realm, or an array of numbers, read once). Allocates only once everything is read and
 * validated, and releases the block if the copy fails, so a rejected call leaks nothing.
 */
export function createTensor(arena: Arena, shapeArg: unknown, values: unknown, onDispose?: (t: WasmTensor) => void): WasmTensor {
  const shape = readShapeArgument(shapeArg);
  const size = shapeSize(shape);
  checkElementCount(size, 'tensor');
  checkShapeFits(shape, 'tensor');
  let source: NumberTypedArray | undefined;
  let snapshot: TypedArraySnapshot | undefined;
  if (values !== undefined) {
    ({ source, snapshot } = readElements(values, 'values', size, `shape ${formatShape(shape)} needs ${size}`));
    if (snapshot && isWasmMemory(snapshot.buffer, arena)) {
      // a view of this very memory (`rt.tensor(a.shape, a.data)`): the allocation below may grow
      // the memory, which detaches it, so copy it first
      source = source.slice();
      snapshot = undefined;
    }
  }
  const ptr = arena.alloc(f32Bytes(size));
  try {
    const block = arena.f32(ptr, size);
    if (!source) block.fill(0);
    else {
      if (snapshot) assertIntact(snapshot, 'values');
      block.set(source);
    }
  } catch (error) {
    arena.release(ptr);
    throw error;
  }
  return new WasmTensor(arena, shape, ptr, onDispose);
}

/** Wasm memory grows by 64 KiB pages: a buffer of another size is not it (skips the slow memory.buffer read). */
const WASM_PAGE = 65536;

/** True when `buffer` is the current buffer of the arena's Wasm memory. */
function isWasmMemory(buffer: ArrayBufferLike, arena: Arena): boolean {
  return buffer.byteLength % WASM_PAGE === 0 && buffer.byteLength > 0 && buffer === arena.buffer;
}

/** `rt.tensor`'s shape: an array of non-negative integers, each element read once. */
function readShapeArgument(shape: unknown): number[] {
  const dims: unknown[] = [];
  if (Array.isArray(shape)) {
    const rank = shape.length;
    for (let i = 0; i < rank; i++) dims.push(shape[i]);
  }
  if (!Array.isArray(shape) || dims.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw new AttentionError('SHAPE_MISMATCH', `shape must be an array of non-negative integers, got ${formatValue(Array.isArray(shape) ? dims : shape)}`);
  }
  return dims as number[];
}

/**
 * A caller's number (or bigint) as a number; anything else (a symbol, an object, a string) as NaN,
 * so validation reports it as a bad value instead of `Number(x)` throwing a TypeError.
 */
export function asNumber(x: unknown): number {
  return typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : Number.NaN;
}


/** Where a tensor's elements are: a byte range of this runtime's Wasm memory, or of a JavaScript buffer. */
export interface Region {
  /** 'wasm' for this runtime's memory (by address: growth replaces its buffer), else the buffer itself */
  buffer: ArrayBufferLike | 'wasm';
  /** first byte */
  start: number;
  /** one past the last byte */
  end: number;
}

/** A caller's tensor, read once and validated (see viewTensor). */
export interface TensorView<D extends TensorData = Float32Array> {
  /** the argument's name in messages ("q", "options.mask") */
  name?: string;
  /** the dimensions, a plain copy */
  shape: number[];
  /**
   * The elements, undefined for a WasmTensor: this realm's fixed-length view of the caller's
   * memory (read it through viewData, which checks it is still all there) or a copy of it.
   */
  data?: D;
  /** what `data` views when it is the caller's memory (undefined when `data` is a copy) */
  snapshot?: TypedArraySnapshot;
  /** the WasmTensor when the input lives in Wasm memory */
  resident?: WasmTensor;
  /** where the caller's elements are, for the overlap check */
  region?: Region;
  /** which field held the dimensions: `shape`, or onnxruntime's `dims` */
  shapeKey?: 'shape' | 'dims';
}

/**
 * Reads a caller's tensor once — `data`, `shape` (or `dims`), and the typed array's buffer,
 * offset and length through the intrinsic getters — and validates it: the element type is one of
 * `accepted` (typed arrays of any realm count; Proxies and forged typed arrays are rejected), the
 * shape holds non-negative integers whose product is the length, a WasmTensor is live and belongs
 * to `arena`. `name` is used in error messages (e.g. "q", "inputs.attn_mask"). A caller's view of
 * this runtime's own Wasm memory is copied at once (the call's allocations may detach it).
 */
export function viewTensor<D extends TensorData>(
  value: unknown,
  name: string,
  accepted: ReadonlyArray<abstract new (...args: never[]) => D>,
  arena: Arena,
): TensorView<D> {
  const view = readTensor(value, name, accepted, arena);
  if (view.data && view.region?.buffer === 'wasm') return { ...view, data: view.data.slice() as D, snapshot: undefined };
  return view;
}

/** viewTensor without the copy of views of Wasm memory (for `out`, written by address). */
function readTensor<D extends TensorData>(
  value: unknown,
  name: string,
  accepted: ReadonlyArray<abstract new (...args: never[]) => D>,
  arena: Arena,
): TensorView<D> {
  if (value instanceof WasmTensor) {
    if (!isWasmTensor(value)) {
      throw new AttentionError('INVALID_ARGUMENT', `${name} must be a WasmTensor made by rt.tensor, got a Proxy of one or an object made from WasmTensor.prototype`);
    }
    value.assertLive(name);
    if (value.arena !== arena) throw new AttentionError('INVALID_ARGUMENT', `${name} is a WasmTensor of another runtime`);
    if (!accepted.some((ctor) => (ctor as unknown) === Float32Array)) {
      throw new AttentionError('DTYPE_MISMATCH', `${name} must be ${typeNames(accepted)}, got a float32 WasmTensor`);
    }
    return { name, shape: [...value.shape], resident: value, region: { buffer: 'wasm', start: value.ptr, end: f32At(value.ptr, value.size) } };
  }
  const data = typeof value === 'object' && value !== null ? getField(value, 'data') : ABSENT;
  if (data === ABSENT) {
    throw new AttentionError('INVALID_ARGUMENT', `${name} must be a tensor { data, shape }, got ${describeValue(value)}`);
  }
  const tensor = value as object;
  let rawShape = getField(tensor, 'shape');
  let shapeKey: 'shape' | 'dims' = 'shape';
  if (rawShape === ABSENT || rawShape === undefined || rawShape === null) {
    const dims = getField(tensor, 'dims');
    if (dims !== ABSENT) {
      rawShape = dims;
      shapeKey = 'dims';
    }
  }
  const shape = readDims(rawShape === ABSENT ? undefined : rawShape, name);
  if (isFakeTypedArray(data)) throw fakeTypedArrayError(data as object, `${name}.data`);
  const snapshot = snapshotTypedArray(data, `${name}.data`);
  if (!snapshot || !accepted.some((ctor) => ctor.name === snapshot.name)) {
    throw new AttentionError('DTYPE_MISMATCH', `${name}.data must be ${typeNames(accepted)}, got ${describeValue(data)}`);
  }
  const size = shapeSize(shape);
  if (snapshot.length !== size) {
    throw new AttentionError('SHAPE_MISMATCH', `${name}.data has ${snapshot.length} elements but shape ${formatShape(shape)} needs ${size}`);
  }
  checkShapeFits(shape, name);
  const start = snapshot.byteOffset;
  const end = start + snapshot.view.byteLength;
  const region: Region = { buffer: isWasmMemory(snapshot.buffer, arena) ? 'wasm' : snapshot.buffer, start, end };
  return { name, shape, data: snapshot.view as D, snapshot, region, shapeKey };
}

/** A tensor's `shape`/`dims`: an array or typed array of non-negative integers, each element read once. */
function readDims(raw: unknown, name: string): number[] {
  let dims: number[] | undefined;
  if (Array.isArray(raw)) {
    const rank = raw.length;
    dims = [];
    for (let i = 0; i < rank; i++) dims.push(asNumber(raw[i]));
  } else {
    const snapshot = isFakeTypedArray(raw) ? undefined : snapshotTypedArray(raw, `${name}.shape`);
    if (snapshot) dims = Array.from(snapshot.view as ArrayLike<number | bigint>, asNumber);
  }
  if (!dims) throw new AttentionError('INVALID_ARGUMENT', `${name}.shape must be an array of dimensions, got ${describeValue(raw)}`);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new AttentionError('SHAPE_MISMATCH', `${name}.shape must hold non-negative integers, got ${formatShape(dims)}`);
    }
  }
  return dims;
}

/** Longest prototype chain searched for a tensor field (a Proxy may fake an endless one). */
const MAX_CHAIN = 64;

/** What getField answers for a key the object does not have. */
const ABSENT: unique symbol = Symbol('absent');

/**
 * `obj[key]`, read once, when `obj` has `key` itself or through a prototype other than
 * Object.prototype (a class's getters count: onnxruntime's Tensor has `data` on its prototype; a
 * polluted Object.prototype does not); else ABSENT.
 */
function getField(obj: object, key: string): unknown {
  let o: object | null = obj;
  for (let depth = 0; o !== null && o !== Object.prototype && depth < MAX_CHAIN; depth++) {
    if (Object.hasOwn(o, key)) return (obj as Record<string, unknown>)[key];
    o = Object.getPrototypeOf(o) as object | null;
  }
  return ABSENT;
}

/** "Float32Array or Uint8Array", for messages. */
function typeNames(accepted: ReadonlyArray<abstract new (...args: never[]) => TensorData>): string {
  return accepted.map((c) => c.name).join(' or ');
}

/**
 * The elements of a view: the resident tensor's live view, or the caller's data after checking it
 * is still all there (a caller's code that ran since the read may have detached or shrunk it).
 */
export function viewData<D extends TensorData>(view: TensorView<D>): D {
  if (view.resident) {
    view.resident.assertLive(view.name ?? 'tensor');
    return view.resident.data as D;
  }
  if (view.snapshot) assertIntact(view.snapshot, `${view.name ?? 'tensor'}.data`);
  return view.data!;
}

/** Largest float count one tensor may hold (one wasm32 address space). */
export const MAX_ELEMENTS = 2 ** 30 - 16;

/**
 * Throws OUT_OF_MEMORY when a shape spans more than one wasm32 memory could index: the product of
 * its non-zero dimensions above MAX_ELEMENTS. An empty tensor ([2^40, 0]) passes the data-length
 * check, but its other dimensions still become 32-bit kernel sizes, loop counts and workspace
 * sizes (they wrapped, or ran for minutes); this rejects them before anything is allocated.
 */
export function checkShapeFits(shape: readonly number[], name: string): void {
  let span = 1;
  for (const d of shape) if (d > 0) span *= d;
  if (span > MAX_ELEMENTS) {
    throw new AttentionError('OUT_OF_MEMORY', `${name} of shape ${formatShape(shape)} spans ${span} elements (its non-zero dimensions), more than a 4 GiB Wasm memory holds (${MAX_ELEMENTS})`);
  }
}

/** Throws OUT_OF_MEMORY when `elements` floats could never fit in Wasm memory. */
export function checkElementCount(elements: number, name: string): void {
  if (!Number.isFinite(elements) || elements > MAX_ELEMENTS) {
    throw new AttentionError('OUT_OF_MEMORY', `${name} needs ${elements} float32 elements, more than a 4 GiB Wasm memory holds`);
  }
}

/**
 * Places a float32 view in the arena. A WasmTensor is used in place (no copy, `owned` false);
 * JavaScript data is copied into a fresh block the caller must release (released here if the
 * copy fails: the caller's buffer was detached or shrunk since it was read).
 */
export function placeF32(arena: Arena, view: TensorView<Float32Array>): { ptr: number; owned: boolean } {
  if (view.resident) {
    view.resident.assertLive(view.name ?? 'tensor');
    return { ptr: view.resident.ptr, owned: false };
  }
  const size = view.data!.length;
  const ptr = arena.alloc(f32Bytes(size));
  try {
    arena.f32(ptr, size).set(viewData(view));
  } catch (error) {
    arena.release(ptr);
    throw error;
  }
  return { ptr, owned: true };
}

/** Allocation scope for one call: every block is released when the call ends, even on error. */
export class Scope {
  private readonly arena: Arena;
  private readonly blocks: number[] = [];
  constructor(arena: Arena) {
    this.arena = arena;
  }
  /** Reserves `floats` floats for the duration of the call. */
  alloc(floats: number, name: string): number {
    checkElementCount(floats, name);
    const ptr = this.arena.alloc(f32Bytes(floats));
    this.blocks.push(ptr);
    return ptr;
  }
  /** Places a float32 view (copy unless resident) for the duration of the call. */
  place(view: TensorView<Float32Array>): number {
    const { ptr, owned } = placeF32(this.arena, view);
    if (owned) this.blocks.push(ptr);
    return ptr;
  }
  /** A fresh float view into the arena (do not keep it across allocations). */
  arenaF32(ptr: number, floats: number): Float32Array {
    return this.arena.f32(ptr, floats);
  }
  /** Releases every block of the scope. */
  close(): void {
    for (const p of this.blocks) this.arena.release(p);
    this.blocks.length = 0;
  }
}

// ── where a result goes ──

/** A caller's `out`, read once: where the result is written and what the method returns. */
export interface OutTarget {
  /** out, validated: a resident WasmTensor, or a snapshot of its JavaScript data */
  view: TensorView<Float32Array>;
  /** what the method returns: the WasmTensor, the caller's `{ data, shape }`, or `{ data, shape }` for a `{ data, dims }` out */
  result: Tensor;
}

/**
 * Reads a caller's `out` once (as viewTensor does) and checks it has `shape`; `what` names that
 * shape in the message ("the output shape", "x's shape"). Its data is written, by writeOut, to
 * the array read here, whatever its `data` getter would answer later.
 */
export function viewOut(value: unknown, name: string, shape: readonly number[], arena: Arena, what = 'the output shape'): OutTarget {
  const view = readTensor(value, name, [Float32Array], arena);
  if (view.shape.length !== shape.length || view.shape.some((d, i) => d !== shape[i])) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must have ${what} ${formatShape(shape)}, got ${formatShape(view.shape)}`);
  }
  if (view.resident) return { view, result: view.resident };
  // the caller's object when it names a `shape`; a { data, dims } out comes back as { data, shape }
  const result = view.shapeKey === 'shape' ? (value as Tensor) : { data: view.snapshot!.original as Float32Array, shape: [...shape] };
  return { view, result };
}

/** True when two views' elements share memory (a Wasm byte range, or a range of one JavaScript buffer). */
export function overlaps(a: TensorView<TensorData>, b: TensorView<TensorData>): boolean {
  const ra = a.region;
  const rb = b.region;
  return ra !== undefined && rb !== undefined && ra.buffer === rb.buffer && ra.start < rb.end && rb.start < ra.end;
}

/** True when `out` shares memory with any of `inputs` (undefined entries are skipped). */
export function overlapsAny(out: TensorView<TensorData>, inputs: ReadonlyArray<TensorView<TensorData> | undefined>): boolean {
  return inputs.some((input) => input !== undefined && overlaps(out, input));
}

/**
 * The block a kernel writes a result of `floats` floats to: a resident `out`'s own block when it
 * shares memory with none of `inputs` (every tensor the call reads in place), else a fresh block
 * of `scope` that writeOut copies into `out`.
 */
export function outputBlock(
  scope: Scope,
  out: OutTarget | undefined,
  floats: number,
  name: string,
  inputs: ReadonlyArray<TensorView<TensorData> | undefined>,
): number {
  const resident = out?.view.resident;
  if (resident && !overlapsAny(out.view, inputs)) return resident.ptr;
  return scope.alloc(floats, name);
}

/**
 * Delivers the result of `shape` at `ptr`: copies it into `out` (unless the kernel wrote there)
 * and returns what the method returns, or returns a fresh Tensor when there is no `out`.
 */
export function writeOut(arena: Arena, out: OutTarget | undefined, ptr: number, shape: readonly number[]): Tensor {
  const size = shapeSize(shape);
  if (!out) return { data: arena.f32(ptr, size).slice(), shape: [...shape] };
  const { view, result } = out;
  if (view.resident) {
    view.resident.assertLive(view.name ?? 'options.out');
    if (view.resident.ptr !== ptr) arena.f32(view.resident.ptr, size).set(arena.f32(ptr, size));
  } else if (view.region?.buffer === 'wasm') {
    // the caller's view of this memory may be detached by growth during the call: write by address
    arena.f32(view.region.start, size).set(arena.f32(ptr, size));
  } else {
    viewData(view).set(arena.f32(ptr, size));
  }
  return result;
}
