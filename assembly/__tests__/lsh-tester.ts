// lsh-tester.ts — LshTester and RandnTester: one call of an LSH kernel (assembly/lsh.ts) or of
// f32_randn (assembly/random.ts) through its parameter block (LSH_* / RANDOM_* offsets), on
// guarded buffers, against a scalar float64 reference computed here:
//   new LshTester().buckets([2, 3, 1]).rounds(2).n(29).pad(3).test(tally, rng)
//   new LshTester().countingSort(7).n(301).test(tally, rng)
//   new LshTester().normalize().n(7).d(17).pad(3).test(tally, rng)
//   new LshTester().chunkMask().nq(5).nk(33).causal(true).penalty(-1e5).test(tally, rng)
//   new RandnTester().seed(7).n(9).scale(0.5).test(tally)
// Checks, by kernel:
//   buckets      every id exactly the first argmax over [y_f, −y_f] per factor, combined with the
//                first factor least significant; `ties()` draws y from {−2, …, 2} (exact ties go
//                to the lower index); y's padding is sentinel NaN (never read)
//   countingSort perm exactly the stable order by (key, position), inv exactly its inverse
//   normalize    out of place and in place: |y − x/√(Σx²/d + 1e-6)| ≤ 1e-6·max(|want|, 1e-3) (float64
//                reference), a zero row (row 2) exactly zero, in place bit-identical to out of place
//   chunkMask    every entry exactly −∞ (causal, later key), the penalty (same token) or 0
//   randn        every value within 1e-6 relative of the mulberry32 + polar-method stream in float64,
//                a longer stream's prefix bit-identical, scale·(the scale-1 stream) within 1e-6
// and for all: memory past the outputs (guards, row padding) untouched, inputs bit-identical
// afterwards, the parameter block's guards intact.

import {
  i32_lsh_buckets, i32_counting_sort, f32_lsh_normalize, f32_lsh_chunk_mask,
  LSH_N, LSH_OUT, LSH_Y, LSH_LDY, LSH_ROUNDS, LSH_HALVES, LSH_NF, LSH_KEYS, LSH_NB, LSH_COUNTS, LSH_PERM, LSH_INV,
  LSH_SRC, LSH_SRC_STRIDE, LSH_D, LSH_DST, LSH_DST_STRIDE, LSH_QPOS, LSH_NQ, LSH_KPOS, LSH_NK, LSH_CAUSAL,
  LSH_SELF_PENALTY, LSH_PARAMS_BYTES,
} from '../lsh';
import { f32_randn, RANDOM_SEED, RANDOM_N, RANDOM_SCALE, RANDOM_OUT, RANDOM_PARAMS_BYTES } from '../random';
import { Guarded, Rng, at, fillMatrix, matrix, paddingDamage, paramBlock } from './helpers';
import { Tally } from './tester';

export const BUCKETS = 0;
export const COUNTING_SORT = 1;
export const NORMALIZE = 2;
export const CHUNK_MASK = 3;

function i32buf(n: i32): Guarded {
  return new Guarded(<usize>max(n, 1) << 2);
}

// ── the kernels through their parameter blocks (also used by the specs' own checks) ──

/** f32_randn(seed, n, scale) into out, through a RANDOM_* block; false if the block's guards were hit. */
export function randn(seed: u32, n: i32, scale: f32, out: usize): bool {
  const b = paramBlock(RANDOM_PARAMS_BYTES);
  store<u32>(b.ptr + RANDOM_SEED, seed);
  store<i32>(b.ptr + RANDOM_N, n);
  store<f32>(b.ptr + RANDOM_SCALE, scale);
  store<u32>(b.ptr + RANDOM_OUT, <u32>out);
  f32_randn(b.ptr);
  const ok = b.guardDamage() == 0;
  b.free();
  return ok;
}

/** f32_lsh_normalize through an LSH_* block; false if the block's guards were hit. */
export function lshNormalize(src: usize, srcStride: i32, n: i32, d: i32, dst: usize, dstStride: i32): bool {
  const b = paramBlock(LSH_PARAMS_BYTES);
  store<u32>(b.ptr + LSH_SRC, <u32>src);
  store<i32>(b.ptr + LSH_SRC_STRIDE, srcStride);
  store<i32>(b.ptr + LSH_N, n);
  store<i32>(b.ptr + LSH_D, d);
  store<u32>(b.ptr + LSH_DST, <u32>dst);
  store<i32>(b.ptr + LSH_DST_STRIDE, dstStride);
  f32_lsh_normalize(b.ptr);
  const ok = b.guardDamage() == 0;
  b.free();
  return ok;
}

/** The float64 first argmax over [y, −y] of `half` values at `base` (f32, consecutive). */
function argmaxPm(base: usize, half: i32): i32 {
  let best: f64 = -Infinity;
  let idx = -1;
  for (let c = 0; c < 2 * half; c++) {
    const y = <f64>load<f32>(base + (<usize>(c % half) << 2));
    const v = c < half ? y : -y;
    if (v > best) {
      best = v;
      idx = c;
    }
  }
  return idx;
}

export class LshTester {
  kernel_: i32 = BUCKETS;
  n_: i32 = 1;
  d_: i32 = 1;
  pad_: i32 = 0;
  rounds_: i32 = 1;
  halves_: StaticArray<i32> = [1];
  ties_: bool = false;
  nb_: i32 = 1;
  nq_: i32 = 1;
  nk_: i32 = 1;
  causal_: bool = false;
  penalty_: f32 = 0;
  /** Worst err/tolerance of normalize (the tally's is over every kernel). */
  static worstNormalize: f64 = 0;

  /** i32_lsh_buckets with one factor per entry of `halves` (each factor's buckets / 2). */
  buckets(halves: StaticArray<i32>): LshTester { this.kernel_ = BUCKETS; this.halves_ = halves; return this; }
  /** i32_counting_sort of keys in [0, nb). */
  countingSort(nb: i32): LshTester { this.kernel_ = COUNTING_SORT; this.nb_ = nb; return this; }
  normalize(): LshTester { this.kernel_ = NORMALIZE; return this; }
  chunkMask(): LshTester { this.kernel_ = CHUNK_MASK; return this; }
  n(x: i32): LshTester { this.n_ = x; return this; }
  d(x: i32): LshTester { this.d_ = x; return this; }
  /** Row padding of the strided inputs (y, the normalized rows) in elements. */
  pad(x: i32): LshTester { this.pad_ = x; return this; }
  rounds(x: i32): LshTester { this.rounds_ = x; return this; }
  /** Bucket inputs from {−2, …, 2}: exact ties everywhere. */
  ties(): LshTester { this.ties_ = true; return this; }
  nq(x: i32): LshTester { this.nq_ = x; return this; }
  nk(x: i32): LshTester { this.nk_ = x; return this; }
  causal(x: bool): LshTester { this.causal_ = x; return this; }
  penalty(x: f32): LshTester { this.penalty_ = x; return this; }

  get width(): i32 {
    let w = 0;
    for (let f = 0; f < this.halves_.length; f++) w += this.halves_[f];
    return w;
  }

  describe(): string {
    if (this.kernel_ == BUCKETS) {
      let h = '';
      for (let f = 0; f < this.halves_.length; f++) h += (f > 0 ? ',' : '') + this.halves_[f].toString();
      return 'buckets halves=[' + h + '] rounds=' + this.rounds_.toString() + ' n=' + this.n_.toString() +
        ' pad=' + this.pad_.toString() + (this.ties_ ? ' ties' : '');
    }
    if (this.kernel_ == COUNTING_SORT) return 'counting sort nb=' + this.nb_.toString() + ' n=' + this.n_.toString();
    if (this.kernel_ == NORMALIZE) return 'normalize n=' + this.n_.toString() + ' d=' + this.d_.toString() + ' pad=' + this.pad_.toString();
    return 'chunk mask nq=' + this.nq_.toString() + ' nk=' + this.nk_.toString() + ' causal=' + (this.causal_ ? '1' : '0') +
      ' penalty=' + this.penalty_.toString();
  }

  /** Runs one call and records it in `tally`. */
  test(tally: Tally, rng: Rng): void {
    tally.begin();
    const params = paramBlock(LSH_PARAMS_BYTES);
    if (this.kernel_ == BUCKETS) this.testBuckets(tally, rng, params.ptr);
    else if (this.kernel_ == COUNTING_SORT) this.testSort(tally, rng, params.ptr);
    else if (this.kernel_ == NORMALIZE) this.testNormalize(tally, rng, params.ptr);
    else this.testChunkMask(tally, rng, params.ptr);
    if (params.guardDamage() > 0) tally.fail(this.describe() + ': parameter block guard written');
    params.free();
  }

  private testBuckets(tally: Tally, rng: Rng, P: usize): void {
    const n = this.n_, rounds = this.rounds_, nf = this.halves_.length, width = this.width;
    const ldy = rounds * width + this.pad_;
    const Y = matrix(n, rounds * width, ldy);
    if (this.ties_) {
      for (let i = 0; i < n; i++) for (let c = 0; c < rounds * width; c++) store<f32>(at(Y.ptr, ldy, i, c), <f32>(rng.below(5) - 2));
    } else {
      fillMatrix(Y.ptr, n, rounds * width, ldy, rng, -1, 1);
    }
    const hv = i32buf(nf);
    for (let f = 0; f < nf; f++) store<i32>(hv.ptr + (<usize>f << 2), this.halves_[f]);
    const out = i32buf(rounds * n);
    const hy = Y.hash(), hh = hv.hash();

    store<i32>(P + LSH_N, n);
    store<u32>(P + LSH_OUT, <u32>out.ptr);
    store<u32>(P + LSH_Y, <u32>Y.ptr);
    store<i32>(P + LSH_LDY, ldy);
    store<i32>(P + LSH_ROUNDS, rounds);
    store<u32>(P + LSH_HALVES, <u32>hv.ptr);
    store<i32>(P + LSH_NF, nf);
    i32_lsh_buckets(P);

    for (let i = 0; i < n; i++) {
      for (let r = 0; r < rounds; r++) {
        let bucket = 0, product = 1, col = r * width;
        for (let f = 0; f < nf; f++) {
          const half = this.halves_[f];
          bucket += argmaxPm(at(Y.ptr, ldy, i, col), half) * product;
          product *= 2 * half;
          col += half;
        }
        tally.exact(<f64>load<i32>(out.ptr + (<usize>(r * n + i) << 2)), <f64>bucket, r, i);
      }
    }
    const what = this.describe();
    tally.endCase(what);
    if (out.guardDamage() > 0) tally.fail(what + ': memory past the ids written');
    if (Y.hash() != hy || hv.hash() != hh) tally.fail(what + ': an input was modified');
    Y.free();
    hv.free();
    out.free();
  }

  private testSort(tally: Tally, rng: Rng, P: usize): void {
    const n = this.n_, nb = this.nb_;
    const keys = i32buf(n);
    for (let i = 0; i < n; i++) store<i32>(keys.ptr + (<usize>i << 2), rng.below(nb));
    const counts = i32buf(nb + 1);
    const perm = i32buf(n);
    const inv = i32buf(n);
    const hk = keys.hash();

    store<i32>(P + LSH_N, n);
    store<u32>(P + LSH_KEYS, <u32>keys.ptr);
    store<i32>(P + LSH_NB, nb);
    store<u32>(P + LSH_COUNTS, <u32>counts.ptr);
    store<u32>(P + LSH_PERM, <u32>perm.ptr);
    store<u32>(P + LSH_INV, <u32>inv.ptr);
    i32_counting_sort(P);

    // the stable order: for each key in increasing order, its positions in increasing order
    let s = 0;
    for (let b = 0; b < nb; b++) {
      for (let i = 0; i < n; i++) {
        if (load<i32>(keys.ptr + (<usize>i << 2)) != b) continue;
        tally.exact(<f64>load<i32>(perm.ptr + (<usize>s << 2)), <f64>i, 0, s);
        tally.exact(<f64>load<i32>(inv.ptr + (<usize>i << 2)), <f64>s, 1, i);
        s++;
      }
    }
    const what = this.describe();
    tally.endCase(what);
    if (perm.guardDamage() + inv.guardDamage() + counts.guardDamage() > 0) tally.fail(what + ': memory past perm, inv or counts written');
    if (keys.hash() != hk) tally.fail(what + ': the keys were modified');
    keys.free();
    counts.free();
    perm.free();
    inv.free();
  }

  private testNormalize(tally: Tally, rng: Rng, P: usize): void {
    const n = this.n_, d = this.d_;
    const ls = d + this.pad_; //       source rows (and the in-place call's)
    const ld = d + (this.pad_ + 1) % 4; // the out-of-place destination's rows
    const X = matrix(n, d, ls);
    fillMatrix(X.ptr, n, d, ls, rng, -2, 2);
    if (n > 2) for (let x = 0; x < d; x++) store<f32>(at(X.ptr, ls, 2, x), 0); // a zero row
    const Y = matrix(n, d, ld);
    const hx = X.hash();

    store<i32>(P + LSH_N, n);
    store<u32>(P + LSH_SRC, <u32>X.ptr);
    store<i32>(P + LSH_SRC_STRIDE, ls);
    store<i32>(P + LSH_D, d);
    store<u32>(P + LSH_DST, <u32>Y.ptr);
    store<i32>(P + LSH_DST_STRIDE, ld);
    f32_lsh_normalize(P);

    const what = this.describe();
    if (X.hash() != hx) tally.fail(what + ': the source was modified');
    for (let i = 0; i < n; i++) {
      let ss: f64 = 0;
      for (let x = 0; x < d; x++) ss += <f64>load<f32>(at(X.ptr, ls, i, x)) ** 2;
      const inv = 1 / Math.sqrt(ss / <f64>d + 1e-6);
      for (let x = 0; x < d; x++) {
        const want = <f64>load<f32>(at(X.ptr, ls, i, x)) * inv;
        const got = <f64>load<f32>(at(Y.ptr, ld, i, x));
        if (ss == 0) tally.exact(got, 0, i, x);
        else if (tally.close(got, want, 0, 1e-6, max(Math.abs(want), 1e-3), i, x)) {
          const r = Math.abs(got - want) / (1e-6 * max(Math.abs(want), 1e-3));
          if (r > LshTester.worstNormalize) LshTester.worstNormalize = r;
        }
      }
    }
    tally.endCase(what);
    if (paddingDamage(Y, n, d, ld) > 0) tally.fail(what + ': destination padding/guard written');
    // in place: the same bits
    store<u32>(P + LSH_DST, <u32>X.ptr);
    store<i32>(P + LSH_DST_STRIDE, ls);
    f32_lsh_normalize(P);
    tally.begin();
    for (let i = 0; i < n; i++) for (let x = 0; x < d; x++) tally.bits(load<f32>(at(X.ptr, ls, i, x)), load<f32>(at(Y.ptr, ld, i, x)), i, x);
    tally.endCase(what + ' in place');
    if (paddingDamage(X, n, d, ls) > 0) tally.fail(what + ': in place, padding/guard written');
    X.free();
    Y.free();
  }

  private testChunkMask(tally: Tally, rng: Rng, P: usize): void {
    const nq = this.nq_, nk = this.nk_, pen = this.penalty_;
    const qpos = i32buf(nq);
    const kpos = i32buf(nk);
    // positions in [0, 12): equal, adjacent and later positions meet in every vector and tail
    for (let r = 0; r < nq; r++) store<i32>(qpos.ptr + (<usize>r << 2), rng.below(12));
    // the first keys are the chunk's queries (same tokens), the rest random positions
    for (let c = 0; c < nk; c++) store<i32>(kpos.ptr + (<usize>c << 2), c < nq ? load<i32>(qpos.ptr + (<usize>c << 2)) : rng.below(12));
    const M = matrix(nq, nk, nk);
    const hq = qpos.hash(), hk = kpos.hash();

    store<u32>(P + LSH_OUT, <u32>M.ptr);
    store<u32>(P + LSH_QPOS, <u32>qpos.ptr);
    store<i32>(P + LSH_NQ, nq);
    store<u32>(P + LSH_KPOS, <u32>kpos.ptr);
    store<i32>(P + LSH_NK, nk);
    store<i32>(P + LSH_CAUSAL, this.causal_ ? 1 : 0);
    store<f32>(P + LSH_SELF_PENALTY, pen);
    f32_lsh_chunk_mask(P);

    for (let r = 0; r < nq; r++) {
      const p = load<i32>(qpos.ptr + (<usize>r << 2));
      for (let c = 0; c < nk; c++) {
        const k = load<i32>(kpos.ptr + (<usize>c << 2));
        const want: f32 = this.causal_ && k > p ? -Infinity : k == p ? pen : 0;
        tally.bits(load<f32>(at(M.ptr, nk, r, c)), want, r, c);
      }
    }
    const what = this.describe();
    tally.endCase(what);
    if (paddingDamage(M, nq, nk, nk) > 0) tally.fail(what + ': memory past the mask written');
    if (qpos.hash() != hq || kpos.hash() != hk) tally.fail(what + ': the positions were modified');
    qpos.free();
    kpos.free();
    M.free();
  }
}

/** mulberry32's output for one state (the reference's copy of random.ts's). */
function mulberry32(state: u32): u32 {
  let t = state;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

export class RandnTester {
  seed_: u32 = 1;
  n_: i32 = 1;
  scale_: f32 = 1;

  seed(x: u32): RandnTester { this.seed_ = x; return this; }
  n(x: i32): RandnTester { this.n_ = x; return this; }
  scale(x: f32): RandnTester { this.scale_ = x; return this; }

  describe(): string {
    return 'randn seed=' + this.seed_.toString() + ' n=' + this.n_.toString() + ' scale=' + this.scale_.toString();
  }

  /** Runs the stream of n, of n + 5 (prefix) and of scale 1, and records them in `tally`. */
  test(tally: Tally): void {
    tally.begin();
    const n = this.n_, seed = this.seed_, scale = this.scale_;
    const A = new Guarded(<usize>max(n, 1) << 2);
    const B = new Guarded(<usize>(n + 5) << 2);
    const U = new Guarded(<usize>max(n, 1) << 2);
    let ok = randn(seed, n, scale, A.ptr);
    ok = randn(seed, n + 5, scale, B.ptr) && ok;
    ok = randn(seed, n, 1, U.ptr) && ok;
    const what = this.describe();
    // the float64 reference stream
    let state = seed;
    for (let i = 0; i < n; i += 2) {
      let u: f64 = 0, v: f64 = 0, s: f64 = 0;
      do {
        state += 0x6d2b79f5;
        u = <f64>(mulberry32(state) >>> 8) * 1.1920928955078125e-7 - 1.0;
        state += 0x6d2b79f5;
        v = <f64>(mulberry32(state) >>> 8) * 1.1920928955078125e-7 - 1.0;
        s = u * u + v * v;
      } while (s >= 1.0 || s == 0.0);
      const f = Math.sqrt(-2.0 * Math.log(s) / s) * <f64>scale;
      tally.close(<f64>load<f32>(A.ptr + (<usize>i << 2)), u * f, 0, 1e-6, Math.abs(u * f), 0, i);
      if (i + 1 < n) tally.close(<f64>load<f32>(A.ptr + (<usize>(i + 1) << 2)), v * f, 0, 1e-6, Math.abs(v * f), 0, i + 1);
    }
    for (let i = 0; i < n; i++) {
      const a = load<f32>(A.ptr + (<usize>i << 2));
      tally.bits(load<f32>(B.ptr + (<usize>i << 2)), a, 1, i); //   a prefix of the longer stream
      const x = <f64>load<f32>(U.ptr + (<usize>i << 2));
      tally.close(<f64>a, <f64>scale * x, 1e-30, 1e-6, Math.abs(<f64>scale * x), 2, i); // scale multiplies
    }
    tally.endCase(what);
    if (!ok) tally.fail(what + ': parameter block guard written');
    if (A.guardDamage() + B.guardDamage() + U.guardDamage() > 0) tally.fail(what + ': memory past the n values written');
    A.free();
    B.free();
    U.free();
  }
}
