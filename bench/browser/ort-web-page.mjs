// ort-web-page.mjs — onnxruntime-web (its wasm backend, one thread) as a bench engine inside the
// browser page: the same ONNX `Attention` graph the Node bench runs (bench/lib/onnx-models.mjs;
// built in Node, whose onnx-proto does not load in a page, and handed over as bytes), the same
// inputs, the output checked against the same float64 reference. `onnxruntime-web` is mapped by
// page.html's import map to the package's dist/ort.wasm.bundle.min.mjs (what `import
// 'onnxruntime-web/wasm'` gives a bundler), which fetches its .wasm beside itself.

import * as ort from 'onnxruntime-web';

/** The engine, for models given as { [workload id]: Uint8Array }. */
export function ortWebPageEngine(models) {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return {
    id: 'onnxruntime-web/1t',
    family: 'onnxruntime-web',
    short: 'ort-web/1t',
    label: `onnxruntime-web ${ort.env.versions?.web ?? ''} (wasm backend), 1 thread`,
    threads: 1,
    supports: (w) => w.kind === 'sdpa' && models[w.id] !== undefined,
    async prepare(w) {
      const { H, Nq, Nk, D } = w.params;
      const { q, k, v } = w.inputs();
      const session = await ort.InferenceSession.create(models[w.id], { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const feeds = {
        Q: new ort.Tensor('float32', q, [1, H, Nq, D]),
        K: new ort.Tensor('float32', k, [1, H, Nk, D]),
        V: new ort.Tensor('float32', v, [1, H, Nk, D]),
      };
      return {
        note: 'model: one ONNX Attention node (opset 23), 4-D inputs',
        run: () => session.run(feeds),
        check: async () => w.error((await session.run(feeds)).Y.data),
        dispose: () => session.release(),
      };
    },
  };
}
