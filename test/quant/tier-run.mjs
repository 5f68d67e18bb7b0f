// tier-run.mjs — runs the integer kernels of one binary on fixed inputs and prints their outputs,
// for test/quant/tiers.test.ts, which starts it under V8's baseline compiler only
// (--liftoff --no-wasm-tier-up) and under the optimizing compiler only (--no-liftoff): both
// tiers must give the exact results (Node 20's Liftoff once returned 2·dot for
// i32x4.relaxed_dot_i8x16_i7x16_add_s, which the kernels therefore do not use).
//
//   node --experimental-wasm-relaxed-simd [tier flags] test/quant/tier-run.mjs <simd128|relaxed>
//
// Prints one JSON object: { int8, q8_0, q4_0, qb4w } → arrays of float32 bit patterns.
// `inputs()` is exported so the test computes references from the same data.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fixed inputs: an int8 product (m 9, k 37, n 19; the tile and the matrix-vector kernels) and block products (m 5, k 96, n 7). */
export function inputs() {
  const next = rng(2024);
  const f32s = (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
  const u8s = (n) => Uint8Array.from({ length: n }, () => (next() * 256) | 0);
  const int8 = { m: 9, k: 37, n: 19 };
  int8.a = f32s(int8.m * int8.k, -2, 1);
  int8.b = Int8Array.from(u8s(int8.k * int8.n), (v) => (v << 24) >> 24);
  int8.scale = f32s(int8.n, 0.001, 0.02);
  const blocks = { m: 5, k: 96, n: 7 };
  blocks.a = f32s(blocks.m * blocks.k, -3, 2);
  const withScales = (bytes, size) => {
    for (let t = 0; t < bytes.length / size; t++) bytes.set([(next() * 256) | 0, 0x20 + ((next() * 16) | 0)], t * size); // f16 in [2⁻⁷, 2⁻³)
    return bytes;
  };
  blocks.q8_0 = withScales(u8s(blocks.n * 3 * 34), 34);
  blocks.q4_0 = withScales(u8s(blocks.n * 3 * 18), 18);
  blocks.qb4w = u8s(blocks.n * 3 * 16);
  blocks.scales = f32s(blocks.n * 3, 0.01, 0.1);
  blocks.zeroPoints = u8s(blocks.n * 2);
  return { int8, blocks };
}

/** Runs every kernel of `isa` on inputs(); returns the outputs as float32 bit patterns. */
export function run(isa) {
  const e = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(`../../dist/wasm/${isa}.wasm`, import.meta.url))), {}).exports;
  let top = (e.heap_base() + 63) & ~63;
  const alloc = (bytes) => {
    const p = top;
    top = (top + bytes + 79) & ~15;
    const need = top - e.memory.buffer.byteLength;
    if (need > 0) e.memory.grow(Math.ceil(need / 65536));
    new Uint8Array(e.memory.buffer, p, bytes).fill(0);
    return p;
  };
  const put = (v) => {
    const p = alloc(v.byteLength);
    new Uint8Array(e.memory.buffer, p, v.byteLength).set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return p;
  };
  const params = (prefix, fields) => {
    const p = alloc(e[`${prefix}PARAMS_BYTES`].value);
    const view = new DataView(e.memory.buffer);
    for (const [k, v] of Object.entries(fields)) view.setInt32(p + e[`${prefix}${k}`].value, v, true);
    return p;
  };
  const bits = (p, n) => Array.from(new Uint32Array(e.memory.buffer, p, n));
  const { int8, blocks } = inputs();
  const out = {};
  {
    const { m, k, n } = int8;
    const packed = alloc(e.qc8w_gemm_packed_b_bytes(n, k));
    e.qc8w_gemm_pack_b(params('QPACK_', { B: put(int8.b), LDB: n, N: n, K: k, SCALE: put(int8.scale), SCALE_STRIDE: 1, DST: packed }));
    const c = alloc(m * n * 4);
    e.qd8_f32_qc8w_gemm(params('QGEMM_', {
      A: put(int8.a), LDA: k, B: packed, C: c, LDC: n, M: m, N: n, K: k, WORKSPACE: alloc(e.qd8_f32_qc8w_gemm_workspace_bytes(m, k)),
    }));
    out.int8 = bits(c, m * n);
  }
  for (const format of ['q8_0', 'q4_0', 'qb4w']) {
    const { m, k, n } = blocks;
    const c = alloc(m * n * 4);
    e[`qd8_f32_${format}_gemm`](params('QB_', {
      A: put(blocks.a), LDA: k, W: put(blocks[format]), SCALES: format === 'qb4w' ? put(blocks.scales) : 0,
      ZERO_POINTS: format === 'qb4w' ? put(blocks.zeroPoints) : 0, C: c, LDC: n, M: m, N: n, K: k,
      WORKSPACE: alloc(e.qd8_f32_qb_gemm_workspace_bytes(m, k)),
    }));
    out[format] = bits(c, m * n);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(JSON.stringify(run(process.argv[2])));
}
