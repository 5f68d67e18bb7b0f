// The worker pool (createRuntime({ threads: 2 })): results equal the float64 reference and the
// single-thread runtime, for attention (MHA, GQA, causal both ways, windows, key lengths, masks,
// decode rows, row-chunked tasks) and matmul (row-split products). Uses the built worker script
// dist/worker.js (npm test builds before testing). Speed is measured by the bench, not here.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, type Runtime } from '../src/index';
import { referenceAttention, referenceMatmul } from './reference/attention';

const workerUrl = new URL('../dist/worker.js', import.meta.url);

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}
const tensor = (shape: number[], rnd: () => number) => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd), shape });

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('worker pool (2 threads)', () => {
  let mt: Runtime;
  let st: Runtime;
  beforeAll(async () => {
    mt = await createRuntime({ threads: 2, workerUrl });
    st = createRuntimeSync();
  });
  afterAll(() => {
    mt.dispose();
    st.dispose();
  });

  it('really has two threads', () => {
    expect(mt.threads).toBe(2);
    expect(st.threads).toBe(1);
  });

  const cases = [
    { name: 'MHA full', b: 1, hq: 4, hk: 4, nq: 256, nk: 256, d: 32, opts: {} },
    { name: 'GQA causal bottom-right', b: 2, hq: 4, hk: 2, nq: 200, nk: 260, d: 16, opts: { causal: true } },
    { name: 'causal top-left, window', b: 1, hq: 2, hk: 1, nq: 300, nk: 300, d: 8, opts: { causal: 'top-left' as const, window: { left: 37 } } },
    { name: 'key lengths + bool mask', b: 2, hq: 2, hk: 2, nq: 160, nk: 150, d: 24, opts: { keyLengths: [150, 77], mask: 'bool' } },
    { name: 'decode rows (nq = 1)', b: 1, hq: 8, hk: 8, nq: 1, nk: 900, d: 64, opts: {} },
    { name: 'one head, many rows (row-chunked tasks)', b: 1, hq: 1, hk: 1, nq: 520, nk: 400, d: 16, opts: { causal: true } },
  ];

  it.each(cases)('attention: $name matches the float64 reference and one thread', ({ b, hq, hk, nq, nk, d, opts }) => {
    const rnd = random(nq * 7 + nk);
    const q = tensor([b, hq, nq, d], rnd);
    const k = tensor([b, hk, nk, d], rnd);
    const v = tensor([b, hk, nk, d], rnd);
    const o: Record<string, unknown> = { ...opts };
    if (opts.mask === 'bool') {
      o.mask = { data: Uint8Array.from({ length: nq * nk }, (_, i) => ((i * 2654435761) >>> 28) % 5 !== 0 ? 1 : 0), shape: [nq, nk] };
    }
    const got = mt.attention(q, k, v, o);
    const single = st.attention(q, k, v, o);
    const refOut = referenceAttention(q, k, v, o).output;
    expect(maxDiff(got.data, single.data)).toBe(0);
    expect(maxDiff(got.data, refOut)).toBeLessThan(2e-5);
  });

  it('matmul: row-split products match the float64 reference', () => {
    const rnd = random(11);
    const a = tensor([300, 130], rnd);
    const bm = tensor([130, 70], rnd);
    const got = mt.matmul(a, bm);
    const ref = referenceMatmul(a, bm).data;
    expect(maxDiff(got.data, ref)).toBeLessThan(1e-4);
    expect(maxDiff(got.data, st.matmul(a, bm).data)).toBe(0);
  });

  it('stays correct when memory grows between jobs', () => {
    const rnd = random(5);
    const q = tensor([1, 2, 128, 16], rnd);
    const first = mt.attention(q, q, q);
    const big = mt.tensor([64 * 1024 * 1024 / 4]); // forces growth of the shared memory
    const second = mt.attention(q, q, q);
    big.dispose();
    expect(maxDiff(first.data, second.data)).toBe(0);
  });

  it('works from `node --input-type=module -e` (workers do not inherit the parent\'s flags) and keeps relaxed SIMD', () => {
    const code = `import { createRuntime } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
const rt = await createRuntime({ threads: 2 });
const x = { data: Float32Array.from({ length: 4 * 256 * 32 }, (_, i) => Math.sin(i)), shape: [1, 4, 256, 32] };
const a = rt.attention(x, x, x).data;
console.log(JSON.stringify({ threads: rt.threads, isa: rt.isa, first: a[0], last: a[a.length - 1] }));
rt.dispose();`;
    const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim());
    expect(r.threads).toBe(2);
    expect(r.isa).toBe('relaxed');
    const x = { data: Float32Array.from({ length: 4 * 256 * 32 }, (_, i) => Math.sin(i)), shape: [1, 4, 256, 32] };
    const want = st.attention(x, x, x).data;
    expect(Math.abs(r.first - want[0])).toBeLessThan(1e-5);
    expect(Math.abs(r.last - want[want.length - 1])).toBeLessThan(1e-5);
  });

  it('rejects threads on the synchronous constructor and bad thread counts', async () => {
    expect(() => createRuntimeSync({ threads: 2 })).toThrow(/createRuntime \(async\)/);
    await expect(createRuntime({ threads: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(createRuntime({ threads: 1.5 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});
