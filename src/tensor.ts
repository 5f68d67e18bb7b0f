// tensor.ts — the tensor types of the public API, shape checks, and placing data in Wasm memory.

import { type Arena, AttentionError, formatShape } from './runtime/index';

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
 * A float32 tensor living in the runtime's Wasm memory: a zero-copy input or output for every
 * operation of the runtime that made it. `data` is a fresh view each time it is read (memory
 * growth detaches old views), so read it when you need it and do not keep it across calls.
 */
export class WasmTensor {
  /** Dimensions, row-major. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** @internal byte address in the arena */
  readonly ptr: number;
  /** @internal the arena that owns the bytes */
  readonly arena: Arena;
  private disposed = false;
  private readonly onDispose: ((t: WasmTensor) => void) | undefined;

  /** @internal created by `Runtime.tensor` */
  constructor(arena: Arena, shape: readonly number[], ptr: number, onDispose?: (t: WasmTensor) => void) {
    this.arena = arena;
    this.onDispose = onDispose;
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.ptr = ptr;
  }

  /** A live view of the elements (re-derived on every read; never stale). */
  get data(): Float32Array {
    this.assertLive('tensor');
    return this.arena.f32(this.ptr, this.size);
  }

  /** A copy of the elements in JavaScript memory. */
  toArray(): Float32Array {
    return this.data.slice();
  }

  /** Writes `values` (length = size) into the tensor. */
  set(values: ArrayLike<number>): void {
    if (values.length !== this.size) {
      throw new AttentionError('SHAPE_MISMATCH', `tensor.set: expected ${this.size} values for shape ${formatShape(this.shape)}, got ${values.length}`);
    }
    this.data.set(values);
  }

  /** True once `dispose()` ran. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the Wasm memory. Using the tensor afterwards throws DISPOSED. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.arena.release(this.ptr);
    this.onDispose?.(this);
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal */
  assertLive(name: string): void {
    if (this.disposed) throw new AttentionError('DISPOSED', `${name} is a disposed WasmTensor`);
  }
}

/**
 * A caller's number (or bigint) as a number; anything else (a symbol, an object, a string) as NaN,
 * so validation reports it as a bad value instead of `Number(x)` throwing a TypeError.
 */
export function asNumber(x: unknown): number {
  return typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : Number.NaN;
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A validated view of a caller's tensor. */
export interface TensorView<D extends TensorData = Float32Array> {
  shape: number[];
  /** JavaScript data, or undefined for a WasmTensor */
  data?: D;
  /** the WasmTensor when the input lives in Wasm memory */
  resident?: WasmTensor;
}

const dtypeName = (d: unknown): string =>
  d === null || d === undefined ? String(d) : ((d as object).constructor?.name ?? typeof d);

/**
 * Checks that `value` is a tensor with one of the accepted element types and a consistent shape.
 * `name` is used in error messages (e.g. "q", "inputs.attn_mask").
 */
export function viewTensor<D extends TensorData>(
  value: unknown,
  name: string,
  accepted: ReadonlyArray<abstract new (...args: never[]) => D>,
  arena?: Arena,
): TensorView<D> {
  if (value instanceof WasmTensor) {
    value.assertLive(name);
    if (!accepted.some((ctor) => (ctor as unknown) === Float32Array)) {
      throw new AttentionError('DTYPE_MISMATCH', `${name} must be ${accepted.map((c) => c.name).join(' or ')}, got a float32 WasmTensor`);
    }
    if (arena && value.arena !== arena) {
      throw new AttentionError('INVALID_ARGUMENT', `${name} is a WasmTensor of another runtime`);
    }
    return { shape: [...value.shape], resident: value };
  }
  if (typeof value !== 'object' || value === null || !('data' in value)) {
    throw new AttentionError('INVALID_ARGUMENT', `${name} must be a tensor { data, shape }, got ${dtypeName(value)}`);
  }
  const v = value as { data: unknown; shape?: unknown; dims?: unknown };
  const rawShape = v.shape ?? v.dims;
  if (!Array.isArray(rawShape) && !ArrayBuffer.isView(rawShape)) {
    throw new AttentionError('INVALID_ARGUMENT', `${name}.shape must be an array of dimensions, got ${dtypeName(rawShape)}`);
  }
  const shape = Array.from(rawShape as ArrayLike<number>, asNumber);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new AttentionError('SHAPE_MISMATCH', `${name}.shape must hold non-negative integers, got ${formatShape(shape)}`);
    }
  }
  if (!accepted.some((ctor) => v.data instanceof ctor)) {
    throw new AttentionError('DTYPE_MISMATCH', `${name}.data must be ${accepted.map((c) => c.name).join(' or ')}, got ${dtypeName(v.data)}`);
  }
  const data = v.data as D;
  const size = shapeSize(shape);
  if (data.length !== size) {
    throw new AttentionError('SHAPE_MISMATCH', `${name}.data has ${data.length} elements but shape ${formatShape(shape)} needs ${size}`);
  }
  checkShapeFits(shape, name);
  return { shape, data };
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
 * JavaScript data is copied into a fresh block the caller must release.
 */
export function placeF32(arena: Arena, view: TensorView<Float32Array>): { ptr: number; owned: boolean } {
  if (view.resident) return { ptr: view.resident.ptr, owned: false };
  const size = view.data!.length;
  const ptr = arena.alloc(size * 4);
  arena.f32(ptr, size).set(view.data!);
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
    const ptr = this.arena.alloc(floats * 4);
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
