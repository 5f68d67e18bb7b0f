// numeric.ts — small shared helpers for the numeric tests: a seeded PRNG, random float32 data,
// closeness checks against float64 references, and a peek at a runtime's arena for leak checks.

import { type AttentionWithWeights, isaSupported, type Isa, type Runtime, type Tensor } from '../../src/index';

/** The kernel binaries this engine accepts (relaxed needs --experimental-wasm-relaxed-simd on Node 20). */
export const ISAS: Isa[] = isaSupported('relaxed') ? ['simd128', 'relaxed'] : ['simd128'];

/** The output (and weights, with returnWeights) of an rt.attention result. */
export function attentionParts(r: Tensor | AttentionWithWeights): { output: Tensor; weights?: Tensor } {
  return 'weights' in r && 'output' in r ? (r as AttentionWithWeights) : { output: r as Tensor };
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n float32 values uniform in [lo, hi). */
export function uniformF32(n: number, next: () => number, lo = -2, hi = 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** Row-major coordinates of flat index `i` in `shape`, for messages. */
export function coords(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    c[a] = shape[a] === 0 ? 0 : i % shape[a];
    i = shape[a] === 0 ? 0 : Math.floor(i / shape[a]);
  }
  return c;
}

/**
 * The first element where |got − want| > atol + rtol·|want| (NaN anywhere fails), described for a
 * failure message; undefined when every element is close. `tolOf(i)` may widen the bound per element.
 */
export function mismatch(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  atol: number,
  rtol: number,
  shape?: readonly number[],
  tolOf?: (i: number) => number,
): string | undefined {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const tol = tolOf ? tolOf(i) : atol + rtol * Math.abs(w);
    if (!(Math.abs(g - w) <= tol)) {
      const at = shape ? `[${coords(i, shape).join(', ')}]` : `${i}`;
      return `at ${at}: got ${g}, want ${w} (diff ${Math.abs(g - w)}, tol ${tol})`;
    }
  }
  return undefined;
}

/**
 * Like `mismatch`, but NaN and ±∞ in `want` must be matched exactly (NaN by NaN, ∞ by the same ∞);
 * for inputs that legitimately propagate non-finite values.
 */
export function mismatchNonFinite(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  atol: number,
  rtol: number,
  shape?: readonly number[],
): string | undefined {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const ok = Number.isFinite(w) ? Math.abs(g - w) <= atol + rtol * Math.abs(w) : Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w));
    if (!ok) {
      const at = shape ? `[${coords(i, shape).join(', ')}]` : `${i}`;
      return `at ${at}: got ${g}, want ${w}`;
    }
  }
  return undefined;
}

/** The first index where a and b differ bit for bit (Object.is), described; undefined when identical. */
export function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `at ${i}: ${a[i]} vs ${b[i]}`;
  return undefined;
}

/**
 * Live blocks and bytes of a runtime's arena. This reaches into internals (Runtime.kernels.arena)
 * on purpose: the public API has no allocation counter, and leak tests need one.
 */
export function arenaStats(rt: Runtime): { blocks: number; bytes: number } {
  const arena = (rt as unknown as { kernels: { arena: { blockCount: number; allocatedBytes: number } } }).kernels.arena;
  return { blocks: arena.blockCount, bytes: arena.allocatedBytes };
}
