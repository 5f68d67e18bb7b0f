// The demo's attention variants (examples/browser/main.ts draws them): each variant's call, its
// extra controls, and its computed pairs — which query–key scores the variant actually computes,
// from its definition (full, causal, windows, global tokens, segments) or, where the pattern
// depends on the data or a seeded draw (LSH, routing, BigBird's random blocks), read from the
// weights it applied. Also the synthetic inputs: structured, seeded Q/K so that attention has
// visible structure (local peaks, a periodic component, two "sink" keys every query attends to).

import { attentionVariants, type Runtime, type Tensor } from 'wasm-attention';

/** The demo's controls, read from the form. */
export interface Params {
  n: number;
  heads: number;
  headDim: number;
  window: number;
  globals: number;
  randomBlocks: number;
  buckets: number;
  rank: number;
  segment: number;
  threads: number;
}

export type Input = { data: Float32Array; shape: number[] };
export type Param = 'window' | 'globals' | 'randomBlocks' | 'buckets' | 'rank' | 'segment';

/** One entry of the variant list. */
export interface Variant {
  id: string;
  label: string;
  /** the Runtime method it needs; the variant is listed only when the runtime has it */
  method: string;
  /** what it computes and its cost, shown under the controls */
  about: string;
  /** which extra controls apply */
  params: Param[];
  /** the attention output for (q, k, v) */
  run(rt: Runtime, q: Input, k: Input, v: Input, p: Params): Tensor;
  /** the weights [1, heads, n, n] directly (rt.attention); else run() with V = identity */
  weights?(rt: Runtime, q: Input, k: Input, v: Input, p: Params): Tensor;
  /** the pairs it computes, by definition; absent: data-dependent, read from the weights */
  pattern?(p: Params): Pattern;
}

/** Which query–key pairs a variant computes. */
export interface Pattern {
  /** whether the score of query i and key j is computed (drawn bright in the sparsity panel) */
  computed(i: number, j: number): boolean;
  /** the share of the n² scores computed, when it differs from the pairs drawn (pooled or projected scores) */
  fraction?: number;
  /** how the fraction is counted */
  note?: string;
}

const all: Pattern = { computed: () => true };


/** Calls a Runtime method by name (variants that other builds may not have). */
function call(rt: Runtime, method: string, ...args: unknown[]): Tensor {
  const fn = (rt as unknown as Record<string, (...a: unknown[]) => Tensor>)[method];
  return fn.apply(rt, args);
}

const globalIndices = (p: Params) => Array.from({ length: Math.min(p.globals, p.n) }, (_, i) => Math.floor((i * p.n) / Math.max(1, p.globals)));

/**
 * Hierarchical: token scores within segments (drawn), plus the (n/S)² scores among segment vectors
 * (the document level), counted in the fraction.
 */
function hierarchical(p: Params): Pattern {
  const S = Math.min(p.segment, p.n);
  const segs = Math.ceil(p.n / S);
  let within = 0;
  for (let s = 0; s < segs; s++) within += Math.min(S, p.n - s * S) ** 2;
  return {
    computed: (i, j) => Math.floor(i / S) === Math.floor(j / S),
    fraction: (within + segs * segs) / (p.n * p.n),
    note: `token scores within segments (${within}) plus ${segs}×${segs} segment-level scores; every token still receives the document level`,
  };
}

const VARIANTS: Variant[] = [
  {
    id: 'full', label: 'Full', method: 'attention', params: [],
    about: 'Every query attends to every key: softmax(QKᵀ/√d)·V, fused online softmax. O(n²·d) time, O(n) memory.',
    pattern: () => all,
    run: (rt, q, k, v) => rt.attention(q, k, v),
    weights: (rt, q, k, v) => rt.attention(q, k, v, { returnWeights: true }).weights,
  },
  {
    id: 'causal', label: 'Causal', method: 'attention', params: [],
    about: 'Query i attends to keys j ≤ i (decoder self-attention); key tiles above the diagonal are skipped. O(n²·d/2).',
    pattern: () => ({ computed: (i, j) => j <= i }),
    run: (rt, q, k, v) => rt.attention(q, k, v, { causal: true }),
    weights: (rt, q, k, v) => rt.attention(q, k, v, { causal: true, returnWeights: true }).weights,
  },
  {
    id: 'window', label: 'Sliding window', method: 'attention', params: ['window'],
    about: 'Local attention: query i sees keys i − w … i + w (rt.attention with window). O(n·w·d).',
    pattern: (p) => ({ computed: (i, j) => Math.abs(i - j) <= p.window }),
    run: (rt, q, k, v, p) => rt.attention(q, k, v, { window: { left: p.window, right: p.window } }),
    weights: (rt, q, k, v, p) => rt.attention(q, k, v, { window: { left: p.window, right: p.window }, returnWeights: true }).weights,
  },
  {
    id: 'window-causal', label: 'Sliding window, causal', method: 'attention', params: ['window'],
    about: 'Causal local attention (Mistral-style): query i sees keys i − w … i. O(n·w·d).',
    pattern: (p) => ({ computed: (i, j) => j <= i && i - j <= p.window }),
    run: (rt, q, k, v, p) => rt.attention(q, k, v, { causal: true, window: { left: p.window, right: 0 } }),
    weights: (rt, q, k, v, p) => rt.attention(q, k, v, { causal: true, window: { left: p.window, right: 0 }, returnWeights: true }).weights,
  },
  {
    id: 'dilated', label: 'Dilated sliding window', method: 'slidingWindowAttention', params: ['window'],
    about: 'Longformer’s dilated window: query i sees every 2nd key from i − 2w to i + 2w (rt.slidingWindowAttention). O(n·w·d).',
    pattern: (p) => ({ computed: (i, j) => Math.abs(i - j) <= 2 * p.window && (i - j) % 2 === 0 }),
    run: (rt, q, k, v, p) => call(rt, 'slidingWindowAttention', q, k, v, { window: p.window, dilation: 2 }),
  },
  {
    id: 'global-local', label: 'Global + local (Longformer)', method: 'globalLocalAttention', params: ['window', 'globals'],
    about: 'A sliding window plus global tokens that attend to and are attended by every token (rt.globalLocalAttention). O(n·(w + g)·d).',
    pattern: (p) => { const g = new Set(globalIndices(p)); return { computed: (i, j) => Math.abs(i - j) <= p.window || g.has(i) || g.has(j) }; },
    run: (rt, q, k, v, p) => call(rt, 'globalLocalAttention', q, k, v, { window: p.window, global: globalIndices(p) }),
  },
  {
    id: 'bigbird', label: 'Global + local + random (BigBird)', method: 'globalLocalAttention', params: ['window', 'globals', 'randomBlocks'],
    about: 'Longformer’s pattern plus seeded random key blocks per query block (rt.globalLocalAttention with random). O(n·(w + g + r)·d).',
    run: (rt, q, k, v, p) => call(rt, 'globalLocalAttention', q, k, v, {
      window: p.window, global: globalIndices(p), random: { blockSize: Math.max(1, p.window), blocks: p.randomBlocks, seed: 1 },
    }),
  },
  {
    id: 'lsh', label: 'LSH (Reformer)', method: 'lshAttention', params: ['buckets'],
    about: 'Tokens hashed by random rotations into buckets, sorted, and attended within chunks of the sorted order (rt.lshAttention). O(n·c·d).',
    run: (rt, q, k, v, p) => call(rt, 'lshAttention', q, k, v, { buckets: p.buckets, chunkLength: Math.max(4, Math.ceil(p.n / p.buckets)), seed: 1 }),
  },
  {
    id: 'linformer', label: 'Low-rank (Linformer)', method: 'linformerAttention', params: ['rank'],
    about: 'Keys and values projected along the sequence to k rows (E, F seeded random), then full attention over them (rt.linformerAttention). O(n·k·d).',
    pattern: (p) => ({ computed: () => true, fraction: Math.min(p.rank, p.n) / p.n, note: `every key reaches every query through the ${Math.min(p.rank, p.n)} projected keys: n·k scores computed, k/n of n²` }),
    run: (rt, q, k, v, p) => call(rt, 'linformerAttention', q, k, v, { k: Math.min(p.rank, p.n), seed: 1 }),
  },
  {
    id: 'segmented', label: 'Segmented (blocked)', method: 'segmentedAttention', params: ['segment'],
    about: 'Attention within segments of S tokens (rt.segmentedAttention). O(n·S·d).',
    pattern: (p) => ({ computed: (i, j) => Math.floor(i / p.segment) === Math.floor(j / p.segment) }),
    run: (rt, q, k, v, p) => call(rt, 'segmentedAttention', q, k, v, { segmentLength: p.segment }),
  },
  {
    id: 'hierarchical', label: 'Hierarchical (tokens → segments → document)', method: 'hierarchicalAttention', params: ['segment'],
    about: 'Attention within segments of S tokens, mean-pooled into segment vectors that attend to each other; the token output combines the levels (rt.hierarchicalAttention). O(n·S·d + (n/S)²·d).',
    pattern: (p) => hierarchical(p),
    run: (rt, q, k, v, p) => (call(rt, 'hierarchicalAttention', q, k, v, { levels: [p.segment] }) as unknown as { output: Tensor }).output,
  },
  {
    id: 'routing', label: 'Routing (clusters, Routing Transformer)', method: 'routingAttention', params: [],
    about: 'Queries and keys clustered by seeded k-means; each of 4 clusters attends within its top n/4 tokens (rt.routingAttention). O(n·w·d).',
    run: (rt, q, k, v) => call(rt, 'routingAttention', q, k, v, { clusters: 4, seed: 1 }),
  },
];

/**
 * The variants of the library's registry (attentionVariants()) this runtime has: the ones this
 * page knows, with their controls and patterns, then every other with the registry's label, blurb
 * and example options — so a variant added to the library appears here without a change to this page.
 */
export function availableVariants(rt: Runtime): Variant[] {
  const has = (m: string) => typeof (rt as unknown as Record<string, unknown>)[m] === 'function';
  const list = VARIANTS.filter((v) => has(v.method));
  const known = new Set(VARIANTS.map((v) => v.method));
  for (const entry of attentionVariants()) {
    if (known.has(entry.method) || !has(entry.method)) continue;
    list.push({
      id: entry.method, label: `${entry.label} (example options)`, method: entry.method, params: [],
      about: `${entry.about} — rt.${entry.method} with the registry's example options.`,
      run: (r, q, k, v, p) => call(r, entry.method, q, k, v, entry.example(p.n, p.headDim)),
    });
  }
  return list;
}

// ── inputs ──

/** Seeded uniform numbers in [−1, 1) (LCG). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/**
 * Queries and keys with structure, so the heatmaps look like attention maps (seed 7, the same on
 * every run): a sinusoidal position code (its dot products peak at i = j and fall off with |i − j|),
 * sharper in later heads; a periodic component (period 16: stripes parallel to the diagonal); two
 * "sink" keys (positions 0 and n/2) that every query leans towards; plus per-token content noise.
 * V is random.
 */
export function makeInputs(p: Params): { q: Input; k: Input; v: Input } {
  const { n, heads: H, headDim: D } = p;
  const shape = [1, H, n, D];
  const q = new Float32Array(H * n * D);
  const k = new Float32Array(H * n * D);
  const v = new Float32Array(H * n * D);
  const rnd = random(7);
  const sinks = new Set([0, n >> 1]);
  for (let h = 0; h < H; h++) {
    const sharp = 1 + 0.9 * h;
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < D; d++) {
        const freq = 1 / 10000 ** ((2 * Math.floor(d / 2)) / D);
        const angle = i * freq * 8;
        let pos = d % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
        // the last two dimensions: period 16
        if (d >= D - 2) pos = 2 * (d % 2 === 0 ? Math.sin((2 * Math.PI * i) / 16) : Math.cos((2 * Math.PI * i) / 16));
        const o = (h * n + i) * D + d;
        q[o] = sharp * pos + 0.8 * rnd();
        k[o] = pos + 0.8 * rnd();
        v[o] = rnd();
      }
      // dimension 0 carries the sink direction: every query has it, only sink keys match it
      q[(h * n + i) * D] += 1.5;
      if (sinks.has(i)) k[(h * n + i) * D] += 2 * (h + 1);
    }
  }
  return { q: { data: q, shape }, k: { data: k, shape }, v: { data: v, shape } };
}

/** V = identity per head, [1, heads, n, n]: attention output = the weights applied. */
export function identityValues(p: Params): Input {
  const data = new Float32Array(p.heads * p.n * p.n);
  for (let h = 0; h < p.heads; h++) for (let i = 0; i < p.n; i++) data[(h * p.n + i) * p.n + i] = 1;
  return { data, shape: [1, p.heads, p.n, p.n] };
}


/** The allowed range of each numeric control (inclusive); a run with a value outside is refused. */
export const LIMITS: Record<Exclude<keyof Params, 'threads' | 'headDim'>, { min: number; max: (p: Params) => number; what: string }> = {
  n: { min: 8, max: () => 1024, what: 'Sequence length' },
  heads: { min: 1, max: () => 8, what: 'Heads' },
  window: { min: 0, max: (p) => p.n - 1, what: 'Window' },
  globals: { min: 0, max: (p) => Math.min(64, p.n), what: 'Global tokens' },
  randomBlocks: { min: 0, max: () => 8, what: 'Random blocks' },
  buckets: { min: 2, max: () => 64, what: 'LSH buckets' },
  rank: { min: 1, max: (p) => p.n, what: 'Projected length k' },
  segment: { min: 1, max: (p) => p.n, what: 'Segment length' },
};

/** The problems of `p` for `variant` (its controls and the shared ones), as messages naming the allowed range. */
export function validate(p: Params, variant: Variant): string[] {
  const errors: string[] = [];
  const names = ['n', 'heads', ...variant.params] as Array<keyof typeof LIMITS>;
  for (const name of names) {
    const { min, what } = LIMITS[name];
    const max = name === 'n' || Number.isInteger(p.n) ? LIMITS[name].max(p) : Infinity;
    const x = p[name];
    if (!Number.isInteger(x) || x < min || x > max) errors.push(`${what}: an integer from ${min} to ${max} (got ${Number.isNaN(x) ? 'nothing' : x}).`);
  }
  if (variant.params.includes('buckets') && Number.isInteger(p.buckets) && p.buckets % 2 !== 0) errors.push(`LSH buckets: an even number (got ${p.buckets}).`);
  return errors;
}
