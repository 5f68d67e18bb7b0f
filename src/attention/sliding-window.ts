// sliding-window.ts — rt.slidingWindowAttention: local attention with left/right window sizes and
// dilation, causal or not, in O(n·w) time and O(n) memory.
//
// Semantics (query row i at aligned position p = i + offset, offset = keyLength − nq by default
// ('bottom-right', as rt.attention) or 0 ('top-left')): the row sees keys
//     j = p + t·dilation,  −left ≤ t ≤ right,  0 ≤ j < keyLength
// (causal: right = 0). With dilation 1 this is one fused-kernel call per head whose key range
// [p − left, p + right] is the kernel's own window: key tiles outside every row's range are never
// visited, so the cost is O(n·(w + tile)) and nothing n×n is ever built. With dilation d the
// queries of one residue class ρ = i mod d see only keys of residue σ = (ρ + offset) mod d: each
// class is a strided sub-sequence, read in place by giving the kernel row strides multiplied by d,
// where the window becomes an ordinary [p' − left, p' + right] window. d calls per head, no copy.
// Reference: I. Beltagy, M. Peters, A. Cohan, "Longformer: The Long-Document Transformer" (2020),
// §3.1 (sliding and dilated sliding windows); ONNX Attention left/right windows.

import type { AttnCall } from '../kernels/attention';
import { type Kernels, TILE_ROWS } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { AttentionError, f32At, formatValue } from '../runtime/index';
import type { Tensor, TensorLike, WasmTensor } from '../tensor';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, outputIsEmpty, outputPtr, prepare, Scope,
} from './long-common';
import { headAt } from './head-layout';
import { observeUnits } from './heads-observer';
import { integerOption, lengthsOption, optionKeys, readOptions } from './options';

/** Options of `rt.slidingWindowAttention`. */
export interface SlidingWindowOptions {
  /**
   * Window: `w` for w keys on each side, or `{ left, right }` (a missing side is 0). Counted in
   * dilated steps: a row sees keys p + t·dilation for −left ≤ t ≤ right. Required.
   */
  window: number | {
    /** Dilated steps before the query's position (missing: 0). */
    left?: number;
    /** Dilated steps after the query's position (missing: 0). */
    right?: number };
  /** Stride between the keys a row sees (Longformer's dilation). Default 1. */
  dilation?: number;
  /**
   * Causal (right must then be 0 or omitted): `true`/`'bottom-right'` aligns query i with position
   * i + keyLength − nq (as with a KV cache); `'top-left'` with position i. The alignment also places
   * the window when not causal.
   */
  causal?: boolean | 'bottom-right' | 'top-left';
  /** Valid keys per batch entry (the rest are padding). */
  keyLengths?: ArrayLike<number>;
  /**
   * `'bhsd'` (default): q, k, v and the output are [batch, heads, seq, dim]; `'bshd'`: [batch,
   * seq, heads, dim] (PyTorch batch_first, flash-attn), read in place through strides.
   */
  layout?: 'bhsd' | 'bshd';
  /** Multiplier of Q·Kᵀ. Default 1/√headDim. */
  scale?: number;
  /**
   * Write the output here: a WasmTensor (zero-copy) or a Tensor of the output shape. Read once. It
   * may be (or overlap) an input: the output is then computed into a temporary block and copied
   * into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** A validated window: sides in dilated steps (−1 = unbounded), the dilation and the alignment. */
export interface WindowSpec {
  left: number;
  right: number;
  dilation: number;
  causal: boolean;
  topLeft: boolean;
}

const WINDOW_SIDES = optionKeys<{ left?: unknown; right?: unknown }>({ left: true, right: true });

/** Validates window, dilation and causal of `where` (shared with rt.globalLocalAttention). */
export function windowSpec(
  window: unknown,
  dilationIn: unknown,
  causalIn: unknown,
  nq: number,
  nk: number,
  prefix: string,
  where: string,
): WindowSpec {
  const causal = causalIn ?? false;
  if (causal !== true && causal !== false && causal !== 'bottom-right' && causal !== 'top-left') {
    throw new AttentionError('INVALID_OPTION', `${prefix}.causal must be true, false, 'bottom-right' or 'top-left', got ${formatValue(causal)}`);
  }
  let left: number;
  let right: number;
  if (window === undefined) {
    throw new AttentionError('INVALID_OPTION', `${prefix}.window is required: a number of keys on each side or { left, right }, got undefined`);
  } else if (typeof window === 'number') {
    left = integerOption(window, `${prefix}.window`, 0, 0);
    right = causal ? 0 : left;
  } else if (typeof window === 'object' && window !== null && !Array.isArray(window)) {
    const w = readOptions<{ left?: unknown; right?: unknown }>(window, WINDOW_SIDES, `${prefix}.window`, where);
    left = integerOption(w.left, `${prefix}.window.left`, 0, 0);
    right = integerOption(w.right, `${prefix}.window.right`, 0, 0);
    if (causal && right !== 0) {
      throw new AttentionError('INVALID_OPTION', `${prefix}.window.right must be 0 (or omitted) when causal, got ${right}`);
    }
  } else {
    throw new AttentionError('INVALID_OPTION', `${prefix}.window must be a number or { left, right }, got ${String(window)}`);
  }
  const dilation = integerOption(dilationIn, `${prefix}.dilation`, 1, 1);
  // Sides past every position are unbounded; clamping keeps the kernel's i32 range arithmetic safe.
  const cap = nq + nk + 1;
  return { left: Math.min(left, cap), right: Math.min(right, cap), dilation, causal: causal !== false, topLeft: causal === 'top-left' };
}

/** One head of sliding-window attention (see the file header); pointers are byte addresses. */
export interface WindowHead {
  q: number;
  qStride: number;
  k: number;
  kStride: number;
  v: number;
  vStride: number;
  o: number;
  oStride: number;
  nq: number;
  nk: number;
  dh: number;
  dv: number;
  scale: number;
  keyLen: number;
  offset: number;
  left: number; // −1 = unbounded
  right: number; // −1 = unbounded
  dilation: number;
  /** additive (nk) row over the original keys, shared by every query (0 = none) */
  mask: number;
  /** (nq) contiguous log-sum-exp output (0 = not wanted) */
  lse: number;
  /** with dilation > 1: scratch of ⌈nk/d⌉ (mask) and ⌈nq/d⌉ (lse) floats when mask/lse are used */
  maskScratch: number;
  lseScratch: number;
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

/** Query rows per block of a narrow-window call (at least; 2× the window span when wider). */
const BLOCK_ROWS = 256;

/**
 * Splits a bounded-window call into blocks of rows, each given only the keys its rows can see
 * ([first row's window start, last row's window end), K, V and the broadcast mask row shifted
 * there, offset adjusted). The kernel packs the keys of every call, so one call over a whole
 * 64k-token head packs 32 MB of K and V before its tile walk reads them back — from DRAM, not
 * cache; per block the packed keys stay in cache and the packing work stays O(n). Also gives the
 * worker pool many balanced tasks. Wide windows (4·span > keys) stay one call (blocks would
 * repack most keys), as do unbounded sides. Rows of a block that see no key are zeroed here
 * (lse −∞). Block starts are multiples of 4, like the kernel's query tiles.
 */
/** Keys per window span below which blocks would repack most keys: one call over all keys instead. */
const MIN_KEYS_PER_SPAN = 4;

function windowBlocks(kernels: Kernels, call: AttnCall, emit: (c: AttnCall) => void): void {
  const keyLen = Math.min(call.keyLen, call.nk);
  const span = call.left + call.right + 1;
  if (call.left < 0 || call.right < 0 || span > keyLen / MIN_KEYS_PER_SPAN || call.mask && call.maskStride !== 0) {
    emit(call);
    return;
  }
  const rows = Math.ceil(Math.max(BLOCK_ROWS, 2 * span) / TILE_ROWS) * TILE_ROWS;
  for (let r0 = 0; r0 < call.nq; r0 += rows) {
    const r1 = Math.min(r0 + rows, call.nq);
    const lo = Math.max(0, r0 + call.offset - call.left);
    const hi = Math.min(keyLen, r1 - 1 + call.offset + call.right + 1);
    if (hi <= lo) {
      const view = kernels.arena.f32(call.o, (r1 - 1) * call.oStride + call.dv);
      for (let r = r0; r < r1; r++) view.fill(0, r * call.oStride, r * call.oStride + call.dv);
      if (call.lse) kernels.arena.f32(call.lse, r1).fill(-Infinity, r0, r1);
      continue;
    }
    emit({
      ...call,
      q: f32At(call.q, r0 * call.qStride),
      o: f32At(call.o, r0 * call.oStride),
      lse: call.lse ? f32At(call.lse, r0) : 0,
      k: f32At(call.k, lo * call.kStride),
      v: f32At(call.v, lo * call.vStride),
      mask: call.mask ? f32At(call.mask, lo) : 0,
      nq: r1 - r0,
      nk: hi - lo,
      keyLen: hi - lo,
      offset: call.offset + r0 - lo,
    });
  }
}

/**
 * Runs one head: one fused-kernel call (dilation 1) or one per residue class (dilation d). With
 * `collect` (only when w.mask and w.lse are 0) the calls are appended to it instead of run, so a
 * caller can hand every head's calls to the worker pool at once (their outputs are disjoint).
 */
export function runWindowHead(kernels: Kernels, w: WindowHead, collect?: AttnCall[]): void {
  const d = w.dilation;
  const run = (call: AttnCall): void => windowBlocks(kernels, call, (c) => {
    if (collect) collect.push(c);
    else attentionKernels(kernels).online(c);
  });
  if (d === 1) {
    run({
      q: w.q, qStride: w.qStride, k: w.k, kStride: w.kStride, v: w.v, vStride: w.vStride, o: w.o, oStride: w.oStride,
      nq: w.nq, nk: w.nk, dh: w.dh, dv: w.dv, scale: w.scale, softcap: 0,
      mask: w.mask, maskStride: 0, offset: w.offset, left: w.left, right: w.right, keyLen: w.keyLen,
      rel: 0, relStride: 0, relMax: 0, lse: w.lse,
    });
    return;
  }
  for (let rho = 0; rho < d && rho < w.nq; rho++) {
    const nqSub = Math.ceil((w.nq - rho) / d);
    const sigma = mod(rho + w.offset, d);
    const nkSub = w.nk > sigma ? Math.ceil((w.nk - sigma) / d) : 0;
    const keyLenSub = w.keyLen > sigma ? Math.ceil((w.keyLen - sigma) / d) : 0;
    const o = f32At(w.o, rho * w.oStride);
    if (keyLenSub === 0) {
      // No key of this residue: the rows see nothing (zeros, lse −∞).
      const view = kernels.arena.f32(w.o, (w.nq - 1) * w.oStride + w.dv);
      for (let i = rho; i < w.nq; i += d) view.fill(0, i * w.oStride, i * w.oStride + w.dv);
      if (w.lse) {
        const l = kernels.arena.f32(w.lse, w.nq);
        for (let i = rho; i < w.nq; i += d) l[i] = -Infinity;
      }
      continue;
    }
    let mask = 0;
    if (w.mask) {
      const src = kernels.arena.f32(w.mask, w.nk);
      const dst = kernels.arena.f32(w.maskScratch, nkSub);
      for (let j = 0; j < nkSub; j++) dst[j] = src[sigma + j * d];
      mask = w.maskScratch;
    }
    run({
      q: f32At(w.q, rho * w.qStride), qStride: w.qStride * d,
      k: f32At(w.k, sigma * w.kStride), kStride: w.kStride * d,
      v: f32At(w.v, sigma * w.vStride), vStride: w.vStride * d,
      o, oStride: w.oStride * d,
      nq: nqSub, nk: nkSub, dh: w.dh, dv: w.dv, scale: w.scale, softcap: 0,
      mask, maskStride: 0, offset: (rho + w.offset - sigma) / d, left: w.left, right: w.right, keyLen: keyLenSub,
      rel: 0, relStride: 0, relMax: 0, lse: w.lse ? w.lseScratch : 0,
    });
    if (w.lse) {
      const src = kernels.arena.f32(w.lseScratch, nqSub);
      const dst = kernels.arena.f32(w.lse, w.nq);
      for (let i = 0; i < nqSub; i++) dst[rho + i * d] = src[i];
    }
  }
}

/** The keys of SlidingWindowOptions. */
export const SLIDING_WINDOW_KEYS = optionKeys<SlidingWindowOptions>({
  window: true, dilation: true, causal: true, keyLengths: true, layout: true, scale: true, out: true,
});

export function slidingWindowAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: SlidingWindowOptions,
): Tensor {
  if (optionsIn === undefined) {
    throw new AttentionError('INVALID_OPTION', 'slidingWindowAttention needs options with a window, got undefined');
  }
  const options = readOptions<SlidingWindowOptions>(optionsIn, SLIDING_WINDOW_KEYS, 'options', 'rt.slidingWindowAttention');
  const p = prepare(kernels, qIn, kIn, vIn, options, 'slidingWindowAttention');
  const { batch, qHeads, kvHeads, nq, nk, dh, dv } = p.dims;
  const spec = windowSpec(options.window, options.dilation, options.causal, nq, nk, 'options', 'rt.slidingWindowAttention');
  const keyLengths = options.keyLengths === undefined
    ? undefined
    : lengthsOption(options.keyLengths, 'options.keyLengths', batch, nk);
  assertPreparedLive(kernels, p, options.out);
  if (outputIsEmpty(p)) return emptyOutput(p);
  const keyLens = keyLengths ?? new Array<number>(batch).fill(nk);
  const scope = new Scope(kernels.arena);
  try {
    attentionKernels(kernels).reserve(Math.ceil(nk / spec.dilation), dh, dv);
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope);
    if (nk === 0) {
      // No keys: every row is 0 (the output may be non-empty while q, k and v are all empty).
      kernels.arena.f32(op, batch * qHeads * nq * dv).fill(0);
      return finishOutput(kernels, p, op);
    }
    const group = qHeads / kvHeads;
    const [Lq, Lk, Lv, Lo] = [
      headLayoutOf(p, qp, qHeads, nq, dh), headLayoutOf(p, kp, kvHeads, nk, dh), headLayoutOf(p, vp, kvHeads, nk, dv), headLayoutOf(p, op, qHeads, nq, dv),
    ];
    const calls: AttnCall[] = [];
    // With an observer (the proxy's worker), each head's calls run on their own, after its tick.
    const tick = observeUnits(batch * qHeads);
    for (let b = 0; b < batch; b++) {
      const offset = spec.topLeft ? 0 : keyLens[b] - nq;
      for (let h = 0; h < qHeads; h++) {
        const kvh = Math.floor(h / group);
        if (dv === 0 || nq === 0) continue;
        runWindowHead(kernels, {
          q: headAt(Lq, b, h), qStride: Lq.rowStride,
          k: headAt(Lk, b, kvh), kStride: Lk.rowStride,
          v: headAt(Lv, b, kvh), vStride: Lv.rowStride,
          o: headAt(Lo, b, h), oStride: Lo.rowStride,
          nq, nk, dh, dv, scale: p.scale, keyLen: keyLens[b], offset,
          left: spec.left, right: spec.right, dilation: spec.dilation,
          mask: 0, lse: 0, maskScratch: 0, lseScratch: 0,
        }, calls);
        if (tick) {
          tick(b * qHeads + h);
          attentionKernels(kernels).onlineMany(calls.splice(0));
        }
      }
    }
    attentionKernels(kernels).onlineMany(calls);
    return finishOutput(kernels, p, op);
  } finally {
    scope.close();
  }
}
