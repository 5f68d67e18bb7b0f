// The demo page's "Real attention" view: the tiny Llama (stories260K, copied into dist/ by
// scripts/build-demo.mjs) generates N tokens greedily from BOS; llama-attention.ts computes every
// layer's weights with rt.attention on the model's real queries and keys; the view draws the chosen
// layer and head (query position × key position, causal: the upper triangle is 0, dark), with
// token ids in each cell's tooltip. stories260K's tokenizer is not in the repository, so the axes
// show positions and the sequence is listed as ids. After each draw the section's data-state is
// 'done' (or 'invalid' / 'error') and window.realAttention holds the shown matrix and its checks.

import { createRuntime, type Runtime } from 'wasm-attention';
import { parseLlama2cCheckpoint, type LlamaCheckpoint } from '../tiny-llama/loader';
import { heatmapFigure } from './heatmap';
import { type LlamaAttention, llamaAttention } from './llama-attention';

/** What the view shows (read by the browser test). */
export interface RealAttentionReport {
  ids: number[];
  n: number;
  layer: number;
  head: number;
  /** the drawn matrix, n × n row-major */
  weights: number[];
  /** max over rows of |Σ_j w_ij − 1| */
  maxRowSumError: number;
  /** largest weight above the diagonal (key after query: must be 0) */
  upperMax: number;
  /** computations of the model's weights so far (a refused input does not count) */
  runs: number;
}

declare global {
  interface Window {
    realAttention?: RealAttentionReport;
  }
}

/** Allowed sequence lengths (BOS plus generated tokens). */
export const REAL_N = { min: 2, max: 128 };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Sets up the view's controls and draws it once. */
export async function showRealAttention(): Promise<void> {
  const section = $('real');
  const status = $('real-status');
  const form = $<HTMLFormElement>('real-controls');
  const layerSelect = $<HTMLSelectElement>('real-layer');
  const headSelect = $<HTMLSelectElement>('real-head');
  let rt: Runtime | undefined;
  let checkpoint: LlamaCheckpoint | undefined;
  let result: LlamaAttention | undefined;
  let runs = 0;

  const draw = () => {
    if (!result) return;
    const { n, ids } = result;
    const layer = Number(layerSelect.value);
    const head = Number(headSelect.value);
    const w = result.weights[layer];
    const offset = head * n * n;
    const { figure } = heatmapFigure(w, offset, n, `Layer ${layer}, head ${head}`, `tiny Llama attention weights, layer ${layer}, head ${head}`,
      (i, j) => `query ${i} (id ${ids[i]}) → key ${j} (id ${ids[j]})`);
    $('real-figure').replaceChildren(figure);
    let maxRowSumError = 0;
    let upperMax = 0;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) {
        sum += w[offset + i * n + j];
        if (j > i) upperMax = Math.max(upperMax, Math.abs(w[offset + i * n + j]));
      }
      maxRowSumError = Math.max(maxRowSumError, Math.abs(sum - 1));
    }
    $('real-ids').textContent = ids.join(' ');
    window.realAttention = { ids, n, layer, head, weights: Array.from(w.subarray(offset, offset + n * n)), maxRowSumError, upperMax, runs };
    section.dataset.state = 'done';
  };

  const compute = async () => {
    const n = Number($<HTMLInputElement>('real-n').value);
    const message = $('real-validation');
    if (!Number.isInteger(n) || n < REAL_N.min || n > REAL_N.max) {
      message.textContent = `Tokens: an integer from ${REAL_N.min} to ${REAL_N.max} (got ${$<HTMLInputElement>('real-n').value || 'nothing'}).`;
      message.hidden = false;
      status.textContent = 'Not run: fix the value above.';
      section.dataset.state = 'invalid';
      return;
    }
    message.hidden = true;
    section.dataset.state = 'running';
    status.textContent = 'Generating…';
    try {
      rt ??= await createRuntime();
      if (!checkpoint) {
        const r = await fetch('./dist/stories260K.bin');
        if (!r.ok) throw new Error(`dist/stories260K.bin: HTTP ${r.status} (run \`npm run build:demo\`)`);
        checkpoint = parseLlama2cCheckpoint(await r.arrayBuffer(), { name: 'stories260K.bin' });
        const c = checkpoint.config;
        layerSelect.replaceChildren(...Array.from({ length: c.nLayers }, (_, i) => new Option(String(i), String(i))));
        headSelect.replaceChildren(...Array.from({ length: c.nHeads }, (_, i) => new Option(String(i), String(i))));
      }
      const t0 = performance.now();
      result = llamaAttention(rt, checkpoint, n);
      runs++;
      const c = checkpoint.config;
      status.textContent = `stories260K (dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} query heads, ${c.nKvHeads} key/value heads): ` +
        `${result.n} tokens, weights of every layer in ${(performance.now() - t0).toFixed(0)} ms (${rt.isa}).`;
      draw();
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : String(error);
      section.dataset.state = 'error';
    }
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void compute();
  });
  $('real-n').addEventListener('change', () => void compute());
  layerSelect.addEventListener('change', draw);
  headSelect.addEventListener('change', draw);
  await compute();
}
