// Both of V8's compilers must compute the integer kernels exactly: test/quant/tier-run.mjs runs
// the int8 product (tile and matrix-vector kernels) and the three block products of each binary
// in a child process under the baseline compiler only (--liftoff --no-wasm-tier-up) and under
// the optimizing compiler only (--no-liftoff), and its outputs must equal the same-quantization
// references bit for bit. (In one process a kernel starts in Liftoff and moves to TurboFan after
// some calls, so the in-process tests see mostly one tier. Node 20's Liftoff computed
// i32x4.relaxed_dot_i8x16_i7x16_add_s as 2·dot, dropping the accumulator: this test fails if a
// kernel uses it.)

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blockProductRef, decodeQ4_0Row, decodeQ8_0Row, decodeQb4wRow, qc8wProductRef } from '../reference/quant';
import { inputs } from './tier-run.mjs';

const script = fileURLToPath(new URL('./tier-run.mjs', import.meta.url));
const TIERS = {
  liftoff: ['--liftoff', '--no-wasm-tier-up'],
  turbofan: ['--no-liftoff'],
} as const;

function references(): Record<string, number[]> {
  const { int8, blocks } = inputs();
  const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer));
  const out: Record<string, number[]> = {};
  out.int8 = bits(qc8wProductRef(int8.a, int8.m, {
    k: int8.k, n: int8.n, data: int8.b, transB: false, ld: int8.n, scale: int8.scale,
  }).out);
  const rows = (decode: (j: number) => ReturnType<typeof decodeQ8_0Row>) => Array.from({ length: blocks.n }, (_, j) => decode(j));
  out.q8_0 = bits(blockProductRef(blocks.a, blocks.m, blocks.k, rows((j) => decodeQ8_0Row(blocks.q8_0, blocks.k, j))).out);
  out.q4_0 = bits(blockProductRef(blocks.a, blocks.m, blocks.k, rows((j) => decodeQ4_0Row(blocks.q4_0, blocks.k, j))).out);
  out.qb4w = bits(blockProductRef(blocks.a, blocks.m, blocks.k,
    rows((j) => decodeQb4wRow(blocks.qb4w, blocks.scales, blocks.zeroPoints, blocks.k, j))).out);
  return out;
}

describe('integer kernels in each V8 tier', () => {
  const want = references();
  for (const isa of ['simd128', 'relaxed'] as const) {
    for (const [tier, flags] of Object.entries(TIERS)) {
      it(`${isa}, ${tier} only: every product exact`, () => {
        const text = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', ...flags, script, isa], { encoding: 'utf8' });
        const got = JSON.parse(text) as Record<string, number[]>;
        for (const name of Object.keys(want)) expect(got[name], name).toEqual(want[name]);
      });
    }
  }
});
