// peak — this machine's Wasm multiply-add ceilings, measured on each binary instantiated directly
// (no runtime around it), no memory traffic:
//   peak       f32_peak_madd(iters, seed): 8 independent f32x4 multiply-add chains (iters·64 flops).
//              The GEMM targets compare to the relaxed-SIMD one: fastest sample against fastest
//              sample (noise can only slow these loops down).
//   peak-int8  the int8 loops of assembly/peak.ts, 8 chains each, a multiply-add counted as 2 ops:
//              qs8_peak_dot_i16x8 (i32x4.dot_i16x8_s on widened values: the simd128 int8 kernels'
//              instruction, 16 ops each), qs8_peak_relaxed_dot (i16x8.relaxed_dot_i8x16_i7x16_s +
//              a widening dot: the relaxed int8 kernels' sequence, 32 ops) and
//              qs8_peak_relaxed_dot_add (i32x4.relaxed_dot_i8x16_i7x16_add_s, 32 ops; no kernel uses
//              it: Node 20's baseline compiler drops its accumulator). The iteration counts give
//              every loop the same work per call.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../lib/util.mjs';

const ITERS = 1 << 21;

function exportsOf(isa) {
  const bytes = readFileSync(path.join(ROOT, 'dist', 'wasm', `${isa}.wasm`));
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
}

/** A prepared loop: `call()` runs one peak export; the sink keeps the result alive. */
function loop(fn, name, isa, note) {
  if (typeof fn !== 'function') throw new Error(`dist/wasm/${isa}.wasm has no ${name} export`);
  let sink = 0;
  return {
    note,
    run: () => {
      sink += fn();
    },
    dispose() {
      if (Number.isNaN(sink)) console.error(`(${name}: NaN sink)`);
    },
  };
}

const f32Peak = {
  id: 'peak',
  order: 10,
  singleThread: true,
  title: 'peak f32x4 multiply-add (8 independent chains)',
  unit: 'GFLOP/s',
  work: ITERS * 64,
  workText: `${((ITERS * 64) / 1e9).toFixed(3)} GFLOP per call (f32_peak_madd(${ITERS}): iters·8 chains·4 lanes·2 flops); the GEMM targets compare their fastest sample with this one's`,
  setup: {
    'wasm-attention': (engine) => {
      const e = exportsOf(engine.isa);
      return loop(() => e.f32_peak_madd(ITERS, 1e-7), 'f32_peak_madd', engine.isa,
        engine.isa === 'relaxed' ? 'f32x4.relaxed_madd (fused where the CPU has FMA)' : 'f32x4.mul + f32x4.add');
    },
  },
};

const INT8_ITERS = ITERS / 2; // 8 chains · 32 ops: the same G op per call as 2·ITERS rounds of dot_i16x8

const int8Peak = {
  id: 'peak-int8',
  order: 11,
  singleThread: true,
  title: 'peak int8 dot products (8 independent chains)',
  unit: 'G op/s',
  work: INT8_ITERS * 256,
  workText: `${((INT8_ITERS * 256) / 1e9).toFixed(3)} G op per call (a multiply-add is 2 ops): qs8_peak_dot_i16x8(${2 * INT8_ITERS}) at 8·16 ops per round, the relaxed loops (${INT8_ITERS}) at 8·32`,
  setup: {
    'wasm-attention': (engine) => {
      const e = exportsOf(engine.isa);
      const variants = [{
        variant: 'dot_i16x8',
        ...loop(() => e.qs8_peak_dot_i16x8(2 * INT8_ITERS, 1), 'qs8_peak_dot_i16x8', engine.isa, 'i32x4.dot_i16x8_s (8 multiply-adds): the simd128 int8 kernels\' instruction'),
      }];
      if (engine.isa === 'relaxed') {
        variants.push(
          { variant: 'relaxed dot', ...loop(() => e.qs8_peak_relaxed_dot(INT8_ITERS, 1), 'qs8_peak_relaxed_dot', engine.isa, 'i16x8.relaxed_dot_i8x16_i7x16_s + i32x4.dot_i16x8_s with ones (16 multiply-adds): the relaxed int8 kernels\' sequence') },
          { variant: 'relaxed dot-add', ...loop(() => e.qs8_peak_relaxed_dot_add(INT8_ITERS, 1), 'qs8_peak_relaxed_dot_add', engine.isa, 'i32x4.relaxed_dot_i8x16_i7x16_add_s (16 multiply-adds); unused by the kernels') },
        );
      }
      return { variants, dispose: () => variants.forEach((v) => v.dispose()) };
    },
  },
};

export default [f32Peak, int8Peak];
