// kernels.ts — the ONLY module that calls raw Wasm exports. Typed wrappers that write a kernel's
// parameter block (offsets read from the module's own exported constants, so the two sides cannot
// drift) and call it. Pointers are byte addresses in the arena; strides are in elements.

import { Arena, exportedConstant, type Isa, type KernelExports } from './runtime/index';

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
}

/** One (batch, head) of attention; see assembly/attention.ts. */
export interface AttnCall {
  q: number; // (nq, dh), row stride qStride
  qStride: number;
  k: number; // (nk, dh), row stride kStride
  kStride: number;
  v: number; // (nk, dv), row stride vStride
  vStride: number;
  o: number; // (nq, dv), row stride oStride
  oStride: number;
  nq: number;
  nk: number;
  dh: number;
  dv: number;
  scale: number;
  softcap: number; // 0 = none
  mask: number; // (nq, nk) additive f32, 0 = none
  maskStride: number; // 0 = one row for all queries
  offset: number; // absolute position of query 0
  left: number; // −1 = unbounded
  right: number; // −1 = unbounded, 0 = causal
  keyLen: number;
  rel: number; // (rows, 2·relMax + 1) additive bias by clamped distance j − (i + offset), 0 = none
  relStride: number; // elements between rel rows, 0 = one row for all queries
  relMax: number;
  lse: number; // (nq) log-sum-exp per row (−∞ when nothing is visible), 0 = not wanted
}

interface Layout {
  [field: string]: number;
}

function readLayout(exports: KernelExports, prefix: string, fields: string[]): Layout {
  const layout: Layout = {};
  for (const f of fields) layout[f] = exportedConstant(exports, `${prefix}_${f}`);
  return layout;
}

const GEMM_FIELDS = ['A', 'LDA', 'B', 'LDB', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'TRANS_B', 'ACCUMULATE', 'WORKSPACE', 'PARAMS_BYTES'];
const ATTN_FIELDS = [
  'Q', 'Q_STRIDE', 'K', 'K_STRIDE', 'V', 'V_STRIDE', 'O', 'O_STRIDE', 'NQ', 'NK', 'DH', 'DV', 'SCALE',
  'SOFTCAP', 'MASK', 'MASK_STRIDE', 'OFFSET', 'LEFT', 'RIGHT', 'KEY_LEN', 'WORKSPACE', 'W', 'W_MODE',
  'REL', 'REL_STRIDE', 'REL_MAX', 'LSE', 'PARAMS_BYTES',
];

/** Typed access to the kernels of one instance, sharing one arena. */
export class Kernels {
  readonly arena: Arena;
  readonly isa: Isa;
  private readonly exports: KernelExports;
  private readonly gemmLayout: Layout;
  private readonly attnLayout: Layout;
  private readonly params: number;
  private workspace = 0;
  private workspaceBytes = 0;

  constructor(exports: KernelExports, maxMemoryBytes: number) {
    this.exports = exports;
    this.isa = exports.isa() === 2 ? 'relaxed' : 'simd128';
    this.arena = new Arena(exports.memory, exports.heap_base(), maxMemoryBytes);
    this.gemmLayout = readLayout(exports, 'GEMM', GEMM_FIELDS);
    this.attnLayout = readLayout(exports, 'ATTN', ATTN_FIELDS);
    this.params = this.arena.alloc(Math.max(this.gemmLayout.PARAMS_BYTES, this.attnLayout.PARAMS_BYTES));
  }

  /** A scratch region of at least `bytes`, reused across calls (grows, never shrinks). */
  private scratch(bytes: number): number {
    if (bytes > this.workspaceBytes) {
      const next = this.arena.alloc(bytes); // may throw OUT_OF_MEMORY: keep the old one then
      if (this.workspace) this.arena.release(this.workspace);
      this.workspace = next;
      this.workspaceBytes = bytes;
    }
    return this.workspace;
  }

  /** Reserves the workspace an attention call of these sizes needs (call before placing tensors). */
  reserveAttention(nk: number, dh: number, dv: number): void {
    this.scratch(this.exports.f32_attn_workspace_bytes(nk, dh, dv));
  }

  /** Reserves the workspace a matrix product of these sizes needs. */
  reserveGemm(n: number, k: number): void {
    this.scratch(this.exports.f32_gemm_workspace_bytes(n, k));
  }

  gemm(call: GemmCall): void {
    const ws = this.scratch(this.exports.f32_gemm_workspace_bytes(call.n, call.k));
    const L = this.gemmLayout;
    const p = this.arena.i32(this.params, L.PARAMS_BYTES >> 2);
    p[L.A >> 2] = call.a;
    p[L.LDA >> 2] = call.lda;
    p[L.B >> 2] = call.b;
    p[L.LDB >> 2] = call.ldb;
    p[L.C >> 2] = call.c;
    p[L.LDC >> 2] = call.ldc;
    p[L.BIAS >> 2] = call.bias;
    p[L.M >> 2] = call.m;
    p[L.N >> 2] = call.n;
    p[L.K >> 2] = call.k;
    p[L.TRANS_B >> 2] = call.transB ? 1 : 0;
    p[L.ACCUMULATE >> 2] = call.accumulate ? 1 : 0;
    p[L.WORKSPACE >> 2] = ws;
    this.exports.f32_gemm(this.params);
  }

  private writeAttn(call: AttnCall, ws: number, w: number, wMode: number): void {
    const L = this.attnLayout;
    const p = this.arena.i32(this.params, L.PARAMS_BYTES >> 2);
    const f = this.arena.f32(this.params, L.PARAMS_BYTES >> 2);
    p[L.Q >> 2] = call.q;
    p[L.Q_STRIDE >> 2] = call.qStride;
    p[L.K >> 2] = call.k;
    p[L.K_STRIDE >> 2] = call.kStride;
    p[L.V >> 2] = call.v;
    p[L.V_STRIDE >> 2] = call.vStride;
    p[L.O >> 2] = call.o;
    p[L.O_STRIDE >> 2] = call.oStride;
    p[L.NQ >> 2] = call.nq;
    p[L.NK >> 2] = call.nk;
    p[L.DH >> 2] = call.dh;
    p[L.DV >> 2] = call.dv;
    f[L.SCALE >> 2] = call.scale;
    f[L.SOFTCAP >> 2] = call.softcap;
    p[L.MASK >> 2] = call.mask;
    p[L.MASK_STRIDE >> 2] = call.maskStride;
    p[L.OFFSET >> 2] = call.offset;
    p[L.LEFT >> 2] = call.left;
    p[L.RIGHT >> 2] = call.right;
    p[L.KEY_LEN >> 2] = call.keyLen;
    p[L.WORKSPACE >> 2] = ws;
    p[L.W >> 2] = w;
    p[L.W_MODE >> 2] = wMode;
    p[L.REL >> 2] = call.rel;
    p[L.REL_STRIDE >> 2] = call.relStride;
    p[L.REL_MAX >> 2] = call.relMax;
    p[L.LSE >> 2] = call.lse;
  }

  /** Fused online-softmax attention for one (batch, head). */
  attnOnline(call: AttnCall): void {
    const ws = this.scratch(this.exports.f32_attn_workspace_bytes(call.nk, call.dh, call.dv));
    this.writeAttn(call, ws, 0, 0);
    this.exports.f32_attn_online(this.params);
  }

  /** Dense weights (nq, nk) at `w` for one (batch, head), in ONNX qk_matmul_output_mode `mode`. */
  attnWeights(call: AttnCall, w: number, mode: 0 | 1 | 2 | 3): void {
    this.writeAttn(call, 0, w, mode);
    this.exports.f32_attn_weights(this.params);
  }

  /**
   * Exact merge of a partial attention into an accumulated one (both (rows, dv) with row strides,
   * each with its per-row log-sum-exp); acc and lseAcc are updated in place.
   */
  attnMerge(acc: number, accStride: number, lseAcc: number, part: number, partStride: number, lsePart: number, rows: number, dv: number): void {
    this.exports.f32_attn_merge(acc, accStride, lseAcc, part, partStride, lsePart, rows, dv);
  }

  /** Runs the peak multiply-add loop (iters · 96 flops); returns its checksum. Benchmark only. */
  peakMadd(iters: number, seed: number): number {
    return this.exports.f32_peak_madd(iters, seed);
  }

  // ── wrappers for positions (issue 4) ──

  // ── wrappers for long-sequence variants (issue 5) ──

  /** In-place row softmax of (rows, cols) floats at `x` with row stride `stride`. */
  softmaxRows(x: number, rows: number, cols: number, stride: number): void {
    this.exports.f32_softmax_rows(x, rows, cols, stride);
  }

  /** y[i] = exp(x[i]) through the kernel's vector exp. */
  exp(x: number, y: number, n: number): void {
    this.exports.f32_exp(x, y, n);
  }
}
