// Work bounded by what a call does, not by what its shapes or options claim. Each input runs in
// a child process (fixtures/bounded-work.mjs, the built package) with a 192 MB JavaScript heap and
// a generous wall-clock limit that only guards against hangs:
//   • empty tensors whose other dimensions are huge (2^25 heads of headDim 0, a batch of
//     2^30 − 16 empty sequences, …) give empty results through every method: the JavaScript side
//     built one object per (batch, head) before noticing there was nothing to do, and ran out of
//     heap (4.7 GB after 23 s for 2^25 heads); the same for ONNX, batched matmul, KV caches,
//     layers, RoPE and every long-sequence and structured variant;
//   • empty inputs with a non-empty output (no keys, an empty inner dimension, headDim 0 hashing)
//     are written directly, without a kernel call per head;
//   • options that asked for unbounded work from a tiny input (routing clusters 2^24 on 16 tokens,
//     100 000 hierarchy levels, LSH rounds and buckets) are rejected with INVALID_OPTION naming
//     the option, the bound and the value; sizes a call cannot need are not allocated;
//   • a seeded fuzz: random methods on random empty shapes with huge other dimensions.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/bounded-work.mjs', import.meta.url));
const entry = new URL('../../dist/index.js', import.meta.url);
const HANG_GUARD_MS = 30_000;
const SEED = Number(process.env.FUZZ_SEED ?? 7331);

interface Outcome {
  name: string;
  ok: boolean;
  code?: string;
  message?: string;
  shapes?: unknown;
}

/** Runs the fixture on `which` with a small heap; resolves with its JSON lines (rejects on a crash or the time limit). */
function runChild(which: string, timeout = HANG_GUARD_MS): Promise<Outcome[]> {
  if (!existsSync(fileURLToPath(entry))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--max-old-space-size=192', '--experimental-wasm-relaxed-simd', script, entry.href, which], {
      timeout, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 << 20,
    }, (error, stdout, stderr) => {
      if (error) {
        const why = error.killed ? `killed after ${timeout} ms (a hang)` : `exit ${String(error.code)}${error.signal ? `, ${error.signal}` : ''}`;
        reject(new Error(`${which}: the child process failed: ${why}\n${stderr.slice(-2000)}`));
      } else {
        resolve(stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Outcome));
      }
    });
  });
}

/** Every tensor ({ shape, size, zeros }) in a result's shapes. */
function tensors(shapes: unknown): Array<{ shape: number[]; size: number; zeros: boolean }> {
  if (shapes && typeof shapes === 'object' && 'shape' in shapes) return [shapes as { shape: number[]; size: number; zeros: boolean }];
  if (Array.isArray(shapes)) return shapes.flatMap(tensors);
  if (shapes && typeof shapes === 'object') return Object.values(shapes).flatMap(tensors);
  return [];
}

const H25 = 2 ** 25;
const BIG_BATCH = 2 ** 30 - 16;

/** Empty inputs with huge other dimensions: the result tensors, all empty; `output` is the main one's shape. */
const EMPTY: Array<[string, number[]]> = [
  ['attention, 2^25 heads of headDim 0', [1, H25, 1, 0]],
  ['attention, 2^25 heads, returnWeights over no keys', [1, H25, 1, 0]],
  ['attention, batch 2^30 - 16 of empty sequences', [BIG_BATCH, 1, 0, 1]],
  ['onnxAttention, 2^25 heads', [1, H25, 1, 0]],
  ['onnxAttention 3-D, q_num_heads 2^25', [1, 1, 0]],
  ['onnxAttention, batch 2^30 - 16', [BIG_BATCH, 1, 0, 1]],
  ['matmul, batch 2^25 of empty products', [H25, 0, 0]],
  ['softmax of [2^25, 0]', [H25, 0]],
  ['kvCache of 2^20 heads, attend from 2^25 query heads of no rows', [1, H25, 0, 1]],
  ['multiHeadAttention, batch 2^27 of empty sequences', [2 ** 27, 0, 4]],
  ['rope, batch 2^27 of empty sequences', [2 ** 27, 1, 0, 4]],
  ['rope, 2^25 heads of empty sequences', [1, H25, 0, 4]],
  ['slidingWindowAttention, 2^25 heads', [1, H25, 1, 0]],
  ['slidingWindowAttention, batch 2^30 - 16', [BIG_BATCH, 1, 0, 1]],
  ['globalLocalAttention, batch 2^30 - 16', [BIG_BATCH, 1, 0, 1]],
  ['segmentedAttention, 2^25 heads', [1, H25, 1, 0]],
  ['linformerAttention, 2^25 heads', [1, H25, 1, 0]],
  ['lshAttention, batch 2^30 - 16', [BIG_BATCH, 1, 0, 1]],
  ['hierarchicalAttention, 2^25 heads', [1, H25, 1, 0]],
  ['hierarchicalAttention, 2^30 - 16 tokens of headDim 0', [1, 1, BIG_BATCH, 0]],
  ['routingAttention on empty [1, 2^18, 1, 0]', [1, 2 ** 18, 1, 0]],
  ['routingAttention, 2^25 heads, returnCentroids', [1, H25, 1, 0]],
  ['routedAttention, 2^25 heads', [1, H25, 1, 0]],
  ['routingCentroids, 2^25 heads of headDim 0', [H25, 1, 0]],
  ['recurrentMemoryAttention, 2^20 heads of empty segments', [2 ** 9, 2 ** 20, 0, 1]],
  ['sinusoidalPositions of 0 rows, dim 2^40', [0, 2 ** 40]],
];

/** Empty inputs, non-empty output: all zeros, of this shape. */
const ZEROS: Array<[string, number[]]> = [
  ['attention of 2^23 heads over no keys (empty inputs, 2^23 zeros out)', [1, 2 ** 23, 1, 1]],
  ['onnxAttention of 2^23 heads over no keys', [1, 2 ** 23, 1, 1]],
  ['slidingWindowAttention of 2^23 heads over no keys', [1, 2 ** 23, 1, 1]],
  ['matmul, batch 2^23 with an empty inner dimension', [2 ** 23, 1, 1]],
  ['lshHash, 2^23 heads of headDim 0 (2^23 ids out)', [1, 2 ** 23, 1, 1]],
];

/** Rejected up front: the code and what the message must name (option, bound, value). */
const REJECTED: Array<[string, string, string[]]> = [
  ['routingAttention, clusters 2^24 on 16 tokens', 'INVALID_OPTION', ['options.clusters', '≤ 32', 'got 16777216']],
  ['routingCentroids, clusters 2^24 on 16 tokens', 'INVALID_OPTION', ['options.clusters', '≤ 16', 'got 16777216']],
  ['hierarchicalAttention, 100000 levels on 16 tokens', 'INVALID_OPTION', ['options.levels', '≤ 5', 'got 100000']],
  ['lshAttention, rounds 2^20 on 16 tokens', 'INVALID_OPTION', ['options.rounds', '≤ 64', 'got 1048576']],
  ['lshAttention, 2^24 buckets on 16 tokens', 'INVALID_OPTION', ['options.buckets', '≤ 128', 'got 16777216']],
  ['lshHash, 2^24 buckets on 16 tokens', 'INVALID_OPTION', ['options.buckets', '≤ 128', 'got 16777216']],
  ['sinusoidalPositions of 2^40 rows', 'OUT_OF_MEMORY', ['sinusoidalPositions', '1099511627776']],
  ['alibiSlopes for 2^30 heads', 'INVALID_ARGUMENT', ['numHeads', '2^24', 'got 1073741824']],
];

/** Tiny inputs with huge but harmless options: computed as usual, nothing sized by the option. */
const COMPUTED: Array<[string, number[]]> = [
  ['kvCache of 2^16 heads, one decoding step', [1, 2 ** 16, 1, 1]],
  ['globalLocalAttention, random blocks of 2^30 keys, 2^30 of them, on 16 tokens', [1, 1, 16, 4]],
  ['lshAttention, chunkLength 2^31 - 1 on 16 tokens', [1, 1, 16, 4]],
];

describe.concurrent('bounded work: each input in a child process with a 192 MB heap', () => {
  it.each(EMPTY)('%s: empty results', async (name, shape) => {
    const [r] = await runChild(name);
    expect(r, JSON.stringify(r)).toMatchObject({ name, ok: true });
    const all = tensors(r.shapes);
    expect(all.length).toBeGreaterThan(0);
    expect(all[0].shape).toEqual(shape);
    for (const t of all) expect(t.size, `${name}: ${JSON.stringify(t.shape)}`).toBe(0);
  });

  it.each(ZEROS)('%s: zeros, written without a kernel call per head', async (name, shape) => {
    const [r] = await runChild(name);
    expect(r, JSON.stringify(r)).toMatchObject({ name, ok: true });
    const [out] = tensors(r.shapes);
    expect(out.shape).toEqual(shape);
    expect(out.size).toBe(shape.reduce((a, b) => a * b, 1));
    expect(out.zeros).toBe(true);
  });

  it.each(REJECTED)('%s: %s', async (name, code, fragments) => {
    const [r] = await runChild(name);
    expect(r, JSON.stringify(r)).toMatchObject({ name, ok: false, code });
    for (const f of fragments) expect(r.message).toContain(f);
  });

  it.each(COMPUTED)('%s: computed', async (name, shape) => {
    const [r] = await runChild(name);
    expect(r, JSON.stringify(r)).toMatchObject({ name, ok: true });
    const [out] = tensors(r.shapes);
    expect(out.shape).toEqual(shape);
    expect(out.zeros).toBe(false);
  });

  it(`seeded fuzz (seed ${SEED}): 400 random methods on empty shapes with huge other dimensions`, async () => {
    const results = await runChild(`fuzz:${SEED}:400`, 30_000);
    expect(results.length).toBe(400);
    const codes = new Map<string, number>();
    for (const r of results) {
      if (r.ok) {
        for (const t of tensors(r.shapes)) expect(t.size, `${r.name}: ${JSON.stringify(t.shape)}`).toBe(0);
      } else {
        // typed errors only (e.g. a routing call needs a token, an empty x has no rotary dims)
        expect(['SHAPE_MISMATCH', 'INVALID_OPTION', 'OUT_OF_MEMORY'], `${r.name}: ${r.code} ${r.message}`).toContain(r.code);
      }
      codes.set(r.ok ? 'ok' : r.code!, (codes.get(r.ok ? 'ok' : r.code!) ?? 0) + 1);
    }
    console.log(`[bounded-work fuzz] seed ${SEED}: ${[...codes].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    expect(codes.get('ok') ?? 0).toBeGreaterThan(200);
  });
});
