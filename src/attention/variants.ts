// variants.ts — the one list of attention variants. Each entry names the Runtime method, its path
// type in rt.routedAttention, its option keys, its runner, a label and a one-line blurb, and small
// valid example options. Everything that enumerates variants reads it: the Runtime installs its
// variant methods from it (VariantMethods types them), rt.routedAttention dispatches and checks
// its paths through it, and attentionVariants() hands the public part to the demo page, the tests
// (fuzz, soak, limits, options) and the bench.
//
// Adding a variant: its file in src/attention/ (runner, options type, option keys; its main loop
// ticks observeUnits of heads-observer.ts before each unit, for the proxy's abort and progress), one entry in
// VARIANTS and one method in VariantMethods below (and a line in PathOptions if it can be a routed
// path), its float64 reference in test/reference/, its test, its README row.

import type { Kernels } from '../kernels/instance';
import type { Tensor, TensorLike } from '../tensor';
import { GLOBAL_LOCAL_KEYS, type GlobalLocalOptions, globalLocalAttention } from './global-local';
import { HIERARCHICAL_KEYS, type HierarchicalOptions, type HierarchicalResult, hierarchicalAttention } from './hierarchical';
import { LINFORMER_KEYS, type LinformerOptions, linformerAttention } from './linformer';
import { LSH_KEYS, type LshOptions, lshAttention } from './lsh';
import { ROUTED_KEYS, type RoutedOptions, type RoutedResult, routedAttention } from './routed';
import { ROUTING_KEYS, type RoutingOptions, type RoutingResult, routingAttention } from './routing';
import { ATTENTION_KEYS, type AttentionOptions, attention } from './sdpa';
import { SEGMENTED_KEYS, type SegmentedOptions, segmentedAttention } from './segmented';
import { SLIDING_WINDOW_KEYS, type SlidingWindowOptions, slidingWindowAttention } from './sliding-window';

/** The attention-variant methods of `Runtime` (installed from the registry; `attention` is CoreRuntime's own). */
export interface VariantMethods {
  /**
   * Sliding-window (local) attention on [batch, heads, seq, headDim]: each query sees `left` keys
   * before and `right` after its position, every `dilation`-th key; O(n·w) time, O(n) memory.
   */
  slidingWindowAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: SlidingWindowOptions): Tensor;
  /**
   * Longformer / BigBird attention (self-attention): a sliding window, global tokens chosen per
   * call (indices, scores, or top-k by query/key norm) that see and are seen by every token, and
   * optional seeded random key blocks; partial results merged exactly by log-sum-exp.
   */
  globalLocalAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: GlobalLocalOptions): Tensor;
  /**
   * Segmented (blocked) self-attention: segments of `segmentLength` tokens, overlapping by
   * `overlap`; a token attends the union of its segments (merged exactly by log-sum-exp) and,
   * with `summaries`, a mean-pooled summary token of every other segment.
   */
  segmentedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: SegmentedOptions): Tensor;
  /**
   * Linformer (low-rank) attention: keys and values projected along the sequence by E, F of
   * shape (n, k) — the caller's, or seeded random — then full attention over the k projections.
   * O(n·k·d). Not causal (throws).
   */
  linformerAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: LinformerOptions): Tensor;
  /**
   * Reformer LSH attention (self-attention): tokens hashed by random rotations, sorted by
   * (bucket, position), attention within chunks of the sorted order plus the previous chunk,
   * hashing rounds merged by log-sum-exp. Pass k = null with `sharedQK: true`.
   */
  lshAttention(q: TensorLike, k: TensorLike | null, v: TensorLike, options?: LshOptions): Tensor;
  /**
   * Hierarchical attention (tokens → segments → … → document): attention within each level's
   * groups, outputs pooled by G ('mean', 'max' or a learned query) into the next level's inputs.
   * Returns every level's outputs, the document vector and the token-level combination, all in
   * the call's `layout` (with 'bshd', q, k, v are read in place as [batch, seq, heads, dim]).
   */
  hierarchicalAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: HierarchicalOptions): HierarchicalResult;
  /**
   * Routing Transformer attention: queries and keys routed to k-means clusters (top-w tokens per
   * cluster), attention within clusters, outputs of tokens in several clusters averaged.
   */
  routingAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutingOptions & { returnCentroids: true }): RoutingResult;
  /** Routing Transformer attention (see above), returning the output only. */
  routingAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutingOptions): Tensor;
  /**
   * Attention routed over paths: a routing matrix W_r gives each token a distribution over
   * attention paths (full, window, LSH, …) or heads; the output is the mixture. One `layout` for
   * the call: q, k, v and the output are in it and every path runs in it (read in place, no
   * transposing copy); a path's own `layout` is INVALID_OPTION; routes stay [batch, heads, n, P].
   */
  routedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutedOptions & { returnRoutes: true }): RoutedResult;
  /** Attention routed over paths (see above), returning the mixture only. */
  routedAttention(q: TensorLike, k: TensorLike, v: TensorLike, options: RoutedOptions): Tensor;
}

/** The options of each path type of rt.routedAttention (scale, out and layout come from the call). */
export interface PathOptions {
  /** Full attention (rt.attention): its causal and window. */
  full: Pick<AttentionOptions, 'causal' | 'window'>;
  /** Sliding-window attention (rt.slidingWindowAttention). */
  window: SlidingWindowOptions;
  /** Longformer / BigBird (rt.globalLocalAttention). */
  'global-local': GlobalLocalOptions;
  /** Segmented attention (rt.segmentedAttention). */
  segmented: SegmentedOptions;
  /** Reformer LSH attention (rt.lshAttention; sharedQK ignores k). */
  lsh: LshOptions;
  /** Linformer (rt.linformerAttention). */
  linformer: LinformerOptions;
  /** Routing Transformer clustering attention (rt.routingAttention). */
  routing: Omit<RoutingOptions, 'returnCentroids'>;
}

/** A path type of rt.routedAttention. */
export type PathType = keyof PathOptions;

/** One attention path of `rt.routedAttention`: a variant's options (without scale, out and layout) and its `type`. */
export type AttentionPath = { [T in PathType]: PathOf<T> & Omit<PathOptions[T], 'scale' | 'out' | 'layout'> }[PathType];

/** The `type` field of a path. */
export interface PathOf<T extends PathType> {
  /** The variant this path runs (PathOptions lists them). */
  type: T;
}

/** A Runtime method that is an attention variant (the full attention of CoreRuntime included). */
export type VariantMethod = keyof VariantMethods | 'attention';

/** The public description of a variant (attentionVariants()). */
export interface AttentionVariant {
  /** The Runtime method, e.g. 'slidingWindowAttention'. */
  readonly method: VariantMethod;
  /** Its path type in rt.routedAttention, or undefined when it cannot be a path. */
  readonly path: PathType | undefined;
  /** A short name, e.g. 'Sliding window'. */
  readonly label: string;
  /** What it computes and its cost, in one sentence. */
  readonly about: string;
  /** Whether it needs self-attention (as many queries as keys). */
  readonly selfAttention: boolean;
  /** Its option keys (an unknown key is INVALID_OPTION). */
  readonly keys: readonly string[];
  /** Small valid options for self-attention over `n` ≥ 8 tokens of `headDim` (tests, demo, docs). */
  example(n: number, headDim: number): Record<string, unknown>;
}

/** A registry entry: the public description and the runner (kernels first, then the method's arguments). */
interface VariantEntry extends AttentionVariant {
  run(kernels: Kernels, q: TensorLike, k: TensorLike | null, v: TensorLike, options: never): unknown;
  /** The option keys a path of this type takes (besides `type`; scale, out and layout come from the call). Default: keys. */
  pathKeys?: readonly string[];
  /** Options a path of this type runs with (scale, out and layout set by rt.routedAttention). */
  asPath?(options: Record<string, unknown>): Record<string, unknown>;
  /** Whether the path ignores k (LSH with sharedQK). */
  pathIgnoresK?(options: Record<string, unknown>): boolean;
}

/** Every variant, in the order the docs and the demo list them. */
const VARIANTS: readonly VariantEntry[] = [
  {
    method: 'attention', path: 'full', label: 'Full', selfAttention: false, keys: ATTENTION_KEYS,
    about: 'every query attends to every key (causal, window and masks optional); fused online softmax, O(n²·d) time, O(n) memory',
    example: () => ({}), run: (kernels, q, k, v, o: AttentionOptions) => attention(kernels, q, k!, v, o), pathKeys: ['causal', 'window'],
  },
  {
    method: 'slidingWindowAttention', path: 'window', label: 'Sliding window', selfAttention: false, keys: SLIDING_WINDOW_KEYS,
    about: 'each query sees the keys within a window around its position (optionally dilated); O(n·w·d)',
    example: () => ({ window: 3, dilation: 2 }), run: (kernels, q, k, v, o: SlidingWindowOptions) => slidingWindowAttention(kernels, q, k!, v, o),
  },
  {
    method: 'globalLocalAttention', path: 'global-local', label: 'Global + local', selfAttention: true, keys: GLOBAL_LOCAL_KEYS,
    about: 'Longformer / BigBird: a sliding window, global tokens that see and are seen by all, optional random key blocks; O(n·(w + g)·d)',
    example: (n) => ({ window: 2, global: [0, Math.floor(n / 2)], random: { blockSize: 4, blocks: 1, seed: 3 } }),
    run: (kernels, q, k, v, o: GlobalLocalOptions) => globalLocalAttention(kernels, q, k!, v, o),
  },
  {
    method: 'segmentedAttention', path: 'segmented', label: 'Segmented', selfAttention: true, keys: SEGMENTED_KEYS,
    about: 'attention within (overlapping) segments, optionally with a mean-pooled summary token of every other segment; O(n·s·d)',
    example: () => ({ segmentLength: 3, overlap: 1, summaries: true }), run: (kernels, q, k, v, o: SegmentedOptions) => segmentedAttention(kernels, q, k!, v, o),
  },
  {
    method: 'lshAttention', path: 'lsh', label: 'LSH (Reformer)', selfAttention: true, keys: LSH_KEYS,
    about: 'tokens hashed by random rotations and sorted by bucket; attention within chunks of the sorted order; O(n·c·d) per round',
    example: () => ({ buckets: 4, chunkLength: 2, rounds: 2, seed: 5 }), run: (kernels, q, k, v, o: LshOptions) => lshAttention(kernels, q, k, v, o),
    pathIgnoresK: (o) => o.sharedQK === true,
  },
  {
    method: 'linformerAttention', path: 'linformer', label: 'Linformer', selfAttention: false, keys: LINFORMER_KEYS,
    about: 'keys and values projected along the sequence to k rows (seeded or given E, F), then full attention; O(n·k·d), not causal',
    example: () => ({ k: 3, seed: 2 }), run: (kernels, q, k, v, o: LinformerOptions) => linformerAttention(kernels, q, k!, v, o),
  },
  {
    method: 'hierarchicalAttention', path: undefined, label: 'Hierarchical', selfAttention: true, keys: HIERARCHICAL_KEYS,
    about: 'attention within groups at each level (tokens → segments → document), outputs pooled upward; O(n·g·d)',
    example: () => ({ levels: [4, 2] }), run: (kernels, q, k, v, o: HierarchicalOptions) => hierarchicalAttention(kernels, q, k!, v, o),
  },
  {
    method: 'routingAttention', path: 'routing', label: 'Routing (clusters)', selfAttention: false, keys: ROUTING_KEYS,
    about: 'queries and keys routed to k-means clusters, attention within each cluster; O(n·w·d)',
    example: () => ({ clusters: 2, windowSize: 4, seed: 1 }), run: (kernels, q, k, v, o: RoutingOptions) => routingAttention(kernels, q, k!, v, o),
    pathKeys: ROUTING_KEYS.filter((key) => key !== 'returnCentroids'), asPath: (o) => ({ ...o, returnCentroids: false }),
  },
  {
    method: 'routedAttention', path: undefined, label: 'Routed mixture', selfAttention: false, keys: ROUTED_KEYS,
    about: 'a learned routing matrix mixes several attention paths (or heads) per token; the cost of the paths a token uses',
    example: (_n, headDim) => ({
      paths: [{ type: 'window', window: 4 }, { type: 'segmented', segmentLength: 8 }],
      router: { weights: { data: Float32Array.from({ length: 2 * headDim }, (_, i) => ((i % 7) - 3) / 8), shape: [headDim, 2] } },
    }),
    run: (kernels, q, k, v, o: RoutedOptions) => routedAttention(kernels, q, k!, v, o),
  },
];

/** The registry entries (internal: with their runners). */
export function variantEntries(): readonly VariantEntry[] {
  return VARIANTS;
}

/** The entry of path type `type`, or undefined. */
export function variantOfPath(type: unknown): VariantEntry | undefined {
  return VARIANTS.find((v) => v.path !== undefined && v.path === type);
}

/** The path types of rt.routedAttention, in registry order. */
export function pathTypes(): PathType[] {
  return VARIANTS.flatMap((v) => (v.path === undefined ? [] : [v.path]));
}

/**
 * The attention variants this library offers (its registry): method, routed path type, label,
 * blurb, option keys and small example options. The demo page and the tests enumerate variants
 * from here.
 */
export function attentionVariants(): readonly AttentionVariant[] {
  return VARIANTS.map(({ method, path, label, about, selfAttention, keys, example }): AttentionVariant => Object.freeze({ method, path, label, about, selfAttention, keys, example }));
}
