// lsh.ts — the LSH family (assembly/lsh.ts): bucket ids from rotated rows, the stable counting
// sort by bucket, length normalization of shared query-keys, and one chunk's additive mask.

import type { KernelAccess, Kernels } from './instance';

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

/** The LSH kernels of one instance; see the file header. */
export class LshKernels {
  constructor(private readonly access: KernelAccess) {}

  /** Bucket ids of every row and round. */
  buckets(call: LshBucketsCall): void {
    this.access.exports.i32_lsh_buckets(call.y, call.ldy, call.n, call.rounds, call.halves, call.nf, call.out);
  }

  /** Sorts positions by key, stably. */
  countingSort(call: CountingSortCall): void {
    this.access.exports.i32_counting_sort(call.keys, call.n, call.nb, call.counts, call.perm, call.inv);
  }

  /** dst_r = src_r / √(mean(src_r²) + 1e-6) (trax length_normalized), n rows of d floats. */
  normalize(call: { src: number; srcStride: number; n: number; d: number; dst: number; dstStride: number }): void {
    this.access.exports.f32_lsh_normalize(call.src, call.srcStride, call.n, call.d, call.dst, call.dstStride);
  }

  /** The chunk's mask. */
  chunkMask(call: LshChunkMaskCall): void {
    this.access.exports.f32_lsh_chunk_mask(call.qpos, call.nq, call.kpos, call.nk, call.causal ? 1 : 0, call.selfPenalty, call.out);
  }
}

const make = (access: KernelAccess) => new LshKernels(access);

/** The LSH kernels of `kernels`' instance (made on first use). */
export function lshKernels(kernels: Kernels): LshKernels {
  return kernels.family(make);
}
