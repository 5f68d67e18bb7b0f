// lsh.spec.ts — the long-sequence helper kernels of assembly/lsh.ts, SIMD128 build.
//
// f32_randn:          pinned first values for seed 7 (the TypeScript tests pin derived streams
//                     through rt.linformerProjections and rt.lshRotations); a prefix of a longer stream equals the
//                     shorter stream; odd n writes exactly n values; 200 000 draws have mean
//                     |μ| < 0.01 and variance within 1 ± 0.02, and scale multiplies exactly.
// i32_lsh_buckets:    against a scalar argmax over [y, −y] (first maximum wins) for half ∈ {1, 3,
//                     4, 5, 16}, rounds 1–3, strided rows; exact ties go to the lower index;
//                     factorized (halves [2, 3, 1]): Σ id_f · Π earlier 2·halves.
// i32_counting_sort:  permutation sorted by (key, position), inv its inverse, nb ∈ {1, 2, 7, 64}.
// f32_lsh_normalize:  against float64 for d ∈ {1, 3, 4, 5, 64} (relative 1e-6);
//                     a zero row stays zero; in-place works.
// f32_lsh_chunk_mask: every entry 0 / −∞ (causal, later key) / penalty (same token), nk tails.
// The row kernels these serve (f32_rows_gather, _norm, _mean, _transpose) are in rows.spec.ts.
// Buffers are Guarded (helpers.ts): writes outside the logical region are caught.

import { i32_lsh_buckets, i32_counting_sort, f32_lsh_normalize, f32_lsh_chunk_mask } from '../lsh';
import { f32_randn } from '../random';
import { Guarded, Rng, SENTINEL, at, fillMatrix, keep, matrix, paddingDamage, report } from './helpers';

function i32buf(n: i32): Guarded {
  return new Guarded(<usize>max(n, 1) << 2);
}

describe('f32_randn', () => {
  it('is pinned, prefix-consistent and writes exactly n values', () => {
    const A = new Guarded(9 << 2);
    f32_randn(7, 9, 1, A.ptr);
    const B = new Guarded(4 << 2);
    f32_randn(7, 3, 1, B.ptr);
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
    f32_randn(12345, n, 1, A.ptr);
    f32_randn(12345, n, 0.5, B.ptr);
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
    const rng = new Rng(41);
    const halves: StaticArray<i32> = [1, 3, 4, 5, 16];
    let bad = 0;
    for (let hi = 0; hi < halves.length; hi++) {
      const half = halves[hi];
      for (let rounds = 1; rounds <= 3; rounds++) {
        const n = 37;
        const ldy = rounds * half + 3;
        const Y = matrix(n, rounds * half, ldy);
        fillMatrix(Y.ptr, n, rounds * half, ldy, rng, -1, 1);
        const out = i32buf(rounds * n);
        const hv = i32buf(1);
        store<i32>(hv.ptr, half);
        i32_lsh_buckets(Y.ptr, ldy, n, rounds, hv.ptr, 1, out.ptr);
        hv.free();
        for (let i = 0; i < n; i++) {
          for (let r = 0; r < rounds; r++) {
            let best: f32 = -Infinity;
            let idx = -1;
            for (let c = 0; c < 2 * half; c++) {
              const y = load<f32>(at(Y.ptr, ldy, i, r * half + (c % half)));
              const v = c < half ? y : -y;
              if (v > best) {
                best = v;
                idx = c;
              }
            }
            if (load<i32>(out.ptr + ((<usize>(r * n + i)) << 2)) != idx) bad++;
          }
        }
        expect(out.guardDamage()).toBe(0);
        Y.free();
        out.free();
      }
    }
    expect(bad).toBe(0);
  });
  it('breaks exact ties towards the lower index (y = 0 everywhere → bucket 0)', () => {
    const Y = matrix(2, 4, 4);
    memory.fill(Y.ptr, 0, 32);
    store<f32>(Y.ptr + 16 + 4, -2); // row 1: [0, −2, 0, 0] → −y has 2 at index 4 + 1
    const out = i32buf(2);
    const hv = i32buf(1);
    store<i32>(hv.ptr, 4);
    i32_lsh_buckets(Y.ptr, 4, 2, 1, hv.ptr, 1, out.ptr);
    hv.free();
    expect(load<i32>(out.ptr)).toBe(0);
    expect(load<i32>(out.ptr, 4)).toBe(5);
    Y.free();
    out.free();
  });
});

describe('i32_lsh_buckets (factorized)', () => {
  it('combines per-factor argmaxes, first factor least significant', () => {
    const rng = new Rng(48);
    const hv = i32buf(3);
    store<i32>(hv.ptr, 2);
    store<i32>(hv.ptr, 3, 4);
    store<i32>(hv.ptr, 1, 8);
    const width = 6;
    const rounds = 2;
    const n = 29;
    const Y = matrix(n, rounds * width, rounds * width);
    fillMatrix(Y.ptr, n, rounds * width, rounds * width, rng, -1, 1);
    const out = i32buf(rounds * n);
    i32_lsh_buckets(Y.ptr, rounds * width, n, rounds, hv.ptr, 3, out.ptr);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < rounds; r++) {
        let bucket = 0, product = 1, col = r * width;
        for (let f = 0; f < 3; f++) {
          const half = load<i32>(hv.ptr + (<usize>f << 2));
          let best: f32 = -Infinity;
          let idx = -1;
          for (let c = 0; c < 2 * half; c++) {
            const y = load<f32>(at(Y.ptr, rounds * width, i, col + (c % half)));
            const v = c < half ? y : -y;
            if (v > best) {
              best = v;
              idx = c;
            }
          }
          bucket += idx * product;
          product *= 2 * half;
          col += half;
        }
        if (load<i32>(out.ptr + (<usize>(r * n + i) << 2)) != bucket) bad++;
      }
    }
    expect(bad).toBe(0);
    expect(out.guardDamage()).toBe(0);
    Y.free();
    out.free();
    hv.free();
  });
});

describe('i32_counting_sort', () => {
  it('sorts by (key, position) and returns the inverse', () => {
    const rng = new Rng(42);
    const nbs: StaticArray<i32> = [1, 2, 7, 64];
    for (let t = 0; t < nbs.length; t++) {
      const nb = nbs[t];
      const n = 301;
      const keys = i32buf(n);
      for (let i = 0; i < n; i++) store<i32>(keys.ptr + (<usize>i << 2), rng.below(nb));
      const counts = i32buf(nb + 1);
      const perm = i32buf(n);
      const inv = i32buf(n);
      i32_counting_sort(keys.ptr, n, nb, counts.ptr, perm.ptr, inv.ptr);
      let bad = 0;
      for (let s = 0; s < n; s++) {
        const p = load<i32>(perm.ptr + (<usize>s << 2));
        if (load<i32>(inv.ptr + (<usize>p << 2)) != s) bad++;
        if (s > 0) {
          const q = load<i32>(perm.ptr + (<usize>(s - 1) << 2));
          const kq = load<i32>(keys.ptr + (<usize>q << 2));
          const kp = load<i32>(keys.ptr + (<usize>p << 2));
          if (kq > kp || (kq == kp && q >= p)) bad++;
        }
      }
      expect(bad).toBe(0);
      expect(perm.guardDamage() + inv.guardDamage() + counts.guardDamage()).toBe(0);
      keys.free();
      counts.free();
      perm.free();
      inv.free();
    }
  });
});

describe('f32_lsh_normalize', () => {
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
      f32_lsh_normalize(X.ptr, d + 3, n, d, Y.ptr, d);
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
      f32_lsh_normalize(X.ptr, d + 3, n, d, X.ptr, d + 3);
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
    const rng = new Rng(45);
    const nks: StaticArray<i32> = [1, 3, 4, 9, 128];
    for (let t = 0; t < nks.length; t++) {
      const nk = nks[t];
      const nq = 5;
      const qpos = i32buf(nq);
      const kpos = i32buf(nk);
      for (let r = 0; r < nq; r++) store<i32>(qpos.ptr + (<usize>r << 2), rng.below(50));
      for (let c = 0; c < nk; c++) store<i32>(kpos.ptr + (<usize>c << 2), c < nq ? load<i32>(qpos.ptr + (<usize>c << 2)) : rng.below(50));
      for (let causal = 0; causal < 2; causal++) {
        const M = matrix(nq, nk, nk);
        f32_lsh_chunk_mask(qpos.ptr, nq, kpos.ptr, nk, causal, -1e5, M.ptr);
        let bad = 0;
        for (let r = 0; r < nq; r++) {
          for (let c = 0; c < nk; c++) {
            const p = load<i32>(qpos.ptr + (<usize>r << 2));
            const k = load<i32>(kpos.ptr + (<usize>c << 2));
            const want: f32 = causal != 0 && k > p ? -Infinity : k == p ? -1e5 : 0;
            if (load<f32>(at(M.ptr, nk, r, c)) != want) bad++;
          }
        }
        expect(bad).toBe(0);
        expect(M.guardDamage()).toBe(0);
        M.free();
      }
      qpos.free();
      kpos.free();
    }
  });
});
