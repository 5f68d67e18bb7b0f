// quant-explain.mjs — explanations of the quantized targets when they are not met: report.mjs
// calls a target's `explain({ w, byId, mine, theirs })` with this run's results (the workload's,
// every workload's by id, and the two rows the target compared) and prints the sentence under the
// targets table. Each says where the time goes from numbers measured in the same run: the int8
// peak loops (peak-int8), the f32 one (peak), the block's parts (lib/quant-profile.mjs), the rate
// each weight format is read at.

const isaOf = (r) => r.engine.split('/')[1];
/** The int8 peak loop the kernels of `isa` use, from the peak-int8 workload of this run. */
function int8Ceiling(byId, isa) {
  const variant = isa === 'relaxed' ? 'relaxed dot' : 'dot_i16x8';
  const r = byId.get('peak-int8')?.results.find((x) => x.engine === `wasm-attention/${isa}/1t ${variant}` && x.status === 'ok');
  return r && { variant, best: r.bestValue ?? r.value };
}
const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (x) => `${(x * 100).toFixed(0)}%`;

/** int8 GEMM against a peer: how close our kernel is to the int8 instruction loop, and what that allows. */
export function explainInt8Gemm({ mine, theirs, byId }) {
  const c = int8Ceiling(byId, isaOf(mine));
  if (!c) return 'run the peak-int8 workload with it to see our kernel against the int8 instruction loop';
  const best = mine.bestValue ?? mine.value;
  return `our int8 GEMM (${mine.short}) reaches ${f(best)} G op/s in its fastest sample, ${pct(best / c.best)} of the int8 dot loop it is built on (peak-int8 ${c.variant}: ${f(c.best)} G op/s with no memory traffic, fastest sample); ${theirs.short} runs ${f(theirs.value)} G op/s, so even a kernel at the loop's speed would be ${f(c.best / theirs.value)}× it on this machine`;
}

/** int8 GEMM against our f32 GEMM: the two instruction loops' ratio bounds the kernels'. */
export function explainInt8VsF32({ mine, theirs, byId }) {
  const c = int8Ceiling(byId, isaOf(mine));
  const p = byId.get('peak')?.results.find((x) => x.engine === `wasm-attention/${isaOf(theirs)}/1t` && x.status === 'ok');
  if (!c || !p) return 'run the peak and peak-int8 workloads with it to compare the two instruction loops';
  const fBest = theirs.bestValue ?? theirs.value;
  const iBest = mine.bestValue ?? mine.value;
  const pBest = p.bestValue ?? p.value;
  return `the int8 loop (peak-int8 ${c.variant}, ${f(c.best)} G op/s) does ${f(c.best / pBest)}× the f32 multiply-add loop's ops (peak, ${f(pBest)} GFLOP/s) on this machine; our int8 GEMM runs at ${pct(iBest / c.best)} of its loop, the f32 GEMM at ${pct(fBest / pBest)} of its own (fastest samples)`;
}

/** The BERT block: our parts against onnxruntime's, both profiled at preparation in this run. */
export function explainBlock({ mine, theirs, byId }) {
  const [a, b] = [mine.profile, theirs.profile];
  if (!a || !b) return 'no profile recorded (the parts are timed at preparation, one thread)';
  const g3 = byId.get('Q-G3')?.results;
  const gemm = g3 && (() => {
    const ours = g3.filter((r) => r.variant === 'int8' && r.threads === 1 && r.status === 'ok').sort((x, y) => y.value - x.value)[0];
    const dq = g3.find((r) => r.family === 'onnxruntime-web' && r.variant === 'DynamicQuantizeMatMul' && r.status === 'ok');
    return ours && dq ? ` (Q-G3 in this run: ${f(ours.value / dq.value)}×)` : '';
  })();
  return `ours (${mine.short}): ${a.text}; ${theirs.short}: ${b.text}. Projections ${f(b.parts.projections / a.parts.projections)}× faster than onnxruntime-web's${gemm ?? ''}, attention ${f(b.parts.attention / a.parts.attention)}×; the projections are ${pct(a.parts.projections / a.parts.whole)} of our block, so its ratio follows the int8 GEMM's over DynamicQuantizeMatMul`;
}

/** Decode in a small format against f32: the rate each reads its weights at. */
export function explainDecode({ mine, theirs }) {
  const rate = (r) => r.weightBytes / r.medianMs / 1e6;
  return `${mine.short} reads its ${(mine.weightBytes / 2 ** 20).toFixed(1)} MiB at ${f(rate(mine))} GB/s, ${theirs.short} its ${(theirs.weightBytes / 2 ** 20).toFixed(1)} MiB at ${f(rate(theirs))} GB/s: the smaller format is bound by unpacking its codes and block scales, not by memory`;
}
