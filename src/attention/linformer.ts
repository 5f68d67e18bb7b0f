// linformer.ts — rt.linformerAttention: low-rank attention with projections E, F of shape (n, k)
// applied along the sequence to the keys and values: O = softmax(scale·Q·(EᵀK)ᵀ)·(FᵀV).
//
// Per batch entry b (valid length len = keyLengths[b], default n) and kv head:
//   K' = E[:len]ᵀ · K[:len]   (k × dh),   V' = F[:len]ᵀ · V[:len]   (k × dv)
// — "variable length by slicing": a shorter sequence uses the first len rows of E and F — both on
// the GEMM kernel (Eᵀ is transposed once per call into a (k, n) panel whose first len columns are
// the sliced projection), then every query head of the group attends the k projected keys on the
// fused kernel. Time O(n·k·d), memory O(n·k + n·d). E and F are the caller's weights ([n', k] with
// n' ≥ n, shared by every head, or [kvHeads, n', k]), or seeded random N(0, 1/k) matrices
// (identical in every engine: f32_randn), optionally shared (E = F).
// Not causal, by construction: every projected key mixes all positions, so a causal mask cannot
// be expressed; asking for it is an error.
// Reference: S. Wang, B. Li, M. Khabsa, H. Fang, H. Ma, "Linformer: Self-Attention with Linear
// Complexity" (2020), §4 (E_i, F_i ∈ R^{n×k}, headwise / key-value sharing, §4 "Additional
// efficiency techniques": sharing and "general projections" for variable lengths).

import type { Kernels } from '../kernels/instance';
import { attentionKernels } from '../kernels/attention';
import { gemmKernels } from '../kernels/gemm';
import { randomKernels } from '../kernels/random';
import { rowKernels } from '../kernels/rows';
import { AttentionError, f32At, f32Bytes, formatShape, formatValue } from '../runtime/index';
import { type Tensor, type TensorLike, type TensorView, viewTensor, type WasmTensor } from '../tensor';
import {
  assertPreparedLive, emptyOutput, finishOutput, headLayoutOf, mixSeed, outputIsEmpty, outputPtr, plainCall, prepare, Scope,
} from './long-common';
import { headAt } from './head-layout';
import { observeUnits } from './heads-observer';
import {
  assertLive, booleanOption, integerOption, lengthsOption, optionKeys, readOptions, seedOption,
} from './options';

/** Options of `rt.linformerAttention`. */
export interface LinformerOptions {
  /** Projected length k, 1 ≤ k ≤ n (required with seeded projections; else read from `e`). */
  k?: number;
  /** E: [n', k] (n' ≥ n; shared by every head) or [kvHeads, n', k]. Default: seeded random. */
  e?: TensorLike;
  /** F, the shape of E. Required with `e` unless `shared`. */
  f?: TensorLike;
  /** Use E for the values too (F = E). Default false. */
  shared?: boolean;
  /** Seed of the random projections N(0, 1/k) (see `rt.linformerProjections`). Default 0. */
  seed?: number;
  /** Valid keys per batch entry: E and F are sliced to their first keyLengths[b] rows. */
  keyLengths?: ArrayLike<number>;
  /** Linformer cannot be causal; `true` throws INVALID_OPTION. */
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

/** Seeds of the random E and F for `seed` (F's is used only when not shared). */
export const linformerSeeds = (seed: number): { e: number; f: number } => ({ e: mixSeed(seed, 0x4c46, 1), f: mixSeed(seed, 0x4c46, 2) });

/** Seeded projections E (and F) of shape [length, k], N(0, 1/k), as the seeded path uses them. */
/** Options of `rt.linformerProjections`. */
interface ProjectionOptions {
  length: number;
  k: number;
  seed?: number;
  shared?: boolean;
}
const PROJECTION_KEYS = optionKeys<ProjectionOptions>({ length: true, k: true, seed: true, shared: true });

/** The keys of LinformerOptions. */
export const LINFORMER_KEYS = optionKeys<LinformerOptions>({
  k: true, e: true, f: true, shared: true, seed: true, keyLengths: true, causal: true, layout: true, scale: true, out: true,
});

export function linformerProjections(kernels: Kernels, optionsIn: ProjectionOptions): { e: Tensor; f: Tensor } {
  const options = readOptions<ProjectionOptions>(optionsIn, PROJECTION_KEYS, 'options', 'rt.linformerProjections');
  const length = integerOption(options?.length, 'options.length', -1, 1);
  const k = integerOption(options?.k, 'options.k', -1, 1);
  if (length < 0 || k < 0) throw new AttentionError('INVALID_OPTION', `linformerProjections needs options.length and options.k (integers ≥ 1), got ${String(options?.length)} and ${String(options?.k)}`);
  const seed = seedOption(options.seed, 'options.seed');
  const shared = booleanOption(options.shared, 'options.shared', false);
  const seeds = linformerSeeds(seed);
  assertLive(kernels);
  const make = (s: number): Tensor => {
    const ptr = kernels.arena.alloc(f32Bytes(length * k));
    try {
      randomKernels(kernels).normal({ seed: s, n: length * k, scale: 1 / Math.sqrt(k), out: ptr });
      return { data: kernels.arena.f32(ptr, length * k).slice(), shape: [length, k] };
    } finally {
      kernels.arena.release(ptr);
    }
  };
  const e = make(seeds.e);
  return { e, f: shared ? e : make(seeds.f) };
}

function projectionView(kernels: Kernels, t: unknown, name: string, n: number, kvHeads: number): TensorView<Float32Array> {
  const view = viewTensor(t, name, [Float32Array] as const, kernels.arena);
  const s = view.shape;
  const ok2 = s.length === 2 && s[0] >= n;
  const ok3 = s.length === 3 && s[0] === kvHeads && s[1] >= n;
  if (!ok2 && !ok3) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must have shape [n', k] or [${kvHeads}, n', k] with n' ≥ the sequence length ${n}, got ${formatShape(s)}`);
  }
  return view;
}

export function linformerAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  optionsIn: LinformerOptions,
): Tensor {
  if (optionsIn === undefined) throw new AttentionError('INVALID_OPTION', 'linformerAttention needs options with k (or e and f), got undefined');
  const options = readOptions<LinformerOptions>(optionsIn, LINFORMER_KEYS, 'options', 'rt.linformerAttention');
  if (options.causal !== undefined && options.causal !== false) {
    throw new AttentionError(
      'INVALID_OPTION',
      `options.causal: Linformer attention cannot be causal, got ${formatValue(options.causal)} — every projected key and value (EᵀK, FᵀV) mixes all positions, so future tokens would leak into every output; use slidingWindowAttention, segmentedAttention or lshAttention with causal: true`,
    );
  }
  const p = prepare(kernels, qIn, kIn, vIn, options, 'linformerAttention');
  const { batch, qHeads, kvHeads, nq, nk: n, dh, dv } = p.dims;
  const shared = booleanOption(options.shared, 'options.shared', false);
  let eView: TensorView<Float32Array> | undefined;
  let fView: TensorView<Float32Array> | undefined;
  let kd: number;
  if (options.e !== undefined) {
    eView = projectionView(kernels, options.e, 'options.e', n, kvHeads);
    kd = eView.shape[eView.shape.length - 1];
    if (shared && options.f !== undefined) throw new AttentionError('INVALID_OPTION', 'options.f must be omitted when options.shared is true (F = E)');
    if (!shared) {
      if (options.f === undefined) throw new AttentionError('INVALID_OPTION', 'options.f is required with options.e (or set shared: true for F = E), got undefined');
      fView = projectionView(kernels, options.f, 'options.f', n, kvHeads);
      if (fView.shape.length !== eView.shape.length || fView.shape.some((d, i) => d !== eView!.shape[i])) {
        throw new AttentionError('SHAPE_MISMATCH', `options.f must have the shape of options.e ${formatShape(eView.shape)}, got ${formatShape(fView.shape)}`);
      }
    }
    if (options.k !== undefined && options.k !== kd) {
      throw new AttentionError('INVALID_OPTION', `options.k (${String(options.k)}) must equal the last dimension of options.e (${kd})`);
    }
  } else {
    if (options.f !== undefined) throw new AttentionError('INVALID_OPTION', 'options.f needs options.e too (or omit both for seeded projections)');
    if (options.k === undefined) throw new AttentionError('INVALID_OPTION', 'options.k is required (the projected length, 1 ≤ k ≤ n) when no projections e, f are given, got undefined');
    kd = integerOption(options.k, 'options.k', 0, 1);
  }
  if (kd < 1 || kd > n) throw new AttentionError('INVALID_OPTION', `options.k must be in [1, n] = [1, ${n}] (the projected length cannot exceed the sequence length), got ${kd}`);
  const seed = seedOption(options.seed, 'options.seed');
  const keyLengths = options.keyLengths === undefined
    ? undefined
    : lengthsOption(options.keyLengths, 'options.keyLengths', batch, n);
  const perHead = eView !== undefined && eView.shape.length === 3;
  const eRows = eView ? eView.shape[eView.shape.length - 2] : n;
  assertPreparedLive(kernels, p, options.out, { 'options.e': eView?.resident, 'options.f': fView?.resident });

  if (outputIsEmpty(p)) return emptyOutput(p);
  const keyLens = keyLengths ?? new Array<number>(batch).fill(n);
  const scope = new Scope(kernels.arena);
  try {
    attentionKernels(kernels).reserve(kd, dh, dv);
    gemmKernels(kernels).reserve(Math.max(dh, dv), n);
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputPtr(p, scope, [eView, fView]);
    if (nq === 0 || dv === 0) return finishOutput(kernels, p, op);
    // Eᵀ and Fᵀ as (kd, n) panels per projection head.
    const projHeads = perHead ? kvHeads : 1;
    const et = scope.alloc(projHeads * kd * n, 'Eᵀ');
    const ft = shared ? et : scope.alloc(projHeads * kd * n, 'Fᵀ');
    if (eView) {
      const ep = scope.place(eView);
      const fp = shared ? ep : scope.place(fView!);
      for (let x = 0; x < projHeads; x++) {
        rowKernels(kernels).transpose({ src: f32At(ep, x * eRows * kd), srcStride: kd, n, d: kd, dst: f32At(et, x * kd * n), dstStride: n });
        if (!shared) rowKernels(kernels).transpose({ src: f32At(fp, x * eRows * kd), srcStride: kd, n, d: kd, dst: f32At(ft, x * kd * n), dstStride: n });
      }
    } else {
      const seeds = linformerSeeds(seed);
      const tmp = scope.alloc(n * kd, 'projection');
      randomKernels(kernels).normal({ seed: seeds.e, n: n * kd, scale: 1 / Math.sqrt(kd), out: tmp });
      rowKernels(kernels).transpose({ src: tmp, srcStride: kd, n, d: kd, dst: et, dstStride: n });
      if (!shared) {
        randomKernels(kernels).normal({ seed: seeds.f, n: n * kd, scale: 1 / Math.sqrt(kd), out: tmp });
        rowKernels(kernels).transpose({ src: tmp, srcStride: kd, n, d: kd, dst: ft, dstStride: n });
      }
    }
    const kProj = scope.alloc(kd * dh, 'projected keys');
    const vProj = scope.alloc(kd * dv, 'projected values');
    const group = qHeads / kvHeads;
    // Heads in the call's layout, read in place through their row strides.
    const [Lq, Lk, Lv, Lo] = [headLayoutOf(p, qp, qHeads, nq, dh), headLayoutOf(p, kp, kvHeads, n, dh), headLayoutOf(p, vp, kvHeads, n, dv), headLayoutOf(p, op, qHeads, nq, dv)];
    const tick = observeUnits(batch * qHeads);
    for (let b = 0; b < batch; b++) {
      const len = keyLens[b];
      for (let kvh = 0; kvh < kvHeads; kvh++) {
        tick?.(b * qHeads + kvh * group); // the projections count with the group's first head
        const x = perHead ? kvh : 0;
        if (len === 0) {
          kernels.arena.f32(kProj, kd * dh).fill(0);
          kernels.arena.f32(vProj, kd * dv).fill(0);
        } else {
          if (dh > 0) {
            gemmKernels(kernels).run({
              a: f32At(et, x * kd * n), lda: n, b: headAt(Lk, b, kvh), ldb: Lk.rowStride, c: kProj, ldc: dh,
              bias: 0, m: kd, n: dh, k: len, transB: false, accumulate: false,
            });
          }
          gemmKernels(kernels).run({
            a: f32At(ft, x * kd * n), lda: n, b: headAt(Lv, b, kvh), ldb: Lv.rowStride, c: vProj, ldc: dv,
            bias: 0, m: kd, n: dv, k: len, transB: false, accumulate: false,
          });
        }
        for (let h = kvh * group; h < (kvh + 1) * group; h++) {
          if (h > kvh * group) tick?.(b * qHeads + h);
          attentionKernels(kernels).online(plainCall({
            q: headAt(Lq, b, h), qStride: Lq.rowStride, k: kProj, kStride: dh, v: vProj, vStride: dv,
            o: headAt(Lo, b, h), oStride: Lo.rowStride, nq, nk: kd, dh, dv, scale: p.scale,
          }));
        }
      }
    }
    return finishOutput(kernels, p, op);
  } finally {
    scope.close();
  }
}
