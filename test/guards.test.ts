// Guard mode (createRuntime({ guardAllocations: true })): guard words around every Wasm allocation,
// verified after every kernel call. Proves (1) the check catches a write outside a block, and
// (2) attention (tile and row paths, masks, windows, GQA, weights), ONNX attention with a past,
// matmul (GEMM and matrix-vector paths, packed B), softmax and the debug kernel build never write
// outside their own buffers on shapes that hit every tail.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync } from '../src/index';

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}
const tensor = (shape: number[], rnd: () => number) => ({ data: Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, rnd), shape });

describe('guard mode', () => {
  const rt = createRuntimeSync({ guardAllocations: true });
  const debugModule = new WebAssembly.Module(readFileSync(new URL('../build/debug.wasm', import.meta.url)));
  const dbg = createRuntimeSync({ guardAllocations: true, module: debugModule });
  afterAll(() => {
    rt.dispose();
    dbg.dispose();
  });

  it('catches a write one float past a tensor', () => {
    const t = rt.tensor([3, 5]);
    const arena = (rt as unknown as { kernels: { arena: { f32(p: number, n: number): Float32Array } } }).kernels.arena;
    arena.f32(t.ptr, 16)[15] = 42; // 15 floats live, the 16th is in the guard
    const x = tensor([1, 1, 4, 4], random(1));
    expect(() => rt.attention(x, x, x)).toThrow(AttentionError);
    try {
      rt.attention(x, x, x);
    } catch (e) {
      expect((e as AttentionError).code).toBe('MEMORY_CORRUPTION');
      expect((e as Error).message).toMatch(/after the block/);
    }
    arena.f32(t.ptr, 16)[15] = new Float32Array(new Int32Array([0xdeadbeef | 0]).buffer)[0]; // restore the pattern
    t.dispose();
    expect(rt.attention(x, x, x).shape).toEqual([1, 1, 4, 4]);
  });

  const sizes = [1, 3, 5, 7, 9, 63, 65];
  it.each([rt, dbg].map((r, i) => [i === 0 ? 'release build' : 'debug build', r] as const))('%s: every op stays inside its buffers', (_name, r) => {
    const rnd = random(7);
    for (const nq of sizes) {
      for (const nk of [1, 5, 9, 65]) {
        for (const d of [1, 3, 8, 17]) {
          const q = tensor([1, 4, nq, d], rnd);
          const k = tensor([1, 2, nk, d], rnd);
          const v = tensor([1, 2, nk, d + 2], rnd);
          r.attention(q, k, v, { causal: nq % 2 === 0 ? 'top-left' : true, window: { left: 3 }, softcap: 5 });
          r.attention(q, k, v, {
            mask: { data: Uint8Array.from({ length: nq * nk }, (_, i) => (i % 3 ? 1 : 0)), shape: [nq, nk] },
            returnWeights: true,
            keyLengths: [Math.max(0, nk - 2)],
          });
        }
      }
    }
    for (const [m, n, k] of [[1, 9, 5], [3, 33, 7], [5, 9, 300], [65, 17, 1], [4, 8, 8]]) {
      const a = tensor([m, k], rnd);
      const b = tensor([k, n], rnd);
      r.matmul(a, b, { bias: tensor([n], rnd) });
      r.matmul(a, tensor([n, k], rnd), { transposeB: true });
      r.matmul(a, r.packMatrix(b));
    }
    r.softmax(tensor([5, 7], rnd));
    const past = r.onnxAttention({
      Q: tensor([2, 3, 4, 8], rnd), K: tensor([2, 3, 6, 8], rnd), V: tensor([2, 3, 6, 8], rnd),
      past_key: tensor([2, 3, 5, 8], rnd), past_value: tensor([2, 3, 5, 8], rnd),
    }, { is_causal: 1, qk_matmul_output_mode: 3 });
    expect(past.present_key.shape).toEqual([2, 3, 11, 8]);
    const arena = (r as unknown as { kernels: { arena: { verifyGuards(): number } } }).kernels.arena;
    expect(arena.verifyGuards()).toBeGreaterThan(0); // guard mode is really on
  });
});
