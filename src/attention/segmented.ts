// segmented.ts — rt.segmentedAttention: blocked attention over segments of fixed length, optionally
// overlapping, with two ways of integrating across segments: an exact log-sum-exp merge of the
// segments a token belongs to, and mean-pooled summary tokens of the other segments.
//
// Segments (self-attention, n = nq = nk, length S, overlap o < S): segment s covers positions
//     [s·(S − o), min(s·(S − o) + S, n)),   s = 0 … W − 1,   W = n ≤ S ? 1 : ⌈(n − o)/(S − o)⌉,
// so consecutive segments share o positions and the last one ends at n.
// Token t belongs to segments smin(t) … smax(t) (one, or several where they overlap) and attends
//   - the keys of every segment it belongs to, each key once — the union [start(smin), end(smax)):
//     the segments' partial attentions over disjoint key sets are merged exactly by log-sum-exp
//     (f32_attn_merge), so S ≥ n is exactly full attention; causal: only keys ≤ t;
//   - with `summaries`, one summary token per other segment s ∉ [smin, smax] (causal: s < smin,
//     segments wholly before t): key = mean of the segment's keys, value = mean of its values.
// Composition on the fused kernel, per head and segment s:
//   A. rows whose first segment is s, [end(s−1), end(s)), against keys [start(s), end(s)) — K and V
//      read in place, causal through the kernel's key range; writes O and the row lse;
//   B. (not causal) rows shared with earlier segments, [start(s), end(s−1)), against the keys s
//      adds, [end(s−1), end(s)), then merged into O exactly;
//   C. (summaries) per run of rows with the same (smin, smax): the summaries before smin and
//      after smax, two small calls, each merged exactly.
// Time O(n·(S + W)·d), memory O(n·d).
// References: blockwise local attention (P. J. Liu et al., "Generating Wikipedia by Summarizing
// Long Sequences", ICLR 2018, local attention over blocks; N. Parmar et al., "Image Transformer",
// 2018, query blocks with memory flanks); summary tokens after mean pooling of segments as in
// Funnel/ETC-style global summaries (J. Ainslie et al., "ETC", EMNLP 2020); exact merging of
// partial softmax attentions: M. Milakov, N. Gimelshein, "Online normalizer calculation for
// softmax" (2018).

import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { rowKernels } from '../kernels/rows';
import { AttentionError, f32At } from '../runtime/index';
import type { Tensor, TensorLike, WasmTensor } from '../tensor';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, outputIsEmpty, outputPtr, plainCall, prepare, Scope,
} from './long-common';
import { headAt } from './head-layout';
import { observeUnits } from './heads-observer';
import { booleanOption, integerOption, optionKeys, readOptions, requiredInteger } from './options';

/** Options of `rt.segmentedAttention`. */
export interface SegmentedOptions {
  /** Segment length S (≥ 1). S ≥ n is full attention. Required. */
  segmentLength: number;
  /** Positions shared by consecutive segments, 0 ≤ overlap < segmentLength. Default 0. */
  overlap?: number;
  /** Also attend to a mean-pooled summary token of every segment the token is not in. Default false. */
  summaries?: boolean;
  /** Causal: keys at or before the token only; summaries of segments wholly before it. */
  causal?: boolean;
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

/** Segment bounds for n tokens: start/end arrays of the W segments. */
export function segmentBounds(n: number, S: number, o: number): { start: Int32Array; end: Int32Array } {
  const W = n <= S ? 1 : Math.ceil((n - o) / (S - o));
  const start = new Int32Array(W);
  const end = new Int32Array(W);
  for (let s = 0; s < W; s++) {
    start[s] = s * (S - o);
    end[s] = Math.min(start[s] + S, n);
  }
  return { start, end };
}

/** The keys of SegmentedOptions. */
export const SEGMENTED_KEYS = optionKeys<SegmentedOptions>({
  segmentLength: true, overlap: true, summaries: true, causal: true, layout: true, scale: true, out: true,
});

export function segmentedAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: SegmentedOptions,
): Tensor {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'segmentedAttention needs options with a segmentLength, got undefined');
  const options = readOptions<SegmentedOptions>(optionsIn, SEGMENTED_KEYS, 'options', 'rt.segmentedAttention');
  const p = prepare(kernels, qIn, kIn, vIn, options, 'segmentedAttention');
  const { batch, qHeads, kvHeads, nq, nk, dh, dv } = p.dims;
  if (nq !== nk) {
    throw new AttentionError('SHAPE_MISMATCH', `segmentedAttention is self-attention: q and k must have the same sequence length, got nq = ${nq} and nk = ${nk}`);
  }
  const S = requiredInteger(options.segmentLength, 'options.segmentLength', 1);
  const o = integerOption(options.overlap, 'options.overlap', 0, 0);
  if (o >= S) throw new AttentionError('INVALID_OPTION', `options.overlap must be smaller than options.segmentLength (${S}), got ${o}`);
  const summaries = booleanOption(options.summaries, 'options.summaries', false);
  const causal = booleanOption(options.causal, 'options.causal', false);
  const n = nq;
  const { start, end } = segmentBounds(n, S, o);
  const W = start.length;
  const useSummaries = summaries && W > 1;
  assertPreparedLive(kernels, p, options.out);

  if (outputIsEmpty(p)) return emptyOutput(p);
  const scope = new Scope(kernels.arena);
  try {
    attentionKernels(kernels).reserve(Math.max(Math.min(S, n), useSummaries ? W : 0), dh, dv);
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope);
    const lse = scope.alloc(n, 'lse');
    const lseT = scope.alloc(Math.min(S, n), 'lse');
    const tmp = scope.alloc(Math.min(S, n) * dv, 'partial output');
    const ks = useSummaries ? scope.alloc(W * dh, 'summary keys') : 0;
    const vs = useSummaries ? scope.alloc(W * dv, 'summary values') : 0;
    const group = qHeads / kvHeads;
    const step = S - o;
    // Heads in the call's layout; qs, kst, vst, os: elements between consecutive positions.
    const [Lq, Lk, Lv, Lo] = [headLayoutOf(p, qp, qHeads, n, dh), headLayoutOf(p, kp, kvHeads, n, dh), headLayoutOf(p, vp, kvHeads, n, dv), headLayoutOf(p, op, qHeads, n, dv)];
    const [qs, kst, vst, os] = [Lq.rowStride, Lk.rowStride, Lv.rowStride, Lo.rowStride];
    const tick = observeUnits(batch * qHeads);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < qHeads; h++) {
        tick?.(b * qHeads + h);
        const kvh = Math.floor(h / group);
        const [qh, kh, vh, oh] = [headAt(Lq, b, h), headAt(Lk, b, kvh), headAt(Lv, b, kvh), headAt(Lo, b, h)];
        for (let s = 0; s < W; s++) {
          // A. Rows first seen in segment s.
          const r0 = s === 0 ? 0 : end[s - 1];
          attentionKernels(kernels).online({
            ...plainCall({
              q: f32At(qh, r0 * qs), qStride: qs, k: f32At(kh, start[s] * kst), kStride: kst, v: f32At(vh, start[s] * vst), vStride: vst,
              o: f32At(oh, r0 * os), oStride: os, nq: end[s] - r0, nk: end[s] - start[s], dh, dv, scale: p.scale, lse: f32At(lse, r0),
            }),
            offset: r0 - start[s],
            right: causal ? 0 : -1,
          });
          // B. Rows shared with earlier segments: the keys segment s adds (all later than them when causal).
          if (s > 0 && !causal) {
            const rows = end[s - 1] - start[s];
            attentionKernels(kernels).online(plainCall({
              q: f32At(qh, start[s] * qs), qStride: qs, k: f32At(kh, end[s - 1] * kst), kStride: kst, v: f32At(vh, end[s - 1] * vst), vStride: vst,
              o: tmp, oStride: dv, nq: rows, nk: end[s] - end[s - 1], dh, dv, scale: p.scale, lse: lseT,
            }));
            attentionKernels(kernels).merge({ acc: f32At(oh, start[s] * os), accStride: os, lseAcc: f32At(lse, start[s]), part: tmp, partStride: dv, lsePart: lseT, rows, dv });
          }
        }
        if (!useSummaries) continue;
        // C. Summary tokens of the segments a row is not in.
        for (let s = 0; s < W; s++) {
          rowKernels(kernels).mean({ src: f32At(kh, start[s] * kst), srcStride: kst, n: end[s] - start[s], d: dh, out: f32At(ks, s * dh) });
          rowKernels(kernels).mean({ src: f32At(vh, start[s] * vst), srcStride: vst, n: end[s] - start[s], d: dv, out: f32At(vs, s * dv) });
        }
        const smin = (t: number): number => (t < S ? 0 : Math.floor((t - S) / step) + 1);
        const smax = (t: number): number => Math.min(W - 1, Math.floor(t / step));
        for (let r0 = 0; r0 < n;) {
          const a = smin(r0);
          const z = smax(r0);
          let r1 = r0 + 1;
          while (r1 < n && smin(r1) === a && smax(r1) === z) r1++;
          // Runs are at most S rows long (a boundary every `step` rows), so tmp (S rows) holds one.
          for (const [first, count] of [[0, a], [z + 1, causal ? 0 : W - z - 1]]) {
            if (count <= 0) continue;
            for (let c0 = r0; c0 < r1; c0 += S) {
              const rows = Math.min(S, r1 - c0);
              attentionKernels(kernels).online(plainCall({
                q: f32At(qh, c0 * qs), qStride: qs, k: f32At(ks, first * dh), kStride: dh, v: f32At(vs, first * dv), vStride: dv,
                o: tmp, oStride: dv, nq: rows, nk: count, dh, dv, scale: p.scale, lse: lseT,
              }));
              attentionKernels(kernels).merge({ acc: f32At(oh, c0 * os), accStride: os, lseAcc: f32At(lse, c0), part: tmp, partStride: dv, lsePart: lseT, rows, dv });
            }
          }
          r0 = r1;
        }
      }
    }
    return finishOutput(kernels, p, op);
  } finally {
    scope.close();
  }
}
