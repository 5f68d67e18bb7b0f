// quantized.ts — typed wrappers of the low-precision kernels (assembly/qd8.ts, qgemm.ts,
// qblocks.ts, f16.ts, f16w.ts): each writes its kernel's parameter block, with field offsets read
// from the module's own exported constants (QGEMM_*, QPACK_*, QB_*, GEMM_*; F16_CONVERT_* for the
// f16 ↔ f32 conversions, written into the instance's shared block), and calls it.
// Reached through `quantizedKernels(kernels)` (a family of Kernels, so the core entry does not carry
// it); pointers are byte addresses in the arena, strides are in elements.

import { f32At, f32Bytes, JOB_F16W, JOB_Q4_0, JOB_Q8_0, JOB_QB4W, JOB_QC8W, type KernelExports } from '../runtime/index';
import type { KernelAccess, Kernels } from './instance';
import { kernelBytes, type Layout, ParamWriter, readLayout } from './params';

/** The block formats read in place by qd8_f32_<format>_gemm. */
export type BlockFormat = 'q8_0' | 'q4_0' | 'qb4w';

/** Packing of int8/uint8 weights into the int8 product's panels; see assembly/qgemm.ts. */
export interface Int8PackCall {
  b: number; // (k, n) row-major, or (n, k) when transB; one byte per element
  ldb: number;
  transB: boolean;
  unsigned: boolean;
  n: number;
  k: number;
  scale: number; // f32, one per column (scaleStride 1) or one (0)
  scaleStride: 0 | 1;
  zeroPoint: number; // int8/uint8 like b, 0 = none
  zeroPointStride: 0 | 1;
  dst: number; // int8PackedBytes(n, k) bytes
}

/** One product C = A · W (+ bias) with quantized weights `w` (packed, blocks or f16). */
export interface QuantizedProductCall {
  a: number; // (m, k) f32, row stride lda
  lda: number;
  w: number;
  c: number; // (m, n) f32, row stride ldc
  ldc: number;
  bias: number; // (n) f32, 0 = none
  m: number;
  n: number;
  k: number;
}

/** Extra operands of MatMulNBits blocks (qb4w). */
export interface BlockScales {
  scales: number; // (n, k/32) f32
  zeroPoints: number; // (n, ⌈k/64⌉) packed 4-bit, 0 = none
}

type Fn = (...args: number[]) => number;

/**
 * Multiply-adds (m·n·k) from which a product is split over the worker pool: below it the job's
 * hand-off (about 20–50 µs) outweighs what a second thread saves. One decode step of a 4096×4096
 * matrix is 16.8 M.
 */
const MIN_SPLIT_MACS = 1 << 21;
/** Column slices per thread: enough to even out a loaded machine's threads. */
const SLICES_PER_THREAD = 4;

/** The job kind of each block format's product. */
const BLOCK_JOBS: Record<BlockFormat, number> = { q8_0: JOB_Q8_0, q4_0: JOB_Q4_0, qb4w: JOB_QB4W };

/** The low-precision kernels of one instance; see the file header. */
export class QuantizedKernels {
  private readonly qgemm: Layout;
  private readonly qpack: Layout;
  private readonly qb: Layout;
  private readonly gemm: Layout;
  /** f32_f16_convert / f16_f32_convert's block (F16_CONVERT_*), written into the instance's shared block. */
  private readonly f16Convert: Layout;

  private readonly exports: KernelExports;
  private readonly access: KernelAccess;
  private readonly writer: ParamWriter;
  /** This family's parameter block (the largest of its layouts). */
  private readonly params: number;

  constructor(access: KernelAccess) {
    const exports = access.exports;
    this.exports = exports;
    this.access = access;
    this.writer = new ParamWriter(access.arena);
    this.qgemm = readLayout(exports, 'QGEMM', ['A', 'LDA', 'B', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'WORKSPACE', 'A_QUANTIZED', 'ACCUMULATE']);
    this.qpack = readLayout(exports, 'QPACK', ['B', 'LDB', 'TRANS_B', 'UNSIGNED', 'N', 'K', 'SCALE', 'SCALE_STRIDE', 'ZERO_POINT', 'ZERO_POINT_STRIDE', 'DST']);
    this.qb = readLayout(exports, 'QB', ['A', 'LDA', 'W', 'SCALES', 'ZERO_POINTS', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'WORKSPACE', 'A_QUANTIZED', 'ACCUMULATE']);
    this.gemm = readLayout(exports, 'GEMM', ['A', 'LDA', 'B', 'LDB', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'TRANS_B', 'ACCUMULATE', 'WORKSPACE', 'B_PACKED']);
    this.f16Convert = readLayout(exports, 'F16_CONVERT', ['SRC', 'DST', 'N']);
    this.params = access.arena.alloc(Math.max(this.qgemm.PARAMS_BYTES, this.qpack.PARAMS_BYTES, this.qb.PARAMS_BYTES, this.gemm.PARAMS_BYTES));
  }

  private scratch(bytes: number): number {
    return this.access.scratch(bytes);
  }

  private fn(name: string): Fn {
    return this.exports[name] as Fn;
  }

  /** Writes `fields` (name → i32) into a parameter block (this family's own by default), zeroing the rest first. */
  private write(layout: Layout, fields: Record<string, number>, block = this.params): number {
    this.writer.at(block).clear(layout.PARAMS_BYTES).ints(layout, fields);
    return block;
  }

  /**
   * One product through kernel `name`: in one call on this thread, or — with a worker pool and at
   * least MIN_SPLIT_MACS multiply-adds — as a pool job (`kind`) of column slices, each a multiple
   * of `align` columns wide. `fields(n0, cols)` gives the parameter fields of columns
   * [n0, n0 + cols) (its weights, output and bias pointers moved to n0); `wsBytes(cols)` the
   * workspace one slice needs. Every slice quantizes the activations itself (m·k work against its
   * m·cols·k products). Slices write disjoint output columns and each output is computed exactly
   * as in one call, so the result does not depend on the thread count.
   */
  private columns(
    kind: number, name: string, layout: Layout, call: QuantizedProductCall, align: number,
    wsBytes: (cols: number) => number, fields: (n0: number, cols: number) => Record<string, number>,
  ): void {
    const threads = this.access.threads();
    const wanted = threads > 1 && call.m * call.n * call.k >= MIN_SPLIT_MACS ? threads * SLICES_PER_THREAD : 1;
    const width = Math.ceil(Math.ceil(call.n / wanted) / align) * align;
    const count = Math.ceil(call.n / width);
    if (count < 2) {
      const ws = this.scratch(wsBytes(call.n));
      this.fn(name)(this.write(layout, { ...fields(0, call.n), WORKSPACE: ws }));
      return;
    }
    this.access.runJob({
      kind, count, stride: layout.PARAMS_BYTES, wsOffset: layout.WORKSPACE, wsBytes: wsBytes(width), mainParams: this.params,
      write: (block, i) => this.write(layout, fields(i * width, Math.min(width, call.n - i * width)), block),
    });
  }

  /** Bytes of qc8w_gemm_pack_b's panels for n columns of depth k. */
  int8PackedBytes(n: number, k: number): number {
    return kernelBytes(this.fn('qc8w_gemm_packed_b_bytes')(n, k), Math.ceil(n / 8) * (96 + Math.ceil(k / 4) * 32), `int8 panels (n ${n}, k ${k})`);
  }

  /** Packs int8/uint8 weights with their scales and zero points into the int8 product's panels. */
  packInt8(call: Int8PackCall): void {
    this.fn('qc8w_gemm_pack_b')(this.write(this.qpack, {
      B: call.b, LDB: call.ldb, TRANS_B: call.transB ? 1 : 0, UNSIGNED: call.unsigned ? 1 : 0, N: call.n, K: call.k,
      SCALE: call.scale, SCALE_STRIDE: call.scaleStride, ZERO_POINT: call.zeroPoint, ZERO_POINT_STRIDE: call.zeroPointStride, DST: call.dst,
    }));
  }

  /** Workspace bytes of the int8 product for m rows of depth k (the quantized activations). */
  int8WorkspaceBytes(m: number, k: number): number {
    return kernelBytes(this.fn('qd8_f32_qc8w_gemm_workspace_bytes')(m, k), m * (2 * k + 80) + 4096, `int8 activations (m ${m}, k ${k})`);
  }

  /** C = dequant(qd8(A) · packed W) (+ bias): the W8A8 product (w: packInt8's panels). */
  int8Product(call: QuantizedProductCall): void {
    const panel = this.int8PackedBytes(8, call.k); // one panel of 8 columns
    this.columns(JOB_QC8W, 'qd8_f32_qc8w_gemm', this.qgemm, call, 8, () => this.int8WorkspaceBytes(call.m, call.k), (n0, cols) => ({
      A: call.a, LDA: call.lda, B: call.w + (n0 / 8) * panel, C: f32At(call.c, n0), LDC: call.ldc,
      BIAS: call.bias && f32At(call.bias, n0), M: call.m, N: cols, K: call.k,
    }));
  }

  /** Workspace bytes of the block products for m rows of depth k (activations in blocks of 32). */
  blockWorkspaceBytes(m: number, k: number): number {
    return kernelBytes(this.fn('qd8_f32_qb_gemm_workspace_bytes')(m, k), m * (2 * k + k / 4 + 16), `block activations (m ${m}, k ${k})`);
  }

  /** C = A · Wᵀ (+ bias) with W (n × k) in a block format read in place (k a multiple of 32). */
  blockProduct(format: BlockFormat, call: QuantizedProductCall, extra: BlockScales = { scales: 0, zeroPoints: 0 }): void {
    const nb = call.k / 32;
    // Bytes of one weight row (an output column): GGUF blocks of 34 / 18 bytes, or 16 nibble bytes
    // per MatMulNBits block with its f32 scales and packed 4-bit zero points beside.
    const wRow = format === 'q8_0' ? nb * 34 : format === 'q4_0' ? nb * 18 : nb * 16;
    const zpRow = (nb + 1) >> 1;
    this.columns(BLOCK_JOBS[format], `qd8_f32_${format}_gemm`, this.qb, call, 4, () => this.blockWorkspaceBytes(call.m, call.k), (n0, cols) => ({
      A: call.a, LDA: call.lda, W: call.w + n0 * wRow, SCALES: extra.scales && f32At(extra.scales, n0 * nb),
      ZERO_POINTS: extra.zeroPoints && extra.zeroPoints + n0 * zpRow, C: f32At(call.c, n0), LDC: call.ldc,
      BIAS: call.bias && f32At(call.bias, n0), M: call.m, N: cols, K: call.k,
    }));
  }

  /** Workspace bytes of the f16-weight product (f32 panels of one depth block). */
  f16WorkspaceBytes(n: number, k: number): number {
    return kernelBytes(this.fn('f32_f16w_gemm_workspace_bytes')(n, k), f32Bytes((n + 8) * Math.min(k, 256)) + 16 * k + 8192, `f16 weight panels (n ${n}, k ${k})`);
  }

  /** C = A · f32(W) (+ bias), W f16 bits: (k, n), or (n, k) when transB (row stride ldw). */
  f16Product(call: QuantizedProductCall, ldw: number, transB: boolean): void {
    this.columns(JOB_F16W, 'f32_f16w_gemm', this.gemm, call, 8, (cols) => this.f16WorkspaceBytes(cols, call.k), (n0, cols) => ({
      A: call.a, LDA: call.lda, B: call.w + 2 * (transB ? n0 * ldw : n0), LDB: ldw, C: f32At(call.c, n0), LDC: call.ldc,
      BIAS: call.bias && f32At(call.bias, n0), M: call.m, N: cols, K: call.k, TRANS_B: transB ? 1 : 0,
    }));
  }

  /** `n` f32 values at `src` → f16 bits at `dst` (round to nearest even; exact f16 ↔ f32 conversion). */
  f32ToF16(call: { src: number; dst: number; n: number }): void {
    this.fn('f32_f16_convert')(this.write(this.f16Convert, { SRC: call.src, DST: call.dst, N: call.n }, this.access.params));
  }
}

const make = (access: KernelAccess) => new QuantizedKernels(access);

/** The low-precision kernels of `kernels`' instance (made on first use). */
export function quantizedKernels(kernels: Kernels): QuantizedKernels {
  return kernels.family(make);
}
