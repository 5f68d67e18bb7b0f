// exp.spec.ts — accuracy and special values of exp_f32x4 / tanh_f32x4 (assembly/simd.ts), built
// for plain SIMD128 (the as-pect build enables "simd" and not "relaxed-simd").
//
// exp_f32x4, through f32_exp (vector body + scalar tail) and directly:
//   - max relative error ≤ 2e-7 against f64 Math.exp on a dense sweep of [−87, 0]
//     (200 001 evenly spaced points, both endpoints included, n % 4 = 1 so the tail runs too)
//     plus tiny negative arguments −2^−e. Measured (Node 20, -O3): 7.81e-8 on the sweep (worst
//     at x = −81.4268), 3.0e-8 on −2^−e; logged only: 6.2e-8 on [−87.3365, −87], 7.4e-8 on [0, 88].
//   - exactly 0 for −∞ and every x < −87.34; exactly 1 for ±0; NaN → NaN; lanes independent;
//     +∞ saturates at the finite exp(88).
//   - monotone-ish: along the increasing sweep no output drops below its predecessor by more
//     than 4e-7 relative (a couple of ulps).
// tanh_f32x4:
//   - max absolute error ≤ 3e-7 against f64 Math.tanh on [−20, 20] (400 000 points) and on
//     [−1, 1] in steps of 5e-5; measured: 1.13e-7 (worst at x ≈ −0.00755), 1.11e-7 near 0.
//   - odd symmetry bit for bit: tanh(−x) = −tanh(x) for every sweep point.
//   - tanh(±0) = ±0; for |x| ≥ 10 (and ±∞) tanh is exactly ±1 (the clamp is at 10:
//     2/(e²⁰ + 1) = 4e-9 is below half an ulp of 1).

import { exp_f32x4, exp_nonpos_f32x4, tanh_f32x4 } from '../simd';
import { f32_exp } from '../softmax';
import { Guarded, keep, report } from './helpers';

// @ts-ignore: decorator
@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp_f32x4(f32x4.splat(x)), 0);
}
// @ts-ignore: decorator
@inline function tanh1(x: f32): f32 {
  return f32x4.extract_lane(tanh_f32x4(f32x4.splat(x)), 0);
}

function bits(x: f32): u32 {
  return reinterpret<u32>(x);
}

describe('exp_f32x4', () => {
  it('relative error ≤ 2e-7 on [−87, 0] (dense sweep, f64 reference)', () => {
    const n = 200001;
    const xs = new Guarded(<usize>n << 2);
    const ys = new Guarded(<usize>n << 2);
    for (let i = 0; i < n; i++) {
      store<f32>(xs.ptr + (<usize>i << 2), <f32>(-87.0 + 87.0 * <f64>i / <f64>(n - 1)));
    }
    expect(load<f32>(xs.ptr)).toBe(<f32>-87.0);
    expect(load<f32>(xs.ptr + (<usize>(n - 1) << 2))).toBe(<f32>0.0);
    f32_exp(xs.ptr, ys.ptr, n);
    let maxRel: f64 = 0;
    let worstX: f64 = 0;
    let worstGot: f64 = 0;
    let nonMonotone = 0;
    let badMonotone = 0;
    let prev: f32 = 0;
    for (let i = 0; i < n; i++) {
      const x = <f64>load<f32>(xs.ptr + (<usize>i << 2));
      const y = load<f32>(ys.ptr + (<usize>i << 2));
      const ref = Math.exp(x);
      const rel = Math.abs(<f64>y - ref) / ref;
      if (!(rel <= maxRel)) {
        // also catches NaN
        maxRel = isNaN(rel) ? Infinity : rel;
        worstX = x;
        worstGot = y;
      }
      if (i > 0) {
        if (y < prev) nonMonotone++;
        if (<f64>y < <f64>prev * (1 - 4e-7)) badMonotone++;
      }
      prev = y;
    }
    // The same points one lane at a time must agree with the array path bit for bit.
    let laneMismatch = 0;
    for (let i = 0; i < n; i += 97) {
      const x = load<f32>(xs.ptr + (<usize>i << 2));
      if (bits(exp1(x)) != load<u32>(ys.ptr + (<usize>i << 2))) laneMismatch++;
    }
    report(
      'exp_f32x4 [−87, 0]: max rel err = ' + maxRel.toString() + ' at x = ' + worstX.toString() +
      ' (got ' + worstGot.toString() + ', f64 ' + Math.exp(worstX).toString() + '); strict decreases: ' +
      nonMonotone.toString(),
    );
    expect(xs.guardDamage() + ys.guardDamage()).toBe(0, 'f32_exp wrote outside its output');
    expect(laneMismatch).toBe(0, 'exp_f32x4 lane result differs from f32_exp');
    expect(maxRel).toBeLessThanOrEqual(2e-7, 'exp max relative error on [−87, 0]');
    expect(badMonotone).toBe(0, 'exp drops by more than 4e-7 relative along an increasing sweep');
    xs.free();
    ys.free();
  });

  it('relative error ≤ 2e-7 for tiny negative arguments', () => {
    let maxRel: f64 = 0;
    for (let e = 1; e <= 149; e++) {
      const x = <f32>-Math.pow(2, -<f64>e);
      const ref = Math.exp(<f64>x);
      const rel = Math.abs(<f64>exp1(x) - ref) / ref;
      if (!(rel <= maxRel)) maxRel = isNaN(rel) ? Infinity : rel;
    }
    report('exp_f32x4 at −2^−e (e = 1..149): max rel err = ' + maxRel.toString());
    expect(maxRel).toBeLessThanOrEqual(2e-7);
  });

  it('reports the error just below −87 and above 0 (information only)', () => {
    let maxLow: f64 = 0;
    for (let i = 0; i <= 2000; i++) {
      const x = <f32>(-87.3365 + 0.3365 * <f64>i / 2000.0);
      const ref = Math.exp(<f64>x);
      const rel = Math.abs(<f64>exp1(x) - ref) / ref;
      if (!(rel <= maxLow)) maxLow = isNaN(rel) ? Infinity : rel;
    }
    let maxHigh: f64 = 0;
    for (let i = 0; i <= 20000; i++) {
      const x = <f32>(88.0 * <f64>i / 20000.0);
      const ref = Math.exp(<f64>x);
      const rel = Math.abs(<f64>exp1(x) - ref) / ref;
      if (!(rel <= maxHigh)) maxHigh = isNaN(rel) ? Infinity : rel;
    }
    report(
      'exp_f32x4 max rel err on [−87.3365, −87]: ' + maxLow.toString() + '; on [0, 88]: ' + maxHigh.toString(),
    );
    expect(maxLow).toBeFinite();
    expect(maxHigh).toBeFinite();
  });

  it('exp(−∞) = 0 and exp(x) = 0 exactly for x < −87.34', () => {
    expect(bits(exp1(-Infinity))).toBe(0, 'exp(−∞) must be +0 exactly');
    const below: StaticArray<f32> = [-87.3366, -87.34, -87.35, -88, -100, -1000, -1e30, -3.4e38];
    for (let i = 0; i < below.length; i++) {
      expect(bits(exp1(below[i]))).toBe(0, keep('exp(' + below[i].toString() + ') must be 0'));
    }
    // and every f32 from −87.34 down to −87.5
    let nonzero = 0;
    for (let x: f32 = -87.34; x > <f32>-87.5; x = <f32>(x - <f32>1e-5)) if (exp1(x) != 0) nonzero++;
    expect(nonzero).toBe(0);
  });

  it('exp(±0) = 1, NaN → NaN, +∞ saturates, lanes are independent', () => {
    expect(exp1(0)).toBe(1);
    expect(exp1(-0.0)).toBe(1);
    expect(isNaN(exp1(NaN))).toBe(true, 'exp(NaN) must be NaN');
    const sat = exp1(Infinity);
    expect(sat).toBeFinite();
    expect(sat).toBe(exp1(88));
    const v = exp_f32x4(f32x4(NaN, 0, -Infinity, -1));
    expect(isNaN(f32x4.extract_lane(v, 0))).toBe(true);
    expect(f32x4.extract_lane(v, 1)).toBe(1);
    expect(bits(f32x4.extract_lane(v, 2))).toBe(0);
    expect(f32x4.extract_lane(v, 3)).toBe(exp1(-1));
    expect(Math.abs(<f64>f32x4.extract_lane(v, 3) - Math.exp(-1)) / Math.exp(-1)).toBeLessThanOrEqual(2e-7);
  });
});

// |x| ≥ 10: true tanh is within 4e-9 of ±1, so f32 rounds it to exactly ±1 (tanh(9) is 0.99999994, correctly).
const BIG: StaticArray<f32> = [10, 10.5, 20, 50, 1e4, 1e30, 3.4e38, Infinity];

describe('exp_nonpos_f32x4 (the softmax exp)', () => {
  // In this (simd128) build madd is mul + add, so the softmax exp must equal exp_f32x4 bit for bit
  // wherever both are defined (x ≤ 0); the relaxed build only fuses those steps.
  it('equals exp_f32x4 bit for bit on [−87.5, 0] and gives exact zeros for −∞', () => {
    let differ = 0;
    for (let i = 0; i <= 100000; i++) {
      const x = <f32>(-87.5 + (87.5 * <f64>i) / 100000);
      const a = f32x4.extract_lane(exp_nonpos_f32x4(f32x4.splat(x)), 0);
      if (reinterpret<u32>(a) != reinterpret<u32>(exp1(x))) differ++;
    }
    expect(differ).toBe(0);
    expect(f32x4.extract_lane(exp_nonpos_f32x4(f32x4.splat(-Infinity)), 0)).toBe(0);
    expect(f32x4.extract_lane(exp_nonpos_f32x4(f32x4.splat(0)), 0)).toBe(1);
    expect(isNaN(f32x4.extract_lane(exp_nonpos_f32x4(f32x4.splat(NaN)), 0))).toBe(true);
  });
});

describe('tanh_f32x4', () => {
  it('absolute error ≤ 3e-7 on [−20, 20] and odd symmetry bit for bit', () => {
    const n = 400000; // multiple of 4
    let maxAbs: f64 = 0;
    let worstX: f64 = 0;
    let asym = 0;
    for (let i = 0; i < n; i += 4) {
      const x0 = <f32>(-20.0 + 40.0 * <f64>i / <f64>(n - 1));
      const x1 = <f32>(-20.0 + 40.0 * <f64>(i + 1) / <f64>(n - 1));
      const x2 = <f32>(-20.0 + 40.0 * <f64>(i + 2) / <f64>(n - 1));
      const x3 = <f32>(-20.0 + 40.0 * <f64>(i + 3) / <f64>(n - 1));
      const xv = f32x4(x0, x1, x2, x3);
      const t = tanh_f32x4(xv);
      const tn = tanh_f32x4(f32x4.neg(xv));
      for (let l = 0; l < 4; l++) {
        const x = l == 0 ? x0 : l == 1 ? x1 : l == 2 ? x2 : x3;
        const y = l == 0 ? f32x4.extract_lane(t, 0) : l == 1 ? f32x4.extract_lane(t, 1) : l == 2 ? f32x4.extract_lane(t, 2) : f32x4.extract_lane(t, 3);
        const yn = l == 0 ? f32x4.extract_lane(tn, 0) : l == 1 ? f32x4.extract_lane(tn, 1) : l == 2 ? f32x4.extract_lane(tn, 2) : f32x4.extract_lane(tn, 3);
        const err = Math.abs(<f64>y - Math.tanh(<f64>x));
        if (!(err <= maxAbs)) {
          maxAbs = isNaN(err) ? Infinity : err;
          worstX = x;
        }
        if (bits(yn) != (bits(y) ^ 0x80000000)) asym++;
      }
    }
    report('tanh_f32x4 [−20, 20]: max abs err = ' + maxAbs.toString() + ' at x = ' + worstX.toString());
    expect(maxAbs).toBeLessThanOrEqual(3e-7, 'tanh max absolute error on [−20, 20]');
    expect(asym).toBe(0, 'tanh(−x) != −tanh(x)');
  });

  it('absolute error ≤ 3e-7 near 0', () => {
    let maxAbs: f64 = 0;
    for (let i = -20000; i <= 20000; i++) {
      const x = <f32>(<f64>i * 5e-5);
      const err = Math.abs(<f64>tanh1(x) - Math.tanh(<f64>x));
      if (!(err <= maxAbs)) maxAbs = isNaN(err) ? Infinity : err;
    }
    report('tanh_f32x4 [−1, 1] step 5e-5: max abs err = ' + maxAbs.toString());
    expect(maxAbs).toBeLessThanOrEqual(3e-7);
  });

  it('tanh(±0) = ±0; tanh saturates to a constant within 1 ulp of ±1 for large |x|', () => {
    expect(bits(tanh1(0))).toBe(0);
    expect(bits(tanh1(-0.0))).toBe(0x80000000);
    const sat = tanh1(10);
    let off = 0;
    for (let i = 0; i < BIG.length; i++) {
      const y = tanh1(BIG[i]);
      const yn = tanh1(-BIG[i]);
      if (!(Math.abs(<f64>y - 1) <= 6e-8) || !(Math.abs(<f64>yn + 1) <= 6e-8)) off++;
      if (y != sat || yn != -sat) off++;
    }
    expect(off).toBe(0);
    report('tanh_f32x4(x) for |x| >= 10: ' + sat.toString() + ' (1 - ' + (1 - <f64>sat).toString() + ')');
  });

  it('tanh(±large) = ±1 exactly', () => {
    for (let i = 0; i < BIG.length; i++) {
      expect(tanh1(BIG[i])).toBe(1, keep('tanh(' + BIG[i].toString() + ')'));
      expect(tanh1(-BIG[i])).toBe(-1, keep('tanh(-' + BIG[i].toString() + ')'));
    }
  });
});

describe('as-pect build', () => {
  it('is the plain SIMD128 build (no relaxed SIMD)', () => {
    expect(ASC_FEATURE_SIMD).toBe(true);
    expect(ASC_FEATURE_RELAXED_SIMD).toBe(false);
  });
});
