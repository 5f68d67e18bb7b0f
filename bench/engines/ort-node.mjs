// ort-node.mjs — onnxruntime-node (native CPU execution provider, MLAS kernels): the native
// ceiling. Same in-memory models as onnxruntime-web.

import { ortEngine } from '../lib/ort-engine.mjs';

let ortNode;

export function engines({ threads }) {
  return threads.map((n) => ortEngine({
    family: 'onnxruntime-node',
    short: 'ort-node',
    label: 'onnxruntime-node 1.30 (native CPU)',
    threads: n,
    load: async () => (ortNode ??= (await import('onnxruntime-node')).default),
    sessionOptions: (t) => ({
      executionProviders: ['cpu'], intraOpNumThreads: t, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    }),
    // With more than one thread, onnxruntime's pool threads spin for tens of milliseconds after a
    // run (its default, kept: it is onnxruntime's best latency). Measured here: a 2-thread A1 run
    // right after an onnxruntime-node/2t run took 23-25 ms instead of 18-19 (30 ms later still
    // 23 ms; 100 ms later unaffected). So the next engine's sample waits until they have stopped.
    settleMs: n > 1 ? 100 : 0,
  }));
}
