// bytes.ts — typed conversions between element counts and byte addresses in Wasm memory, so no
// call site multiplies or shifts by a type's width by hand. Kernel pointers are byte addresses;
// strides and counts are in elements.

/** Bytes of one f32 / i32 element. */
export const F32_BYTES = 4;
/** Bytes of one i32 element. */
export const I32_BYTES = 4;

/** Bytes of `n` f32 (or i32) elements. */
export function f32Bytes(n: number): number {
  return F32_BYTES * n;
}

/** The byte address of f32 element `index` of the array at byte address `base`. */
export function f32At(base: number, index: number): number {
  return base + F32_BYTES * index;
}

/** The index into a whole-memory Float32Array / Int32Array of the 4-byte-aligned byte address `ptr`. */
export function wordIndex(ptr: number): number {
  return ptr >>> 2;
}

/** `n` elements of 4 bytes in a byte count (exact when bytes is a multiple of 4). */
export function wordsIn(bytes: number): number {
  return bytes >>> 2;
}
