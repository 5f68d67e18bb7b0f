// random.ts — seeded normal random numbers, bit-identical in every engine and both binaries:
// the random rotations of LSH attention and Linformer's projections.
//
// What:    f32_randn  out[i] ~ N(0, scale²), i < n, from a seed (mulberry32 + polar method)
// Params:  f32_randn takes the address of a RandomParams block (the host writes it through the
//          exported RANDOM_* offsets) and reads its fields into locals once, first.
// Shapes:  out: (n) f32.
// Determinism: only integer arithmetic and f64 +, −, ×, ÷ and √ (correctly rounded in
//          WebAssembly; no host Math, no SIMD, no fused multiply-add), so both binaries produce
//          bit-identical numbers for a seed in every engine.
// Error:   the polar method in f64, rounded once to f32; ln by its own series (< 1e-18 relative).
// Reference: T. Ettinger, mulberry32 (public domain); G. Marsaglia, T. Bray, "A convenient method
//          for generating normal random variables" (1964).

/** The random-number parameter block, written by the host; field order is the layout. */
@final @unmanaged export class RandomParams {
  seed: u32;
  /** numbers to write */
  n: i32;
  /** their standard deviation */
  scale: f32;
  /** (n) f32 */
  out: usize;
}

// Offsets of the fields (src/kernels/random.ts reads these from the exports).
export const RANDOM_SEED: i32 = offsetof<RandomParams>('seed'); //     0
export const RANDOM_N: i32 = offsetof<RandomParams>('n'); //           4
export const RANDOM_SCALE: i32 = offsetof<RandomParams>('scale'); //   8
export const RANDOM_OUT: i32 = offsetof<RandomParams>('out'); //       12
export const RANDOM_PARAMS_BYTES: i32 = offsetof<RandomParams>(); //   16

/** mulberry32's output function for one state (the caller advances the state by 0x6D2B79F5). */
// @ts-ignore: decorator
@inline function mulberry32(state: u32): u32 {
  let t = state;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

/**
 * Natural log of x > 0 (finite, normal) in f64 without lookup tables (so it adds a few hundred
 * bytes, not AssemblyScript's 4 KB log table): x = m·2^e with m ∈ [√½, √2), then
 * ln m = 2·atanh(z), z = (m − 1)/(m + 1), |z| ≤ 0.172, by its odd series to z²¹ (truncation
 * < 1e-18 relative). Deterministic: plain f64 arithmetic only.
 */
function lnPositive(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000); // [1, 2)
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  const z = (m - 1.0) / (m + 1.0);
  const z2 = z * z;
  let t = 1.0 / 21.0;
  t = t * z2 + 1.0 / 19.0;
  t = t * z2 + 1.0 / 17.0;
  t = t * z2 + 1.0 / 15.0;
  t = t * z2 + 1.0 / 13.0;
  t = t * z2 + 1.0 / 11.0;
  t = t * z2 + 1.0 / 9.0;
  t = t * z2 + 1.0 / 7.0;
  t = t * z2 + 1.0 / 5.0;
  t = t * z2 + 1.0 / 3.0;
  t = t * z2 + 1.0;
  return 2.0 * z * t + <f64>e * 0.6931471805599453;
}

/**
 * n normal numbers with standard deviation `scale`, from `seed`: the mulberry32 stream (state +=
 * 0x6D2B79F5 per draw) feeds Marsaglia's polar method — u, v = (a >>> 8)·2⁻²³ − 1 ∈ [−1, 1),
 * s = u² + v², pairs with s ∉ (0, 1) are drawn again; out[2i] = u·f, out[2i+1] = v·f with
 * f = √(−2 ln s / s)·scale. A prefix of a longer stream equals the shorter stream.
 * Fields: seed; n; scale; out (n) f32.
 */
export function f32_randn(params: usize): void {
  const par = changetype<RandomParams>(params);
  const seed = par.seed;
  const n = par.n;
  const scale = par.scale;
  const out = par.out;
  let state = seed;
  const sc = <f64>scale;
  for (let i = 0; i < n; i += 2) {
    let u: f64 = 0, v: f64 = 0, s: f64 = 0;
    do {
      state += 0x6d2b79f5;
      u = <f64>(mulberry32(state) >>> 8) * 1.1920928955078125e-7 - 1.0; // 2^-23
      state += 0x6d2b79f5;
      v = <f64>(mulberry32(state) >>> 8) * 1.1920928955078125e-7 - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const f = Math.sqrt(-2.0 * lnPositive(s) / s) * sc;
    store<f32>(out + (<usize>i << 2), <f32>(u * f));
    if (i + 1 < n) store<f32>(out + (<usize>(i + 1) << 2), <f32>(v * f));
  }
}
