// gemm.ts — the f32 matrix-product family (assembly/gemm.ts): C = A·B (+ bias) through f32_gemm's
// parameter block (GEMM_* offsets), several independent products as one pool job, and B packed once
// into the panels f32_gemm reads (layer weights) through f32_gemm_pack_b's block (GEMM_PACK_*, written
// into the instance's shared block).

import { f32Bytes, JOB_GEMM } from '../runtime/index';
import type { KernelAccess, Kernels } from './instance';
import { kernelBytes, type Layout, ParamWriter, readLayout } from './params';

/** One matrix product; see assembly/gemm.ts. */
export interface GemmCall {
  a: number; // (m, k), row stride lda
  lda: number;
  b: number; // (k, n), or (n, k) when transB; row stride ldb
  ldb: number;
  c: number; // (m, n), row stride ldc
  ldc: number;
  bias: number; // (n), 0 = none
  m: number;
  n: number;
  k: number;
  transB: boolean;
  accumulate: boolean;
  /** b holds panels from pack (ldb and transB are then ignored) */
  bPacked?: boolean;
}

/** Packing B once into f32_gemm's panels. */
export interface GemmPackCall {
  b: number; // (k, n), or (n, k) when transB; row stride ldb
  ldb: number;
  transB: boolean;
  n: number;
  k: number;
  dst: number; // packedBytes(n, k) bytes
}

const FIELDS = ['A', 'LDA', 'B', 'LDB', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'TRANS_B', 'ACCUMULATE', 'WORKSPACE', 'B_PACKED'];
const PACK_FIELDS = ['B', 'LDB', 'TRANS_B', 'N', 'K', 'DST'];

/** The matrix-product kernels of one instance; see the file header. */
export class GemmKernels {
  private readonly layout: Layout;
  private readonly packLayout: Layout;
  private readonly writer: ParamWriter;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'GEMM', FIELDS);
    this.packLayout = readLayout(access.exports, 'GEMM_PACK', PACK_FIELDS);
    this.writer = new ParamWriter(access.arena);
  }

  /** Bytes of f32_gemm_workspace_bytes(n, k), checked against 32-bit overflow (see kernelBytes). */
  private workspaceBytes(n: number, k: number): number {
    const bound = f32Bytes((n + 12) * k + 48); // B panels of depth ≤ k
    return kernelBytes(this.access.exports.f32_gemm_workspace_bytes(n, k), bound, `a matrix product's workspace (n ${n}, k ${k})`);
  }

  /** Reserves the workspace a product of these sizes needs (call before placing tensors). */
  reserve(n: number, k: number): void {
    this.access.scratch(this.workspaceBytes(n, k));
  }

  /** One product on this thread. */
  run(call: GemmCall): void {
    const ws = this.access.scratch(this.workspaceBytes(call.n, call.k));
    this.write(call, this.access.params, ws);
    this.access.exports.f32_gemm(this.access.params);
  }

  /** Several independent products (disjoint outputs), on the pool when there is one and ≥ `minFlops` multiply-adds. */
  runMany(calls: GemmCall[], minFlops = 1 << 21): void {
    let flops = 0;
    let wsBytes = 0;
    for (const c of calls) {
      flops += c.m * c.n * c.k;
      wsBytes = Math.max(wsBytes, this.workspaceBytes(c.n, c.k));
    }
    if (this.access.threads() < 2 || calls.length < 2 || flops < minFlops) {
      for (const c of calls) this.run(c);
      return;
    }
    this.access.runJob({
      kind: JOB_GEMM, count: calls.length, stride: this.layout.PARAMS_BYTES, wsOffset: this.layout.WORKSPACE,
      wsBytes, mainParams: this.access.params, write: (block, i) => this.write(calls[i], block, 0),
    });
  }

  private write(call: GemmCall, at: number, ws: number): void {
    const L = this.layout;
    this.writer.at(at)
      .int(L.A, call.a).int(L.LDA, call.lda).int(L.B, call.b).int(L.LDB, call.ldb).int(L.C, call.c).int(L.LDC, call.ldc)
      .int(L.BIAS, call.bias).int(L.M, call.m).int(L.N, call.n).int(L.K, call.k)
      .int(L.TRANS_B, call.transB ? 1 : 0).int(L.ACCUMULATE, call.accumulate ? 1 : 0).int(L.B_PACKED, call.bPacked ? 1 : 0)
      .int(L.WORKSPACE, ws);
  }

  /** Bytes pack writes for a product with n output columns and depth k. */
  packedBytes(n: number, k: number): number {
    return kernelBytes(this.access.exports.f32_gemm_packed_b_bytes(n, k), Math.ceil(n / 8) * k * 32, `a packed matrix (n ${n}, k ${k})`);
  }

  /** Packs B once into the panels f32_gemm reads, so products with the same B skip packing (pass bPacked). */
  pack(call: GemmPackCall): void {
    const L = this.packLayout;
    this.writer.at(this.access.params)
      .int(L.B, call.b).int(L.LDB, call.ldb).int(L.TRANS_B, call.transB ? 1 : 0).int(L.N, call.n).int(L.K, call.k).int(L.DST, call.dst);
    this.access.exports.f32_gemm_pack_b(this.access.params);
  }
}

const make = (access: KernelAccess) => new GemmKernels(access);

/** The matrix-product kernels of `kernels`' instance (made on first use). */
export function gemmKernels(kernels: Kernels): GemmKernels {
  return kernels.family(make);
}
