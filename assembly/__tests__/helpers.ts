// helpers.ts — shared by the kernel specs (not a spec itself: the as-pect entries glob is *.spec.ts).
//
// Memory:  the as-pect build uses AssemblyScript's incremental runtime (TLSF allocator), whose
//          `heap.alloc` blocks are 16-byte aligned. `Guarded` still aligns the pointer itself
//          (so the specs do not depend on that) and surrounds the logical bytes with GUARD bytes
//          of sentinel on each side: kernels may over-read up to 16 bytes past a buffer (the
//          guard is readable memory), and the specs check that they never over-write (the guard
//          and every padding word between strided rows must still hold the sentinel).
// Sentinel: a quiet NaN with a payload no kernel computes, so a kernel that *reads* padding of
//          an input buffer poisons its result (caught by the accuracy check), and one that
//          *writes* padding of an output buffer is caught bit-exactly.
// Random:  xorshift32 with a fixed seed, so every run checks the same inputs.

/** Quiet NaN with payload 0xdead: fills every byte a kernel must not touch. */
export const SENTINEL: u32 = 0x7fc0dead;
/** Another quiet NaN: the logical part of an output that the kernel must overwrite without reading. */
export const GARBAGE: u32 = 0x7fc0beef;
/** A third quiet NaN: initial workspace contents, so workspace bytes copied into an output's padding show. */
export const WS_FILL: u32 = 0x7fc0f00d;
/** Sentinel bytes on each side of a guarded buffer (≥ 16: the kernels' allowed over-read). */
export const GUARD: usize = 64;

/** A 16-byte aligned buffer of `bytes` logical bytes with GUARD sentinel bytes before and after. */
export class Guarded {
  raw: usize;
  ptr: usize;
  bytes: usize;

  constructor(bytes: usize) {
    this.bytes = (bytes + 3) & ~(<usize>3);
    this.raw = heap.alloc(this.bytes + 2 * GUARD + 16);
    this.ptr = (this.raw + GUARD + 15) & ~(<usize>15);
    fillWords(this.ptr - GUARD, this.bytes + 2 * GUARD, SENTINEL);
  }

  /** Number of words in the two guard zones that no longer hold the sentinel. */
  guardDamage(): i32 {
    return countNot(this.ptr - GUARD, GUARD, SENTINEL) + countNot(this.ptr + this.bytes, GUARD, SENTINEL);
  }

  /** FNV-1a over every word, guards included (inputs must come back bit-identical). */
  hash(): u32 {
    return hashWords(this.ptr - GUARD, this.bytes + 2 * GUARD);
  }

  free(): void {
    heap.free(this.raw);
  }
}

export function fillWords(p: usize, bytes: usize, word: u32): void {
  for (let q = p; q < p + bytes; q += 4) store<u32>(q, word);
}

export function countNot(p: usize, bytes: usize, word: u32): i32 {
  let n = 0;
  for (let q = p; q < p + bytes; q += 4) if (load<u32>(q) != word) n++;
  return n;
}

export function hashWords(p: usize, bytes: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let q = p; q < p + bytes; q += 4) {
    h = (h ^ load<u32>(q)) * 0x01000193;
  }
  return h;
}

/**
 * Guarded buffer holding a (rows, cols) f32 matrix with row stride `ld` elements (ld ≥ cols).
 * All rows·ld words are allocated, so padding follows the last row too.
 */
export function matrix(rows: i32, cols: i32, ld: i32): Guarded {
  return new Guarded(<usize>max(rows * ld, 1) << 2);
}

/** Words of a strided matrix buffer outside the logical (rows, cols) region that lost the sentinel. */
export function paddingDamage(g: Guarded, rows: i32, cols: i32, ld: i32): i32 {
  let n = g.guardDamage();
  const total = <i32>(g.bytes >> 2);
  for (let w = 0; w < total; w++) {
    const logical = w < rows * ld && w % ld < cols;
    if (!logical && load<u32>(g.ptr + (<usize>w << 2)) != SENTINEL) n++;
  }
  return n;
}

/** Element (r, c) of a strided f32 matrix. */
// @ts-ignore: decorator
@inline export function at(p: usize, ld: i32, r: i32, c: i32): usize {
  return p + ((<usize>r * <usize>ld + <usize>c) << 2);
}

/** Deterministic xorshift32. */
export class Rng {
  s: u32;
  constructor(seed: u32) {
    this.s = seed == 0 ? 0x9e3779b9 : seed;
  }
  next(): u32 {
    let x = this.s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    this.s = x;
    return x;
  }
  /** Uniform in [lo, hi). */
  uniform(lo: f32, hi: f32): f32 {
    const t = <f32>(this.next() >> 8) * <f32>5.9604644775390625e-8; // 2^-24
    return lo + (hi - lo) * t;
  }
  /** Uniform integer in [0, n). */
  below(n: i32): i32 {
    return <i32>(this.next() % <u32>n);
  }
}

/** Fills the logical (rows, cols) region of a strided matrix with uniform values in [lo, hi). */
export function fillMatrix(p: usize, rows: i32, cols: i32, ld: i32, rng: Rng, lo: f32, hi: f32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(at(p, ld, r, c), rng.uniform(lo, hi));
  }
}

/** Fills the logical (rows, cols) region of a strided matrix with one bit pattern. */
export function fillMatrixBits(p: usize, rows: i32, cols: i32, ld: i32, bits: u32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<u32>(at(p, ld, r, c), bits);
  }
}

/** 16-byte aligned, guarded kernel workspace of `bytes` bytes, filled with WS_FILL. */
export function workspace(bytes: usize): Guarded {
  const g = new Guarded(bytes);
  fillWords(g.ptr, g.bytes, WS_FILL);
  return g;
}

/** 16-byte aligned scratch for a kernel parameter block (zeroed; unused fields stay 0). */
export function paramBlock(bytes: i32): Guarded {
  const g = new Guarded(<usize>bytes);
  memory.fill(g.ptr, 0, <usize>bytes);
  return g;
}

// as-pect 8 caches strings by their address (TestContext.getString), so a dynamic string that is
// freed and another allocated at the same address would be reported with the old text. Every
// dynamic string handed to log() or to an expectation message goes through keep(), which holds it
// alive for the whole run so no address is ever reused.
const KEPT: string[] = [];

/** Holds `s` alive for the whole run (see above) and returns it. */
export function keep(s: string): string {
  KEPT.push(s);
  return s;
}

/** log() for dynamic strings. */
export function report(s: string): void {
  log<string>(keep(s));
}
