// ort-engine.mjs — one engine implementation for both onnxruntime-web and onnxruntime-node (the
// two packages share the InferenceSession / Tensor API). Models come from onnx-models.mjs; workloads
// with their own models (the quantized ones) open sessions through `engine.session(bytes)`.
//
// Both packages register their backends in onnxruntime-common, and a 'cpu' session lands on
// whichever registered 'cpu' last with the higher priority. In this process they do not meet:
// onnxruntime-web's Node build is ES modules and imports onnxruntime-common's ESM build, while
// onnxruntime-node is CommonJS and requires its CJS build — two module instances, two registries.
// Every onnxruntime-node session is still checked to run on the native binding (`assertNative`),
// so a change in either package's packaging fails loudly instead of timing Wasm as "native".

import { attentionModel, bertModel, matmulModel } from './onnx-models.mjs';
import { median } from './util.mjs';

/** The class onnxruntime-node's native session handler has (onnxruntime-web's is a minified name). */
const NATIVE_HANDLER = 'OnnxruntimeSessionHandler';

function assertNative(family, session) {
  const name = session.handler?.constructor?.name;
  if (family === 'onnxruntime-node' && name !== NATIVE_HANDLER) {
    throw new Error(`onnxruntime-node session runs on handler "${name}", not the native ${NATIVE_HANDLER}: the backend registry is shared with onnxruntime-web — run the two in separate processes (--engines)`);
  }
}

/**
 * @param {object} o
 * @param {string} o.family   'onnxruntime-web' | 'onnxruntime-node'
 * @param {string} o.short    column label
 * @param {string} o.label    human description
 * @param {number} o.threads
 * @param {(threads: number) => Promise<any>} o.load  returns the ort module, configured
 * @param {(threads: number) => object} o.sessionOptions
 * @param {number} [o.settleMs]  idle time after each sample (see measure.mjs), for thread pools
 *   that keep spinning after a run
 */
export function ortEngine({ family, short, label, threads, load, sessionOptions, settleMs = 0 }) {
  return {
    id: `${family}/${threads}t`,
    family,
    short: `${short}/${threads}t`,
    label: `${label}, ${threads} thread${threads > 1 ? 's' : ''}`,
    threads,
    kinds: ['gemm', 'sdpa', 'bert'],
    settleMs,
    supports(w) {
      return Boolean(w.setup?.[family]) || this.kinds.includes(w.kind);
    },
    /**
     * A session of this engine (its thread count and options, `overrides` on top) for a workload's
     * own model: { ort, session }.
     */
    async session(bytes, overrides = {}) {
      const ort = await load(threads);
      const session = await ort.InferenceSession.create(bytes, { ...sessionOptions(threads), ...overrides });
      try {
        assertNative(family, session);
      } catch (e) {
        await session.release();
        throw e;
      }
      return { ort, session };
    },
    async prepare(w, ctx) {
      if (w.setup?.[family]) return w.setup[family](this, ctx);
      const ort = await load(threads);
      const create = async (bytes) => (await this.session(bytes)).session;
      const tensors = (shapes, data) => Object.fromEntries(
        Object.entries(shapes).map(([name, shape]) => [name, new ort.Tensor('float32', data[name], shape)]),
      );
      let model;
      let feeds;
      let session;
      let note;
      if (w.kind === 'gemm') {
        const { M, K, N } = w.params;
        const { a, b } = w.inputs();
        model = matmulModel(M, K, N);
        feeds = tensors(model.shapes, { A: a, B: b });
      } else if (w.kind === 'sdpa') {
        const { H, Nq, Nk, D, causal } = w.params;
        const { q, k, v } = w.inputs();
        model = attentionModel(H, Nq, Nk, D, causal);
        feeds = tensors(model.shapes, { Q: q, K: k, V: v });
      } else if (w.kind === 'bert') {
        // Both graphs an onnxruntime user could write; keep the faster one (a fair competitor).
        const data = w.inputs();
        const timings = [];
        for (const variant of ['mha', 'packed']) {
          const m = bertModel(variant, w.params, data);
          const f = tensors(m.shapes, { x: data.x });
          let s;
          try {
            s = await create(m.bytes);
            await s.run(f);
            const times = [];
            for (let i = 0; i < 3; i++) {
              const t = performance.now();
              await s.run(f);
              times.push(performance.now() - t);
            }
            timings.push({ m, f, s, ms: median(times) });
          } catch (e) {
            await s?.release();
            timings.push({ m, error: e });
          }
        }
        const ok = timings.filter((t) => t.s).sort((x, y) => x.ms - y.ms);
        if (!ok.length) throw timings[0].error;
        for (const t of ok.slice(1)) await t.s.release();
        ({ m: model, f: feeds, s: session } = ok[0]);
        note = `model: ${model.description}` + (ok.length > 1
          ? ` (faster here than ${ok[1].m.description}: ${ok[0].ms.toFixed(1)} vs ${ok[1].ms.toFixed(1)} ms)`
          : timings.find((t) => t.error) ? ` (other graph failed: ${timings.find((t) => t.error).error.message})` : '');
      } else {
        throw new Error(`${family}: unsupported workload kind ${w.kind}`);
      }
      session ??= await create(model.bytes);
      const outName = session.outputNames[0];
      return {
        note: note ?? `model: ${model.description}`,
        run: () => session.run(feeds),
        settleMs,
        async check() {
          const r = await session.run(feeds);
          return w.error(r[outName].data);
        },
        dispose: () => session.release(),
      };
    },
  };
}
