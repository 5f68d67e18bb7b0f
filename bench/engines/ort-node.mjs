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
  }));
}
