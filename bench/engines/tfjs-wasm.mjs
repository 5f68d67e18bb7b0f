// tfjs-wasm.mjs — TensorFlow.js with @tensorflow/tfjs-backend-wasm (XNNPACK kernels, SIMD build),
// as a user would compose attention from ops: matMul(Q, Kᵀ)·scale (+ causal mask) → softmax → ·V.

import { createRequire } from 'node:module';
import path from 'node:path';
import { Skip } from '../lib/util.mjs';

let tfPromise;
let configuredThreads;

async function loadTf(threads) {
  if (configuredThreads !== undefined && configuredThreads !== threads) {
    throw new Skip(`tfjs-backend-wasm already initialized with ${configuredThreads} thread(s) in this process`);
  }
  configuredThreads = threads;
  tfPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dir + path.sep);
    wasm.setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
    await tf.ready();
    return tf;
  })();
  return tfPromise;
}

/**
 * Attention on [H, Nq, D] / [H, Nk, D] tensors, composed from tfjs ops two ways:
 *   'batched'  3-D matMul(Q, K, transposeB)·scale (+ mask) → softmax → 3-D matMul(·, V)
 *   'per-head' Kᵀ by one transpose, then per head 2-D matMul(Q, Kᵀ)·scale (+ mask) → softmax →
 *              matMul(·, V), each head in its own tidy (one score matrix alive at a time)
 * tfjs-backend-wasm reaches XNNPACK's GEMM only for 2-D matMul without transposeB, but XNNPACK
 * packs the right-hand matrix on every call, so which is faster depends on the shape; the engine
 * times both at preparation and keeps the faster (see `pickFaster`).
 */
function attend(tf, variant, q, k, v, { D, mask }) {
  return tf.tidy(() => {
    const scale = tf.scalar(1 / Math.sqrt(D));
    if (variant === 'batched') {
      let s = tf.mul(tf.matMul(q, k, false, true), scale);
      if (mask) s = tf.add(s, mask);
      return tf.matMul(tf.softmax(s), v);
    }
    const qs = tf.unstack(q);
    const kts = tf.unstack(tf.transpose(k, [0, 2, 1]));
    const vs = tf.unstack(v);
    const heads = qs.map((qh, h) => tf.tidy(() => {
      let s = tf.mul(tf.matMul(qh, kts[h]), scale);
      if (mask) s = tf.add(s, mask);
      return tf.matMul(tf.softmax(s), vs[h]);
    }));
    return tf.stack(heads);
  });
}

/** Times each variant's compute (1 warm-up + 2 runs) and returns the faster (or the only one). */
function pickFaster(variants) {
  const names = Object.keys(variants);
  if (names.length === 1) return { name: names[0], compute: variants[names[0]], why: '' };
  const timed = Object.entries(variants).map(([name, compute]) => {
    compute().dispose();
    const times = [];
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      compute().dispose();
      times.push(performance.now() - t);
    }
    return { name, compute, ms: Math.min(...times) };
  }).sort((a, b) => a.ms - b.ms);
  const [best, other] = timed;
  return { ...best, why: other ? ` (chosen over ${other.name} at preparation: ${best.ms.toFixed(1)} vs ${other.ms.toFixed(1)} ms)` : '' };
}

// The batched variant materializes all heads' scores at once; above this it is not tried.
const BATCHED_SCORE_LIMIT = 128 * 2 ** 20;

function prepareKind(tf, w) {
  const keep = [];
  const t = (data, shape) => {
    const x = tf.tensor(data, shape, 'float32');
    keep.push(x);
    return x;
  };
  let compute;
  let note;
  if (w.kind === 'gemm') {
    const { M, K, N } = w.params;
    const { a, b } = w.inputs();
    const at = t(a, [M, K]);
    const bt = t(b, [K, N]);
    compute = () => tf.matMul(at, bt);
    note = 'tf.matMul';
  } else if (w.kind === 'sdpa') {
    const { H, Nq, Nk, D, causal } = w.params;
    const { q, k, v } = w.inputs();
    const qt = t(q, [H, Nq, D]);
    const kt = t(k, [H, Nk, D]);
    const vt = t(v, [H, Nk, D]);
    let mask;
    if (causal) {
      const m = new Float32Array(Nq * Nk);
      for (let i = 0; i < Nq; i++) for (let j = i + Nk - Nq + 1; j < Nk; j++) m[i * Nk + j] = -1e9;
      mask = t(m, [Nq, Nk]);
    }
    const variants = { 'per-head': () => attend(tf, 'per-head', qt, kt, vt, { D, mask }) };
    if (H * Nq * Nk * 4 <= BATCHED_SCORE_LIMIT) variants.batched = () => attend(tf, 'batched', qt, kt, vt, { D, mask });
    const best = pickFaster(variants);
    compute = best.compute;
    note = `${best.name}: matMul(Q, Kᵀ)·scale${causal ? ' + additive causal mask' : ''} → softmax → matMul(·, V)${best.why}`;
  } else if (w.kind === 'bert') {
    const { N, d, H, D } = w.params;
    const p = w.inputs();
    const x = t(p.x, [N, d]);
    const W = [p.wq, p.wk, p.wv].map((m) => t(m, [d, d]));
    const B = [p.bq, p.bk, p.bv].map((m) => t(m, [d]));
    const wo = t(p.wo, [d, d]);
    const bo = t(p.bo, [d]);
    const block = (variant) => () => tf.tidy(() => {
      const [q, k, v] = [0, 1, 2].map((i) => tf.transpose(tf.reshape(tf.fused.matMul({ a: x, b: W[i], bias: B[i] }), [N, H, D]), [1, 0, 2]));
      const a = attend(tf, variant, q, k, v, { D });
      const merged = tf.reshape(tf.transpose(a, [1, 0, 2]), [N, d]);
      return tf.reshape(tf.fused.matMul({ a: merged, b: wo, bias: bo }), [1, N, d]);
    });
    const best = pickFaster({ 'per-head': block('per-head'), batched: block('batched') });
    compute = best.compute;
    note = `fused.matMul(+bias) projections, reshape/transpose to [H, N, D], ${best.name} attention, output fused.matMul${best.why}`;
  } else {
    throw new Error(`tfjs-wasm: unsupported workload kind ${w.kind}`);
  }
  return { compute, keep, note };
}

export function engines({ threads }) {
  return threads.map((n) => ({
    id: `tfjs-wasm/${n}t`,
    family: 'tfjs-wasm',
    short: `tfjs/${n}t`,
    label: `@tensorflow/tfjs-backend-wasm 4.22 (XNNPACK), ${n} thread${n > 1 ? 's' : ''}`,
    threads: n,
    kinds: ['gemm', 'sdpa', 'bert'],
    supports(w) {
      return Boolean(w.setup?.['tfjs-wasm']) || this.kinds.includes(w.kind);
    },
    async prepare(w, ctx) {
      if (w.setup?.['tfjs-wasm']) return w.setup['tfjs-wasm'](this, ctx);
      const tf = await loadTf(n);
      const { compute, keep, note } = prepareKind(tf, w);
      return {
        note,
        run: () => compute().dispose(),
        check: () => {
          const y = compute();
          const err = w.error(y.dataSync());
          y.dispose();
          return err;
        },
        dispose: () => keep.forEach((x) => x.dispose()),
      };
    },
  }));
}
