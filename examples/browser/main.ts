// Browser demo: two views, computed in this page by wasm-attention's WebAssembly SIMD kernels.
//  - Real attention: the tiny Llama (llama2.c's stories260K, fetched from dist/ where
//    scripts/build-demo.mjs copies it) generates N tokens greedily; the page shows one layer and
//    head's attention weights over that sequence (llama-attention.ts: rt.attention with
//    returnWeights on the model's real RoPE'd queries and keys).
//  - Variants: pick an attention variant, sequence length and heads; each head's weights on
//    structured synthetic Q/K (variants.ts), the pairs the variant computes, and the time.
// One colour rule everywhere (heatmap.ts): dark = 0 or not computed, bright = large weight.
//
// Built by scripts/build-demo.mjs (esbuild; `import 'wasm-attention'` resolves to the package's
// browser entry) and served by `npm run demo:web` with COOP/COEP headers, so the Threads control
// can use shared memory. The variant list is made from what the runtime offers: a variant whose
// method this build of wasm-attention lacks is not listed. Invalid control values are refused
// (a message naming the allowed range; nothing runs).
//
// Weights: full, causal and sliding window come from rt.attention(…, { returnWeights: true }).
// Variants without a weights output are run once more with V = the identity (one value
// dimension per key): their output row i is then exactly row i of the weight matrix they apply
// (for Linformer, the effective weights P·Fᵀ).

import { createRuntime, type Runtime } from 'wasm-attention';
import { heatmapFigure, paintPattern } from './heatmap';
import { showRealAttention } from './real-view';
import { availableVariants, identityValues, makeInputs, type Param, type Params, validate, type Variant } from './variants';

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
  /** share of the n² scores the variant computes (its pattern; pooled or projected scores counted) */
  density: number;
  /** share of the pairs the sparsity panel draws as computed (head 0) */
  drawn: number;
  /** whether the pattern is the variant's definition or read from its weights */
  patternFrom: 'definition' | 'weights';
  /** head 0's pairs given non-zero weight outside the drawn pattern (0 when the definition holds; pooled or projected variants have dense effective weights) */
  outside: number;
  ms: number;
  /** runs so far (a refused run does not count) */
  runs: number;
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
let runs = 0;

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

/** Draws the sparsity panel and returns the report's density fields. */
function showPattern(variant: Variant, p: Params, w: Float32Array): Pick<DemoReport, 'density' | 'drawn' | 'patternFrom' | 'outside'> {
  const canvas = $<HTMLCanvasElement>('sparsity');
  const n = p.n;
  if (variant.pattern) {
    const pattern = variant.pattern(p);
    const drawn = paintPattern(canvas, n, pattern.computed);
    const density = pattern.fraction ?? drawn;
    let outside = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (w[i * n + j] !== 0 && !pattern.computed(i, j)) outside++;
    $('density').textContent = `${(100 * density).toFixed(1)}% of the ${n}×${n} scores computed` +
      (density === 1 ? ' (all pairs).' : pattern.note ? ` (${pattern.note}).` : '.');
    return { density, drawn, patternFrom: 'definition', outside };
  }
  // Data-dependent patterns (LSH buckets, routing clusters, seeded random blocks): the pairs given a
  // non-zero weight are the ones computed; they differ from head to head.
  const drawn = paintPattern(canvas, n, (i, j) => w[i * n + j] !== 0);
  let nonzero = 0;
  for (let i = 0; i < p.heads * n * n; i++) if (w[i] !== 0) nonzero++;
  const density = nonzero / (p.heads * n * n);
  $('density').textContent = `${(100 * density).toFixed(1)}% of the ${n}×${n} pairs computed (data-dependent: pairs given weight, mean over heads).`;
  return { density, drawn, patternFrom: 'weights', outside: 0 };
}

async function render(): Promise<void> {
  const p = readParams();
  const variant = variants.find((v) => v.id === variantSelect.value) ?? variants[0];
  showParams(variant);
  const errors = validate(p, variant);
  const box = $('validation');
  box.replaceChildren(...errors.map((e) => Object.assign(document.createElement('li'), { textContent: e })));
  box.hidden = errors.length === 0;
  if (errors.length) {
    status.textContent = 'Not run: fix the values above.';
    document.body.dataset.state = 'invalid';
    return;
  }
  document.body.dataset.state = 'running';
  status.textContent = 'Computing…';
  await new Promise((r) => requestAnimationFrame(() => r(undefined)));
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
      grid.append(heatmapFigure(weights.data, h * p.n * p.n, p.n, `Head ${h}`, `attention weights, head ${h}`, (i, j) => `query ${i}, key ${j}`).figure);
    }
    const pattern = showPattern(variant, p, weights.data);
    status.textContent = `${variant.label}: ${timing.ms.toFixed(2)} ms per call (median of ${timing.runs}; ` +
      `1×${p.heads}×${p.n}×${p.headDim}, ${rt.isa}, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}). ` +
      `Weights for the heatmaps: ${weightsMs.toFixed(1)} ms.`;
    runs++;
    window.demo = { variant: variant.id, n: p.n, heads: p.heads, ...pattern, ms: timing.ms, runs, isa: rt.isa, threads: rt.threads };
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
  await showRealAttention();
}

void main();
