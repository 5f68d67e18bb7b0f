// wasm-tensor.ts — WasmTensor: a float32 tensor in a runtime's Wasm memory, read-only (private
// fields behind getters, a frozen instance and shape) and brand-checked (isWasmTensor), so neither
// an assignment nor a Proxy can make a kernel write outside its block.

import { type Arena, AttentionError, formatShape } from './runtime/index';
import { assertIntact, readElements } from './typed-arrays';

/** Brand check of genuine WasmTensors (set by the class's static block; a Proxy or a copy fails it). */
let isGenuineTensor: (x: object) => boolean = () => false;

/** True for a WasmTensor made by this module (not a Proxy of one, nor an object made from its prototype). */
export function isWasmTensor(x: object): boolean {
  return isGenuineTensor(x);
}

/**
 * A float32 tensor living in the runtime's Wasm memory: a zero-copy input or output for every
 * operation of the runtime that made it. `data` is a fresh view each time it is read (memory
 * growth detaches old views), so read it when you need it and do not keep it across calls.
 *
 * Read-only: its shape, address and runtime are fixed when it is made (private fields behind
 * getters; the instance is frozen, so assigning `shape` throws in strict mode and does nothing
 * otherwise). `shape` returns the same frozen array on every read.
 */
export class WasmTensor {
  readonly #arena: Arena;
  readonly #ptr: number;
  readonly #shape: readonly number[];
  readonly #size: number;
  readonly #onDispose: ((t: WasmTensor) => void) | undefined;
  #disposed = false;

  /** @internal created by `Runtime.tensor` */
  constructor(arena: Arena, shape: readonly number[], ptr: number, onDispose?: (t: WasmTensor) => void) {
    this.#arena = arena;
    this.#ptr = ptr;
    this.#shape = Object.freeze([...shape]);
    this.#size = shapeSize(this.#shape);
    this.#onDispose = onDispose;
    Object.freeze(this);
  }

  static {
    isGenuineTensor = (x) => #ptr in x;
  }

  /** Dimensions, outermost first: one frozen array, the same on every read. */
  get shape(): readonly number[] {
    return this.#shape;
  }

  /** Number of elements. */
  get size(): number {
    return this.#size;
  }

  /** @internal byte address in the arena */
  get ptr(): number {
    return this.#ptr;
  }

  /** @internal the arena that owns the bytes */
  get arena(): Arena {
    return this.#arena;
  }

  /** A live view of the elements (re-derived on every read; never stale). */
  get data(): Float32Array {
    this.assertLive('tensor');
    return this.#arena.f32(this.#ptr, this.#size);
  }

  /** A copy of the elements in JavaScript memory. */
  toArray(): Float32Array {
    return this.data.slice();
  }

  /**
   * Writes `values` (length = size: a typed array of any numeric type, or an array of numbers)
   * into the tensor. Throws INVALID_ARGUMENT for a non-number element, naming its index.
   */
  set(values: ArrayLike<number>): void {
    this.assertLive('tensor');
    const name = 'tensor.set(values)';
    const { source, snapshot } = readElements(values, name, this.#size, `shape ${formatShape(this.#shape)} needs ${this.#size}`);
    if (snapshot) assertIntact(snapshot, name);
    this.data.set(source);
  }

  /** True once `dispose()` ran. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Frees the Wasm memory. Using the tensor afterwards throws DISPOSED. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#arena.release(this.#ptr);
    this.#onDispose?.(this);
  }

  /** Same as `dispose()`, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal */
  assertLive(name: string): void {
    if (this.#disposed) throw new AttentionError('DISPOSED', `${name} is a disposed WasmTensor`);
  }
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
