// The proxy runtime (createRuntime({ proxy: true })) in Node, its worker loaded from the built
// dist/proxy-worker.js: results bit for bit equal to the in-thread runtime (attention with
// several options, onnxAttention, matmul, softmax, rope and variants), transfer, Wasm-resident
// methods rejected, bad input rejected as in-thread with the proxy still usable, dispose.
// Abort and progress: proxy-abort.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntime, type ProxyRuntime, type Runtime } from '../../src/index';
import { proxyWorkerUrl, random, tensor } from './helpers';

let rt: Runtime;
let px: ProxyRuntime;
beforeAll(async () => {
  rt = await createRuntime();
  px = await createRuntime({ proxy: true, proxyWorkerUrl });
});
afterAll(() => {
  rt.dispose();
  px.dispose();
});

const bits = (a: { data: Float32Array; shape: readonly number[] }) => ({ shape: [...a.shape], data: new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length) });

describe('proxy runtime: same results as in-thread, bit for bit', () => {
  const rnd = random(7);
  const q = tensor([2, 4, 33, 16], rnd);
  const k = tensor([2, 2, 40, 16], rnd);
  const v = tensor([2, 2, 40, 16], rnd);
  const qf = tensor([2, 4, 40, 16], rnd);
  const kf = tensor([2, 4, 40, 16], rnd);
  const vf = tensor([2, 4, 40, 16], rnd);
  const mask = { data: Uint8Array.from({ length: 33 * 40 }, (_, i) => (i % 7 === 3 ? 0 : 1)), shape: [33, 40] };
  const cases: [string, object | undefined][] = [
    ['defaults (GQA 4:2)', undefined],
    ['causal', { causal: true }],
    ['boolean mask', { mask }],
    ['scale and softcap', { scale: 0.3, softcap: 20 }],
  ];
  for (const [name, options] of cases) {
    it(`attention, ${name}`, async () => {
      const want = rt.attention(q, k, v, options);
      const got = await px.attention(q, k, v, options);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(bits(got)).toEqual(bits(want));
    });
  }
  it('attention, bshd layout', async () => {
    const q3 = tensor([2, 12, 4, 8], rnd);
    const k3 = tensor([2, 20, 2, 8], rnd);
    const v3 = tensor([2, 20, 2, 8], rnd);
    const options = { layout: 'bshd' as const, causal: true };
    expect(bits(await px.attention(q3, k3, v3, options))).toEqual(bits(rt.attention(q3, k3, v3, options)));
  });
  it('attention with returnWeights', async () => {
    const want = rt.attention(qf, kf, vf, { returnWeights: true });
    const got = await px.attention(qf, kf, vf, { returnWeights: true });
    expect(bits(got.output)).toEqual(bits(want.output));
    expect(bits(got.weights)).toEqual(bits(want.weights));
  });
  it('matmul, plain and transposed with bias', async () => {
    const a = tensor([37, 64], rnd);
    const b = tensor([64, 45], rnd);
    expect(bits(await px.matmul(a, b))).toEqual(bits(rt.matmul(a, b)));
    const bt = tensor([45, 64], rnd);
    const bias = tensor([45], rnd);
    const options = { transposeB: true, bias };
    expect(bits(await px.matmul(a, bt, options))).toEqual(bits(rt.matmul(a, bt, options)));
  });
  it('softmax and rope', async () => {
    const x = tensor([5, 77], rnd);
    expect(bits(await px.softmax(x))).toEqual(bits(rt.softmax(x)));
    const r = tensor([1, 4, 40, 16], rnd);
    expect(bits(await px.rope(r, { base: 10000 }))).toEqual(bits(rt.rope(r, { base: 10000 })));
  });
  it('variants: sliding window, segmented, LSH, Linformer, global-local', async () => {
    const win = { window: { left: 5, right: 2 } };
    expect(bits(await px.slidingWindowAttention(qf, kf, vf, win))).toEqual(bits(rt.slidingWindowAttention(qf, kf, vf, win)));
    const seg = { segmentLength: 16, overlap: 4 };
    expect(bits(await px.segmentedAttention(qf, kf, vf, seg))).toEqual(bits(rt.segmentedAttention(qf, kf, vf, seg)));
    const lsh = { buckets: 4, rounds: 2, seed: 3, chunkLength: 8, causal: true };
    expect(bits(await px.lshAttention(qf, kf, vf, lsh))).toEqual(bits(rt.lshAttention(qf, kf, vf, lsh)));
    const lin = { k: 8, seed: 5 };
    expect(bits(await px.linformerAttention(qf, kf, vf, lin))).toEqual(bits(rt.linformerAttention(qf, kf, vf, lin)));
    const gl = { window: 4, global: [0, 7] };
    expect(bits(await px.globalLocalAttention(qf, kf, vf, gl))).toEqual(bits(rt.globalLocalAttention(qf, kf, vf, gl)));
  });
});

describe('proxy runtime: transfer, errors, dispose', () => {
  it('transfer: true detaches the inputs and gives the same result', async () => {
    const rnd = random(11);
    const q = tensor([1, 2, 24, 8], rnd);
    const k = tensor([1, 2, 24, 8], rnd);
    const v = tensor([1, 2, 24, 8], rnd);
    const want = rt.attention(q, k, v, { causal: true });
    const got = await px.attention(q, k, v, { causal: true, transfer: true });
    expect(bits(got)).toEqual(bits(want));
    for (const t of [q, k, v]) expect(t.data.buffer.byteLength).toBe(0);
  });
  it('without transfer the inputs stay usable', async () => {
    const q = tensor([1, 1, 4, 8], random(1));
    await px.attention(q, q, q);
    expect(q.data.length).toBe(32);
  });
  it('bad input rejects with the in-thread code and message; the proxy stays usable', async () => {
    const q = tensor([1, 2, 4, 8], random(2));
    const bad = tensor([1, 2, 4, 7], random(3));
    let want: AttentionError | undefined;
    try { rt.attention(q, bad, bad); } catch (e) { want = e as AttentionError; }
    const got = (await px.attention(q, bad, bad).catch((e: unknown) => e)) as AttentionError;
    expect(got).toBeInstanceOf(AttentionError);
    expect(got.code).toBe(want!.code);
    expect(got.message).toBe(want!.message);
    const unknown = (await px.attention(q, q, q, { nope: 1 } as object).catch((e: unknown) => e)) as AttentionError;
    expect(unknown.code).toBe('INVALID_OPTION');
    expect(bits(await px.attention(q, q, q))).toEqual(bits(rt.attention(q, q, q)));
  });
  it('bad proxy options reject INVALID_OPTION before anything is sent', async () => {
    const q = tensor([1, 1, 4, 8], random(4));
    await expect(px.attention(q, q, q, { signal: 3 as unknown as AbortSignal })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(px.attention(q, q, q, { onProgress: 'x' as unknown as () => void })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(px.attention(q, q, q, { transfer: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
  it('Wasm-resident methods reject UNSUPPORTED naming the method', async () => {
    const p = px as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of ['tensor', 'packMatrix', 'kvCache', 'multiHeadAttention', 'quantizeMatrix']) {
      const e = (await p[m]!({}).catch((x: unknown) => x)) as AttentionError;
      expect(e).toBeInstanceOf(AttentionError);
      expect(e.code).toBe('UNSUPPORTED');
      expect(e.message).toContain(m);
    }
  });
  it('dispose: pending and later calls reject DISPOSED', async () => {
    const own = await createRuntime({ proxy: true, proxyWorkerUrl });
    const q = tensor([1, 1, 4, 8], random(5));
    await own.attention(q, q, q);
    const pending = own.attention(q, q, q);
    own.dispose();
    await expect(pending).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(own.matmul(q, q)).rejects.toMatchObject({ code: 'DISPOSED' });
  });
  it('options.proxy and options.proxyWorkerUrl are checked; other runtime options as without proxy', async () => {
    await expect(createRuntime({ proxy: 'yes' } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(createRuntime({ proxy: true, proxyWorkerUrl: 3 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(createRuntime({ proxy: true, nope: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
  it('a worker that does not start rejects UNSUPPORTED naming the URL', async () => {
    const url = new URL('../../dist/no-such-worker.js', import.meta.url);
    const e = (await createRuntime({ proxy: true, proxyWorkerUrl: url }).catch((x: unknown) => x)) as AttentionError;
    expect(e).toBeInstanceOf(AttentionError);
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain('no-such-worker.js');
  });
});
