// peak — this machine's Wasm multiply-add ceiling: the raw kernel export f32_peak_madd(iters, seed)
// runs 8 independent f32x4 multiply-add chains (iters·64 flops, no memory traffic). Measured on
// each binary, instantiated directly (no runtime around it). The GEMM targets compare to the
// relaxed-SIMD ceiling: fastest sample against fastest sample (noise can only slow these loops down).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../lib/util.mjs';

const ITERS = 1 << 21;

export default {
  id: 'peak',
  order: 10,
  singleThread: true,
  title: 'peak f32x4 multiply-add (8 independent chains)',
  unit: 'GFLOP/s',
  work: ITERS * 64,
  workText: `${((ITERS * 64) / 1e9).toFixed(3)} GFLOP per call (f32_peak_madd(${ITERS}): iters·8 chains·4 lanes·2 flops); the GEMM targets compare their fastest sample with this one's`,
  setup: {
    'wasm-attention': (engine) => {
      const bytes = readFileSync(path.join(ROOT, 'dist', 'wasm', `${engine.isa}.wasm`));
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      const peak = instance.exports.f32_peak_madd;
      if (typeof peak !== 'function') throw new Error(`dist/wasm/${engine.isa}.wasm has no f32_peak_madd export`);
      let sink = 0;
      return {
        note: engine.isa === 'relaxed' ? 'f32x4.relaxed_madd (fused where the CPU has FMA)' : 'f32x4.mul + f32x4.add',
        run: () => {
          sink += peak(ITERS, 1e-7);
        },
        dispose() {
          if (Number.isNaN(sink)) console.error('(peak: NaN sink)');
        },
      };
    },
  },
};
