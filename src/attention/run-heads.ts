// run-heads.ts — runs the fused kernel over every (batch, head) of a planned attention call.
// Both public entry points (sdpa.ts: rt.attention, onnx.ts: rt.onnxAttention) validate their
// inputs, place them in Wasm memory, describe them as an AttentionPlan and call runAttention.

import { headsObserver } from './heads-observer';
import type { AttnCall, Kernels } from '../kernels';
import type { PlacedMask } from './mask';

/** False in the bundles without the proxy runtime (scripts/build-js.mjs); undefined elsewhere. */
declare const __HEADS_OBSERVER__: boolean | undefined;

/** Where the (b, h) slice of a [B, H, S, D]-like tensor starts and how its rows are spaced. */
export interface HeadLayout {
  ptr: number; // byte address of element (0, 0, 0, 0)
  batchStride: number; // elements
  headStride: number; // elements
  rowStride: number; // elements between consecutive sequence positions
}

/** Strides of a 4-D [batch, heads, seq, dim] tensor. */
export function bhsdLayout(ptr: number, heads: number, seq: number, dim: number): HeadLayout {
  return { ptr, batchStride: heads * seq * dim, headStride: seq * dim, rowStride: dim };
}

/** Strides of a 3-D [batch, seq, heads·dim] tensor viewed as [batch, heads, seq, dim]. */
export function bshdLayout(ptr: number, heads: number, seq: number, dim: number): HeadLayout {
  return { ptr, batchStride: seq * heads * dim, headStride: dim, rowStride: heads * dim };
}

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

const at = (l: HeadLayout, b: number, h: number): number => l.ptr + 4 * (b * l.batchStride + h * l.headStride);

/**
 * Rows [r0, r0 + rows) of a call as a call of its own: every per-row pointer moves down r0 rows
 * and the position offset grows by r0, so causal/window ranges stay those of the original rows.
 */
function rowChunk(call: AttnCall, r0: number, rows: number): AttnCall {
  return {
    ...call,
    q: call.q + 4 * r0 * call.qStride,
    o: call.o + 4 * r0 * call.oStride,
    nq: rows,
    offset: call.offset + r0,
    mask: call.mask ? call.mask + 4 * r0 * call.maskStride : 0,
    rel: call.rel ? call.rel + 4 * r0 * call.relStride : 0,
    lse: call.lse ? call.lse + 4 * r0 : 0,
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
  for (let first = 0; first < pairs; first += PAIRS_PER_BATCH) {
    runPairs(kernels, plan, first, Math.min(first + PAIRS_PER_BATCH, pairs));
  }
}

/**
 * Without keys every row sees nothing: output rows 0 and log-sum-exp −∞, written directly (the
 * inputs may be empty while the output is not; no kernel call per head).
 */
function zeroRows(kernels: Kernels, plan: AttentionPlan): void {
  const { batch, qHeads, nq, dv, o } = plan;
  const mem = kernels.arena.f32(0, kernels.arena.byteLength >> 2);
  if (o.rowStride === dv && o.headStride === nq * dv && o.batchStride === qHeads * nq * dv) {
    mem.fill(0, o.ptr >> 2, (o.ptr >> 2) + batch * qHeads * nq * dv);
  } else if (dv > 0) {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < qHeads; h++) {
        const first = (at(o, b, h) >> 2);
        for (let i = 0; i < nq; i++) mem.fill(0, first + i * o.rowStride, first + i * o.rowStride + dv);
      }
    }
  }
  if (plan.lse) mem.fill(-Infinity, plan.lse >> 2, (plan.lse >> 2) + batch * qHeads * nq);
}

/** Runs the (batch, head) pairs [first, end) of a plan, pair p = b·qHeads + h. */
function runPairs(kernels: Kernels, plan: AttentionPlan, first: number, end: number): void {
  const group = plan.qHeads / plan.kvHeads;
  const calls: AttnCall[] = [];
  for (let pair = first; pair < end; pair++) {
    const b = Math.floor(pair / plan.qHeads);
    const h = pair - b * plan.qHeads;
    const kvh = Math.floor(h / group);
    const mask = plan.mask;
    const rel = plan.relBias;
    calls.push({
      q: at(plan.q, b, h),
      qStride: plan.q.rowStride,
      k: at(plan.k, b, kvh),
      kStride: plan.k.rowStride,
      v: at(plan.v, b, kvh),
      vStride: plan.v.rowStride,
      o: at(plan.o, b, h),
      oStride: plan.o.rowStride,
      nq: plan.nq,
      nk: plan.nk,
      dh: plan.dh,
      dv: plan.dv,
      scale: plan.scale,
      softcap: plan.softcap,
      mask: mask ? mask.ptr + 4 * (b * mask.batchStride + h * mask.headStride) : 0,
      maskStride: mask ? mask.rowStride : 0,
      offset: plan.offsets[b],
      left: plan.left,
      right: plan.right,
      keyLen: plan.keyLens[b],
      rel: rel ? rel.ptr + 4 * (b * rel.batchStride + h * rel.headStride) : 0,
      relStride: rel ? rel.rowStride : 0,
      relMax: rel ? rel.maxDistance : 0,
      lse: plan.lse ? plan.lse + 4 * ((b * plan.qHeads + h) * plan.nq) : 0,
    });
  }
  // With threads, make enough tasks to balance them (about 4 per thread) by splitting rows.
  let tasks = calls;
  const wanted = 4 * kernels.threads;
  if (kernels.threads > 1 && calls.length < wanted && plan.nq >= 2 * MIN_CHUNK_ROWS) {
    const pieces = Math.min(Math.ceil(wanted / calls.length), Math.floor(plan.nq / MIN_CHUNK_ROWS));
    const rows = Math.ceil(plan.nq / pieces / 4) * 4;
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
  // The core bundles define __HEADS_OBSERVER__ false (they have no proxy runtime): esbuild then drops this branch.
  if (plan.dv > 0 && plan.runCalls) plan.runCalls(tasks);
  else if (plan.dv > 0 && !(typeof __HEADS_OBSERVER__ === 'boolean' && !__HEADS_OBSERVER__) && headsObserver()) runObserved(kernels, plan, tasks, calls.length, first, end);
  else if (plan.dv > 0) kernels.attnOnlineMany(tasks, undefined, plan.int8 === true);
  if (plan.weights) {
    const weights = plan.weights;
    calls.forEach((call, index) => {
      const w = weights.ptr + 4 * ((first + index) * plan.nq * plan.nk);
      kernels.attnWeights(call, w, weights.mode);
    });
  }
}

/**
 * The kernel calls of pairs [first, end) with a heads observer in place (the proxy runtime's
 * worker): the tasks in groups (one per head with one thread, a round of the pool with threads),
 * the observer told of the pairs done before each group and at the end (it may throw to stop).
 */
function runObserved(kernels: Kernels, plan: AttentionPlan, tasks: AttnCall[], calls: number, first: number, end: number): void {
  const observe = headsObserver()!;
  const total = plan.batch * plan.qHeads;
  const step = kernels.threads === 1 ? 1 : 4 * kernels.threads;
  for (let t = 0; t < tasks.length; t += step) {
    observe(first + Math.floor((t * calls) / tasks.length), total);
    kernels.attnOnlineMany(tasks.slice(t, t + step), undefined, plan.int8 === true);
  }
  observe(end, total);
}
