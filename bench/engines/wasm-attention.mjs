// wasm-attention.mjs — this library as a bench engine: one engine per kernel binary (simd128,
// relaxed) and thread count. Inputs and outputs are Wasm-resident tensors (rt.tensor) passed with
// `out:`, so a timed call is the kernel work plus the library's per-call overhead, no copies.

import { Skip } from '../lib/util.mjs';

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

/** Sets up workload `w` on runtime `rt`: { run, output, note }. Also used by bench/profile.mjs. */
export function prepareKind(rt, w) {
  if (w.kind === 'gemm') {
    const { M, K, N } = w.params;
    const { a, b } = w.inputs();
    const at = rt.tensor([M, K], a);
    const bt = rt.tensor([K, N], b);
    const c = rt.tensor([M, N]);
    return { run: () => rt.matmul(at, bt, { out: c }), output: () => c.data };
  }
  if (w.kind === 'sdpa' && w.params.Nq === 1 && !w.params.causal) {
    // A4 (decode step) through the KV cache (rt.kvCache): the first Nk − 1 keys/values are
    // cached once; a timed call rolls the cache back to Nk − 1 tokens and runs one decode step
    // (append the new key/value, attend with the new query over all Nk keys, read in place).
    const { H, Nk, D } = w.params;
    const { q, k, v } = w.inputs();
    const cache = rt.kvCache({ heads: H, headDim: D, maxLength: Nk });
    const rows = (a, t0, t1) => {
      const out = new Float32Array(H * (t1 - t0) * D);
      for (let h = 0; h < H; h++) out.set(a.subarray((h * Nk + t0) * D, (h * Nk + t1) * D), h * (t1 - t0) * D);
      return out;
    };
    cache.append({ data: rows(k, 0, Nk - 1), shape: [1, H, Nk - 1, D] }, { data: rows(v, 0, Nk - 1), shape: [1, H, Nk - 1, D] });
    const qt = rt.tensor([1, H, 1, D], q);
    const kt = rt.tensor([1, H, 1, D], rows(k, Nk - 1, Nk));
    const vt = rt.tensor([1, H, 1, D], rows(v, Nk - 1, Nk));
    const o = rt.tensor([1, H, 1, D]);
    return {
      run: () => {
        cache.truncate(Nk - 1);
        cache.step(qt, kt, vt, { out: o });
      },
      output: () => o.data,
      note: 'through rt.kvCache: one decode step (append 1 key/value, attend over 2048 cached keys in place)',
    };
  }
  if (w.kind === 'sdpa') {
    const { H, Nq, Nk, D, causal } = w.params;
    const { q, k, v } = w.inputs();
    const qt = rt.tensor([1, H, Nq, D], q);
    const kt = rt.tensor([1, H, Nk, D], k);
    const vt = rt.tensor([1, H, Nk, D], v);
    const o = rt.tensor([1, H, Nq, D]);
    const options = causal ? { causal: true, out: o } : { out: o };
    return { run: () => rt.attention(qt, kt, vt, options), output: () => o.data };
  }
  if (w.kind === 'bert') {
    // A3 through rt.multiHeadAttention: the packed Wqkv [d, 3d] / bqkv are ONNX-layout fused
    // weights (onnxruntime's Attention `weights`), copied into Wasm memory once. One call = one
    // GEMM for Q|K|V, the fused kernel reading the heads in place, one GEMM for the output.
    const { N, d, H } = w.params;
    const t = w.inputs();
    const layer = rt.multiHeadAttention({
      dModel: d, numHeads: H,
      weights: {
        format: 'onnx', qkv: { data: t.wqkv, shape: [d, 3 * d] }, qkvBias: { data: t.bqkv, shape: [3 * d] },
        out: { data: t.wo, shape: [d, d] }, outBias: { data: t.bo, shape: [d] },
      },
    });
    const x = rt.tensor([1, N, d], t.x);
    const y = rt.tensor([1, N, d]);
    return {
      run: () => layer.forward(x, { out: y }),
      output: () => y.data,
      note: 'through rt.multiHeadAttention (fused QKV GEMM, heads read in place, output GEMM)',
    };
  }
  throw new Error(`wasm-attention: unsupported workload kind ${w.kind}`);
}

export function engines({ threads }) {
  const list = [];
  for (const isa of ['simd128', 'relaxed']) {
    for (const n of threads) {
      list.push({
        id: `wasm-attention/${isa}/${n}t`,
        family: 'wasm-attention',
        short: `${isa}/${n}t`,
        label: `wasm-attention (${isa} build), ${n} thread${n > 1 ? 's' : ''}`,
        isa,
        threads: n,
        ours: true,
        kinds: ['gemm', 'sdpa', 'bert'],
        supports(w) {
          return Boolean(w.setup?.['wasm-attention']) || this.kinds.includes(w.kind);
        },
        async prepare(w, ctx) {
          const { createRuntime, createRuntimeSync, isaSupported } = await loadLib();
          // Workloads that never run the binary in this process (sizes, cold start in a child
          // process with the flag) set `inProcess: false`.
          if (w.inProcess !== false && !isaSupported(isa)) {
            throw new Skip(`${isa} not supported by this engine${isa === 'relaxed' ? ' (run node with --experimental-wasm-relaxed-simd)' : ''}`);
          }
          if (w.setup?.['wasm-attention']) return w.setup['wasm-attention'](this, ctx);
          const rt = n > 1 ? await createRuntime({ isa, threads: n }) : createRuntimeSync({ isa });
          try {
            const p = prepareKind(rt, w);
            return {
              note: p.note,
              run: p.run,
              check: () => w.error(p.output()),
              memoryBytes: () => rt.memoryBytes,
              dispose: () => rt.dispose(),
            };
          } catch (e) {
            rt.dispose();
            throw e;
          }
        },
      });
    }
  }
  return list;
}
