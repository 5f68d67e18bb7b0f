// lsh.ts — the LSH family (assembly/lsh.ts): bucket ids from rotated rows, the stable counting
// sort by bucket, length normalization of shared query-keys, and one chunk's additive mask, each
// through the LSH_* parameter block (written in the instance's shared block).

import type { KernelAccess, Kernels } from './instance';
import { type Layout, ParamWriter, readLayout } from './params';

/** Bucket ids (rounds, n) i32 at `out` from rotated rows y (n, rounds·Σhalves), row stride ldy. */
export interface LshBucketsCall {
  y: number;
  ldy: number;
  n: number;
  rounds: number;
  /** nf i32: each factor's buckets/2 (one factor: plain argmax([y, −y])) */
  halves: number;
  nf: number;
  out: number;
}

/** A stable counting sort of n i32 keys in [0, nb): perm (sorted → index) and its inverse inv. */
export interface CountingSortCall {
  keys: number;
  n: number;
  nb: number;
  /** nb + 1 i32 of scratch */
  counts: number;
  perm: number;
  inv: number;
}

/** One chunk's additive (nq, nk) mask from i32 token positions. */
export interface LshChunkMaskCall {
  qpos: number;
  nq: number;
  kpos: number;
  nk: number;
  /** −∞ where a key's position is after the query's */
  causal: boolean;
  /** added where query and key are the same token */
  selfPenalty: number;
  out: number;
}

const FIELDS = [
  'N', 'OUT', 'Y', 'LDY', 'ROUNDS', 'HALVES', 'NF', 'KEYS', 'NB', 'COUNTS', 'PERM', 'INV', 'SRC', 'SRC_STRIDE', 'D', 'DST',
  'DST_STRIDE', 'QPOS', 'NQ', 'KPOS', 'NK', 'CAUSAL', 'SELF_PENALTY',
];

/** The LSH kernels of one instance; see the file header. */
export class LshKernels {
  private readonly layout: Layout;
  private readonly writer: ParamWriter;

  constructor(private readonly access: KernelAccess) {
    this.layout = readLayout(access.exports, 'LSH', FIELDS);
    this.writer = new ParamWriter(access.arena);
  }

  /** Bucket ids of every row and round. */
  buckets(call: LshBucketsCall): void {
    const L = this.layout;
    const params = this.access.params;
    this.writer.at(params)
      .int(L.N, call.n).int(L.OUT, call.out).int(L.Y, call.y).int(L.LDY, call.ldy).int(L.ROUNDS, call.rounds)
      .int(L.HALVES, call.halves).int(L.NF, call.nf);
    this.access.exports.i32_lsh_buckets(params);
  }

  /** Sorts positions by key, stably. */
  countingSort(call: CountingSortCall): void {
    const L = this.layout;
    const params = this.access.params;
    this.writer.at(params)
      .int(L.N, call.n).int(L.KEYS, call.keys).int(L.NB, call.nb).int(L.COUNTS, call.counts).int(L.PERM, call.perm)
      .int(L.INV, call.inv);
    this.access.exports.i32_counting_sort(params);
  }

  /** dst_r = src_r / √(mean(src_r²) + 1e-6) (trax length_normalized), n rows of d floats. */
  normalize(call: { src: number; srcStride: number; n: number; d: number; dst: number; dstStride: number }): void {
    const L = this.layout;
    const params = this.access.params;
    this.writer.at(params)
      .int(L.N, call.n).int(L.SRC, call.src).int(L.SRC_STRIDE, call.srcStride).int(L.D, call.d).int(L.DST, call.dst)
      .int(L.DST_STRIDE, call.dstStride);
    this.access.exports.f32_lsh_normalize(params);
  }

  /** The chunk's mask. */
  chunkMask(call: LshChunkMaskCall): void {
    const L = this.layout;
    const params = this.access.params;
    this.writer.at(params)
      .int(L.OUT, call.out).int(L.QPOS, call.qpos).int(L.NQ, call.nq).int(L.KPOS, call.kpos).int(L.NK, call.nk)
      .int(L.CAUSAL, call.causal ? 1 : 0).float(L.SELF_PENALTY, call.selfPenalty);
    this.access.exports.f32_lsh_chunk_mask(params);
  }
}

const make = (access: KernelAccess) => new LshKernels(access);

/** The LSH kernels of `kernels`' instance (made on first use). */
export function lshKernels(kernels: Kernels): LshKernels {
  return kernels.family(make);
}
