// kernels.ts — typed wrappers of the f32 kernels. With kernels-quantized.ts and runtime/tasks.ts
// it is the only code that calls raw Wasm exports. Each wrapper writes a kernel's parameter block
// (offsets read from the module's own exported constants, so the two sides cannot drift) and
// calls it. Pointers are byte addresses in the arena; strides are in elements.

import {
  Arena, AttentionError, exportedConstant, type Isa, JOB_ATTENTION, JOB_GEMM, JOB_QS8_ATTENTION, type KernelExports, withGuardChecks, WorkerPool,
  Workspaces,
} from './runtime/index';

/**
 * A byte count computed by a kernel export. The kernels compute sizes in 32-bit `usize`, which
 * JavaScript receives as a signed i32: 2 GiB and more came back negative (and 4 GiB and more
 * wrapped), so a huge workspace looked already reserved and the kernel wrote past it (a Wasm trap
 * or corrupted memory). `bound` is a float64 upper bound of the same formula: below 4 GiB the
 * kernel's value is exact when read unsigned; otherwise the request cannot fit → OUT_OF_MEMORY.
 */
function kernelBytes(wasmBytes: number, bound: number, what: string): number {
  if (!(bound < 2 ** 32)) {
    throw new AttentionError('OUT_OF_MEMORY', `${what} needs about ${bound} bytes, more than a 4 GiB Wasm memory holds`);
  }
  return wasmBytes >>> 0;
}

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
  /** b holds panels from packB (ldb and transB are then ignored) */
  bPacked?: boolean;
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

/** What a kernel family (Kernels.family) gets: the exports (guard-checked in guard mode), the arena, the workspace. */
export interface KernelAccess {
  exports: KernelExports;
  arena: Arena;
  /** This thread's workspace of at least `bytes`; take it right before the kernel call that uses it. */
  scratch(bytes: number): number;
  /** Threads available to split work over (1 without a pool). */
  threads(): number;
  /** Runs a job on the worker pool (see PoolJob); only when threads() > 1. */
  runJob(job: PoolJob): void;
  /** Writes an attention parameter block (ATTN_* offsets) for `call` at `at`, workspace `ws`. */
  writeAttn(call: AttnCall, at: number, ws: number): void;
  /** Bytes of f32_attn_workspace_bytes(nk, dh, dv), checked against 32-bit overflow. */
  attnWorkspaceBytes(nk: number, dh: number, dv: number): number;
}

/**
 * A job for the worker pool: `count` parameter blocks of `stride` bytes for the kernel of `kind`
 * (runtime/tasks.ts), each filled by `write(block, i)` with its workspace field (at `wsOffset`)
 * left for the pool to point at the running thread's workspace of `wsBytes`. The main thread
 * takes part with `mainParams`, a parameter block of at least `stride` bytes.
 */
export interface PoolJob {
  kind: number;
  count: number;
  stride: number;
  wsOffset: number;
  wsBytes: number;
  mainParams: number;
  write(block: number, i: number): void;
}

interface Layout {
  [field: string]: number;
}

function readLayout(exports: KernelExports, prefix: string, fields: string[]): Layout {
  const layout: Layout = {};
  for (const f of fields) layout[f] = exportedConstant(exports, `${prefix}_${f}`);
  return layout;
}

const GEMM_FIELDS = ['A', 'LDA', 'B', 'LDB', 'C', 'LDC', 'BIAS', 'M', 'N', 'K', 'TRANS_B', 'ACCUMULATE', 'WORKSPACE', 'B_PACKED', 'PARAMS_BYTES'];
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
  /** This thread's and the pool workers' reusable workspaces (see runtime/workspaces.ts). */
  private readonly workspaces: Workspaces;

  /** Worker pool sharing this memory, when the runtime was created with threads. */
  pool: WorkerPool | undefined;

  /**
   * guardAllocations: surround every arena block with guard words and verify all of them after
   * every kernel call (a debugging aid: slow; throws MEMORY_CORRUPTION on an out-of-bounds write).
   */
  constructor(exports: KernelExports, maxMemoryBytes: number, guardAllocations = false) {
    this.isa = exports.isa() === 2 ? 'relaxed' : 'simd128';
    this.arena = new Arena(exports.memory, exports.heap_base(), maxMemoryBytes, guardAllocations);
    this.exports = guardAllocations ? withGuardChecks(exports, this.arena) : exports;
    this.gemmLayout = readLayout(exports, 'GEMM', GEMM_FIELDS);
    this.attnLayout = readLayout(exports, 'ATTN', ATTN_FIELDS);
    this.params = this.arena.alloc(Math.max(this.gemmLayout.PARAMS_BYTES, this.attnLayout.PARAMS_BYTES));
    this.workspaces = new Workspaces(this.arena, () => this.pool);
  }

  /**
   * Runs one public operation of the runtime: the workspaces it grew are kept only if it
   * returns, so a rejected call leaves the arena as it found it (Workspaces.operation).
   */
  operation<T>(run: () => T): T {
    return this.workspaces.operation(run);
  }

  private readonly families = new Map<(access: KernelAccess) => unknown, unknown>();

  /**
   * The kernel family `make` builds on these kernels (made once, then cached): how families outside
   * the core entry (the low-precision kernels, kernels-quantized.ts) reach the exports, the arena
   * and this thread's workspace without growing this class.
   */
  family<T>(make: (access: KernelAccess) => T): T {
    let f = this.families.get(make);
    if (f === undefined) {
      f = make({
        exports: this.exports, arena: this.arena, scratch: (bytes) => this.scratch(bytes),
        threads: () => this.threads, runJob: (job) => this.runJob(job),
        writeAttn: (call, at, ws) => this.writeAttn(call, at, ws, 0, 0), attnWorkspaceBytes: (nk, dh, dv) => this.attnWorkspaceBytes(nk, dh, dv),
      });
      this.families.set(make, f);
    }
    return f as T;
  }

  /** This thread's workspace of at least `bytes`; take it right before the kernel call that uses it. */
  private scratch(bytes: number): number {
    return this.workspaces.main(bytes);
  }

  /**
   * Bytes of f32_attn_workspace_bytes(nk, dh, dv) (or, `int8`, qs8_attn_workspace_bytes), checked
   * against 32-bit overflow (see kernelBytes).
   */
  private attnWorkspaceBytes(nk: number, dh: number, dv: number, int8 = false): number {
    const dvp = Math.ceil(dv / 8) * 8;
    // packed Kᵀ panels + padded V rows + 64-row query, accumulator and score tiles (int8: + scales and key mean)
    const bound = 4 * (nk + 8) * (dh + 1) + 4 * nk * dvp + 256 * (dh + dvp) + 4096;
    const bytes = int8 ? this.exports.qs8_attn_workspace_bytes(nk, dh, dv) : this.exports.f32_attn_workspace_bytes(nk, dh, dv);
    return kernelBytes(bytes, bound, `an attention workspace (nk ${nk}, headDim ${dh}, valueDim ${dv})`);
  }

  /** Bytes of f32_gemm_workspace_bytes(n, k), checked against 32-bit overflow (see kernelBytes). */
  private gemmWorkspaceBytes(n: number, k: number): number {
    const bound = 4 * (n + 8) * k + 16 * k + 192; // B panels of depth ≤ k
    return kernelBytes(this.exports.f32_gemm_workspace_bytes(n, k), bound, `a matrix product's workspace (n ${n}, k ${k})`);
  }

  /** Reserves the workspace an attention call of these sizes needs (call before placing tensors); `int8`: the 8-bit kernel's. */
  reserveAttention(nk: number, dh: number, dv: number, int8 = false): void {
    this.scratch(this.attnWorkspaceBytes(nk, dh, dv, int8));
  }

  /** Reserves the workspace a matrix product of these sizes needs. */
  reserveGemm(n: number, k: number): void {
    this.scratch(this.gemmWorkspaceBytes(n, k));
  }

  gemm(call: GemmCall): void {
    const ws = this.scratch(this.gemmWorkspaceBytes(call.n, call.k));
    this.writeGemm(call, this.params, ws);
    this.exports.f32_gemm(this.params);
  }

  private writeGemm(call: GemmCall, at: number, ws: number): void {
    const L = this.gemmLayout;
    const { i32: p } = this.arena.wordViews(); // cached whole-memory view, never stale
    const b = at >> 2;
    p[b + (L.A >> 2)] = call.a;
    p[b + (L.LDA >> 2)] = call.lda;
    p[b + (L.B >> 2)] = call.b;
    p[b + (L.LDB >> 2)] = call.ldb;
    p[b + (L.C >> 2)] = call.c;
    p[b + (L.LDC >> 2)] = call.ldc;
    p[b + (L.BIAS >> 2)] = call.bias;
    p[b + (L.M >> 2)] = call.m;
    p[b + (L.N >> 2)] = call.n;
    p[b + (L.K >> 2)] = call.k;
    p[b + (L.TRANS_B >> 2)] = call.transB ? 1 : 0;
    p[b + (L.ACCUMULATE >> 2)] = call.accumulate ? 1 : 0;
    p[b + (L.B_PACKED >> 2)] = call.bPacked ? 1 : 0;
    p[b + (L.WORKSPACE >> 2)] = ws;
  }

  private writeAttn(call: AttnCall, at: number, ws: number, w: number, wMode: number): void {
    const L = this.attnLayout;
    const { i32: p, f32: f } = this.arena.wordViews(); // cached whole-memory views, never stale
    const b = at >> 2;
    p[b + (L.Q >> 2)] = call.q;
    p[b + (L.Q_STRIDE >> 2)] = call.qStride;
    p[b + (L.K >> 2)] = call.k;
    p[b + (L.K_STRIDE >> 2)] = call.kStride;
    p[b + (L.V >> 2)] = call.v;
    p[b + (L.V_STRIDE >> 2)] = call.vStride;
    p[b + (L.O >> 2)] = call.o;
    p[b + (L.O_STRIDE >> 2)] = call.oStride;
    p[b + (L.NQ >> 2)] = call.nq;
    p[b + (L.NK >> 2)] = call.nk;
    p[b + (L.DH >> 2)] = call.dh;
    p[b + (L.DV >> 2)] = call.dv;
    f[b + (L.SCALE >> 2)] = call.scale;
    f[b + (L.SOFTCAP >> 2)] = call.softcap;
    p[b + (L.MASK >> 2)] = call.mask;
    p[b + (L.MASK_STRIDE >> 2)] = call.maskStride;
    p[b + (L.OFFSET >> 2)] = call.offset;
    p[b + (L.LEFT >> 2)] = call.left;
    p[b + (L.RIGHT >> 2)] = call.right;
    p[b + (L.KEY_LEN >> 2)] = call.keyLen;
    p[b + (L.WORKSPACE >> 2)] = ws;
    p[b + (L.W >> 2)] = w;
    p[b + (L.W_MODE >> 2)] = wMode;
    p[b + (L.REL >> 2)] = call.rel;
    p[b + (L.REL_STRIDE >> 2)] = call.relStride;
    p[b + (L.REL_MAX >> 2)] = call.relMax;
    p[b + (L.LSE >> 2)] = call.lse;
  }

  /** Bytes of one kernel parameter block (the larger of the kernels'). */
  get paramsBytes(): number {
    return Math.max(this.gemmLayout.PARAMS_BYTES, this.attnLayout.PARAMS_BYTES);
  }

  /** Bytes packB writes for a product with n output columns and depth k. */
  packedBBytes(n: number, k: number): number {
    return kernelBytes(this.exports.f32_gemm_packed_b_bytes(n, k), Math.ceil(n / 8) * k * 32, `a packed matrix (n ${n}, k ${k})`);
  }

  /**
   * Packs B (k×n, or n×k when transB; row stride ldb) once into the panels f32_gemm reads, so
   * products with the same B (layer weights) skip packing: pass the result with bPacked.
   */
  packB(b: number, ldb: number, transB: boolean, n: number, k: number, dst: number): void {
    this.exports.f32_gemm_pack_b(b, ldb, transB ? 1 : 0, n, k, dst);
  }

  /** Threads available to split work over (1 without a pool). */
  get threads(): number {
    return this.pool ? this.pool.threads : 1;
  }

  private disposed = false;

  /** Marks these kernels' runtime as disposed: assertLive throws from then on. */
  markDisposed(): void {
    this.disposed = true;
  }

  /** Throws DISPOSED once the runtime owning these kernels was disposed (checked mid-call, after the caller's code ran). */
  assertLive(): void {
    if (this.disposed) throw new AttentionError('DISPOSED', 'this Runtime was disposed during the call');
  }

  /** Fused online-softmax attention for one (batch, head); `int8`: Q·Kᵀ in 8 bits (assembly/sage.ts). */
  attnOnline(call: AttnCall, int8 = false): void {
    const ws = this.scratch(this.attnWorkspaceBytes(call.nk, call.dh, call.dv, int8));
    this.writeAttn(call, this.params, ws, 0, 0);
    if (int8) this.exports.qs8_attn_online(this.params);
    else this.exports.f32_attn_online(this.params);
  }

  /**
   * Several independent attention calls (disjoint outputs): on the worker pool when there is one
   * and the work is worth it (≥ 2 calls, ≥ `minFlops` multiply-adds), else one after another.
   * `int8`: the 8-bit kernel (qs8_attn_online).
   */
  attnOnlineMany(calls: AttnCall[], minFlops = 1 << 21, int8 = false): void {
    let flops = 0;
    let wsBytes = 0;
    for (const c of calls) {
      flops += c.nq * c.nk * (c.dh + c.dv);
      wsBytes = Math.max(wsBytes, this.attnWorkspaceBytes(c.nk, c.dh, c.dv, int8));
    }
    if (!this.pool || calls.length < 2 || flops < minFlops) {
      for (const c of calls) this.attnOnline(c, int8);
      return;
    }
    this.runJob({
      kind: int8 ? JOB_QS8_ATTENTION : JOB_ATTENTION, count: calls.length, stride: this.attnLayout.PARAMS_BYTES, wsOffset: this.attnLayout.WORKSPACE,
      wsBytes, mainParams: this.params, write: (block, i) => this.writeAttn(calls[i], block, 0, 0, 0),
    });
  }

  /** Runs `job` on the pool (the main thread takes part); see PoolJob. */
  private runJob(job: PoolJob): void {
    const pool = this.pool;
    if (!pool) throw new AttentionError('UNSUPPORTED', 'this runtime has no worker pool');
    this.workspaces.reservePool(pool, job.wsBytes);
    const tasks = this.arena.alloc(job.stride * job.count);
    try {
      const mainWs = this.scratch(job.wsBytes); // after the last allocation: its address is final
      for (let i = 0; i < job.count; i++) job.write(tasks + i * job.stride, i);
      pool.run(job.kind, tasks, job.count, job.stride, job.wsOffset, job.mainParams, mainWs);
      this.arena.verifyGuards();
    } finally {
      this.arena.release(tasks);
    }
  }

  /** Several independent matrix products (disjoint outputs), on the pool when worth it. */
  gemmMany(calls: GemmCall[], minFlops = 1 << 21): void {
    let flops = 0;
    let wsBytes = 0;
    for (const c of calls) {
      flops += c.m * c.n * c.k;
      wsBytes = Math.max(wsBytes, this.gemmWorkspaceBytes(c.n, c.k));
    }
    if (!this.pool || calls.length < 2 || flops < minFlops) {
      for (const c of calls) this.gemm(c);
      return;
    }
    this.runJob({
      kind: JOB_GEMM, count: calls.length, stride: this.gemmLayout.PARAMS_BYTES, wsOffset: this.gemmLayout.WORKSPACE,
      wsBytes, mainParams: this.params, write: (block, i) => this.writeGemm(calls[i], block, 0),
    });
  }

  /** Dense weights (nq, nk) at `w` for one (batch, head), in ONNX qk_matmul_output_mode `mode`. */
  attnWeights(call: AttnCall, w: number, mode: 0 | 1 | 2 | 3): void {
    this.writeAttn(call, this.params, 0, w, mode);
    this.exports.f32_attn_weights(this.params);
  }

  /**
   * Exact merge of a partial attention into an accumulated one (both (rows, dv) with row strides,
   * each with its per-row log-sum-exp); acc and lseAcc are updated in place.
   */
  attnMerge(acc: number, accStride: number, lseAcc: number, part: number, partStride: number, lsePart: number, rows: number, dv: number): void {
    this.exports.f32_attn_merge(acc, accStride, lseAcc, part, partStride, lsePart, rows, dv);
  }

  // ── wrappers for positions ──
  private ropeLayout: Layout | undefined;
  private ropeParams = 0;

  /**
   * RoPE in place on (rows, heads, headDim) at `call.x`: element (r, h, c) at
   * x + 4·(r·rowStride + h·headStride + c); cos/sin tables (P, rotaryDim/2) with row stride
   * tableStride; positions: (rows) i32 table rows. See assembly/rope.ts.
   */
  rope(call: {
    x: number; rows: number; rowStride: number; heads: number; headStride: number; rotaryDim: number;
    interleaved: boolean; cos: number; sin: number; tableStride: number; positions: number;
  }): void {
    if (!this.ropeLayout) {
      this.ropeLayout = readLayout(this.exports, 'ROPE', [
        'X', 'ROWS', 'ROW_STRIDE', 'HEADS', 'HEAD_STRIDE', 'DIM', 'INTERLEAVED', 'COS', 'SIN', 'TABLE_STRIDE', 'POSITIONS', 'PARAMS_BYTES',
      ]);
      this.ropeParams = this.arena.alloc(this.ropeLayout.PARAMS_BYTES);
    }
    const L = this.ropeLayout;
    const p = this.arena.i32(this.ropeParams, L.PARAMS_BYTES >> 2);
    p[L.X >> 2] = call.x;
    p[L.ROWS >> 2] = call.rows;
    p[L.ROW_STRIDE >> 2] = call.rowStride;
    p[L.HEADS >> 2] = call.heads;
    p[L.HEAD_STRIDE >> 2] = call.headStride;
    p[L.DIM >> 2] = call.rotaryDim;
    p[L.INTERLEAVED >> 2] = call.interleaved ? 1 : 0;
    p[L.COS >> 2] = call.cos;
    p[L.SIN >> 2] = call.sin;
    p[L.TABLE_STRIDE >> 2] = call.tableStride;
    p[L.POSITIONS >> 2] = call.positions;
    this.exports.f32_rope(this.ropeParams);
  }

  // ── wrappers for long-sequence variants ──

  /** n normal numbers of standard deviation `scale` from `seed` (bit-identical in every engine). */
  randn(seed: number, n: number, scale: number, out: number): void {
    this.exports.f32_randn(seed >>> 0, n, scale, out);
  }

  /**
   * LSH bucket ids (rounds, n) i32 at `out` from rotated rows y (n, rounds·Σhalves), row stride
   * ldy; `halves` (nf i32) are the factors' buckets/2 (one factor: plain argmax([y, −y])).
   */
  lshBuckets(y: number, ldy: number, n: number, rounds: number, halves: number, nf: number, out: number): void {
    this.exports.i32_lsh_buckets(y, ldy, n, rounds, halves, nf, out);
  }

  /** Stable counting sort of n i32 keys in [0, nb): perm (sorted → index) and inv; counts: nb + 1 i32 scratch. */
  countingSort(keys: number, n: number, nb: number, counts: number, perm: number, inv: number): void {
    this.exports.i32_counting_sort(keys, n, nb, counts, perm, inv);
  }

  /** dst[r] = src[idx[r]] for n rows of d floats (row strides in elements). */
  gatherRows(src: number, srcStride: number, idx: number, n: number, d: number, dst: number, dstStride: number): void {
    this.exports.f32_rows_gather(src, srcStride, idx, n, d, dst, dstStride);
  }

  /** out[i] = ‖x_i‖₂ for n rows of d floats. */
  rowNorms(x: number, stride: number, n: number, d: number, out: number): void {
    this.exports.f32_rows_norm(x, stride, n, d, out);
  }

  /** dst_i = x_i / √(mean(x_i²) + 1e-6) (trax length_normalized). */
  lengthNormalize(src: number, srcStride: number, n: number, d: number, dst: number, dstStride: number): void {
    this.exports.f32_lsh_normalize(src, srcStride, n, d, dst, dstStride);
  }

  /** Additive (nq, nk) mask of one LSH chunk from i32 token positions (causal −∞, same token selfPenalty). */
  lshChunkMask(qpos: number, nq: number, kpos: number, nk: number, causal: boolean, selfPenalty: number, out: number): void {
    this.exports.f32_lsh_chunk_mask(qpos, nq, kpos, nk, causal ? 1 : 0, selfPenalty, out);
  }

  /** dst (d) = mean of n rows of d floats. */
  meanRows(src: number, stride: number, n: number, d: number, dst: number): void {
    this.exports.f32_rows_mean(src, stride, n, d, dst);
  }

  /** dst (cols, rows) = transpose of src (rows, cols). */
  transpose(src: number, srcStride: number, rows: number, cols: number, dst: number, dstStride: number): void {
    this.exports.f32_rows_transpose(src, srcStride, rows, cols, dst, dstStride);
  }

  /** In-place row softmax of (rows, cols) floats at `x` with row stride `stride`. */
  softmaxRows(x: number, rows: number, cols: number, stride: number): void {
    this.exports.f32_softmax_rows(x, rows, cols, stride);
  }

  // ── wrappers for structured variants ──

  /** dst_i = x_i / max(‖x_i‖₂, 1e-12) for n rows of d floats (in place when dst = src). */
  l2NormalizeRows(src: number, srcStride: number, n: number, d: number, dst: number, dstStride: number): void {
    this.exports.f32_rows_l2_normalize(src, srcStride, n, d, dst, dstStride);
  }

  /**
   * dst_r += a_r·src_{s_r} for r < n: s_r = idx[r] (i32 at idx) or r when idx is 0;
   * a_r = c·w[r·wStride] (f32 at w) or c when w is 0; rows with a_r = 0 are skipped.
   */
  rowsAxpy(dst: number, dstStride: number, src: number, srcStride: number, idx: number, w: number, wStride: number, c: number, n: number, d: number): void {
    this.exports.f32_rows_axpy(dst, dstStride, src, srcStride, idx, w, wStride, c, n, d);
  }

  /** dst_{idx[r]} += src_r for r < n (idx: n i32; repeats accumulate). */
  rowsScatterAdd(dst: number, dstStride: number, src: number, srcStride: number, idx: number, n: number, d: number): void {
    this.exports.f32_rows_scatter_add(dst, dstStride, src, srcStride, idx, n, d);
  }

  /** dst_r = scale·(src_r + bias) for n rows of d floats (bias: d floats; in place when dst = src). */
  rowsBiasScale(src: number, srcStride: number, n: number, d: number, bias: number, scale: number, dst: number, dstStride: number): void {
    this.exports.f32_rows_bias_scale(src, srcStride, n, d, bias, scale, dst, dstStride);
  }
}
