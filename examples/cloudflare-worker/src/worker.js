// Cloudflare Worker example: POST q, k, v (as flat number arrays) with their shape, get the
// attention output back as JSON. GET answers with usage and the kernel binary in use.
//
// `import ... from 'wasm-attention'` resolves through the package's `workerd` export condition
// (wrangler and `esbuild --conditions=workerd` pick it) to an entry that imports the shipped .wasm
// files as precompiled WebAssembly.Modules: Workers forbid compiling Wasm from bytes at run time.
import { AttentionError, createRuntime } from 'wasm-attention';

/** One runtime per isolate, created on the first request and reused. */
let runtime;

export default {
  async fetch(request) {
    runtime ??= await createRuntime();
    if (request.method !== 'POST') {
      return Response.json({
        usage: 'POST { "shape": [batch, heads, seq, headDim], "q": [...], "k": [...], "v": [...], "causal": false }',
        isa: runtime.isa,
      });
    }
    try {
      const { shape, q, k, v, causal = false } = await request.json();
      const tensor = (values) => ({ data: Float32Array.from(values), shape });
      const y = runtime.attention(tensor(q), tensor(k), tensor(v), { causal });
      return Response.json({ isa: runtime.isa, shape: y.shape, output: Array.from(y.data) });
    } catch (error) {
      const status = error instanceof AttentionError || error instanceof SyntaxError ? 400 : 500;
      return Response.json({ error: String(error.message ?? error), code: error.code }, { status });
    }
  },
};
