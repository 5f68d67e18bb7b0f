// page.mjs — the browser side of `npm run bench:browser` (bench/browser.mjs): loaded by page.html,
// it exposes window.runBenchWorkload(id, { quick, model }) which runs a standard workload
// (bench/workloads/<id>.mjs: seeded inputs, float64 reference) on wasm-attention (the bench's own
// engine module, bench/engines/wasm-attention.mjs, on dist/index.js: one row per kernel binary the
// engine validates) and onnxruntime-web, with run-workload.mjs, and returns the rows.
// window.benchEnvironment describes the page: user agent, crossOriginIsolated, timer resolution.

import { engines as wasmAttentionEngines } from '../engines/wasm-attention.mjs';
import { ortWebPageEngine } from './ort-web-page.mjs';
import { runWorkload } from './run-workload.mjs';

const { isaSupported } = await import('../../dist/index.js');

/** The smallest step of performance.now() seen in a busy loop of ~50 ms (ms). */
function timerResolution() {
  let smallest = Infinity;
  const end = performance.now() + 50;
  let last = performance.now();
  for (let now = last; now < end; now = performance.now()) {
    if (now > last) smallest = Math.min(smallest, now - last);
    last = now;
  }
  return smallest;
}

const fromBase64 = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

window.runBenchWorkload = async (id, { quick = false, model } = {}) => {
  const w = (await import(`../workloads/${id}.mjs`)).default;
  const ours = wasmAttentionEngines({ threads: [1] }).filter((e) => isaSupported(e.isa));
  const engines = [...ours, ortWebPageEngine(model ? { [id]: fromBase64(model) } : {})];
  return runWorkload(w, engines, { quick });
};

window.benchEnvironment = {
  userAgent: navigator.userAgent,
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  relaxed: isaSupported('relaxed'),
  timerResolutionMs: timerResolution(),
};
