// data.ts — seeded test data for the low-precision kernel tests.

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

/** n float32 standard normal values (Box–Muller). */
export function gaussian(n: number, next: () => number, sigma = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sigma * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return out;
}

/** n float32 values uniform in [lo, hi). */
export function uniform(n: number, next: () => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** n integers uniform in [lo, hi]. */
export function integers(n: number, next: () => number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo + 1)));
}
