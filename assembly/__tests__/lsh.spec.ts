// lsh.spec.ts — the kernels of assembly/lsh.ts and assembly/random.ts through LshTester and
// RandnTester (lsh-tester.ts: parameter blocks, guarded buffers, float64 references, checks);
// SIMD128 build.
//
// f32_randn:          pinned first values for seed 7 (the TypeScript tests pin derived streams
//                     through rt.linformerProjections and rt.lshRotations); against the float64
//                     stream for n ∈ {1, …, 9, 15, 16, 17, 33, 1001} and several seeds and scales
//                     (a prefix of a longer stream equals the shorter stream; exactly n values are
//                     written; scale multiplies); 200 000 draws have mean |μ| < 0.01 and variance
//                     within 1 ± 0.02.
// i32_lsh_buckets:    against a scalar argmax over [y, −y] (first maximum wins) for half ∈ {1, 3,
//                     4, 5, 16}, rounds 1–3, n ∈ {1, …, 9, 15, 16, 17, 33, 37}, strided rows;
//                     inputs from {−2, …, 2} (exact ties go to the lower index); factorized
//                     (halves [2, 3, 1], [1, 1], [4, 2]): Σ id_f · Π earlier 2·halves.
// i32_counting_sort:  perm exactly the stable order by (key, position), inv its inverse, nb ∈ {1, 2,
//                     7, 64} × n ∈ {1, …, 9, 15, 16, 17, 33, 301}.
// f32_lsh_normalize:  against float64 for d ∈ {1, …, 9, 15, 16, 17, 33, 64} (relative 1e-6); a zero
//                     row stays zero; in place gives the same bits.
// f32_lsh_chunk_mask: every entry 0 / −∞ (causal, later key) / penalty (same token), nk ∈ {1, …, 9,
//                     15, 16, 17, 33, 128}, causal or not, penalty −1e5 or 0.
// The row kernels these serve (f32_rows_gather, _norm, _mean, _transpose) are in rows.spec.ts.
// Buffers are Guarded (helpers.ts): writes outside the logical region are caught.

import { Guarded, Rng, SENTINEL, at, fillMatrix, keep, matrix, paddingDamage, report } from './helpers';
import { LshTester, RandnTester, lshNormalize, randn } from './lsh-tester';
import { Tally } from './tester';

/** Sizes with every SIMD tail (n % 4, n % 8) and a few past one and two vectors. */
const TAILS: StaticArray<i32> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33];

function i32buf(n: i32): Guarded {
  return new Guarded(<usize>max(n, 1) << 2);
}

describe('f32_randn', () => {
  it('matches the float64 stream; prefixes agree; exactly n values; scale multiplies', () => {
    const tally = new Tally('randn streams');
    const seeds: StaticArray<u32> = [7, 12345, 0, 0xffffffff];
    const scales: StaticArray<f32> = [1, 0.5, 2.5];
    for (let s = 0; s < seeds.length; s++) {
      for (let i = 0; i < TAILS.length; i++) new RandnTester().seed(seeds[s]).n(TAILS[i]).scale(scales[(s + i) % 3]).test(tally);
      new RandnTester().seed(seeds[s]).n(1001).scale(scales[s % 3]).test(tally);
    }
    tally.finish();
  });
  it('is pinned, prefix-consistent and writes exactly n values', () => {
    const A = new Guarded(9 << 2);
    randn(7, 9, 1, A.ptr);
    const B = new Guarded(4 << 2);
    randn(7, 3, 1, B.ptr);
    for (let i = 0; i < 3; i++) expect(load<u32>(B.ptr + (<usize>i << 2))).toBe(load<u32>(A.ptr + (<usize>i << 2)));
    expect(load<u32>(B.ptr + 12)).toBe(SENTINEL); // 4th word untouched for n = 3
    expect(A.guardDamage()).toBe(0);
    // Pinned: the stream must never change silently (rotations and projections derive from it).
    expect(Math.abs(<f64>load<f32>(A.ptr) - 0.567138)).toBeLessThan(1e-6);
    expect(Math.abs(<f64>load<f32>(A.ptr, 4) - -2.498565)).toBeLessThan(1e-6);
    expect(Math.abs(<f64>load<f32>(A.ptr, 8) - -0.206858)).toBeLessThan(1e-6);
    A.free();
    B.free();
  });
  it('draws standard normal numbers; scale multiplies', () => {
    const n = 200000;
    const A = new Guarded(<usize>n << 2);
    const B = new Guarded(<usize>n << 2);
    randn(12345, n, 1, A.ptr);
    randn(12345, n, 0.5, B.ptr);
    let sum: f64 = 0, sq: f64 = 0;
    let scaled = 0;
    for (let i = 0; i < n; i++) {
      const x = <f64>load<f32>(A.ptr + (<usize>i << 2));
      sum += x;
      sq += x * x;
      if (Math.abs(<f64>load<f32>(B.ptr + (<usize>i << 2)) - 0.5 * x) > 1e-6 * Math.abs(x) + 1e-30) scaled++;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(sq / n - mean * mean - 1)).toBeLessThan(0.02);
    expect(scaled).toBe(0);
    A.free();
    B.free();
  });
});

describe('i32_lsh_buckets', () => {
  it('is the first argmax over [y, −y] per round', () => {
    const tally = new Tally('buckets');
    const rng = new Rng(41);
    const halves: StaticArray<i32> = [1, 3, 4, 5, 16];
    for (let h = 0; h < halves.length; h++) {
      for (let rounds = 1; rounds <= 3; rounds++) {
        new LshTester().buckets([halves[h]]).rounds(rounds).n(37).pad(3).test(tally, rng);
        for (let i = 0; i < TAILS.length; i++) new LshTester().buckets([halves[h]]).rounds(rounds).n(TAILS[i]).pad(i % 4).test(tally, rng);
      }
    }
    tally.finish();
  });
  it('breaks exact ties towards the lower index', () => {
    const tally = new Tally('bucket ties');
    const rng = new Rng(49);
    const halves: StaticArray<i32> = [1, 2, 4, 16];
    for (let h = 0; h < halves.length; h++) {
      for (let i = 0; i < TAILS.length; i++) new LshTester().buckets([halves[h]]).rounds(2).n(TAILS[i]).pad(1).ties().test(tally, rng);
    }
    new LshTester().buckets([2, 3, 1]).rounds(2).n(17).ties().test(tally, rng);
    tally.finish();
  });
});

describe('i32_lsh_buckets (factorized)', () => {
  it('combines per-factor argmaxes, first factor least significant', () => {
    const tally = new Tally('factorized buckets');
    const rng = new Rng(48);
    new LshTester().buckets([2, 3, 1]).rounds(2).n(29).test(tally, rng);
    for (let i = 0; i < TAILS.length; i++) {
      new LshTester().buckets([2, 3, 1]).rounds(1 + i % 3).n(TAILS[i]).pad(i % 3).test(tally, rng);
      new LshTester().buckets([1, 1]).rounds(2).n(TAILS[i]).test(tally, rng);
      new LshTester().buckets([4, 2]).rounds(3).n(TAILS[i]).pad(2).test(tally, rng);
    }
    tally.finish();
  });
});

describe('i32_counting_sort', () => {
  it('sorts by (key, position) and returns the inverse', () => {
    const tally = new Tally('counting sort');
    const rng = new Rng(42);
    const nbs: StaticArray<i32> = [1, 2, 7, 64];
    for (let t = 0; t < nbs.length; t++) {
      new LshTester().countingSort(nbs[t]).n(301).test(tally, rng);
      for (let i = 0; i < TAILS.length; i++) new LshTester().countingSort(nbs[t]).n(TAILS[i]).test(tally, rng);
    }
    tally.finish();
  });
});

describe('f32_lsh_normalize', () => {
  it('matches float64; zero rows stay zero; in place gives the same bits', () => {
    const tally = new Tally('length normalization');
    const rng = new Rng(50);
    LshTester.worstNormalize = 0;
    for (let i = 0; i < TAILS.length; i++) {
      new LshTester().normalize().n(7).d(TAILS[i]).pad(3).test(tally, rng);
      new LshTester().normalize().n(1 + i % 4).d(TAILS[i]).pad(i % 4).test(tally, rng);
    }
    new LshTester().normalize().n(7).d(64).pad(3).test(tally, rng);
    tally.finish(', worst relative error / 1e-6 = ' + LshTester.worstNormalize.toString());
  });
});

describe('f32_lsh_normalize (zero rows, in place)', () => {
  it('match float64; zero rows stay zero; in place works', () => {
    const rng = new Rng(44);
    const ds: StaticArray<i32> = [1, 3, 4, 5, 64];
    let worst: f64 = 0;
    for (let t = 0; t < ds.length; t++) {
      const d = ds[t];
      const n = 7;
      const X = matrix(n, d, d + 3);
      fillMatrix(X.ptr, n, d, d + 3, rng, -2, 2);
      for (let x = 0; x < d; x++) store<f32>(at(X.ptr, d + 3, 2, x), 0); // a zero row
      const Y = matrix(n, d, d);
      lshNormalize(X.ptr, d + 3, n, d, Y.ptr, d);
      for (let i = 0; i < n; i++) {
        let ss: f64 = 0;
        for (let x = 0; x < d; x++) ss += <f64>load<f32>(at(X.ptr, d + 3, i, x)) ** 2;
        const inv = 1 / Math.sqrt(ss / <f64>d + 1e-6);
        for (let x = 0; x < d; x++) {
          const want = <f64>load<f32>(at(X.ptr, d + 3, i, x)) * inv;
          const y = <f64>load<f32>(at(Y.ptr, d, i, x));
          worst = max(worst, Math.abs(y - want) / max(Math.abs(want), 1e-3));
        }
      }
      for (let x = 0; x < d; x++) expect(load<f32>(at(Y.ptr, d, 2, x))).toBe(0);
      // In place gives the same bits.
      lshNormalize(X.ptr, d + 3, n, d, X.ptr, d + 3);
      let diff = 0;
      for (let i = 0; i < n; i++) for (let x = 0; x < d; x++) if (load<u32>(at(X.ptr, d + 3, i, x)) != load<u32>(at(Y.ptr, d, i, x))) diff++;
      expect(diff).toBe(0);
      expect(paddingDamage(Y, n, d, d)).toBe(0);
      X.free();
      Y.free();
    }
    report(keep('length_normalize: worst relative error ' + worst.toString()));
    expect(worst).toBeLessThan(1e-6);
  });
});

describe('f32_lsh_chunk_mask', () => {
  it('is 0, −∞ for later keys when causal, and the penalty on the same token', () => {
    const tally = new Tally('chunk masks');
    const rng = new Rng(45);
    const nks: StaticArray<i32> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33, 128];
    for (let t = 0; t < nks.length; t++) {
      for (let causal = 0; causal < 2; causal++) {
        new LshTester().chunkMask().nq(5).nk(nks[t]).causal(causal != 0).penalty(-1e5).test(tally, rng);
        new LshTester().chunkMask().nq(1 + t % 4).nk(nks[t]).causal(causal != 0).penalty(0).test(tally, rng);
      }
    }
    tally.finish();
  });
});
