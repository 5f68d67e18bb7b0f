// Browser demo: pick an attention variant, sequence length and heads; see each head's attention
// weights as a heatmap, the sparsity pattern (which query–key pairs are computed) and the time.
//
// Built by scripts/build-demo.mjs (esbuild; `import 'wasm-attention'` resolves to the package's
// browser entry) and served by `npm run demo:web` with COOP/COEP headers, so the Threads control
// can use shared memory. The variant list is made from what the runtime offers: a variant whose
// method this build of wasm-attention lacks is not listed.
//
// Weights: full, causal and sliding window come from rt.attention(…, { returnWeights: true }).
// Variants without a weights output are run once more with V = the identity (one value
// dimension per key): their output row i is then exactly row i of the weight matrix they apply
// (for Linformer, the effective weights P·Fᵀ).

import { createRuntime, type Runtime, type Tensor } from 'wasm-attention';

/** The demo's controls, read from the form. */
interface Params {
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

type Input = { data: Float32Array; shape: number[] };
type Param = 'window' | 'globals' | 'randomBlocks' | 'buckets' | 'rank' | 'segment';

/** One entry of the variant list. */
interface Variant {
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
}

/** Calls a Runtime method by name (variants that other builds may not have). */
function call(rt: Runtime, method: string, ...args: unknown[]): Tensor {
  const fn = (rt as unknown as Record<string, (...a: unknown[]) => Tensor>)[method];
  return fn.apply(rt, args);
}

const globalIndices = (p: Params) => Array.from({ length: Math.min(p.globals, p.n) }, (_, i) => Math.floor((i * p.n) / Math.max(1, p.globals)));

const VARIANTS: Variant[] = [
  {
    id: 'full', label: 'Full', method: 'attention', params: [],
    about: 'Every query attends to every key: softmax(QKᵀ/√d)·V, fused online softmax. O(n²·d) time, O(n) memory.',
    run: (rt, q, k, v) => rt.attention(q, k, v),
    weights: (rt, q, k, v) => rt.attention(q, k, v, { returnWeights: true }).weights,
  },
  {
    id: 'causal', label: 'Causal', method: 'attention', params: [],
    about: 'Query i attends to keys j ≤ i (decoder self-attention); key tiles above the diagonal are skipped. O(n²·d/2).',
    run: (rt, q, k, v) => rt.attention(q, k, v, { causal: true }),
    weights: (rt, q, k, v) => rt.attention(q, k, v, { causal: true, returnWeights: true }).weights,
  },
  {
    id: 'window', label: 'Sliding window', method: 'attention', params: ['window'],
    about: 'Local attention: query i sees keys i − w … i + w (rt.attention with window). O(n·w·d).',
    run: (rt, q, k, v, p) => rt.attention(q, k, v, { window: { left: p.window, right: p.window } }),
    weights: (rt, q, k, v, p) => rt.attention(q, k, v, { window: { left: p.window, right: p.window }, returnWeights: true }).weights,
  },
  {
    id: 'window-causal', label: 'Sliding window, causal', method: 'attention', params: ['window'],
    about: 'Causal local attention (Mistral-style): query i sees keys i − w … i. O(n·w·d).',
    run: (rt, q, k, v, p) => rt.attention(q, k, v, { causal: true, window: { left: p.window, right: 0 } }),
    weights: (rt, q, k, v, p) => rt.attention(q, k, v, { causal: true, window: { left: p.window, right: 0 }, returnWeights: true }).weights,
  },
  {
    id: 'dilated', label: 'Dilated sliding window', method: 'slidingWindowAttention', params: ['window'],
    about: 'Longformer’s dilated window: query i sees every 2nd key from i − 2w to i + 2w (rt.slidingWindowAttention). O(n·w·d).',
    run: (rt, q, k, v, p) => call(rt, 'slidingWindowAttention', q, k, v, { window: p.window, dilation: 2 }),
  },
  {
    id: 'global-local', label: 'Global + local (Longformer)', method: 'globalLocalAttention', params: ['window', 'globals'],
    about: 'A sliding window plus global tokens that attend to and are attended by every token (rt.globalLocalAttention). O(n·(w + g)·d).',
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
    run: (rt, q, k, v, p) => call(rt, 'linformerAttention', q, k, v, { k: Math.min(p.rank, p.n), seed: 1 }),
  },
  {
    id: 'segmented', label: 'Segmented (blocked)', method: 'segmentedAttention', params: ['segment'],
    about: 'Attention within segments of S tokens (rt.segmentedAttention). O(n·S·d).',
    run: (rt, q, k, v, p) => call(rt, 'segmentedAttention', q, k, v, { segmentLength: p.segment }),
  },
  {
    id: 'hierarchical', label: 'Hierarchical (tokens → segments → document)', method: 'hierarchicalAttention', params: ['segment'],
    about: 'Attention within segments of S tokens, mean-pooled into segment vectors that attend to each other; the token output combines the levels (rt.hierarchicalAttention). O(n·S·d + (n/S)²·d).',
    run: (rt, q, k, v, p) => (call(rt, 'hierarchicalAttention', q, k, v, { levels: [p.segment] }) as unknown as { output: Tensor }).output,
  },
  {
    id: 'routing', label: 'Routing (clusters, Routing Transformer)', method: 'routingAttention', params: [],
    about: 'Queries and keys clustered by seeded k-means; each of 4 clusters attends within its top n/4 tokens (rt.routingAttention). O(n·w·d).',
    run: (rt, q, k, v) => call(rt, 'routingAttention', q, k, v, { clusters: 4, seed: 1 }),
  },
];

/**
 * Runtime methods that are not (q, k, v, options) attention variants: factories
 * (multiHeadAttention, recurrentMemoryAttention) and routedAttention, which needs a router.
 */
const NOT_VARIANTS = new Set(['attention', 'onnxAttention', 'multiHeadAttention', 'recurrentMemoryAttention', 'routedAttention']);

/** The known variants this runtime has, then any other `…Attention(q, k, v, options)` method it offers. */
function availableVariants(rt: Runtime): Variant[] {
  const has = (m: string) => typeof (rt as unknown as Record<string, unknown>)[m] === 'function';
  const list = VARIANTS.filter((v) => has(v.method));
  const known = new Set(VARIANTS.map((v) => v.method));
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(rt))) {
    if (!/Attention$/.test(name) || NOT_VARIANTS.has(name) || known.has(name) || !has(name)) continue;
    list.push({
      id: name, label: `${name} (default options)`, method: name, params: [],
      about: `rt.${name}(q, k, v, {}) — a variant this demo does not know yet, run with its default options.`,
      run: (r, q, k, v) => call(r, name, q, k, v, {}),
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
 * Queries and keys with structure, so the heatmaps look like attention maps: a sinusoidal
 * position code (its dot products peak at i = j and fall off with |i − j|), sharper in later
 * heads, plus per-token content noise. V is random.
 */
function makeInputs(p: Params): { q: Input; k: Input; v: Input } {
  const { n, heads: H, headDim: D } = p;
  const shape = [1, H, n, D];
  const q = new Float32Array(H * n * D);
  const k = new Float32Array(H * n * D);
  const v = new Float32Array(H * n * D);
  const rnd = random(7);
  for (let h = 0; h < H; h++) {
    const sharp = 1 + 0.9 * h;
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < D; d++) {
        const freq = 1 / 10000 ** ((2 * Math.floor(d / 2)) / D);
        const angle = i * freq * 8;
        const pos = d % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
        const o = (h * n + i) * D + d;
        q[o] = sharp * pos + 0.8 * rnd();
        k[o] = pos + 0.8 * rnd();
        v[o] = rnd();
      }
    }
  }
  return { q: { data: q, shape }, k: { data: k, shape }, v: { data: v, shape } };
}

/** V = identity per head, [1, heads, n, n]: attention output = the weights applied. */
function identityValues(p: Params): Input {
  const data = new Float32Array(p.heads * p.n * p.n);
  for (let h = 0; h < p.heads; h++) for (let i = 0; i < p.n; i++) data[(h * p.n + i) * p.n + i] = 1;
  return { data, shape: [1, p.heads, p.n, p.n] };
}

// ── drawing ──

/** Viridis-like colour ramp: t in [0, 1] → [r, g, b]. */
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function ramp(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i];
  const b = STOPS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

function drawHead(canvas: HTMLCanvasElement, w: Float32Array, offset: number, n: number): void {
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(n, n);
  let max = 0;
  for (let i = 0; i < n * n; i++) max = Math.max(max, Math.abs(w[offset + i]));
  for (let i = 0; i < n * n; i++) {
    const x = Math.abs(w[offset + i]);
    const [r, g, b] = x === 0 ? [0, 0, 0] : ramp(Math.sqrt(x / (max || 1)));
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Draws head 0's computed (non-zero) query–key pairs; returns the fraction of pairs computed,
 * averaged over the heads (data-dependent patterns such as LSH differ from head to head).
 */
function drawSparsity(canvas: HTMLCanvasElement, w: Float32Array, heads: number, n: number): number {
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(n, n);
  let nonzero = 0;
  for (let i = 0; i < heads * n * n; i++) if (w[i] !== 0) nonzero++;
  for (let i = 0; i < n * n; i++) {
    const on = w[i] !== 0;
    const c = on ? 30 : 245;
    img.data[4 * i] = c;
    img.data[4 * i + 1] = c;
    img.data[4 * i + 2] = on ? 90 : 245;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return nonzero / (heads * n * n);
}

// ── page ──

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const variantSelect = $<HTMLSelectElement>('variant');
const status = $<HTMLParagraphElement>('status');

/** What the last run measured (read by the Chromium test, handy in the console). */
interface DemoReport {
  variant: string;
  n: number;
  heads: number;
  density: number;
  ms: number;
  isa: string;
  threads: number;
}

declare global {
  interface Window {
    /** the last run's report (set by the demo) */
    demo?: DemoReport;
  }
}

let runtime: Runtime | undefined;
let runtimeThreads = 0;
let variants: Variant[] = [];

function readParams(): Params {
  const num = (id: string) => Number(($(id) as HTMLInputElement | HTMLSelectElement).value);
  return {
    n: num('seq'), heads: num('heads'), headDim: num('headDim'), window: num('window'), globals: num('globals'),
    randomBlocks: num('randomBlocks'), buckets: num('buckets'), rank: num('rank'), segment: num('segment'), threads: num('threads'),
  };
}

async function getRuntime(threads: number): Promise<Runtime> {
  if (runtime && runtimeThreads === threads) return runtime;
  runtime?.dispose();
  runtime = await createRuntime({ threads });
  runtimeThreads = threads;
  $('env').textContent = `Kernels: ${runtime.isa}; threads: ${runtime.threads}` +
    (threads > 1 && runtime.threads === 1 ? ' (this page is not crossOriginIsolated: serve it with COOP/COEP headers)' : '') + '.';
  return runtime;
}

function showParams(variant: Variant): void {
  for (const label of form.querySelectorAll<HTMLLabelElement>('label[data-param]')) {
    label.hidden = !variant.params.includes(label.dataset.param as Param);
  }
  $('about').textContent = variant.about;
}

/** Median time of `fn` over repeated runs (at least 3, up to ~300 ms in all). */
function time(fn: () => void): { ms: number; runs: number } {
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 3 || (samples.length < 25 && performance.now() - start < 300)) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[samples.length >> 1], runs: samples.length };
}

async function render(): Promise<void> {
  document.body.dataset.state = 'running';
  status.textContent = 'Computing…';
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  const p = readParams();
  const variant = variants.find((v) => v.id === variantSelect.value) ?? variants[0];
  showParams(variant);
  try {
    const rt = await getRuntime(p.threads);
    const { q, k, v } = makeInputs(p);
    const timing = time(() => variant.run(rt, q, k, v, p));
    const t0 = performance.now();
    const weights = variant.weights ? variant.weights(rt, q, k, v, p) : variant.run(rt, q, k, identityValues(p), p);
    const weightsMs = performance.now() - t0;
    const grid = $('heads-grid');
    grid.replaceChildren();
    for (let h = 0; h < p.heads; h++) {
      const figure = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.className = 'heatmap';
      canvas.setAttribute('aria-label', `attention weights, head ${h}`);
      drawHead(canvas, weights.data, h * p.n * p.n, p.n);
      const caption = document.createElement('figcaption');
      caption.textContent = `Head ${h}`;
      figure.append(canvas, caption);
      grid.append(figure);
    }
    const density = drawSparsity($<HTMLCanvasElement>('sparsity'), weights.data, p.heads, p.n);
    $('density').textContent = `${(100 * density).toFixed(1)}% of the ${p.n}×${p.n} pairs computed (mean over heads).`;
    status.textContent = `${variant.label}: ${timing.ms.toFixed(2)} ms per call (median of ${timing.runs}; ` +
      `1×${p.heads}×${p.n}×${p.headDim}, ${rt.isa}, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}). ` +
      `Weights for the heatmaps: ${weightsMs.toFixed(1)} ms.`;
    window.demo = { variant: variant.id, n: p.n, heads: p.heads, density, ms: timing.ms, isa: rt.isa, threads: rt.threads };
    document.body.dataset.state = 'done';
  } catch (error) {
    status.textContent = `${variant.label}: ${error instanceof Error ? error.message : String(error)}`;
    document.body.dataset.state = 'error';
  }
}

async function main(): Promise<void> {
  try {
    variants = availableVariants(await getRuntime(1));
  } catch (error) {
    status.textContent = `Could not start wasm-attention: ${String(error)}`;
    document.body.dataset.state = 'error';
    return;
  }
  for (const v of variants) variantSelect.append(new Option(v.label, v.id));
  const fromUrl = new URLSearchParams(location.search).get('variant');
  if (fromUrl && variants.some((v) => v.id === fromUrl)) variantSelect.value = fromUrl;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void render();
  });
  form.addEventListener('change', () => void render());
  await render();
}

void main();
