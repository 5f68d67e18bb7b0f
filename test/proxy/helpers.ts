// Shared by the proxy runtime's tests: the built worker's URL, seeded random tensors.

/** The proxy worker as built by npm run build. */
export const proxyWorkerUrl = new URL('../../dist/proxy-worker.js', import.meta.url);

/** A seeded generator of numbers in [−1, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** A float32 tensor of `shape` filled from `rnd`. */
export const tensor = (shape: number[], rnd: () => number) => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd), shape });
