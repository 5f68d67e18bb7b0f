// qgemm.spec.ts — the int8 product (assembly/qgemm.ts with qd8.ts's activation quantizer) against a
// scalar reference that applies the same quantization, SIMD128 build (i32x4.dot_i16x8_s path; the
// relaxed path is checked by test/quant/qgemm.test.ts in both binaries).
//
// Shapes:  every (M, N, K) in {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65}³ (4096
//          products: every m % 4, n % 8, k % 4 tail), the weight layout cycling through B / Bᵀ,
//          int8 / uint8, scale and zero point per column / per tensor / none, bias on / off,
//          accumulate on / off; strides padded by 0..7 elements (A and C padding and 64-byte
//          guards hold a NaN sentinel).
// Checks:  C bit-identical to the reference (the integers exact, the float32 epilogue in the
//          documented order); C's padding and guards never written; A, B, scales, zero points,
//          bias unchanged; workspace and packed-buffer guards intact.
// Integers: a second sweep writes the workspace itself (QGEMM_A_QUANTIZED = 1: chosen codes, zero
//          points, scale 1) with weight scales 1, so C must equal the exact integer
//          Σ (qa − zpA)(qb − zpB) (|·| < 2²⁴, exact in f32) — independent of any quantizer.

import {
  QGEMM_A, QGEMM_LDA, QGEMM_B, QGEMM_C, QGEMM_LDC, QGEMM_BIAS, QGEMM_M, QGEMM_N, QGEMM_K, QGEMM_WORKSPACE,
  QGEMM_A_QUANTIZED, QGEMM_ACCUMULATE, QGEMM_PARAMS_BYTES,
  QPACK_B, QPACK_LDB, QPACK_TRANS_B, QPACK_UNSIGNED, QPACK_N, QPACK_K, QPACK_SCALE, QPACK_SCALE_STRIDE,
  QPACK_ZERO_POINT, QPACK_ZERO_POINT_STRIDE, QPACK_DST, QPACK_PARAMS_BYTES,
  qc8w_gemm_pack_b, qc8w_gemm_packed_b_bytes, qd8_f32_qc8w_gemm, qd8_f32_qc8w_gemm_workspace_bytes,
} from '../qgemm';
import { Guarded, Rng, GARBAGE, at, fillMatrix, fillMatrixBits, keep, matrix, paddingDamage, paramBlock, report, workspace } from './helpers';
import { Tally } from './tester';

const SIZES: StaticArray<i32> = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65];

/** The current test's tally (tester.ts); begin() starts a new one. */
let tally = new Tally('');

function begin(): void {
  tally = new Tally('');
}


function finish(name: string): void {
  tally.name = name;
  tally.finish();
}

// ── the reference quantizer (qd8.ts's header, scalar) ──

/** nearest(x) as i32 with Wasm's saturating truncation (NaN → 0). */
function roundSat(x: f32): i32 {
  return <i32>nearest(x);
}

class RowCodes {
  codes: StaticArray<i32>;
  scale: f32 = 0;
  zp: i32 = 0;
  constructor(k: i32) {
    this.codes = new StaticArray<i32>(max(k, 1));
  }
}

function quantizeRef(row: usize, k: i32, out: RowCodes): void {
  let mn: f32 = 0;
  let mx: f32 = 0;
  for (let x = 0; x < k; x++) {
    const v = load<f32>(row + (<usize>x << 2));
    mn = min(mn, v);
    mx = max(mx, v);
  }
  const range: f32 = mx - mn;
  out.scale = range / <f32>127;
  const inv: f32 = range >= <f32>7.888609052210118e-31 ? <f32>127 / range : 0;
  out.zp = min(max(roundSat(-mn * inv), 0), 127);
  for (let x = 0; x < k; x++) {
    unchecked(out.codes[x] = min(max(roundSat(load<f32>(row + (<usize>x << 2)) * inv) + out.zp, 0), 127));
  }
}

/** One layout of the weights: which of the packer's options a case uses. */
class Layout {
  transB: i32 = 0;
  unsigned: i32 = 0;
  perColumn: bool = true;
  zeroPoints: i32 = 0; // 0: none, 1: per tensor, 2: as perColumn
  bias: bool = false;
  accumulate: bool = false;
}

function layoutOf(v: i32): Layout {
  const l = new Layout();
  l.transB = v & 1;
  l.unsigned = (v >> 1) & 1;
  l.perColumn = ((v >> 2) & 1) == 0;
  l.zeroPoints = (v >> 3) % 3;
  l.bias = ((v / 24) & 1) != 0;
  l.accumulate = ((v / 48) & 1) != 0;
  return l;
}

function describeCase(m: i32, n: i32, k: i32, v: i32): string {
  return 'm=' + m.toString() + ' n=' + n.toString() + ' k=' + k.toString() + ' layout=' + v.toString();
}

function runCase(m: i32, n: i32, k: i32, v: i32, rng: Rng): void {
  tally.begin();
  const l = layoutOf(v);
  const lda = k + (v % 3);
  const ldc = n + ((v >> 1) % 4);
  const bRows = l.transB ? n : k;
  const bCols = l.transB ? k : n;
  const ldb = bCols + (v % 5);
  const A = matrix(m, k, lda);
  const B = new Guarded(<usize>max(bRows * ldb, 1));
  const C = matrix(m, n, ldc);
  const nScales = l.perColumn ? n : 1;
  const scales = new Guarded(<usize>max(nScales, 1) << 2);
  const nZp = l.zeroPoints == 2 && l.perColumn ? n : 1;
  const zps = new Guarded(<usize>max(nZp, 1));
  const bias = new Guarded(<usize>max(n, 1) << 2);
  const packedBytes = qc8w_gemm_packed_b_bytes(n, k);
  const packed = workspace(packedBytes);
  const wsBytes = qd8_f32_qc8w_gemm_workspace_bytes(m, k);
  const ws = workspace(wsBytes);
  const pp = paramBlock(QPACK_PARAMS_BYTES);
  const gp = paramBlock(QGEMM_PARAMS_BYTES);

  fillMatrix(A.ptr, m, k, lda, rng, -2, 1.5);
  for (let t = 0; t < bRows * ldb; t++) store<u8>(B.ptr + <usize>t, <u8>rng.next());
  for (let t = 0; t < nScales; t++) store<f32>(scales.ptr + (<usize>t << 2), rng.uniform(0.001, 0.03));
  for (let t = 0; t < nZp; t++) store<u8>(zps.ptr + <usize>t, <u8>rng.next());
  if (l.bias) fillMatrix(bias.ptr, 1, n, n, rng, -1, 1);
  if (l.accumulate) fillMatrix(C.ptr, m, n, ldc, rng, -1, 1);
  else fillMatrixBits(C.ptr, m, n, ldc, GARBAGE);

  // reference, from the inputs as stored
  const ref = new StaticArray<f32>(max(m * n, 1));
  const q = new RowCodes(k);
  for (let i = 0; i < m; i++) {
    quantizeRef(A.ptr + ((<usize>i * <usize>lda) << 2), k, q);
    for (let j = 0; j < n; j++) {
      const zpAt = zps.ptr + (nZp > 1 ? <usize>j : 0);
      const zb = l.zeroPoints == 0 ? 0 : (l.unsigned ? <i32>load<u8>(zpAt) : <i32>load<i8>(zpAt));
      let s = 0;
      for (let x = 0; x < k; x++) {
        const bAt = B.ptr + <usize>(l.transB ? j * ldb + x : x * ldb + j);
        const b = l.unsigned ? <i32>load<u8>(bAt) : <i32>load<i8>(bAt);
        s += (unchecked(q.codes[x]) - q.zp) * (b - zb);
      }
      const sb = load<f32>(scales.ptr + (l.perColumn ? <usize>j << 2 : 0));
      let y: f32 = (<f32>s) * (q.scale * sb);
      if (l.bias) y = y + load<f32>(bias.ptr + (<usize>j << 2));
      if (l.accumulate) y = load<f32>(at(C.ptr, ldc, i, j)) + y;
      unchecked(ref[i * n + j] = y);
    }
  }
  const hashes = A.hash() ^ (B.hash() * 3) ^ (scales.hash() * 5) ^ (zps.hash() * 7) ^ (bias.hash() * 11);

  store<u32>(pp.ptr + QPACK_B, <u32>B.ptr);
  store<i32>(pp.ptr + QPACK_LDB, ldb);
  store<i32>(pp.ptr + QPACK_TRANS_B, l.transB);
  store<i32>(pp.ptr + QPACK_UNSIGNED, l.unsigned);
  store<i32>(pp.ptr + QPACK_N, n);
  store<i32>(pp.ptr + QPACK_K, k);
  store<u32>(pp.ptr + QPACK_SCALE, <u32>scales.ptr);
  store<i32>(pp.ptr + QPACK_SCALE_STRIDE, l.perColumn ? 1 : 0);
  store<u32>(pp.ptr + QPACK_ZERO_POINT, l.zeroPoints == 0 ? 0 : <u32>zps.ptr);
  store<i32>(pp.ptr + QPACK_ZERO_POINT_STRIDE, nZp > 1 ? 1 : 0);
  store<u32>(pp.ptr + QPACK_DST, <u32>packed.ptr);
  qc8w_gemm_pack_b(pp.ptr);

  store<u32>(gp.ptr + QGEMM_A, <u32>A.ptr);
  store<i32>(gp.ptr + QGEMM_LDA, lda);
  store<u32>(gp.ptr + QGEMM_B, <u32>packed.ptr);
  store<u32>(gp.ptr + QGEMM_C, <u32>C.ptr);
  store<i32>(gp.ptr + QGEMM_LDC, ldc);
  store<u32>(gp.ptr + QGEMM_BIAS, l.bias ? <u32>bias.ptr : 0);
  store<i32>(gp.ptr + QGEMM_M, m);
  store<i32>(gp.ptr + QGEMM_N, n);
  store<i32>(gp.ptr + QGEMM_K, k);
  store<u32>(gp.ptr + QGEMM_WORKSPACE, <u32>ws.ptr);
  store<i32>(gp.ptr + QGEMM_ACCUMULATE, l.accumulate ? 1 : 0);
  qd8_f32_qc8w_gemm(gp.ptr);

  const what = describeCase(m, n, k, v);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) tally.bits(load<f32>(at(C.ptr, ldc, i, j)), unchecked(ref[i * n + j]), i, j);
  }
  tally.endCase(what);
  const padHits = paddingDamage(C, m, n, ldc);
  if (padHits > 0) tally.fail(what + ': ' + padHits.toString() + ' words of C padding/guard written');
  if ((A.hash() ^ (B.hash() * 3) ^ (scales.hash() * 5) ^ (zps.hash() * 7) ^ (bias.hash() * 11)) != hashes) tally.fail(what + ': an input was modified');
  if (ws.guardDamage() > 0) tally.fail(what + ': workspace of ' + wsBytes.toString() + ' bytes overrun');
  if (packed.guardDamage() > 0) tally.fail(what + ': packed buffer of ' + packedBytes.toString() + ' bytes overrun');
  if (pp.guardDamage() + gp.guardDamage() > 0) tally.fail(what + ': a parameter block guard was written');

  A.free(); B.free(); C.free(); scales.free(); zps.free(); bias.free(); packed.free(); ws.free(); pp.free(); gp.free();
}

/**
 * Integer exactness with a hand-written workspace: codes qa ∈ [0, 127], zero points zpA, scale 1;
 * weights int8 with scale 1 and zero points zb (per column): C = Σ (qa − zpA)(qb − zb) exactly.
 */
function runIntegerCase(m: i32, n: i32, k: i32, rng: Rng): void {
  tally.begin();
  const kq = (k + 3) >> 2;
  const blockBytes = <usize>kq << 5; // simd128 build: i16 codes, 4 rows × 4 codes × 2 bytes per group
  const wsBytes = qd8_f32_qc8w_gemm_workspace_bytes(m, k);
  const ws = workspace(wsBytes);
  const qa = new StaticArray<i32>(max(m * k, 1));
  const zpa = new StaticArray<i32>(max(m, 1));
  const hdrEnd = ws.ptr + (<usize>m << 4);
  memory.fill(hdrEnd, 0, <usize>((m + 3) >> 2) * blockBytes);
  for (let i = 0; i < m; i++) {
    const zp = rng.below(128);
    unchecked(zpa[i] = zp);
    let sum = 0;
    for (let x = 0; x < k; x++) {
      const c = rng.below(2) ? (rng.below(2) ? 127 : 0) : rng.below(128); // many extremes
      unchecked(qa[i * k + x] = c);
      sum += c;
      store<i16>(hdrEnd + <usize>(i >> 2) * blockBytes + (<usize>(x >> 2) << 5) + (<usize>(i & 3) << 3) + (<usize>(x & 3) << 1), <i16>c);
    }
    const hdr = ws.ptr + (<usize>i << 4);
    store<f32>(hdr, 1);
    store<i32>(hdr, zp, 4);
    store<i32>(hdr, sum, 8);
    store<i32>(hdr, 0, 12);
  }
  const B = new Guarded(<usize>max(k * n, 1));
  for (let t = 0; t < k * n; t++) store<i8>(B.ptr + <usize>t, <i8>(rng.below(2) ? (rng.below(2) ? -128 : 127) : <i32>rng.next()));
  const ones = new Guarded(<usize>max(n, 1) << 2);
  for (let j = 0; j < n; j++) store<f32>(ones.ptr + (<usize>j << 2), 1);
  const zb = new Guarded(<usize>max(n, 1));
  for (let j = 0; j < n; j++) store<i8>(zb.ptr + <usize>j, <i8>rng.next());
  const packed = workspace(qc8w_gemm_packed_b_bytes(n, k));
  const C = matrix(m, n, n);
  const pp = paramBlock(QPACK_PARAMS_BYTES);
  store<u32>(pp.ptr + QPACK_B, <u32>B.ptr);
  store<i32>(pp.ptr + QPACK_LDB, n);
  store<i32>(pp.ptr + QPACK_N, n);
  store<i32>(pp.ptr + QPACK_K, k);
  store<u32>(pp.ptr + QPACK_SCALE, <u32>ones.ptr);
  store<i32>(pp.ptr + QPACK_SCALE_STRIDE, 1);
  store<u32>(pp.ptr + QPACK_ZERO_POINT, <u32>zb.ptr);
  store<i32>(pp.ptr + QPACK_ZERO_POINT_STRIDE, 1);
  store<u32>(pp.ptr + QPACK_DST, <u32>packed.ptr);
  qc8w_gemm_pack_b(pp.ptr);
  const gp = paramBlock(QGEMM_PARAMS_BYTES);
  store<u32>(gp.ptr + QGEMM_B, <u32>packed.ptr);
  store<u32>(gp.ptr + QGEMM_C, <u32>C.ptr);
  store<i32>(gp.ptr + QGEMM_LDC, n);
  store<i32>(gp.ptr + QGEMM_M, m);
  store<i32>(gp.ptr + QGEMM_N, n);
  store<i32>(gp.ptr + QGEMM_K, k);
  store<u32>(gp.ptr + QGEMM_WORKSPACE, <u32>ws.ptr);
  store<i32>(gp.ptr + QGEMM_A_QUANTIZED, 1);
  qd8_f32_qc8w_gemm(gp.ptr);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      const z = <i32>load<i8>(zb.ptr + <usize>j);
      for (let x = 0; x < k; x++) s += (unchecked(qa[i * k + x]) - unchecked(zpa[i])) * (<i32>load<i8>(B.ptr + <usize>(x * n + j)) - z);
      tally.exact(<f64>load<f32>(at(C.ptr, n, i, j)), <f64><f32>s, i, j);
    }
  }
  tally.endCase('integers ' + describeCase(m, n, k, 0));
  if (ws.guardDamage() + packed.guardDamage() > 0) tally.fail('integers ' + describeCase(m, n, k, 0) + ': a buffer overrun');
  ws.free(); B.free(); ones.free(); zb.free(); packed.free(); C.free(); pp.free(); gp.free();
}

describe('qd8_f32_qc8w_gemm (simd128 build)', () => {
  it('equals the same-quantization reference bit for bit on every (M, N, K) in the sweep', () => {
    begin();
    const rng = new Rng(0x51ed270b);
    let v = 0;
    for (let a = 0; a < SIZES.length; a++) {
      for (let b = 0; b < SIZES.length; b++) {
        for (let c = 0; c < SIZES.length; c++) {
          runCase(SIZES[a], SIZES[b], SIZES[c], v % 96, rng);
          v += 7;
        }
      }
    }
    finish('sweep');
  });

  it('gives the exact integer Σ (qa − zpA)(qb − zb) from a hand-written workspace', () => {
    begin();
    const rng = new Rng(0xc0ffee);
    for (let a = 0; a < SIZES.length; a++) {
      for (let b = 0; b < SIZES.length; b += 3) {
        for (let c = 0; c < SIZES.length; c += 2) runIntegerCase(SIZES[a], SIZES[b], SIZES[c], rng);
      }
    }
    // deep rows: |Σ| up to 65 · 127 · 255 < 2²⁴ stays exact in f32 only for k ≤ ~500
    runIntegerCase(5, 9, 511, rng);
    finish('integers');
  });
});
