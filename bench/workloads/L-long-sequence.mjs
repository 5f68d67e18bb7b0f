// L — long-sequence attention variants: sliding window, global + local (Longformer /
// BigBird), segmented, LSH (Reformer) and low-rank (Linformer), each at N = 4k, 16k and 64k with
// 12 heads of size 64, batch 1 — time (median ms) and peak Wasm memory (rt.memoryBytes of a
// runtime created for the workload) — plus full attention at 4k, and two self-measured ratios:
//   L-growth-*   t(64k) / t(16k) of a variant (linear growth is 4×; the local-attention target is
//                ≤ 4.4), each time the best of 5 runs, the two sizes alternating;
//   L-LSH-vs-full-16k   t(full attention, 16k) / t(LSH, 16k): full attention at 16k takes ~1 min
//                per run here (3.3 TFLOP at 64k is out of reach; 16k is 0.8 TFLOP), more than the
//                timed path's 30 s limit, so this workload times one full run itself.
// --quick runs only the 4k workloads (the others report "skipped").
// Inputs are seeded uniform [−1, 1) Wasm-resident tensors, `out:` resident too (no copies per call).
// Each timed workload checks its output against a float64 evaluation of sampled rows (written
// here from each variant's definition — see test/reference/ for the full oracles).

import { Skip } from '../lib/util.mjs';
import { seededRandom } from '../engines/timing.mjs';

const H = 12;
const D = 64;
const K = 1024;

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

// ── variants ──────────────────────────────────────────────────────────────────────────────────

/** trax's default LSH bucket count for n tokens and 64-token chunks (explicit here for the check). */
const lshBuckets = (n) => {
  const nb = 2 * Math.max(1, Math.floor(n / 64));
  if (nb <= 128) return nb;
  const div = 2 ** Math.ceil(Math.log2(Math.sqrt(nb)));
  return [div, 2 * Math.floor(nb / (2 * div))];
};

const VARIANTS = {
  SW: {
    name: 'sliding window',
    text: () => 'rt.slidingWindowAttention, window 128 keys on each side (257 per row), not causal',
    run: (rt, t) => rt.slidingWindowAttention(t.q, t.k, t.v, { window: 128, out: t.o }),
  },
  GL: {
    name: 'global + local',
    text: () => 'rt.globalLocalAttention, window 128 each side + 16 global tokens (top-16 ‖q‖ per head) + BigBird random attention (2 blocks of 64 per 64-row block, seed 1)',
    options: { window: 128, global: { count: 16, by: 'query-norm' }, random: { blockSize: 64, blocks: 2, seed: 1 } },
    run(rt, t) {
      return rt.globalLocalAttention(t.q, t.k, t.v, { ...this.options, out: t.o });
    },
  },
  SEG: {
    name: 'segmented',
    text: () => 'rt.segmentedAttention, segments of 512 overlapping by 64 (exact log-sum-exp merge) + mean-pooled summary tokens',
    options: { segmentLength: 512, overlap: 64, summaries: true },
    run(rt, t) {
      return rt.segmentedAttention(t.q, t.k, t.v, { ...this.options, out: t.o });
    },
  },
  LSH: {
    name: 'LSH (Reformer)',
    text: (n) => `rt.lshAttention, shared QK, 2 hashing rounds, chunks of 64, buckets ${JSON.stringify(lshBuckets(n))} (trax default), seed 1`,
    run: (rt, t, n) => rt.lshAttention(t.q, null, t.v, { sharedQK: true, rounds: 2, chunkLength: 64, buckets: lshBuckets(n), seed: 1, out: t.o }),
  },
  LIN: {
    name: 'low-rank (Linformer)',
    text: () => 'rt.linformerAttention, k = 256, E and F (n × 256, seed 1 from rt.linformerProjections) resident in Wasm memory',
    run: (rt, t) => rt.linformerAttention(t.q, t.k, t.v, { e: t.e, f: t.f, out: t.o }),
  },
};

// ── inputs (shared by the engines of a workload, made once per N) ─────────────────────────────

const inputCache = new Map();
function inputs(n) {
  let x = inputCache.get(n);
  if (!x) {
    const random = seededRandom(0x10000 + n);
    const make = () => {
      const a = new Float32Array(H * n * D);
      for (let i = 0; i < a.length; i++) a[i] = random() * 2 - 1;
      return a;
    };
    x = { q: make(), k: make(), v: make() };
    inputCache.clear(); // keep one size alive (64k inputs are 600 MB)
    inputCache.set(n, x);
  }
  return x;
}

async function runtimeWith(engine, n, variant) {
  const { createRuntime, createRuntimeSync } = await loadLib();
  const rt = engine.threads > 1 ? await createRuntime({ isa: engine.isa, threads: engine.threads }) : createRuntimeSync({ isa: engine.isa });
  const x = inputs(n);
  const t = {
    q: rt.tensor([1, H, n, D], x.q),
    k: rt.tensor([1, H, n, D], x.k),
    v: rt.tensor([1, H, n, D], x.v),
    o: rt.tensor([1, H, n, D]),
  };
  if (variant === 'LIN') {
    const { e, f } = rt.linformerProjections({ length: n, k: 256, seed: 1 });
    t.e = rt.tensor(e.shape, e.data);
    t.f = rt.tensor(f.shape, f.data);
    t.ef = { e: e.data, f: f.data };
  }
  return { rt, t };
}

// ── float64 checks on sampled rows ────────────────────────────────────────────────────────────

/** Softmax attention of one query over explicit keys, float64. keys: [{ k, kOff, v, vOff, bias? }]. */
function attendRow(q, qOff, keys, scale) {
  const s = new Float64Array(keys.length);
  let max = -Infinity;
  keys.forEach((key, j) => {
    let dot = 0;
    for (let x = 0; x < D; x++) dot += q[qOff + x] * key.k[key.kOff + x];
    s[j] = scale * dot + (key.bias ?? 0);
    if (s[j] > max) max = s[j];
  });
  const out = new Float64Array(D);
  if (max === -Infinity) return { out, lse: -Infinity };
  let sum = 0;
  for (let j = 0; j < s.length; j++) sum += (s[j] = Math.exp(s[j] - max));
  keys.forEach((key, j) => {
    const w = s[j] / sum;
    for (let x = 0; x < D; x++) out[x] += w * key.v[key.vOff + x];
  });
  return { out, lse: max + Math.log(sum) };
}

function merge(a, b) {
  if (b.lse === -Infinity) return a;
  if (a.lse === -Infinity) return b;
  const m = Math.max(a.lse, b.lse);
  const ea = Math.exp(a.lse - m);
  const eb = Math.exp(b.lse - m);
  const out = new Float64Array(D);
  for (let x = 0; x < D; x++) out[x] = (a.out[x] * ea + b.out[x] * eb) / (ea + eb);
  return { out, lse: m + Math.log(ea + eb) };
}

const SAMPLE_HEADS = [0, 7];
const sampleRows = (n) => [0, 1, 63, 64, 65, 1000, Math.floor(n / 2), n - 65, n - 2, n - 1];
const keyOf = (x, h, n, j) => ({ k: x.k, kOff: (h * n + j) * D, v: x.v, vOff: (h * n + j) * D });

function mix(seed, a, b) {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of [a, b]) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

function mulberry(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Expected rows { h, i, out } of a variant, float64, from its definition. */
function expectedRows(variant, n, x, rt) {
  const scale = 1 / Math.sqrt(D);
  const rows = [];
  const push = (h, i, out) => rows.push({ h, i, out });
  let idsH;
  for (const h of SAMPLE_HEADS) {
    if (variant === 'SW') {
      for (const i of sampleRows(n)) {
        const keys = [];
        for (let j = Math.max(0, i - 128); j <= Math.min(n - 1, i + 128); j++) keys.push(keyOf(x, h, n, j));
        push(h, i, attendRow(x.q, (h * n + i) * D, keys, scale).out);
      }
    } else if (variant === 'GL') {
      const norms = Array.from({ length: n }, (_, i) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += x.q[(h * n + i) * D + d] ** 2;
        return s;
      });
      const G = Array.from({ length: n }, (_, i) => i).sort((a, b) => norms[b] - norms[a] || a - b).slice(0, 16);
      const gset = new Set(G);
      for (const i of [...sampleRows(n), G[0], G[5]]) {
        const set = new Set();
        if (gset.has(i)) for (let j = 0; j < n; j++) set.add(j);
        else {
          for (let j = Math.max(0, i - 128); j <= Math.min(n - 1, i + 128); j++) set.add(j);
          G.forEach((g) => set.add(g));
          const bs = 64;
          const qb = Math.floor(i / bs);
          const q0 = qb * bs;
          const q1 = Math.min(q0 + bs, n);
          const cand = [];
          for (let kb = 0; kb * bs < n; kb++) {
            const k0 = kb * bs;
            const k1 = Math.min(k0 + bs, n) - 1;
            if (k1 < q0 - 128 || k0 > q1 - 1 + 128) cand.push(kb);
          }
          const take = Math.min(2, cand.length);
          const next = mulberry(mix(1, h, qb));
          for (let t = 0; t < take; t++) {
            const pick = t + (next() % (cand.length - t));
            [cand[t], cand[pick]] = [cand[pick], cand[t]];
          }
          for (const kb of cand.slice(0, take)) for (let j = kb * bs; j < Math.min(kb * bs + bs, n); j++) set.add(j);
        }
        push(h, i, attendRow(x.q, (h * n + i) * D, [...set].map((j) => keyOf(x, h, n, j)), scale).out);
      }
    } else if (variant === 'SEG') {
      const S = 512;
      const o = 64;
      const segs = [];
      for (let s = 0; ; s++) {
        segs.push([s * (S - o), Math.min(s * (S - o) + S, n)]);
        if (s * (S - o) + S >= n) break;
      }
      const mean = (arr, [a, b]) => {
        const m = new Float64Array(D);
        for (let j = a; j < b; j++) for (let d = 0; d < D; d++) m[d] += arr[(h * n + j) * D + d] / (b - a);
        return m;
      };
      const sk = segs.map((s) => mean(x.k, s));
      const sv = segs.map((s) => mean(x.v, s));
      for (const i of sampleRows(n)) {
        const mine = segs.map(([a, b], s) => (i >= a && i < b ? s : -1)).filter((s) => s >= 0);
        const keys = [];
        for (let j = segs[mine[0]][0]; j < segs[mine[mine.length - 1]][1]; j++) keys.push(keyOf(x, h, n, j));
        segs.forEach((_, s) => {
          if (!mine.includes(s)) keys.push({ k: sk[s], kOff: 0, v: sv[s], vOff: 0 });
        });
        push(h, i, attendRow(x.q, (h * n + i) * D, keys, scale).out);
      }
    } else if (variant === 'LSH') {
      // The library's bucket ids (hashing itself is checked in test/attention/lsh.test.ts), then
      // sort by (bucket, position), chunks of 64 + the previous chunk (wrapping), shared QK keys
      // length-normalized with −1e5 on the token itself, 2 rounds merged by log-sum-exp.
      idsH ??= rt.lshHash({ data: x.q, shape: [1, H, n, D] }, { buckets: lshBuckets(n), rounds: 2, seed: 1 }).data;
      const kn = new Float64Array(n * D);
      for (let j = 0; j < n; j++) {
        let ms = 0;
        for (let d = 0; d < D; d++) ms += x.q[(h * n + j) * D + d] ** 2;
        const inv = 1 / Math.sqrt(ms / D + 1e-6);
        for (let d = 0; d < D; d++) kn[j * D + d] = x.q[(h * n + j) * D + d] * inv;
      }
      const wanted = sampleRows(n);
      const acc = new Map();
      const L = 64;
      const nChunks = Math.ceil(n / L);
      for (let r = 0; r < 2; r++) {
        const at = (h * 2 + r) * n;
        const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => idsH[at + a] - idsH[at + b] || a - b);
        const where = new Int32Array(n);
        order.forEach((p, s) => (where[p] = s));
        for (const i of wanted) {
          const c = Math.floor(where[i] / L);
          const prev = (c + nChunks - 1) % nChunks;
          const keys = [...order.slice(prev * L, prev * L + L), ...order.slice(c * L, c * L + L)].map((j) => ({
            k: kn, kOff: j * D, v: x.v, vOff: (h * n + j) * D, bias: j === i ? -1e5 : 0,
          }));
          const part = attendRow(x.q, (h * n + i) * D, keys, scale);
          acc.set(i, r === 0 ? part : merge(acc.get(i), part));
        }
      }
      for (const i of wanted) push(h, i, acc.get(i).out);
    } else if (variant === 'LIN') {
      const kd = 256;
      const kp = new Float64Array(kd * D);
      const vp = new Float64Array(kd * D);
      for (let j = 0; j < n; j++) {
        for (let r = 0; r < kd; r++) {
          const e = x.ef.e[j * kd + r];
          const f = x.ef.f[j * kd + r];
          const kr = (h * n + j) * D;
          for (let d = 0; d < D; d++) {
            kp[r * D + d] += e * x.k[kr + d];
            vp[r * D + d] += f * x.v[kr + d];
          }
        }
      }
      const keys = Array.from({ length: kd }, (_, r) => ({ k: kp, kOff: r * D, v: vp, vOff: r * D }));
      for (const i of sampleRows(n)) push(h, i, attendRow(x.q, (h * n + i) * D, keys, scale).out);
    }
  }
  return rows;
}

function maxError(rows, out, n) {
  let max = 0;
  for (const { h, i, out: want } of rows) {
    for (let d = 0; d < D; d++) {
      const e = Math.abs(out[(h * n + i) * D + d] - want[d]);
      if (!(e <= max)) max = Number.isNaN(e) ? Infinity : e;
    }
  }
  return max;
}

// ── workloads ─────────────────────────────────────────────────────────────────────────────────

const SIZES = [4 * K, 16 * K, 64 * K];
const label = (n) => `${n / K}k`;
const ORDER = { SW: 0, GL: 1, SEG: 2, LSH: 3, LIN: 4 };

function timedWorkload(variant, n) {
  const v = VARIANTS[variant];
  return {
    id: `L-${variant}-${label(n)}`,
    order: 600 + ORDER[variant] * 10 + SIZES.indexOf(n),
    title: `${v.name}, N=${n}, 12 heads, head size 64`,
    unit: 'ms',
    work: 0,
    workText: v.text(n),
    setup: {
      'wasm-attention': async (engine, ctx) => {
        if (ctx.quick && n > 4 * K) throw new Skip('--quick runs the 4k long-sequence workloads only');
        const { rt, t } = await runtimeWith(engine, n, variant);
        let expected;
        return {
          run: () => v.run(rt, t, n),
          check: () => {
            expected ??= expectedRows(variant, n, { ...inputs(n), ef: t.ef }, rt);
            return maxError(expected, t.o.data, n);
          },
          memoryBytes: () => rt.memoryBytes,
          dispose: () => rt.dispose(),
        };
      },
    },
  };
}

/** Best of `runs` timings after one warm-up run. */
function best(fn, runs = 3) {
  fn();
  let b = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

function growthWorkload(variant, target) {
  const v = VARIANTS[variant];
  return {
    id: `L-growth-${variant}`,
    order: 690 + ORDER[variant],
    title: `${v.name}: t(64k) / t(16k) (linear = 4)`,
    unit: '×',
    work: 0,
    workText: `ratio of the best of 5 runs at N=65536 and N=16384 (alternating, after a warm-up of each): ${v.text(64 * K)}`,
    targets: target ? [{ label: `L local (${v.name}) attention grows linearly: t(64k)/t(16k) ≤ 4.4`, engine: 'wasm-attention/relaxed/1t', atMost: 4.4 }] : [],
    setup: {
      'wasm-attention': async (engine, ctx) => {
        if (ctx.quick) throw new Skip('--quick runs the 4k long-sequence workloads only');
        return {
          async measure() {
            // Both sizes side by side, alternating, best of 5 each: machine noise hits both alike.
            const small = await runtimeWith(engine, 16 * K, variant);
            const large = await runtimeWith(engine, 64 * K, variant);
            try {
              const once = (x, n) => {
                const t0 = performance.now();
                v.run(x.rt, x.t, n);
                return performance.now() - t0;
              };
              once(small, 16 * K);
              once(large, 64 * K);
              let t16 = Infinity;
              let t64 = Infinity;
              for (let r = 0; r < 5; r++) {
                t16 = Math.min(t16, once(small, 16 * K));
                t64 = Math.min(t64, once(large, 64 * K));
              }
              return { value: t64 / t16, samples: [t16, t64], note: `t(16k) = ${t16.toFixed(0)} ms, t(64k) = ${t64.toFixed(0)} ms (best of 5, alternating)` };
            } finally {
              small.rt.dispose();
              large.rt.dispose();
            }
          },
        };
      },
    },
  };
}

const lshVsFull = {
  id: 'L-LSH-vs-full-16k',
  order: 699,
  title: 'LSH attention vs full attention at N=16384: t(full) / t(LSH)',
  unit: '×',
  work: 0,
  workText: `full: rt.attention (fused, online softmax), one run after a 1k warm-up; LSH: ${VARIANTS.LSH.text(16 * K)}, best of 3 after a warm-up; same runtime, same inputs`,
  targets: [{ label: 'L LSH at N=16k ≥ 4× faster than full attention at N=16k', engine: 'wasm-attention/relaxed/1t', atLeast: 4 }],
  setup: {
    'wasm-attention': async (engine, ctx) => {
      if (ctx.quick) throw new Skip('--quick runs the 4k long-sequence workloads only (full attention at 16k takes about a minute)');
      return {
        async measure() {
          const n = 16 * K;
          const { rt, t } = await runtimeWith(engine, n, 'LSH');
          try {
            const tl = best(() => VARIANTS.LSH.run(rt, t, n));
            const small = rt.tensor([1, H, 1024, D]);
            rt.attention(small, small, small); // warm-up at 1k
            small.dispose();
            const t0 = performance.now();
            rt.attention(t.q, t.k, t.v, { out: t.o });
            const tf = performance.now() - t0;
            return { value: tf / tl, samples: [tl, tf], note: `t(LSH) = ${tl.toFixed(0)} ms, t(full) = ${(tf / 1000).toFixed(1)} s (${(4 * H * n * n * D / tf / 1e6).toFixed(1)} GFLOP/s), peak Wasm memory ${(rt.memoryBytes / 2 ** 20).toFixed(0)} MiB` };
          } finally {
            rt.dispose();
          }
        },
      };
    },
  },
};

const full4k = {
  id: 'L-full-4k',
  order: 599,
  title: 'full attention (rt.attention), N=4096, 12 heads, head size 64 — the O(n²) baseline',
  unit: 'ms',
  work: 0,
  workText: 'rt.attention, not causal (51.5 GFLOP per call); at 16k see L-LSH-vs-full-16k',
  setup: {
    'wasm-attention': async (engine) => {
      const n = 4 * K;
      const { rt, t } = await runtimeWith(engine, n, 'SW');
      return { run: () => rt.attention(t.q, t.k, t.v, { out: t.o }), memoryBytes: () => rt.memoryBytes, dispose: () => rt.dispose() };
    },
  },
};

export default [
  full4k,
  ...Object.keys(VARIANTS).flatMap((variant) => SIZES.map((n) => timedWorkload(variant, n))),
  // The target is on local (sliding-window) attention; the other ratios are reported for
  // information (segmented with summaries is O(n·(S + n/S)), global + local adds O(g·n) and random
  // gathers whose cache behaviour changes between 16k and 64k).
  ...Object.keys(VARIANTS).map((variant) => growthWorkload(variant, variant === 'SW')),
  lshVsFull,
];
