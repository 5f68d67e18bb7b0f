// Node example: multi-head causal attention with wasm-attention, checked against plain JavaScript.
//
//   npm install wasm-attention
//   node attention.mjs            (add --experimental-wasm-relaxed-simd on Node 20 for the relaxed binary)
//
// Prints the binary in use, the time per call and the largest difference from a float64 loop,
// then the same as one JSON line (the package's tests run this file and read that line).
import { createRuntime } from 'wasm-attention';

const [batch, heads, seq, headDim] = [1, 4, 128, 64];
const shape = [batch, heads, seq, headDim];
let seed = 1;
const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const tensor = () => ({ data: Float32Array.from({ length: batch * heads * seq * headDim }, random), shape });
const q = tensor();
const k = tensor();
const v = tensor();

const rt = await createRuntime(); // relaxed SIMD when the engine validates it, else simd128
const y = rt.attention(q, k, v, { causal: true }); // { data: Float32Array, shape: [1, 4, 128, 64] }

const runs = 20;
const t0 = performance.now();
for (let r = 0; r < runs; r++) rt.attention(q, k, v, { causal: true, out: y });
const ms = (performance.now() - t0) / runs;

// The same in float64, one (head, query) row at a time: softmax(q·kᵀ/√d) over keys j ≤ i, times v.
let maxError = 0;
for (let h = 0; h < heads; h++) {
  const base = h * seq * headDim;
  for (let i = 0; i < seq; i++) {
    const scores = [];
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let d = 0; d < headDim; d++) s += q.data[base + i * headDim + d] * k.data[base + j * headDim + d];
      scores.push(s / Math.sqrt(headDim));
    }
    const max = Math.max(...scores);
    const p = scores.map((s) => Math.exp(s - max));
    const sum = p.reduce((a, b) => a + b, 0);
    for (let d = 0; d < headDim; d++) {
      let o = 0;
      for (let j = 0; j <= i; j++) o += (p[j] / sum) * v.data[base + j * headDim + d];
      maxError = Math.max(maxError, Math.abs(o - y.data[base + i * headDim + d]));
    }
  }
}

console.log(`kernels: ${rt.isa}, output shape [${y.shape.join(', ')}]`);
console.log(`${ms.toFixed(3)} ms per call, max |error| vs float64 ${maxError.toExponential(1)}`);
console.log(JSON.stringify({ isa: rt.isa, heads, seq, headDim, ms, maxError }));
rt.dispose();
