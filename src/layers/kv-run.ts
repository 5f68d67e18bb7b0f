// kv-run.ts — the attention runs of one KV-cache call (kv-cache.ts's header describes the cache):
//   • linear cache: one kernel call per (batch, head) over slots [0, length + n), the n new rows
//     already written, bottom-right aligned (query i at position P + i);
//   • ring buffer (window W): the kept runs of slots (oldest first) and the n new rows, each a
//     disjoint key set with the window and causal ranges aligned to absolute positions, merged
//     exactly by log-sum-exp (f32_attn_merge); the new rows are written afterwards (kv-cache.ts).
// With f16/int8 rows the plans run the kernels of attention-kv.ts (KVStorage.runner), the ring
// buffer's new rows are converted to the cache's type first (so every key a query sees has it),
// and the weights kernel, when weights are asked for, reads the keys converted back to f32.

import type { PlacedMask } from '../attention/mask';
import { type AttentionPlan, type HeadLayout, runAttention } from '../attention/run-heads';
import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { softmaxKernels } from '../kernels/softmax';
import type { RelBias } from '../position/bias';
import type { Scope } from '../tensor';
import type { KVStorage, SlotRun } from './kv-storage';
import { f32At, wordIndex } from '../runtime/index';

/** @internal one attention call through a cache (see the header). */
export interface CacheAttentionCall {
  batch: number;
  qHeads: number;
  nq: number;
  q: HeadLayout;
  o: HeadLayout;
  /** new tokens to append (0: attend only); their keys/values are read from kNew/vNew */
  n: number;
  kNew?: HeadLayout;
  vNew?: HeadLayout;
  scale: number;
  softcap: number;
  causal: boolean;
  /** additive, columns = keys in time order (keyCount(n) of them) */
  mask?: PlacedMask;
  relBias?: RelBias;
  /** dense [batch, qHeads, nq, keyCount(n)] probabilities, when wanted */
  weights?: number;
}

/** What a run needs to know of the cache, as it is before the call's rows are counted. */
export interface CacheState {
  heads: number;
  headDim: number;
  valueDim: number;
  /** ring-buffer window, or undefined for a linear cache */
  window: number | undefined;
  /** tokens appended before this call (P) */
  position: number;
  /** tokens kept before this call */
  length: number;
  /** runs of kept slots, oldest first, with the absolute position of their first token */
  runs: Array<SlotRun & { position: number }>;
  storage: KVStorage;
}

/** Attention of the call's queries over the cache and its n new rows; see the header. */
export function attendCache(kernels: Kernels, scope: Scope, call: CacheAttentionCall, cache: CacheState): void {
  const { batch, qHeads, nq, n } = call;
  const { headDim: dh, valueDim: dv, storage: store, position: P } = cache;
  const total = cache.length + n;
  // f16/int8 rows: their kernels for the output; the weights kernel reads keys converted to f32.
  const runCalls = store.runner(kernels, store.block);
  attentionKernels(kernels).reserve(Math.max(total, 1), dh, dv);
  if (cache.window === undefined) {
    const plan: AttentionPlan = {
      batch, qHeads, kvHeads: cache.heads, nq, nk: total, dh, dv,
      q: call.q, k: store.layout(true), v: store.layout(false), o: call.o,
      scale: call.scale, softcap: call.softcap, mask: call.mask,
      offsets: new Array<number>(batch).fill(P), keyLens: new Array<number>(batch).fill(total),
      left: -1, right: call.causal ? 0 : -1, relBias: call.relBias,
    };
    const weights = call.weights ? { ptr: call.weights, mode: 3 as const } : undefined;
    runAttention(kernels, { ...plan, runCalls, weights: runCalls ? undefined : weights });
    if (runCalls && weights) runAttention(kernels, { ...plan, dv: 0, k: store.keysF32(kernels, scope, plan.k, total), weights });
    return;
  }
  const W = cache.window;
  const pieces: Array<{ k: HeadLayout; v: HeadLayout; count: number; offset: number; time: number; runCalls: AttentionPlan['runCalls'] }> = [];
  for (const s of cache.runs) {
    pieces.push({ k: store.layout(true, s.slot), v: store.layout(false, s.slot), count: s.count, offset: P - s.position, time: s.time, runCalls });
  }
  if (n > 0) {
    const rows = store.converted(kernels, scope, call.kNew!, call.vNew!, n);
    pieces.push({ ...rows, count: n, offset: 0, time: cache.length, runCalls: store.runner(kernels, { ptr: rows.k.ptr, rowsPerHead: n }) });
  }
  const rowsAll = batch * qHeads * nq;
  const shifted = (time: number): PlacedMask | undefined => (call.mask ? { ...call.mask, ptr: f32At(call.mask.ptr, time) } : undefined);
  const planOf = (p: (typeof pieces)[number]): AttentionPlan => ({
    batch, qHeads, kvHeads: cache.heads, nq, nk: p.count, dh, dv,
    q: call.q, k: p.k, v: p.v, o: call.o,
    scale: call.scale, softcap: call.softcap, mask: shifted(p.time),
    offsets: new Array<number>(batch).fill(p.offset), keyLens: new Array<number>(batch).fill(p.count),
    left: W - 1, right: call.causal ? 0 : -1, relBias: call.relBias, runCalls: p.runCalls,
  });
  if (pieces.length === 0) {
    zeroRows(kernels.arena, call.o, batch, qHeads, nq, dv);
  } else {
    const lseAcc = scope.alloc(Math.max(1, rowsAll), 'lse');
    const lsePart = pieces.length > 1 ? scope.alloc(Math.max(1, rowsAll), 'lse') : 0;
    const tmp = pieces.length > 1 ? scope.alloc(Math.max(1, rowsAll * dv), 'partial attention') : 0;
    const tmpLayout: HeadLayout = { ptr: tmp, batchStride: qHeads * nq * dv, headStride: nq * dv, rowStride: dv };
    pieces.forEach((p, index) => {
      const first = index === 0;
      runAttention(kernels, { ...planOf(p), o: first ? call.o : tmpLayout, lse: first ? lseAcc : lsePart });
      if (first) return;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < qHeads; h++) {
          const r = (b * qHeads + h) * nq;
          attentionKernels(kernels).merge({ acc: f32At(call.o.ptr, (b * call.o.batchStride + h * call.o.headStride)), accStride: call.o.rowStride, lseAcc: f32At(lseAcc, r), part: f32At(tmp, r * dv), partStride: dv, lsePart: f32At(lsePart, r), rows: nq, dv });
        }
      }
    });
  }
  if (call.weights) {
    // Scores after bias, mask and range per piece (−∞ where removed), placed in time order, then softmax.
    const w = call.weights;
    kernels.arena.f32(w, rowsAll * total).fill(-Infinity);
    for (const p of pieces) {
      const part = scope.alloc(Math.max(1, rowsAll * p.count), 'weights');
      const k = store.keysF32(kernels, scope, p.k, p.count);
      runAttention(kernels, { ...planOf(p), k, dv: 0, runCalls: undefined, weights: { ptr: part, mode: 2 } });
      const mem = kernels.arena.f32(0, wordIndex(kernels.arena.byteLength));
      for (let r = 0; r < rowsAll; r++) {
        const src = wordIndex(part) + r * p.count;
        mem.copyWithin(wordIndex(w) + r * total + p.time, src, src + p.count);
      }
    }
    softmaxKernels(kernels).rows({ x: w, rows: rowsAll, cols: total, stride: total });
  }
}

/** Writes zeros to every (b, h, row) of an output layout. */
function zeroRows(arena: Kernels['arena'], o: HeadLayout, batch: number, heads: number, rows: number, dv: number): void {
  const mem = arena.f32(0, wordIndex(arena.byteLength));
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < rows; i++) {
        const at = wordIndex(o.ptr) + b * o.batchStride + h * o.headStride + i * o.rowStride;
        mem.fill(0, at, at + dv);
      }
    }
  }
}
