// simd.ts — lane helpers shared by every kernel.
//
// What:   madd (fused multiply-add when the relaxed build allows it), horizontal max/sum (of one
//         vector, and of four vectors at once in f32 and i32 lanes), a zero-padded 4-float load and
//         the max |x| of a row, a vectorized exp with range reduction, and tanh built on it.
// Build:  one source, two binaries. `ASC_FEATURE_RELAXED_SIMD` is a compile-time constant, so
//         the branch in `madd` disappears: the relaxed build emits f32x4.relaxed_madd, the
//         simd128 build emits mul + add.
// Constants: vector constants are loaded from a static table (V8 on Node 20 materializes
//         v128.const poorly), and never folded through relaxed ops (Binaryen -O3 mis-folds
//         relaxed_madd with constant operands).
//
// exp_f32x4(x), the Cephes `expf` scheme:
//   n = nearest(x·log2 e), r = x − n·ln2 (two-step Cody–Waite, C1 + C2 = ln 2),
//   exp(r) ≈ 1 + r + r²·P(r) with a degree-5 minimax P on |r| ≤ ln2/2,
//   result = exp(r)·2ⁿ built by adding n to the exponent bits.
//   Max relative error ≤ 2e-7 over [−87, 0] (tested in __tests__/exp.spec.ts against f64 Math.exp).
//   x < −87.3365 (including −∞) gives exactly 0, so masked scores contribute exactly nothing;
//   x > 88 saturates at exp(88) ≈ 1.65e38 (finite, so 2ⁿ never overflows the exponent); NaN stays NaN.
//   Reference: S. L. Moshier, Cephes Math Library, expf.c.
//
// tanh_f32x4(x) = sign(x)·(1 − 2/(exp(2|x|) + 1)), |x| clamped to 10 (2/(e²⁰ + 1) = 4e-9 < half an ulp of 1, so tanh saturates at exactly ±1).
//   Absolute error ≤ 3e-7 everywhere (relative error grows near 0, where softcap·tanh(s/softcap) ≈ s
//   anyway; the absolute bound is what softmax sees).

// Static constant table, 16-byte aligned, one f32x4 splat per 16 bytes.
const K_LOG2E: i32 = 0;
const K_C1: i32 = 1;
const K_C2: i32 = 2;
const K_P0: i32 = 3;
const K_P1: i32 = 4;
const K_P2: i32 = 5;
const K_P3: i32 = 6;
const K_P4: i32 = 7;
const K_P5: i32 = 8;
const K_ONE: i32 = 9;
const K_EXP_LO: i32 = 10;
const K_EXP_HI: i32 = 11;
const K_TWO: i32 = 12;
const K_TANH_CLAMP: i32 = 13;
const K_NEG_INF: i32 = 14;
const K_ZERO: i32 = 15;
const K_NEG_C1: i32 = 16;
const K_NEG_C2: i32 = 17;

const CONSTANTS: usize = memory.data<f32>([
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,
  -87.33654, -87.33654, -87.33654, -87.33654,
  88.0, 88.0, 88.0, 88.0,
  2.0, 2.0, 2.0, 2.0,
  10.0, 10.0, 10.0, 10.0,
  -Infinity, -Infinity, -Infinity, -Infinity,
  0.0, 0.0, 0.0, 0.0,
  -0.693359375, -0.693359375, -0.693359375, -0.693359375,
  2.12194440e-4, 2.12194440e-4, 2.12194440e-4, 2.12194440e-4,
], 16);

/** The f32x4 splat stored at slot `k` of the constant table. */
// @ts-ignore: decorator
@inline export function vconst(k: i32): v128 {
  return v128.load(CONSTANTS + (<usize>k << 4));
}

/** a·b + c, fused when the relaxed build allows it. Never call with constant operands only. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** Sum of the four lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Max of the four lanes (NaN lanes are ignored by pmax when the other operand is a number). */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const s = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const t = f32x4.pmax(s, i32x4.shuffle(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

/** −∞ in every lane. */
// @ts-ignore: decorator
@inline export function negInf4(): v128 {
  return vconst(K_NEG_INF);
}

/** 0 in every lane (loaded, so Binaryen sees no constant). */
// @ts-ignore: decorator
@inline export function zero4(): v128 {
  return vconst(K_ZERO);
}

/** exp(x) lane-wise; see the header for the algorithm and the error bound. */
// @ts-ignore: decorator
@inline export function exp_f32x4(x: v128): v128 {
  const lo = vconst(K_EXP_LO);
  const underflow = f32x4.lt(x, lo);
  let xc = f32x4.pmin(f32x4.pmax(x, lo), vconst(K_EXP_HI));
  const n = f32x4.nearest(f32x4.mul(xc, vconst(K_LOG2E)));
  xc = f32x4.sub(xc, f32x4.mul(n, vconst(K_C1)));
  xc = f32x4.sub(xc, f32x4.mul(n, vconst(K_C2)));
  let p = vconst(K_P0);
  p = f32x4.add(f32x4.mul(p, xc), vconst(K_P1));
  p = f32x4.add(f32x4.mul(p, xc), vconst(K_P2));
  p = f32x4.add(f32x4.mul(p, xc), vconst(K_P3));
  p = f32x4.add(f32x4.mul(p, xc), vconst(K_P4));
  p = f32x4.add(f32x4.mul(p, xc), vconst(K_P5));
  const x2 = f32x4.mul(xc, xc);
  p = f32x4.add(f32x4.add(f32x4.mul(p, x2), xc), vconst(K_ONE));
  // 2^n: n is integral in [−126, 128]; add it to the exponent field of p (p ∈ [0.7, 1.5]).
  const pow2n = i32x4.shl(i32x4.trunc_sat_f32x4_s(n), 23);
  const y = i32x4.add(p, pow2n);
  // pmax/pmin clamp turned −∞ into the low bound: force exactly 0 below it. NaN: lt is false, and
  // the clamp keeps NaN (pmax(NaN, lo) = NaN), so NaN propagates.
  return v128.andnot(y, underflow);
}

/**
 * exp(x) for x ≤ 0 (or −∞, or NaN) lane-wise: the softmax case, where arguments are score − max.
 * Same algorithm as exp_f32x4 without the upper clamp; the relaxed build fuses the range reduction
 * and Horner steps (more accurate, never less). Results for x > 0 are unspecified.
 */
// @ts-ignore: decorator
@inline export function exp_nonpos_f32x4(x: v128): v128 {
  const lo = vconst(K_EXP_LO);
  const underflow = f32x4.lt(x, lo);
  let xc = f32x4.pmax(x, lo);
  const n = f32x4.nearest(f32x4.mul(xc, vconst(K_LOG2E)));
  xc = madd(n, vconst(K_NEG_C1), xc);
  xc = madd(n, vconst(K_NEG_C2), xc);
  let p = vconst(K_P0);
  p = madd(p, xc, vconst(K_P1));
  p = madd(p, xc, vconst(K_P2));
  p = madd(p, xc, vconst(K_P3));
  p = madd(p, xc, vconst(K_P4));
  p = madd(p, xc, vconst(K_P5));
  const x2 = f32x4.mul(xc, xc);
  p = f32x4.add(madd(p, x2, xc), vconst(K_ONE));
  const y = i32x4.add(p, i32x4.shl(i32x4.trunc_sat_f32x4_s(n), 23));
  return v128.andnot(y, underflow);
}

/** tanh(x) lane-wise; see the header for the error bound. */
// @ts-ignore: decorator
@inline export function tanh_f32x4(x: v128): v128 {
  const ax = f32x4.pmin(f32x4.abs(x), vconst(K_TANH_CLAMP));
  const two = vconst(K_TWO);
  const e = exp_f32x4(f32x4.mul(ax, two));
  const t = f32x4.sub(vconst(K_ONE), f32x4.div(two, f32x4.add(e, vconst(K_ONE))));
  // copy the sign of x onto t
  const signMask = i32x4.shl(i32x4.shr_u(x, 31), 31);
  return v128.or(t, signMask);
}

/** Scalar exp through the vector path, so scalar and vector code agree bit for bit. */
// @ts-ignore: decorator
@inline export function exp_f32(x: f32): f32 {
  return f32x4.extract_lane(exp_f32x4(f32x4.splat(x)), 0);
}

/** Sum of lanes of a, b, c, d as one vector (a transpose-and-add). */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 1, 4, 5), i32x4.shuffle(a, b, 2, 3, 6, 7));
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 1, 4, 5), i32x4.shuffle(c, d, 2, 3, 6, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 2, 4, 6), i32x4.shuffle(ab, cd, 1, 3, 5, 7));
}

/** The same in i32 lanes. */
// @ts-ignore: decorator
@inline export function hsum4i(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 1, 4, 5), i32x4.shuffle(a, b, 2, 3, 6, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 1, 4, 5), i32x4.shuffle(c, d, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 2, 4, 6), i32x4.shuffle(ab, cd, 1, 3, 5, 7));
}

/** q[x .. x+3] with zeros at and past dh. */
// @ts-ignore: decorator
@inline export function padded4(q: usize, x: i32, dh: i32): v128 {
  if (x + 4 <= dh) return v128.load(q + (<usize>x << 2));
  let out = zero4();
  if (x < dh) out = f32x4.replace_lane(out, 0, load<f32>(q + (<usize>x << 2)));
  if (x + 1 < dh) out = f32x4.replace_lane(out, 1, load<f32>(q + (<usize>x << 2), 4));
  if (x + 2 < dh) out = f32x4.replace_lane(out, 2, load<f32>(q + (<usize>x << 2), 8));
  return out;
}

/** max|q[x]| over x < dh; NaN when one is NaN. */
export function maxAbs(q: usize, dh: i32): f32 {
  let mv = zero4();
  let m: f32 = 0;
  const dh4 = dh & ~3;
  let x = 0;
  for (; x < dh4; x += 4) mv = f32x4.max(mv, f32x4.abs(v128.load(q + (<usize>x << 2))));
  for (; x < dh; x++) {
    const a = Mathf.abs(load<f32>(q + (<usize>x << 2)));
    m = a != a || a > m ? a : m;
  }
  const l0 = f32x4.extract_lane(mv, 0), l1 = f32x4.extract_lane(mv, 1);
  const l2 = f32x4.extract_lane(mv, 2), l3 = f32x4.extract_lane(mv, 3);
  return l0 != l0 || l1 != l1 || l2 != l2 || l3 != l3 || m != m ? <f32>NaN : max(max(max(l0, l1), max(l2, l3)), m);
}

/** Σ a[x]·b[x] over x < n: four lanes of multiply-adds, their sum, then the scalar tail. */
// @ts-ignore: decorator
@inline export function dotRow(a: usize, b: usize, n: i32): f32 {
  const n4 = n & ~3;
  let acc = zero4();
  let x = 0;
  for (; x < n4; x += 4) acc = madd(v128.load(a + (<usize>x << 2)), v128.load(b + (<usize>x << 2)), acc);
  let s = hsum(acc);
  for (; x < n; x++) s += load<f32>(a + (<usize>x << 2)) * load<f32>(b + (<usize>x << 2));
  return s;
}
