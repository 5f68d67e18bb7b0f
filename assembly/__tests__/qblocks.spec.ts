// qblocks.spec.ts — the block-format products (assembly/qblocks.ts: GGUF q8_0 / q4_0, MatMulNBits
// 4-bit) against a scalar reference that applies the same quantization, SIMD128 build (the relaxed
// path is checked by test/quant/qblocks.test.ts in both binaries).
//
// Shapes:  K ∈ {32, 64, 96, 160, 256} (multiples of 32: the formats' precondition),
//          M ∈ {1, 2, 3, 4, 5, 7, 8, 9}, N ∈ {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65}
//          (every n % 4 tail, and n < 4), for each format; MatMulNBits with and without zero
//          points; bias and accumulation cycling; strided A and C (NaN-sentinel padding, guards).
// Checks:  C bit-identical to the reference (exact block dots, then per block in order
//          acc = f32(acc + f32(f32(dot − zp·Σqa) · f32(dw · da)))); padding and guards never
//          written; inputs unchanged; workspace guard intact.
// Integers: with every block scale 1 (f16 0x3c00 or f32 1) and activation rows whose blocks hold
//          integers in [−127, 127] reaching ±127 (so da = 1 and the codes are the values), C must be
//          the exact integer Σ a·(q − zp) (|·| < 2²⁴).

import {
  QB_A, QB_LDA, QB_W, QB_SCALES, QB_ZERO_POINTS, QB_C, QB_LDC, QB_BIAS, QB_M, QB_N, QB_K, QB_WORKSPACE,
  QB_ACCUMULATE, QB_PARAMS_BYTES,
  qd8_f32_q8_0_gemm, qd8_f32_q4_0_gemm, qd8_f32_qb4w_gemm, qd8_f32_qb_gemm_workspace_bytes,
} from '../qblocks';
import { Guarded, Rng, GARBAGE, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock, report, workspace } from './helpers';
import { Tally } from './tester';

const MS: StaticArray<i32> = [1, 2, 3, 4, 5, 7, 8, 9];
const NS: StaticArray<i32> = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65];
const KS: StaticArray<i32> = [32, 64, 96, 160, 256];
const Q8_0: i32 = 0;
const Q4_0: i32 = 1;
const QB4W: i32 = 2;

/** The current test's tally (tester.ts); begin() starts a new one. */
let tally = new Tally('');

function begin(): void {
  tally = new Tally('');
}


function finish(name: string): void {
  tally.name = name;
  tally.finish();
}

/** f16 bits → f64, written from the definition (scalar; independent of the kernels' vector code). */
function f16Value(h: u32): f64 {
  const sign: f64 = (h & 0x8000) ? -1 : 1;
  const e = <i32>((h >> 10) & 31);
  const m = <f64>(h & 1023);
  if (e == 0) return sign * m * Math.pow(2, -24);
  if (e == 31) return m != 0 ? NaN : sign * Infinity;
  return sign * (1024 + m) * Math.pow(2, e - 25);
}

function blockBytes(fmt: i32): i32 {
  return fmt == Q8_0 ? 34 : fmt == Q4_0 ? 18 : 16;
}

/** Integer code of weight (j, x) and the block's zero point and scale, decoded from the stored bytes. */
class Weights {
  fmt: i32;
  n: i32;
  k: i32;
  w: Guarded;
  scales: Guarded;
  zps: Guarded;
  hasZp: bool;

  constructor(fmt: i32, n: i32, k: i32, hasZp: bool) {
    this.fmt = fmt;
    this.n = n;
    this.k = k;
    this.hasZp = hasZp;
    const nb = k >> 5;
    this.w = new Guarded(<usize>(n * nb * blockBytes(fmt)));
    this.scales = new Guarded(<usize>max(n * nb, 1) << 2);
    this.zps = new Guarded(<usize>max(n * ((nb + 1) >> 1), 1));
  }

  code(j: i32, x: i32): i32 {
    const nb = this.k >> 5;
    const b = x >> 5;
    const t = x & 31;
    const blk = this.w.ptr + <usize>((j * nb + b) * blockBytes(this.fmt));
    if (this.fmt == Q8_0) return <i32>load<i8>(blk + 2 + <usize>t);
    if (this.fmt == Q4_0) return t < 16 ? <i32>(load<u8>(blk + 2 + <usize>t) & 15) : <i32>(load<u8>(blk + 2 + <usize>(t - 16)) >> 4);
    const byte = <i32>load<u8>(blk + <usize>(t >> 1));
    return (t & 1) ? byte >> 4 : byte & 15;
  }

  zeroPoint(j: i32, b: i32): i32 {
    if (this.fmt == Q8_0) return 0;
    if (this.fmt == Q4_0 || !this.hasZp) return 8;
    const nb = this.k >> 5;
    const byte = <i32>load<u8>(this.zps.ptr + <usize>(j * ((nb + 1) >> 1) + (b >> 1)));
    return (b & 1) ? byte >> 4 : byte & 15;
  }

  scale(j: i32, b: i32): f32 {
    const nb = this.k >> 5;
    if (this.fmt == QB4W) return load<f32>(this.scales.ptr + (<usize>(j * nb + b) << 2));
    return <f32>f16Value(<u32>load<u16>(this.w.ptr + <usize>((j * nb + b) * blockBytes(this.fmt))));
  }

  hash(): u32 {
    return this.w.hash() ^ (this.scales.hash() * 3) ^ (this.zps.hash() * 5);
  }

  free(): void {
    this.w.free();
    this.scales.free();
    this.zps.free();
  }
}

/** Random codes; block scales random f16 in [2⁻⁸, 2⁻⁴) (or 1 when `unit`), random zero points. */
function randomWeights(fmt: i32, n: i32, k: i32, hasZp: bool, unit: bool, rng: Rng): Weights {
  const w = new Weights(fmt, n, k, hasZp);
  const nb = k >> 5;
  for (let t = 0; t < n * nb * blockBytes(fmt); t++) store<u8>(w.w.ptr + <usize>t, <u8>rng.next());
  if (fmt != QB4W) {
    for (let t = 0; t < n * nb; t++) {
      const h: u16 = unit ? 0x3c00 : <u16>(0x1c00 + rng.below(0x1000)) | (rng.below(2) ? 0x8000 : 0);
      store<u16>(w.w.ptr + <usize>(t * blockBytes(fmt)), h);
    }
  }
  for (let t = 0; t < n * nb; t++) store<f32>(w.scales.ptr + (<usize>t << 2), unit ? 1 : rng.uniform(0.004, 0.06));
  for (let t = 0; t < n * ((nb + 1) >> 1); t++) store<u8>(w.zps.ptr + <usize>t, <u8>rng.next());
  return w;
}

/** The activation quantizer (qd8.ts, blocks of 32), scalar. */
function quantizeBlock(p: usize, codes: StaticArray<i32>, at0: i32): f32 {
  let amax: f32 = 0;
  for (let t = 0; t < 32; t++) amax = max(amax, abs(load<f32>(p + (<usize>t << 2))));
  const inv: f32 = amax >= <f32>7.888609052210118e-31 ? <f32>127 / amax : 0;
  for (let t = 0; t < 32; t++) unchecked(codes[at0 + t] = min(max(<i32>nearest(load<f32>(p + (<usize>t << 2)) * inv), -127), 127));
  return amax / <f32>127;
}

function kernel(fmt: i32, params: usize): void {
  if (fmt == Q8_0) qd8_f32_q8_0_gemm(params);
  else if (fmt == Q4_0) qd8_f32_q4_0_gemm(params);
  else qd8_f32_qb4w_gemm(params);
}

function describeCase(fmt: i32, m: i32, n: i32, k: i32, v: i32): string {
  return ['q8_0', 'q4_0', 'qb4w'][fmt] + ' m=' + m.toString() + ' n=' + n.toString() + ' k=' + k.toString() + ' variant=' + v.toString();
}

function runCase(fmt: i32, m: i32, n: i32, k: i32, v: i32, unit: bool, rng: Rng): void {
  tally.begin();
  const nb = k >> 5;
  const lda = k + (v % 3);
  const ldc = n + ((v >> 1) % 3);
  const withBias = !unit && (v & 1) != 0;
  const acc = !unit && (v & 2) != 0;
  const hasZp = (v & 4) != 0;
  const A = matrix(m, k, lda);
  const C = matrix(m, n, ldc);
  const bias = new Guarded(<usize>max(n, 1) << 2);
  const w = randomWeights(fmt, n, k, hasZp, unit, rng);
  const wsBytes = qd8_f32_qb_gemm_workspace_bytes(m, k);
  const ws = workspace(wsBytes);
  const params = paramBlock(QB_PARAMS_BYTES);
  if (unit) {
    // integer rows with ±127 in every block: da = 1 and codes = values
    for (let i = 0; i < m; i++) {
      for (let x = 0; x < k; x++) store<f32>(at(A.ptr, lda, i, x), <f32>(rng.below(255) - 127));
      for (let b = 0; b < nb; b++) store<f32>(at(A.ptr, lda, i, (b << 5) + rng.below(32)), rng.below(2) ? 127 : -127);
    }
  } else {
    fillMatrix(A.ptr, m, k, lda, rng, -3, 2);
  }
  if (withBias) fillMatrix(bias.ptr, 1, n, n, rng, -1, 1);
  if (acc) fillMatrix(C.ptr, m, n, ldc, rng, -1, 1);
  else fillMatrixBits(C.ptr, m, n, ldc, GARBAGE);

  const ref = new StaticArray<f32>(max(m * n, 1));
  const exact = new StaticArray<f64>(max(m * n, 1));
  const codes = new StaticArray<i32>(k);
  const da = new StaticArray<f32>(nb);
  for (let i = 0; i < m; i++) {
    for (let b = 0; b < nb; b++) unchecked(da[b] = quantizeBlock(at(A.ptr, lda, i, b << 5), codes, b << 5));
    for (let j = 0; j < n; j++) {
      let y: f32 = 0;
      let e: f64 = 0;
      for (let b = 0; b < nb; b++) {
        let dot = 0;
        let sum = 0;
        for (let t = 0; t < 32; t++) {
          const q = unchecked(codes[(b << 5) + t]);
          dot += q * w.code(j, (b << 5) + t);
          sum += q;
        }
        const l = dot - w.zeroPoint(j, b) * sum;
        y = y + (<f32>l) * (w.scale(j, b) * unchecked(da[b]));
        e += <f64>l * <f64>w.scale(j, b) * <f64>unchecked(da[b]);
      }
      if (withBias) y = y + load<f32>(bias.ptr + (<usize>j << 2));
      if (acc) y = load<f32>(at(C.ptr, ldc, i, j)) + y;
      unchecked(ref[i * n + j] = y);
      unchecked(exact[i * n + j] = e);
    }
  }
  const hashes = A.hash() ^ (w.hash() * 7) ^ (bias.hash() * 11);

  const P = params.ptr;
  store<u32>(P + QB_A, <u32>A.ptr);
  store<i32>(P + QB_LDA, lda);
  store<u32>(P + QB_W, <u32>w.w.ptr);
  store<u32>(P + QB_SCALES, fmt == QB4W ? <u32>w.scales.ptr : 0);
  store<u32>(P + QB_ZERO_POINTS, fmt == QB4W && hasZp ? <u32>w.zps.ptr : 0);
  store<u32>(P + QB_C, <u32>C.ptr);
  store<i32>(P + QB_LDC, ldc);
  store<u32>(P + QB_BIAS, withBias ? <u32>bias.ptr : 0);
  store<i32>(P + QB_M, m);
  store<i32>(P + QB_N, n);
  store<i32>(P + QB_K, k);
  store<u32>(P + QB_WORKSPACE, <u32>ws.ptr);
  store<i32>(P + QB_ACCUMULATE, acc ? 1 : 0);
  kernel(fmt, P);

  const what = describeCase(fmt, m, n, k, v) + (unit ? ' (integers)' : '');
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const got = load<f32>(at(C.ptr, ldc, i, j));
      if (unit) tally.exact(<f64>got, unchecked(exact[i * n + j]), i, j);
      else tally.bits(got, unchecked(ref[i * n + j]), i, j);
    }
  }
  tally.endCase(what);
  const padHits = paddingDamage(C, m, n, ldc);
  if (padHits > 0) tally.fail(what + ': ' + padHits.toString() + ' words of C padding/guard written');
  if ((A.hash() ^ (w.hash() * 7) ^ (bias.hash() * 11)) != hashes) tally.fail(what + ': an input was modified');
  if (ws.guardDamage() > 0) tally.fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
  if (params.guardDamage() > 0) tally.fail(what + ': parameter block guard written');
  A.free(); C.free(); bias.free(); w.free(); ws.free(); params.free();
}

let formatCounter = 0;

describe('block-format products (simd128 build), every (M, N, K) in the sweep', () => {
  for (let f = 0; f < 3; f++) {
    it(keep(['q8_0', 'q4_0', 'MatMulNBits 4-bit'][f] + ': bit-exact against the same-quantization reference'), () => {
      begin();
      const fmt = formatCounter++;
      const rng = new Rng(0xb10c5 + <u32>fmt * 7919);
      let v = 0;
      for (let a = 0; a < MS.length; a++) {
        for (let b = 0; b < NS.length; b++) {
          for (let c = 0; c < KS.length; c++) runCase(fmt, MS[a], NS[b], KS[c], v++, false, rng);
        }
      }
      finish(['q8_0', 'q4_0', 'qb4w'][fmt]);
    });
  }

  it('the integer block dots are exact (unit scales, integer activations)', () => {
    begin();
    const rng = new Rng(0x1a7e9e5);
    for (let fmt = 0; fmt < 3; fmt++) {
      let v = 0;
      for (let b = 0; b < NS.length; b += 2) {
        for (let c = 0; c < KS.length; c++) runCase(fmt, MS[(b + c) % MS.length], NS[b], KS[c], (v++) * 4, true, rng);
      }
    }
    finish('integers');
  });
});
