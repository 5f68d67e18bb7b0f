// Q-A1 — 8-bit attention (rt.attention with precision 'int8': SageAttention's smoothed int8 Q·Kᵀ,
// f32 softmax and P·V) against the f32 fused kernel, H=12, Dh=64, full, at N = 512 (A1's sizes)
// and N = 4096 (A5's). Both precisions run in the same runtime, samples interleaved (f32, int8,
// f32, …), so machine load hits both alike; the value is the int8 throughput and the note gives
// the f32 one and the ratio (also in `detail.speedup`, which Q-A1-4k's target reads). Work counted
// as float attention's: 4·H·N²·D per call.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sdpa } from '../lib/kinds.mjs';
import { timeInterleaved } from '../lib/measure.mjs';
import { median, ROOT } from '../lib/util.mjs';

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

/** Share of Q·Kᵀ in the f32 fused kernel, from bench/PROFILE.md's ablation (npm run bench:profile). */
function profiledShare() {
  try {
    const m = readFileSync(path.join(ROOT, 'bench', 'PROFILE.md'), 'utf8').match(/^\| Q·Kᵀ \([^|]*\| [\d.]+ \| (\d+)% \|/m);
    return m ? Number(m[1]) / 100 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why 8-bit attention misses its goal: int8 changes Q·Kᵀ alone (softmax and P·V stay f32), so the
 * whole gains at most 1 / (1 − f + f / r), with f Q·Kᵀ's share of the f32 kernel (the ablation of
 * bench/PROFILE.md) and r the int8 dot loop's advantage over the f32 multiply-add loop in this run
 * (peak-int8 against peak).
 */
function explainSpeedup({ mine, byId }) {
  const d = mine.detail;
  const isa = mine.engine.split('/')[1];
  const best = (id, engine) => {
    const r = byId.get(id)?.results.find((x) => x.engine === engine && x.status === 'ok');
    return r && (r.bestValue ?? r.value);
  };
  const int8 = best('peak-int8', `wasm-attention/${isa}/1t dot_i16x8`);
  const f32 = best('peak', `wasm-attention/${isa}/1t`);
  const f = profiledShare();
  const saved = `int8 takes ${d.int8Ms.toFixed(1)} ms against the f32 kernel's ${d.f32Ms.toFixed(1)} ms: only Q·Kᵀ runs in 8 bits (i32x4.dot_i16x8_s), softmax and P·V stay f32`;
  if (f === undefined || !int8 || !f32) return `${saved} (run the peak and peak-int8 workloads, and npm run bench:profile, for the bound)`;
  const r = int8 / f32;
  const bound = 1 / (1 - f + f / r);
  return `${saved}. Q·Kᵀ is ${(f * 100).toFixed(0)}% of the f32 kernel (bench/PROFILE.md, ablated builds); the int8 dot loop does ${r.toFixed(2)}× the f32 multiply-add loop's work in this run (peak-int8 dot_i16x8 ${int8.toFixed(1)} vs peak ${f32.toFixed(1)}), so even a Q·Kᵀ at that loop's full speed bounds the whole at 1 / (${(1 - f).toFixed(2)} + ${f.toFixed(2)} / ${r.toFixed(2)}) = ${bound.toFixed(2)}×; more needs P·V in 8 bits too (SageAttention2 quantizes P and V)`;
}

function qa1({ id, order, N, targets = [] }) {
  const H = 12, D = 64;
  const base = sdpa({ id, title: '', H, Nq: N, D, seed: N === 512 ? 21 : 25 });
  return {
    ...base,
    order,
    kind: 'sdpa-int8', // only wasm-attention runs it (through setup)
    targets,
    title: `8-bit SDPA (int8 Q·Kᵀ) vs f32 fused, H=${H}, N=${N}, Dh=${D}`,
    workText: `${(base.flops / 1e9).toFixed(3)} GFLOP per call (4·H·N²·D, counted as float attention)`,
    setup: {
      'wasm-attention': async (engine, ctx) => {
        const { createRuntime, createRuntimeSync } = await loadLib();
        const rt = engine.threads > 1 ? await createRuntime({ isa: engine.isa, threads: engine.threads }) : createRuntimeSync({ isa: engine.isa });
        const { q, k, v } = base.inputs();
        const shape = [1, H, N, D];
        const qt = rt.tensor(shape, q), kt = rt.tensor(shape, k), vt = rt.tensor(shape, v);
        const o32 = rt.tensor(shape), o8 = rt.tensor(shape);
        const runs = {
          f32: () => rt.attention(qt, kt, vt, { out: o32 }),
          int8: () => rt.attention(qt, kt, vt, { out: o8, precision: 'int8' }),
        };
        return {
          measure() {
            for (let i = 0; i < (ctx.quick ? 1 : 3); i++) for (const run of Object.values(runs)) run(); // warm-up
            const t = performance.now();
            runs.f32();
            const once = performance.now() - t;
            const reps = Math.max(1, Math.ceil(30 / once));
            const samples = ctx.quick ? 3 : Math.max(5, Math.min(15, Math.floor(8000 / (2 * reps * once))));
            const times = timeInterleaved(runs, samples, reps);
            const m32 = median(times.f32), m8 = median(times.int8);
            const gflops = (ms) => base.flops / ms / 1e6;
            const e32 = base.error(o32.data), e8 = base.error(o8.data);
            return {
              value: gflops(m8),
              samples: times.int8,
              detail: { speedup: m32 / m8, int8Ms: m8, f32Ms: m32 },
              note: `int8 ${m8.toFixed(2)} ms vs f32 fused ${m32.toFixed(2)} ms (${gflops(m32).toFixed(1)} GFLOP/s), ` +
                `same runtime, ${samples} interleaved samples of ${reps}: int8 / f32 = ${(m32 / m8).toFixed(2)}×; ` +
                `max |error| vs float64: int8 ${e8.toExponential(1)}, f32 ${e32.toExponential(1)}`,
            };
          },
          dispose: () => rt.dispose(),
        };
      },
    },
  };
}

export default [
  qa1({ id: 'Q-A1', order: 212, N: 512 }),
  qa1({
    id: 'Q-A1-4k', order: 252, N: 4096,
    targets: [{ label: 'Q-A1-4k 8-bit attention ≥ 1.5× the f32 fused kernel (N = 4096)', engine: 'wasm-attention/relaxed/1t', detail: 'speedup', atLeast: 1.5, explain: explainSpeedup }],
  }),
];
