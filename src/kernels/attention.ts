// attention.ts — the f32 attention family (assembly/attention.ts; sage.ts for 8-bit Q·Kᵀ): fused
// online-softmax attention for one (batch, head) through the ATTN_* parameter block, several heads
// as one pool job, the materialized weights kernel, and the log-sum-exp merge of partial results
// (f32_attn_merge, through its MERGE_* block written into the instance's shared block).

import { f32Bytes, JOB_ATTENTION, JOB_QS8_ATTENTION } from '../runtime/index';
import type { KernelAccess, Kernels } from './instance';
import { kernelBytes, type Layout, ParamWriter, readLayout } from './params';

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

/** The exact merge of a partial attention result into an accumulated one (f32_attn_merge). */
export interface AttnMergeCall {
  acc: number; // (rows, dv), row stride accStride; updated in place
  accStride: number;
  lseAcc: number; // (rows) its log-sum-exp; updated in place
  part: number; // (rows, dv), row stride partStride
  partStride: number;
  lsePart: number; // (rows)
  rows: number;
  dv: number;
}

/** ONNX qk_matmul_output_mode of the weights kernel: 0 Q·Kᵀ·scale, 1 + mask, 2 + softcap, 3 softmax. */
export type WeightsMode = 0 | 1 | 2 | 3;

const FIELDS = [
  'Q', 'Q_STRIDE', 'K', 'K_STRIDE', 'V', 'V_STRIDE', 'O', 'O_STRIDE', 'NQ', 'NK', 'DH', 'DV', 'SCALE',
  'SOFTCAP', 'MASK', 'MASK_STRIDE', 'OFFSET', 'LEFT', 'RIGHT', 'KEY_LEN', 'WORKSPACE', 'W', 'W_MODE',
  'REL', 'REL_STRIDE', 'REL_MAX', 'LSE',
];

const MERGE_FIELDS = ['ACC', 'ACC_STRIDE', 'LSE_ACC', 'PART', 'PART_STRIDE', 'LSE_PART', 'ROWS', 'DV'];

/** The attention kernels of one instance; see the file header. */
export class AttentionKernels {
  /** The ATTN_* block layout (the KV-cache family writes the same block). */
  readonly layout: Layout;
  /** The MERGE_* block layout (f32_attn_merge). */
  private readonly mergeLayout: Layout;
  private readonly writer: ParamWriter;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'ATTN', FIELDS);
    this.mergeLayout = readLayout(access.exports, 'MERGE', MERGE_FIELDS);
    this.writer = new ParamWriter(access.arena);
  }

  /**
   * Bytes of f32_attn_workspace_bytes(nk, dh, dv) (or, `int8`, qs8_attn_workspace_bytes), checked
   * against 32-bit overflow (see kernelBytes).
   */
  workspaceBytes(nk: number, dh: number, dv: number, int8 = false): number {
    const dvp = Math.ceil(dv / 8) * 8;
    // packed Kᵀ panels + padded V rows + 64-row query, accumulator and score tiles (int8: + scales and key mean)
    const bound = f32Bytes((nk + 8) * (dh + 1) + nk * dvp + 64 * (dh + dvp) + 1024);
    const exports = this.access.exports;
    const bytes = int8 ? exports.qs8_attn_workspace_bytes(nk, dh, dv) : exports.f32_attn_workspace_bytes(nk, dh, dv);
    return kernelBytes(bytes, bound, `an attention workspace (nk ${nk}, headDim ${dh}, valueDim ${dv})`);
  }

  /** Reserves the workspace a call of these sizes needs (call before placing tensors); `int8`: the 8-bit kernel's. */
  reserve(nk: number, dh: number, dv: number, int8 = false): void {
    this.access.scratch(this.workspaceBytes(nk, dh, dv, int8));
  }

  /** Fused online-softmax attention for one (batch, head); `int8`: Q·Kᵀ in 8 bits (assembly/sage.ts). */
  online(call: AttnCall, int8 = false): void {
    const params = this.access.params;
    const ws = this.access.scratch(this.workspaceBytes(call.nk, call.dh, call.dv, int8));
    this.write(call, params, ws);
    if (int8) this.access.exports.qs8_attn_online(params);
    else this.access.exports.f32_attn_online(params);
  }

  /**
   * Several independent calls (disjoint outputs): on the worker pool when there is one and the work
   * is worth it (≥ 2 calls, ≥ `minFlops` multiply-adds), else one after another.
   */
  onlineMany(calls: AttnCall[], minFlops = 1 << 21, int8 = false): void {
    let flops = 0;
    let wsBytes = 0;
    for (const c of calls) {
      flops += c.nq * c.nk * (c.dh + c.dv);
      wsBytes = Math.max(wsBytes, this.workspaceBytes(c.nk, c.dh, c.dv, int8));
    }
    if (this.access.threads() < 2 || calls.length < 2 || flops < minFlops) {
      for (const c of calls) this.online(c, int8);
      return;
    }
    this.access.runJob({
      kind: int8 ? JOB_QS8_ATTENTION : JOB_ATTENTION, count: calls.length, stride: this.layout.PARAMS_BYTES, wsOffset: this.layout.WORKSPACE,
      wsBytes, mainParams: this.access.params, write: (block, i) => this.write(calls[i], block, 0),
    });
  }

  /** Dense weights (nq, nk) at `w` for one (batch, head), in ONNX qk_matmul_output_mode `mode`. */
  weights(call: AttnCall, w: number, mode: WeightsMode): void {
    const params = this.access.params;
    this.write(call, params, 0, w, mode);
    this.access.exports.f32_attn_weights(params);
  }

  /** Merges a partial result into an accumulated one exactly, by their log-sum-exps. */
  merge(call: AttnMergeCall): void {
    const L = this.mergeLayout;
    this.writer.at(this.access.params)
      .int(L.ACC, call.acc).int(L.ACC_STRIDE, call.accStride).int(L.LSE_ACC, call.lseAcc)
      .int(L.PART, call.part).int(L.PART_STRIDE, call.partStride).int(L.LSE_PART, call.lsePart)
      .int(L.ROWS, call.rows).int(L.DV, call.dv);
    this.access.exports.f32_attn_merge(this.access.params);
  }

  /** Writes the ATTN_* block for `call` at `at` with workspace `ws` (and the weights output `w` in mode `wMode`). */
  write(call: AttnCall, at: number, ws: number, w = 0, wMode = 0): void {
    const L = this.layout;
    this.writer.at(at)
      .int(L.Q, call.q).int(L.Q_STRIDE, call.qStride).int(L.K, call.k).int(L.K_STRIDE, call.kStride)
      .int(L.V, call.v).int(L.V_STRIDE, call.vStride).int(L.O, call.o).int(L.O_STRIDE, call.oStride)
      .int(L.NQ, call.nq).int(L.NK, call.nk).int(L.DH, call.dh).int(L.DV, call.dv)
      .float(L.SCALE, call.scale).float(L.SOFTCAP, call.softcap)
      .int(L.MASK, call.mask).int(L.MASK_STRIDE, call.maskStride).int(L.OFFSET, call.offset)
      .int(L.LEFT, call.left).int(L.RIGHT, call.right).int(L.KEY_LEN, call.keyLen).int(L.WORKSPACE, ws)
      .int(L.W, w).int(L.W_MODE, wMode).int(L.REL, call.rel).int(L.REL_STRIDE, call.relStride).int(L.REL_MAX, call.relMax)
      .int(L.LSE, call.lse);
  }
}

const make = (access: KernelAccess) => new AttentionKernels(access);

/** The attention kernels of `kernels`' instance (made on first use). */
export function attentionKernels(kernels: Kernels): AttentionKernels {
  return kernels.family(make);
}

/** The same, from inside another family's factory (the KV-cache family writes ATTN_* blocks). */
export function attentionKernelsOf(access: KernelAccess): AttentionKernels {
  return access.family(make);
}
