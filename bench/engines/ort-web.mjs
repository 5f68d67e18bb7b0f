// ort-web.mjs — onnxruntime-web (wasm backend) as a comparison engine: for the bench CLI
// (`engines`), and a one-node ONNX `Attention` session for the demo (`ortWebAttentionSession`).
// Models are built in memory with onnx-proto (bench/lib/onnx-models.mjs).

import * as ort from 'onnxruntime-web';
import { attentionModel } from '../lib/onnx-models.mjs';
import { ortEngine } from '../lib/ort-engine.mjs';
import { Skip } from '../lib/util.mjs';

let configuredThreads;

/** onnxruntime-web reads env.wasm.numThreads once, when its Wasm module is first initialized. */
function configure(threads) {
  if (configuredThreads === undefined) {
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = 'error';
    configuredThreads = threads;
  } else if (configuredThreads !== threads) {
    throw new Skip(`onnxruntime-web already initialized with ${configuredThreads} thread(s) in this process; run --threads ${threads} separately`);
  }
  return ort;
}

/** Bench engines, one per thread count. */
export function engines({ threads }) {
  return threads.map((n) => ortEngine({
    family: 'onnxruntime-web',
    short: 'ort-web',
    label: 'onnxruntime-web 1.30 (wasm backend)',
    threads: n,
    load: async (t) => configure(t),
    sessionOptions: () => ({ executionProviders: ['wasm'], graphOptimizationLevel: 'all' }),
  }));
}

/** A session computing Y = Attention(Q, K, V) on [1, H, N, D] inputs; `run` returns Y's data. */
export async function ortWebAttentionSession(shape, causal = false) {
  configure(1);
  const [, H, N, D] = shape;
  const model = attentionModel(H, N, N, D, causal);
  const session = await ort.InferenceSession.create(model.bytes, { executionProviders: ['wasm'] });
  return {
    async run(q, k, v) {
      const feeds = {
        Q: new ort.Tensor('float32', q, shape),
        K: new ort.Tensor('float32', k, shape),
        V: new ort.Tensor('float32', v, shape),
      };
      const { Y } = await session.run(feeds);
      return Y.data;
    },
  };
}
