// S-ROUTE / S-PATHS — routing attention at N = 4096, 12 heads of 64, batch 1:
//   S-ROUTE-4k  Routing Transformer clustering: 16 k-means centroids per head (from
//               rt.routingCentroids on the inputs, seed 1, 10 rounds, computed once at setup and
//               passed resident, as a trained model would), each cluster takes its top 256 queries
//               and keys, attention within clusters, scatter-mean; not causal.
//   S-PATHS-4k  routing over paths: π = softmax(q·W_r) per head (W_r [12, 64, 3], seeded) over a
//               sliding window (128 each side), Reformer LSH (1 round, chunks of 64, seed 1) and the
//               clustering above; output = Σ_p π_p·O^(p).
// Inputs are seeded uniform [−1, 1) Wasm-resident tensors, `out:` resident.
// Checks (heads 0 and 7): S-ROUTE evaluates sampled rows in float64 from the definition (normalized
// q, k; top-256 per cluster by float64 scores; mean over the clusters holding the row), skipping a
// row or cluster whose membership sits within 1e-5 of the top-256 threshold (float32 may rank it
// differently); S-PATHS mixes, in float64 with float64 π, the outputs of the three paths run
// alone by the library (each path is checked by its own workload and tests).

import { seededRandom } from '../engines/timing.mjs';

const H = 12;
const D = 64;
const N = 4096;
const C = 16;
const W = 256;

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

let cached;
function inputs() {
  if (!cached) {
    const random = seededRandom(0x6002);
    const make = (n, s = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * s);
    cached = { q: make(H * N * D), k: make(H * N * D), v: make(H * N * D), wr: make(H * D * 3, 0.5) };
  }
  return cached;
}

async function setupRuntime(engine) {
  const { createRuntime, createRuntimeSync } = await loadLib();
  const rt = engine.threads > 1 ? await createRuntime({ isa: engine.isa, threads: engine.threads }) : createRuntimeSync({ isa: engine.isa });
  const x = inputs();
  const t = { q: rt.tensor([1, H, N, D], x.q), k: rt.tensor([1, H, N, D], x.k), v: rt.tensor([1, H, N, D], x.v), o: rt.tensor([1, H, N, D]) };
  const mu = rt.routingCentroids(t.q, t.k, { clusters: C, seed: 1, iterations: 10 });
  t.mu = rt.tensor(mu.shape, mu.data);
  t.muData = mu.data;
  return { rt, x, t };
}

const clusterOptions = (t) => ({ clusters: C, windowSize: W, centroids: t.mu });
const paths = (t) => [{ type: 'window', window: 128 }, { type: 'lsh', rounds: 1, chunkLength: 64, seed: 1 }, { type: 'routing', ...clusterOptions(t) }];

const normRows = (a, h) => Array.from({ length: N }, (_, i) => {
  const r = a.subarray((h * N + i) * D, (h * N + i + 1) * D);
  let s = 0;
  for (let e = 0; e < D; e++) s += r[e] * r[e];
  const n = Math.max(Math.sqrt(s), 1e-12);
  return Float64Array.from(r, (z) => z / n);
});

function expectedRouting(x, mu, h, wanted) {
  const scale = 1 / Math.sqrt(D);
  const qn = normRows(x.q, h);
  const kn = normRows(x.k, h);
  const members = [];
  for (let c = 0; c < C; c++) {
    const m = mu.subarray((h * C + c) * D, (h * C + c + 1) * D);
    const top = (rowsN) => {
      const s = rowsN.map((r, i) => {
        let d = 0;
        for (let e = 0; e < D; e++) d += r[e] * m[e];
        return [d, i];
      }).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      return { set: new Set(s.slice(0, W).map((z) => z[1])), list: s.slice(0, W).map((z) => z[1]), score: new Map(s.map(([d, i]) => [i, d])), cut: s[W - 1][0], next: s[W][0] };
    };
    members.push({ q: top(qn), k: top(kn) });
  }
  const out = [];
  for (const i of wanted) {
    let ambiguous = false;
    const acc = new Float64Array(D);
    let count = 0;
    for (const { q, k } of members) {
      if (Math.abs(q.score.get(i) - q.cut) < 1e-5 || Math.abs(q.score.get(i) - q.next) < 1e-5) ambiguous = true;
      if (!q.set.has(i)) continue;
      if (k.cut - k.next < 1e-5) ambiguous = true;
      const s = k.list.map((j) => {
        let d = 0;
        for (let e = 0; e < D; e++) d += x.q[(h * N + i) * D + e] * x.k[(h * N + j) * D + e];
        return scale * d;
      });
      const m = Math.max(...s);
      const p = s.map((z) => Math.exp(z - m));
      const sum = p.reduce((a, b) => a + b, 0);
      k.list.forEach((j, t) => {
        for (let e = 0; e < D; e++) acc[e] += (p[t] / sum) * x.v[(h * N + j) * D + e];
      });
      count++;
    }
    if (!ambiguous) out.push({ i, out: acc.map((z) => (count ? z / count : 0)) });
  }
  return out;
}

const SAMPLE = [0, 1, 63, 64, 65, 1000, 2048, 4031, 4094, 4095];

function maxErr(got, rows, h) {
  let max = 0;
  for (const { i, out } of rows) {
    for (let e = 0; e < D; e++) {
      const err = Math.abs(got[(h * N + i) * D + e] - out[e]);
      if (!(err <= max)) max = Number.isNaN(err) ? Infinity : err;
    }
  }
  return max;
}

const route = {
  id: 'S-ROUTE-4k',
  order: 720,
  title: `Routing Transformer clustering attention, N=${N}, ${C} clusters × top ${W}, 12 heads, head size 64`,
  unit: 'ms',
  work: 0,
  workText: `rt.routingAttention({ clusters: ${C}, windowSize: ${W}, centroids }) with centroids from rt.routingCentroids (seed 1, 10 k-means rounds, once at setup); not causal`,
  setup: {
    'wasm-attention': async (engine) => {
      const { rt, x, t } = await setupRuntime(engine);
      const t0 = performance.now();
      rt.routingCentroids(t.q, t.k, { clusters: C, seed: 1, iterations: 10 });
      const initMs = performance.now() - t0;
      return {
        run: () => rt.routingAttention(t.q, t.k, t.v, { ...clusterOptions(t), out: t.o }),
        check: () => {
          rt.routingAttention(t.q, t.k, t.v, { ...clusterOptions(t), out: t.o });
          const got = t.o.data;
          return Math.max(...[0, 7].map((h) => maxErr(got, expectedRouting(x, t.muData, h, SAMPLE), h)));
        },
        memoryBytes: () => rt.memoryBytes,
        note: `k-means initialization (rt.routingCentroids, 10 rounds): ${initMs.toFixed(0)} ms once`,
        dispose: () => rt.dispose(),
      };
    },
  },
};

const routed = {
  id: 'S-PATHS-4k',
  order: 721,
  title: `attention routed over 3 paths (window, LSH, clusters), N=${N}, 12 heads, head size 64`,
  unit: 'ms',
  work: 0,
  workText: 'rt.routedAttention: π = softmax(q·W_r) per head over [sliding window 128, LSH 1 round × chunks of 64, clustering 16 × 256]; output Σ_p π_p·O^(p)',
  setup: {
    'wasm-attention': async (engine) => {
      const { rt, x, t } = await setupRuntime(engine);
      const wr = rt.tensor([H, D, 3], x.wr);
      const options = () => ({ paths: paths(t), router: { weights: wr }, out: t.o });
      return {
        run: () => rt.routedAttention(t.q, t.k, t.v, options()),
        check: () => {
          const alone = paths(t).map((p) => {
            const o = rt.tensor([1, H, N, D]);
            if (p.type === 'window') rt.slidingWindowAttention(t.q, t.k, t.v, { window: p.window, out: o });
            else if (p.type === 'lsh') {
              const { type: _path, ...lsh } = p; // the path's own options, without its `type` tag (unknown keys are rejected)
              rt.lshAttention(t.q, t.k, t.v, { ...lsh, out: o });
            }
            else rt.routingAttention(t.q, t.k, t.v, { ...clusterOptions(t), out: o });
            const data = o.toArray();
            o.dispose();
            return data;
          });
          rt.routedAttention(t.q, t.k, t.v, options());
          const got = t.o.data;
          let max = 0;
          for (const h of [0, 7]) {
            for (const i of SAMPLE) {
              const logits = [0, 1, 2].map((p) => {
                let s = 0;
                for (let e = 0; e < D; e++) s += x.q[(h * N + i) * D + e] * x.wr[(h * D + e) * 3 + p];
                return s;
              });
              const m = Math.max(...logits);
              const ex = logits.map((l) => Math.exp(l - m));
              const sum = ex.reduce((a, b) => a + b, 0);
              for (let e = 0; e < D; e++) {
                let want = 0;
                for (let p = 0; p < 3; p++) want += (ex[p] / sum) * alone[p][(h * N + i) * D + e];
                const err = Math.abs(got[(h * N + i) * D + e] - want);
                if (!(err <= max)) max = Number.isNaN(err) ? Infinity : err;
              }
            }
          }
          return max;
        },
        memoryBytes: () => rt.memoryBytes,
        dispose: () => rt.dispose(),
      };
    },
  },
};

export default [route, routed];
