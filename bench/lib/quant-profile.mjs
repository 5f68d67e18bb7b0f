// quant-profile.mjs — where the time of the BERT attention block with int8 weights goes, on each
// side, for the explanation of the Q-A3 target (lib/quant-explain.mjs): our layer's parts (the
// two int8 projection GEMMs and the fused attention, each called alone on the same runtime) and
// onnxruntime's (its four DynamicQuantizeMatMul alone, its MultiHeadAttention alone). Timed once
// at preparation, one thread, parts interleaved; the timed rows of the table stay the CLI's.

import { median } from './util.mjs';

/**
 * Profile timing of several parts: each warmed up for ≥ 300 ms (V8's optimizing tier, first
 * touches), then `rounds` rounds timing every part once in turn (noise hits all alike); medians.
 */
async function partTimes(parts, rounds = 9) {
  for (const run of Object.values(parts)) {
    const t0 = performance.now();
    while (performance.now() - t0 < 300) await run();
  }
  const ms = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(parts)) {
      const t = performance.now();
      await run();
      ms[name].push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
}

/**
 * Where the int8 block's time goes on our side, its parts timed apart on this runtime (the same
 * kernels the layer calls; `partTimes`): { parts: { projections, attention, whole } in ms, text }.
 */
export async function oursBlockProfile(rt, t, { N, d, H }, whole) {
  const D = d / H;
  const keep = [];
  const own = (x) => (keep.push(x), x);
  try {
    const qkv = own(rt.quantizeMatrix({ data: t.wqkv, shape: [d, 3 * d] }, { type: 'int8' }));
    const wo = own(rt.quantizeMatrix({ data: t.wo, shape: [d, d] }, { type: 'int8' }));
    const [x, a, y, y3] = [[N, d, t.x], [N, d, t.x], [N, d], [N, 3 * d]].map(([r, c, data]) => own(rt.tensor([r, c], data)));
    const [q, k, v, o] = [0, 1, 2, 3].map((i) => own(rt.tensor([1, H, N, D], i < 3 ? t.x : undefined)));
    const [bqkv, bo] = [t.bqkv, t.bo].map((b) => own(rt.tensor([b.length], b)));
    const ms = await partTimes({
      qkv: () => rt.matmul(x, qkv, { bias: bqkv, out: y3 }),
      attention: () => rt.attention(q, k, v, { out: o }),
      out: () => rt.matmul(a, wo, { bias: bo, out: y }),
      whole,
    });
    const parts = { projections: ms.qkv + ms.out, attention: ms.attention, whole: ms.whole };
    const f = (x) => x.toFixed(2);
    return {
      parts,
      text: `QKV int8 GEMM ${N}×${d}×${3 * d} ${f(ms.qkv)} ms + output int8 GEMM ${N}×${d}×${d} ${f(ms.out)} ms + fused attention [1, ${H}, ${N}, ${D}] ${f(ms.attention)} ms (each alone), whole block ${f(ms.whole)} ms`,
    };
  } finally {
    for (const x of keep) x.dispose();
  }
}

/** The same split for onnxruntime's q8 graph: its four DynamicQuantizeMatMul alone, MultiHeadAttention alone. */
export async function ortBlockProfile(engine, parts, x, { N, d }, whole) {
  const sessions = [];
  try {
    const runs = {};
    for (const [name, model] of Object.entries(parts)) {
      const { ort, session } = await engine.session(model.bytes);
      sessions.push(session);
      const feeds = Object.fromEntries(model.inputs.map((n) => [n, new ort.Tensor('float32', x, [1, N, d])]));
      runs[name] = () => session.run(feeds);
    }
    const ms = await partTimes({ ...runs, whole });
    const f = (v) => v.toFixed(2);
    return {
      parts: ms,
      text: `4 × DynamicQuantizeMatMul ${f(ms.projections)} ms + MultiHeadAttention ${f(ms.attention)} ms (each graph alone), whole graph ${f(ms.whole)} ms`,
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

