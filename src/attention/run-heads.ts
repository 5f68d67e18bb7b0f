// run-heads.ts — runs the fused kernel over every (batch, head) of a planned attention call.
// Both public entry points (sdpa.ts: rt.attention, onnx.ts: rt.onnxAttention) validate their
// inputs, place them in Wasm memory, describe them as an AttentionPlan and call runAttention.

import type { AttnCall } from '../kernels/attention';
import { CHUNKS_PER_THREAD, type Kernels, TILE_ROWS } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { f32At, wordIndex } from '../runtime/index';
import { headAt, type HeadLayout } from './head-layout';
import { observeUnits, type UnitsTick } from './heads-observer';
import type { PlacedMask } from './mask';

/** False in the bundles without the proxy runtime (scripts/build-js.mjs); undefined elsewhere. */
declare const __HEADS_OBSERVER__: boolean | undefined;

export { bhsdLayout, bshdLayout, type HeadLayout } from './head-layout';

export interface AttentionPlan {
  batch: number;
  qHeads: number;
  kvHeads: number; // divides qHeads; query head h reads kv head ⌊h / (qHeads / kvHeads)⌋
  nq: number;
  nk: number;
  dh: number;
  dv: number;
  q: HeadLayout;
  k: HeadLayout;
  v: HeadLayout;
  o: HeadLayout;
  scale: number;
  softcap: number; // 0 = none
  mask?: PlacedMask;
  /** per batch: absolute position of query row 0 (causal/window alignment) */
  offsets: ArrayLike<number>;
  /** per batch: keys at or past this index are padding */
  keyLens: ArrayLike<number>;
  left: number; // −1 = unbounded
  right: number; // −1 = unbounded; 0 for causal
  /**
   * Additive bias by relative distance d = j − (i + offset), clamped to [−maxDistance, maxDistance]:
   * element (b, h, row, d + maxDistance); row stride 0 = one row shared by every query.
   */
  relBias?: { ptr: number; batchStride: number; headStride: number; rowStride: number; maxDistance: number };
  /** dense (batch, qHeads, nq) log-sum-exp of each row's visible scores (−∞ when none) */
  lse?: number;
  /** dense (batch, qHeads, nq, nk) weights in ONNX qk_matmul_output_mode stages */
  weights?: { ptr: number; mode: 0 | 1 | 2 | 3 };
  /** Q·Kᵀ in 8 bits (assembly/sage.ts) instead of float32; the weights, if any, stay float32 */
  int8?: boolean;
  /** Runs the kernel calls instead of f32_attn_online: K and V are KV-cache rows in f16 or int8 (layers/kv-storage.ts) */
  runCalls?: (calls: AttnCall[]) => void;
}


/**
 * Rows [r0, r0 + rows) of a call as a call of its own: every per-row pointer moves down r0 rows
 * and the position offset grows by r0, so causal/window ranges stay those of the original rows.
 */
function rowChunk(call: AttnCall, r0: number, rows: number): AttnCall {
  return {
    ...call,
    q: f32At(call.q, r0 * call.qStride),
    o: f32At(call.o, r0 * call.oStride),
    nq: rows,
    offset: call.offset + r0,
    mask: call.mask ? f32At(call.mask, r0 * call.maskStride) : 0,
    rel: call.rel ? f32At(call.rel, r0 * call.relStride) : 0,
    lse: call.lse ? f32At(call.lse, r0) : 0,
  };
}

/** Query rows per task when splitting for threads: whole 4-row tiles, at least 64 rows. */
const MIN_CHUNK_ROWS = 64;


/**
 * (batch, head) pairs turned into kernel calls at a time. A call object per pair for all of a
 * call's heads at once made millions of objects for a tensor with millions of tiny heads (the
 * JavaScript heap ran out long before any kernel ran); batches of this many keep it bounded.
 */
const PAIRS_PER_BATCH = 1024;

/**
 * True when an attention writes nothing: no query rows (batch·heads·nq = 0), or no output columns
 * (dv = 0) and no weights (`weightCols`: nk when weights are wanted, else 0). Batch and heads
 * may then claim any count (an empty tensor's other dimensions cost no memory), so callers
 * return their empty results before building anything per batch entry or head.
 */
export function writesNothing(rows: number, dv: number, weightCols: number): boolean {
  return rows === 0 || (dv === 0 && weightCols === 0);
}

export function runAttention(kernels: Kernels, plan: AttentionPlan): void {
  if (writesNothing(plan.batch * plan.qHeads * plan.nq, plan.dv, plan.weights ? plan.nk : 0)) return;
  if (plan.nk === 0) {
    zeroRows(kernels, plan);
    return;
  }
  const pairs = plan.batch * plan.qHeads;
  // The core bundles define __HEADS_OBSERVER__ false (they have no proxy runtime): esbuild then
  // drops the observer's code (the test stays inline at both uses, where esbuild folds it).
  const tick = !(typeof __HEADS_OBSERVER__ === 'boolean' && !__HEADS_OBSERVER__) && plan.dv > 0 && !plan.runCalls ? observeUnits(pairs) : undefined;
  for (let first = 0; first < pairs; first += PAIRS_PER_BATCH) {
    runPairs(kernels, plan, first, Math.min(first + PAIRS_PER_BATCH, pairs), tick);
  }
}

/**
 * Without keys every row sees nothing: output rows 0 and log-sum-exp −∞, written directly (the
 * inputs may be empty while the output is not; no kernel call per head).
 */
function zeroRows(kernels: Kernels, plan: AttentionPlan): void {
  const { batch, qHeads, nq, dv, o } = plan;
  const mem = kernels.arena.f32(0, wordIndex(kernels.arena.byteLength));
  if (o.rowStride === dv && o.headStride === nq * dv && o.batchStride === qHeads * nq * dv) {
    mem.fill(0, wordIndex(o.ptr), wordIndex(o.ptr) + batch * qHeads * nq * dv);
  } else if (dv > 0) {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < qHeads; h++) {
        const first = wordIndex(headAt(o, b, h));
        for (let i = 0; i < nq; i++) mem.fill(0, first + i * o.rowStride, first + i * o.rowStride + dv);
      }
    }
  }
  if (plan.lse) mem.fill(-Infinity, wordIndex(plan.lse), wordIndex(plan.lse) + batch * qHeads * nq);
}

/** Runs the (batch, head) pairs [first, end) of a plan, pair p = b·qHeads + h (told to `tick` between heads when given). */
function runPairs(kernels: Kernels, plan: AttentionPlan, first: number, end: number, tick: UnitsTick | undefined): void {
  const group = plan.qHeads / plan.kvHeads;
  const calls: AttnCall[] = [];
  for (let pair = first; pair < end; pair++) {
    const b = Math.floor(pair / plan.qHeads);
    const h = pair - b * plan.qHeads;
    const kvh = Math.floor(h / group);
    const mask = plan.mask;
    const rel = plan.relBias;
    calls.push({
      q: headAt(plan.q, b, h),
      qStride: plan.q.rowStride,
      k: headAt(plan.k, b, kvh),
      kStride: plan.k.rowStride,
      v: headAt(plan.v, b, kvh),
      vStride: plan.v.rowStride,
      o: headAt(plan.o, b, h),
      oStride: plan.o.rowStride,
      nq: plan.nq,
      nk: plan.nk,
      dh: plan.dh,
      dv: plan.dv,
      scale: plan.scale,
      softcap: plan.softcap,
      mask: mask ? headAt(mask, b, h) : 0,
      maskStride: mask ? mask.rowStride : 0,
      offset: plan.offsets[b],
      left: plan.left,
      right: plan.right,
      keyLen: plan.keyLens[b],
      rel: rel ? headAt(rel, b, h) : 0,
      relStride: rel ? rel.rowStride : 0,
      relMax: rel ? rel.maxDistance : 0,
      lse: plan.lse ? f32At(plan.lse, (b * plan.qHeads + h) * plan.nq) : 0,
    });
  }
  // With threads, make enough tasks to balance them (about 4 per thread) by splitting rows.
  let tasks = calls;
  const wanted = CHUNKS_PER_THREAD * kernels.threads;
  if (kernels.threads > 1 && calls.length < wanted && plan.nq >= 2 * MIN_CHUNK_ROWS) {
    const pieces = Math.min(Math.ceil(wanted / calls.length), Math.floor(plan.nq / MIN_CHUNK_ROWS));
    const rows = Math.ceil(plan.nq / pieces / TILE_ROWS) * TILE_ROWS;
    tasks = [];
    for (const call of calls) {
      for (let r0 = 0; r0 < plan.nq; r0 += rows) {
        // A tail of fewer than 4 rows joins this chunk: a chunk under 4 rows would take the
        // kernel's row path and round differently from the single-thread result.
        const take = plan.nq - r0 - rows < 4 ? plan.nq - r0 : rows;
        tasks.push(rowChunk(call, r0, take));
        if (take !== rows) break;
      }
    }
  }
  if (plan.dv > 0 && plan.runCalls) plan.runCalls(tasks);
  else if (!(typeof __HEADS_OBSERVER__ === 'boolean' && !__HEADS_OBSERVER__) && tick) runObserved(kernels, plan, tasks, calls.length, first, tick);
  else if (plan.dv > 0) attentionKernels(kernels).onlineMany(tasks, undefined, plan.int8 === true);
  if (plan.weights) {
    const weights = plan.weights;
    calls.forEach((call, index) => {
      const w = f32At(weights.ptr, (first + index) * plan.nq * plan.nk);
      attentionKernels(kernels).weights(call, w, weights.mode);
    });
  }
}

/**
 * The kernel calls of pairs starting at `first` with a heads observer in place (the proxy
 * runtime's worker): the tasks in groups (one per head with one thread, a round of the pool with
 * threads), `tick` told of the pairs done before each group (it may throw to stop the call).
 */
function runObserved(kernels: Kernels, plan: AttentionPlan, tasks: AttnCall[], calls: number, first: number, tick: UnitsTick): void {
  const step = kernels.threads === 1 ? 1 : CHUNKS_PER_THREAD * kernels.threads;
  for (let t = 0; t < tasks.length; t += step) {
    tick(first + Math.floor((t * calls) / tasks.length));
    attentionKernels(kernels).onlineMany(tasks.slice(t, t + step), undefined, plan.int8 === true);
  }
}
