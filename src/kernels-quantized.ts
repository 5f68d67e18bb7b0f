// kernels-quantized.ts — typed wrappers of the low-precision kernels (assembly/qd8.ts, qgemm.ts,
// qblocks.ts, f16.ts, f16w.ts): each writes its kernel's parameter block, with field offsets read
// from the module's own exported constants (QGEMM_*, QPACK_*, QB_*, GEMM_*), and calls it.
// Reached through `quantizedKernels(kernels)` (a family of Kernels, so the core entry does not carry
// it); pointers are byte addresses in the arena, strides are in elements.

import type { KernelAccess, Kernels } from './kernels';
import { AttentionError, exportedConstant, type KernelExports } from './runtime/index';

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

interface Layout {
  [field: string]: number;
}

function readLayout(exports: KernelExports, prefix: string, fields: string[]): Layout {
  const layout: Layout = {};
  for (const f of fields) layout[f] = exportedConstant(exports, `${prefix}_${f}`);
  return layout;
}

type Fn = (...args: number[]) => number;

/** Bytes of a kernel-computed size, read unsigned; sizes of 4 GiB and more cannot exist. */
function unsignedBytes(bytes: number, bound: number, what: string): number {
  if (!(bound < 2 ** 32)) throw new AttentionError('OUT_OF_MEMORY', `${what} needs about ${bound} bytes, more than a 4 GiB Wasm memory holds`);
  return bytes >>> 0;
}

/** The low-precision kernels of one instance; see the file header. */
export class QuantizedKernels {
  private readonly qgemm: Layout;
  private readonly qpack: Layout;
  private readonly qb: Layout;
  private readonly gemm: Layout;

  private readonly exports: KernelExports;
  private readonly access: KernelAccess;
  /** This family's parameter block (the largest of its layouts). */
  private readonly params: number;

  constructor(access: KernelAccess) {
    const exports = access.exports;
    this.exports = exports;
    this.access = access;
    this.qgemm = readLayout(exports, 'QGEMM', ['A', 'LDA', 'B', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'WORKSPACE', 'A_QUANTIZED', 'ACCUMULATE', 'PARAMS_BYTES']);
    this.qpack = readLayout(exports, 'QPACK', ['B', 'LDB', 'TRANS_B', 'UNSIGNED', 'N', 'K', 'SCALE', 'SCALE_STRIDE', 'ZERO_POINT', 'ZERO_POINT_STRIDE', 'DST', 'PARAMS_BYTES']);
    this.qb = readLayout(exports, 'QB', ['A', 'LDA', 'W', 'SCALES', 'ZERO_POINTS', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'WORKSPACE', 'A_QUANTIZED', 'ACCUMULATE', 'PARAMS_BYTES']);
    this.gemm = readLayout(exports, 'GEMM', ['A', 'LDA', 'B', 'LDB', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'TRANS_B', 'ACCUMULATE', 'WORKSPACE', 'B_PACKED', 'PARAMS_BYTES']);
    this.params = access.arena.alloc(Math.max(this.qgemm.PARAMS_BYTES, this.qpack.PARAMS_BYTES, this.qb.PARAMS_BYTES, this.gemm.PARAMS_BYTES));
  }

  private scratch(bytes: number): number {
    return this.access.scratch(bytes);
  }

  private fn(name: string): Fn {
    return this.exports[name] as Fn;
  }

  /** Writes `fields` (name → i32) into this family's parameter block, zeroing the rest first. */
  private write(layout: Layout, fields: Record<string, number>): number {
    const p = this.access.arena.wordViews().i32;
    const b = this.params >> 2;
    p.fill(0, b, b + (layout.PARAMS_BYTES >> 2));
    for (const [name, value] of Object.entries(fields)) p[b + (layout[name] >> 2)] = value;
    return this.params;
  }

  /** Bytes of qc8w_gemm_pack_b's panels for n columns of depth k. */
  int8PackedBytes(n: number, k: number): number {
    return unsignedBytes(this.fn('qc8w_gemm_packed_b_bytes')(n, k), Math.ceil(n / 8) * (96 + Math.ceil(k / 4) * 32), `int8 panels (n ${n}, k ${k})`);
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
    return unsignedBytes(this.fn('qd8_f32_qc8w_gemm_workspace_bytes')(m, k), m * (2 * k + 80) + 4096, `int8 activations (m ${m}, k ${k})`);
  }

  /** C = dequant(qd8(A) · packed W) (+ bias): the W8A8 product (w: packInt8's panels). */
  int8Product(call: QuantizedProductCall): void {
    const ws = this.scratch(this.int8WorkspaceBytes(call.m, call.k));
    this.fn('qd8_f32_qc8w_gemm')(this.write(this.qgemm, {
      A: call.a, LDA: call.lda, B: call.w, C: call.c, LDC: call.ldc, BIAS: call.bias, M: call.m, N: call.n, K: call.k, WORKSPACE: ws,
    }));
  }

  /** Workspace bytes of the block products for m rows of depth k (activations in blocks of 32). */
  blockWorkspaceBytes(m: number, k: number): number {
    return unsignedBytes(this.fn('qd8_f32_qb_gemm_workspace_bytes')(m, k), m * (2 * k + k / 4 + 16), `block activations (m ${m}, k ${k})`);
  }

  /** C = A · Wᵀ (+ bias) with W (n × k) in a block format read in place (k a multiple of 32). */
  blockProduct(format: BlockFormat, call: QuantizedProductCall, extra: BlockScales = { scales: 0, zeroPoints: 0 }): void {
    const ws = this.scratch(this.blockWorkspaceBytes(call.m, call.k));
    this.fn(`qd8_f32_${format}_gemm`)(this.write(this.qb, {
      A: call.a, LDA: call.lda, W: call.w, SCALES: extra.scales, ZERO_POINTS: extra.zeroPoints, C: call.c, LDC: call.ldc,
      BIAS: call.bias, M: call.m, N: call.n, K: call.k, WORKSPACE: ws,
    }));
  }

  /** Workspace bytes of the f16-weight product (f32 panels of one depth block). */
  f16WorkspaceBytes(n: number, k: number): number {
    return unsignedBytes(this.fn('f32_f16w_gemm_workspace_bytes')(n, k), 4 * (n + 8) * Math.min(k, 256) + 16 * k + 8192, `f16 weight panels (n ${n}, k ${k})`);
  }

  /** C = A · f32(W) (+ bias), W f16 bits: (k, n), or (n, k) when transB (row stride ldw). */
  f16Product(call: QuantizedProductCall, ldw: number, transB: boolean): void {
    const ws = this.scratch(this.f16WorkspaceBytes(call.n, call.k));
    this.fn('f32_f16w_gemm')(this.write(this.gemm, {
      A: call.a, LDA: call.lda, B: call.w, LDB: ldw, C: call.c, LDC: call.ldc, BIAS: call.bias, M: call.m, N: call.n, K: call.k,
      TRANS_B: transB ? 1 : 0, WORKSPACE: ws,
    }));
  }

  /** n f32 values at src → f16 bits at dst (round to nearest even; exact f16 ↔ f32 conversion). */
  f32ToF16(src: number, dst: number, n: number): void {
    this.fn('f32_f16_convert')(src, dst, n);
  }

  /** n f16 values at src → f32 at dst (exact). */
  f16ToF32(src: number, dst: number, n: number): void {
    this.fn('f16_f32_convert')(src, dst, n);
  }
}

const make = (access: KernelAccess) => new QuantizedKernels(access);

/** The low-precision kernels of `kernels`' instance (made on first use). */
export function quantizedKernels(kernels: Kernels): QuantizedKernels {
  return kernels.family(make);
}
