// The worker pool (createRuntime({ threads: 2 })): results equal the float64 reference and the
// single-thread runtime, for attention (MHA, GQA, causal both ways, windows, key lengths, masks,
// decode rows, row-chunked tasks) and matmul (row-split products). Uses the built worker script
// dist/worker.js (npm test builds before testing). Speed is measured by the bench, not here.
// Also: the task loop on a view of memory older than a growth (runs every task right, since the
// parameter block is copied inside Wasm); a task block outside memory fails the call instead of
// running on a stale block; worker.js is found beside the bundle even when a global __dirname
// exists (node -e, CommonJS shims), for the ESM and the CommonJS bundles.
// (Fresh runtimes' first calls under load: test/reliability/threads-fresh.test.ts.)

import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AttentionError, createRuntime, createRuntimeSync, type Runtime } from '../src/index';
import { Arena, exportedConstant, instantiateSharedKernels, JOB_ATTENTION, JOB_GEMM } from '../src/runtime/index';
import { CONTROL, controlBytes, runTasks, viewCovering } from '../src/runtime/tasks';
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

  it.each([322, 129, 66])('matmul: %i rows (a row block of under 4 rows at the end) equal one thread bit for bit', (m) => {
    const rnd = random(m);
    const a = tensor([m, 70], rnd);
    const bm = tensor([50, 70], rnd);
    const got = mt.matmul(a, bm, { transposeB: true });
    expect(maxDiff(got.data, st.matmul(a, bm, { transposeB: true }).data)).toBe(0);
    expect(maxDiff(got.data, referenceMatmul(a, bm, { transposeB: true }).data)).toBeLessThan(1e-4);
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

  it.each([
    { m: 1, transposeB: true }, { m: 1, transposeB: false }, { m: 3, transposeB: true },
  ])('decode-sized f32 products (m = $m, transposeB $transposeB) are split over columns: bit for bit the one-thread result', ({ m, transposeB }) => {
    // N = 3000: not a multiple of the 32-column slices; K = 777 leaves a tail of the 4-wide loops;
    // at m = 1 that is 2.3 M multiply-adds, over the split threshold.
    const K = 777, N = 3000;
    const rnd = random(11 + m);
    const a = tensor([m, K], rnd);
    const b = tensor(transposeB ? [N, K] : [K, N], rnd);
    const bias = tensor([N], rnd);
    const kernels = mt.kernelsForPool;
    const jobs = vi.spyOn(kernels as unknown as { runJob(job: unknown): void }, 'runJob');
    const got = mt.matmul(a, b, { transposeB, bias }).data;
    expect(jobs).toHaveBeenCalledTimes(1);
    jobs.mockRestore();
    const want = st.matmul(a, b, { transposeB, bias }).data;
    expect(maxDiff(got, want)).toBe(0);
    const ref = referenceMatmul(a, b, { transposeB }).data;
    let err = 0;
    for (let r = 0; r < m; r++) for (let j = 0; j < N; j++) err = Math.max(err, Math.abs(got[r * N + j] - (ref[r * N + j] + bias.data[j])));
    expect(err).toBeLessThan(1e-3);
  });

  it('a layer\'s decode step splits its projections over columns too: bit for bit the one-thread layer', () => {
    const d = 1024; // 1 × 1024 × 3072 for Q|K|V: over the split threshold
    const rnd = random(21);
    const w = () => tensor([d, d], () => rnd() / 32);
    const weights = { q: w(), k: w(), v: w(), out: w() };
    const config = { dModel: d, numHeads: 8, bias: false, packWeights: false, weights };
    const [lm, ls] = [mt.multiHeadAttention(config), st.multiHeadAttention(config)];
    const [cm, cs] = [mt.kvCache({ heads: 8, headDim: 128, maxLength: 4 }), st.kvCache({ heads: 8, headDim: 128, maxLength: 4 })];
    const jobs = vi.spyOn(mt.kernelsForPool as unknown as { runJob(job: unknown): void }, 'runJob');
    for (let t = 0; t < 3; t++) {
      const x = tensor([1, 1, d], rnd);
      const ym = lm.forward(x, { cache: cm }) as { data: Float32Array };
      const ys = ls.forward(x, { cache: cs }) as { data: Float32Array };
      expect(maxDiff(ym.data, ys.data)).toBe(0);
    }
    expect(jobs).toHaveBeenCalled();
    jobs.mockRestore();
    for (const o of [lm, ls, cm, cs]) o.dispose();
  });
});

describe('the task loop and views of shared memory', () => {
  it('runs every task right from a view of memory taken before a growth (task blocks and data beyond its end)', async () => {
    const { exports, memory } = await instantiateSharedKernels('simd128', 64 << 20);
    const arena = new Arena(memory, exports.heap_base(), 64 << 20);
    const G = (name: string) => exportedConstant(exports, `GEMM_${name}`);
    const [m, n, k] = [37, 29, 19];
    const control = arena.alloc(controlBytes(1));
    const params = arena.alloc(G('PARAMS_BYTES'));
    const workspace = arena.alloc(exports.f32_gemm_workspace_bytes(n, k));
    const stale = new Int32Array(memory.buffer); // what a worker may still hold after the growth
    arena.alloc(stale.byteLength); // grows memory: everything below lies past the stale view's end
    const [a, b, c1, c2] = [m * k, k * n, m * n, m * n].map((floats) => arena.alloc(4 * floats));
    const tasks = arena.alloc(2 * G('PARAMS_BYTES'));
    expect(tasks).toBeGreaterThan(stale.byteLength);
    expect(a).toBeGreaterThan(stale.byteLength);

    const rnd = random(3);
    const A = Float32Array.from({ length: m * k }, rnd);
    const B = Float32Array.from({ length: k * n }, rnd);
    new Float32Array(memory.buffer, a, m * k).set(A);
    new Float32Array(memory.buffer, b, k * n).set(B);
    const now = new Int32Array(memory.buffer);
    // task 0: C1 = A·B; task 1: C2 = A·B + C2 (accumulate onto 1s)
    new Float32Array(memory.buffer, c2, m * n).fill(1);
    [c1, c2].forEach((cPtr, t) => {
      const at = (tasks + t * G('PARAMS_BYTES')) >> 2;
      const set = (name: string, value: number) => { now[at + (G(name) >> 2)] = value; };
      set('A', a); set('LDA', k); set('B', b); set('LDB', n); set('C', cPtr); set('LDC', n); set('BIAS', 0);
      set('M', m); set('N', n); set('K', k); set('TRANS_B', 0); set('ACCUMULATE', t); set('B_PACKED', 0); set('WORKSPACE', 0);
    });
    const cw = control >> 2;
    now[cw + CONTROL.KIND] = JOB_GEMM;
    now[cw + CONTROL.TASKS] = tasks;
    now[cw + CONTROL.COUNT] = 2;
    now[cw + CONTROL.STRIDE] = G('PARAMS_BYTES');
    now[cw + CONTROL.WS_OFFSET] = G('WORKSPACE');
    now[cw + CONTROL.NEXT] = 0;

    expect(runTasks(exports, stale, control, params, workspace)).toBe(0);
    const ref = referenceMatmul({ data: A, shape: [m, k] }, { data: B, shape: [k, n] }).data;
    const got1 = new Float32Array(memory.buffer, c1, m * n);
    const got2 = new Float32Array(memory.buffer, c2, m * n);
    expect(maxDiff(got1, ref)).toBeLessThan(1e-5);
    expect(maxDiff(got2, Array.from(ref, (x) => x + 1))).toBeLessThan(1e-5);
  });

  it("a worker's view shorter than the job's memory is refreshed by memory.grow(0); if that does not help, it throws", () => {
    const PAGE = 65536;
    const real = new WebAssembly.Memory({ initial: 1, maximum: 8, shared: true });
    const before = real.buffer; // keeps 1 page, like another thread's buffer after a growth
    real.grow(2);
    // a memory whose buffer lags as another thread's does in V8: the old one until grow(0)
    let grows = 0;
    const lagging = {
      get buffer() { return grows ? real.buffer : before; },
      grow(delta: number) { grows++; return real.grow(delta); },
    } as unknown as WebAssembly.Memory;
    expect(viewCovering(lagging, PAGE).byteLength).toBe(PAGE); // covers already: no refresh
    expect(grows).toBe(0);
    expect(viewCovering(lagging, 3 * PAGE).byteLength).toBe(3 * PAGE);
    expect(grows).toBe(1);
    const stuck = { buffer: before, grow: () => 1 } as unknown as WebAssembly.Memory;
    expect(() => viewCovering(stuck, 3 * PAGE)).toThrow(/sees 65536 bytes of shared memory after a refresh, the job needs 196608/);
  });

  it('a worker script that is not there: the runtime runs on one thread and warns, naming the URL tried and options.workerUrl', async () => {
    const missing = new URL('../dist/no-such-worker.js', import.meta.url);
    const warnings: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      warnings.push(args.join(' '));
    });
    try {
      const rt = await createRuntime({ threads: 2, workerUrl: missing });
      expect(rt.threads).toBe(1);
      const q = tensor([1, 2, 64, 16], random(3));
      expect(maxDiff(rt.attention(q, q, q).data, createRuntimeSync().attention(q, q, q).data)).toBe(0);
      rt.dispose();
    } finally {
      warn.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`could not start worker threads from ${missing.href} (options.workerUrl)`);
    expect(warnings[0]).toMatch(/pass options\.workerUrl/);
    expect(warnings[0]).toMatch(/running on one thread$/);
  });

  it('a task block outside memory fails the call (AttentionError UNSUPPORTED), never runs on a stale block; the runtime stays usable', async () => {
    const rt = await createRuntime({ threads: 2, workerUrl });
    const st = createRuntimeSync();
    try {
      const rnd = random(9);
      const q = tensor([1, 4, 128, 32], rnd);
      const want = st.attention(q, q, q).data;
      expect(maxDiff(rt.attention(q, q, q).data, want)).toBe(0); // the pool's blocks now hold a real call
      const kernels = rt.kernelsForPool;
      const pool = kernels.pool!;
      const stride = kernels.paramsBytes;
      const params = kernels.arena.alloc(stride);
      const workspace = kernels.arena.alloc(1 << 16);
      let thrown: unknown;
      try {
        // 8 tasks whose blocks start 1 MiB past the end of memory
        pool.run(JOB_ATTENTION, rt.memoryBytes + (1 << 20), 8, stride, 0, params, workspace);
      } catch (error) {
        thrown = error;
      } finally {
        kernels.arena.release(params);
        kernels.arena.release(workspace);
      }
      expect(thrown).toBeInstanceOf(AttentionError);
      expect((thrown as AttentionError).code).toBe('UNSUPPORTED');
      expect((thrown as AttentionError).message).toMatch(/8 kernel task\(s\)/);
      expect(maxDiff(rt.attention(q, q, q).data, want)).toBe(0);
    } finally {
      rt.dispose();
      st.dispose();
    }
  });
});

describe('worker.js is found beside the bundle, whatever global __dirname exists', () => {
  const dist = (file: string) => new URL(`../dist/${file}`, import.meta.url);
  const x = { data: Float32Array.from({ length: 4 * 256 * 32 }, (_, i) => Math.sin(i)), shape: [1, 4, 256, 32] };
  /** FNV-1a over the bits of the floats: equal outputs, equal checksums. */
  const checksumSource = 'const bitsChecksum = (f) => { let h = 0x811c9dc5; for (const w of new Uint32Array(f.buffer, f.byteOffset, f.length)) h = Math.imul(h ^ w, 16777619) >>> 0; return h; };';
  const bitsChecksum = new Function(`${checksumSource} return bitsChecksum;`)() as (f: Float32Array) => number;
  const body = `
const rt = await createRuntime({ threads: 2 });
const x = { data: Float32Array.from({ length: 4 * 256 * 32 }, (_, i) => Math.sin(i)), shape: [1, 4, 256, 32] };
${checksumSource}
console.log(JSON.stringify({ threads: rt.threads, checksum: bitsChecksum(rt.attention(x, x, x).data) }));
rt.dispose();`;
  const cases: { name: string; args: string[]; code: string }[] = [
    {
      name: 'node -e (a global __dirname of the current directory), ESM bundle',
      args: ['-e'],
      code: `import(${JSON.stringify(dist('index.js').href)}).then(async ({ createRuntime }) => {${body}
}).catch((e) => console.log(JSON.stringify({ error: e.code + ': ' + e.message })));`,
    },
    {
      name: 'node -e (a global __dirname of the current directory), CommonJS bundle',
      args: ['-e'],
      code: `const { createRuntime } = require(${JSON.stringify(dist('index.cjs').pathname)});
(async () => {${body}
})().catch((e) => console.log(JSON.stringify({ error: e.code + ': ' + e.message })));`,
    },
    {
      name: 'an ES module with a CommonJS shim (global __dirname, __filename, require), ESM and CommonJS bundles',
      args: ['--input-type=module', '-e'],
      code: `import { createRequire } from 'node:module';
globalThis.__dirname = '/nonexistent/shim';
globalThis.__filename = '/nonexistent/shim/index.js';
globalThis.require = createRequire(${JSON.stringify(dist('index.cjs').href)});
for (const load of [() => import(${JSON.stringify(dist('index.js').href)}), async () => require(${JSON.stringify(dist('index.cjs').pathname)})]) {
  try {
    const { createRuntime } = await load();${body}
  } catch (e) {
    console.log(JSON.stringify({ error: e.code + ': ' + e.message }));
  }
}`,
    },
  ];

  it.each(cases)('$name: 2 threads start and compute what one thread does', ({ args, code }) => {
    const st = createRuntimeSync();
    const want = bitsChecksum(st.attention(x, x, x).data);
    st.dispose();
    const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', ...args, code], { cwd: tmpdir(), encoding: 'utf8', timeout: 60_000 });
    const results = out.trim().split('\n').map((line) => JSON.parse(line));
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) expect(r).toEqual({ threads: 2, checksum: want });
  });
});
