// The proxy runtime's abort and progress, in Node (SharedArrayBuffer: a running attention stops
// between heads through the shared flag; methods without units, such as matmul, by restarting
// the worker): aborted before start, aborted while queued, aborted during a long call at its first
// progress event and stopped before its last head (read from the error, no time asserted; the
// runtime usable after), progress callbacks monotone and ending at done === total.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntime, type ProxyRuntime } from '../../src/index';
import { proxyWorkerUrl, random, tensor } from './helpers';

let px: ProxyRuntime;
const rnd = random(21);
const long = { q: tensor([1, 12, 4096, 64], rnd), k: tensor([1, 12, 4096, 64], rnd), v: tensor([1, 12, 4096, 64], rnd) };
const small = tensor([1, 2, 8, 8], rnd);

beforeAll(async () => {
  px = await createRuntime({ proxy: true, proxyWorkerUrl });
});
afterAll(() => px.dispose());

describe('proxy runtime: abort', () => {
  it('a signal aborted before the call rejects ABORTED without running it', async () => {
    const controller = new AbortController();
    controller.abort();
    const e = (await px.attention(small, small, small, { signal: controller.signal }).catch((x: unknown) => x)) as AttentionError;
    expect(e).toBeInstanceOf(AttentionError);
    expect(e.code).toBe('ABORTED');
    expect(e.message).toContain('attention');
  });
  it('a queued call aborted before it starts rejects ABORTED; the one running completes', async () => {
    const controller = new AbortController();
    const first = px.attention(long.q, long.k, long.v, { causal: true });
    const second = px.attention(small, small, small, { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await first).shape).toEqual([1, 12, 4096, 64]);
  });
  it(`a long attention (12 × 4096 × 64) aborted at its first progress event rejects ABORTED before its last head; the next call works`, async () => {
    expect(px.sharedAbort).toBe(true);
    const controller = new AbortController();
    const call = px.attention(long.q, long.k, long.v, {
      signal: controller.signal,
      onProgress: (done, total) => {
        if (done < total) controller.abort();
      },
    });
    const e = (await call.catch((x: unknown) => x)) as AttentionError;
    expect(e).toBeInstanceOf(AttentionError);
    expect(e.code).toBe('ABORTED');
    // Stopped between heads by the shared flag (the worker says where), not at the end and not by
    // restarting the worker: no time is asserted.
    const [, done, total] = /after (\d+) of (\d+)/.exec(e.message)!.map(Number);
    expect(total).toBe(12);
    expect(done).toBeLessThan(total!);
    const next = await px.attention(small, small, small);
    expect(next.shape).toEqual([1, 2, 8, 8]);
  });
  it('a long matmul aborted while running (no units to stop between: the worker restarted) rejects ABORTED; the next call works', async () => {
    const controller = new AbortController();
    const a = tensor([2048, 2048], rnd);
    const call = px.matmul(a, a, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(call).rejects.toMatchObject({ code: 'ABORTED' });
    const next = await px.attention(small, small, small);
    expect(next.shape).toEqual([1, 2, 8, 8]);
  });
});

describe('proxy runtime: progress', () => {
  it('progress on a long call is monotone and ends at done === total', async () => {
    const seen: [number, number][] = [];
    await px.attention(long.q, long.k, long.v, { onProgress: (done, total) => seen.push([done, total]) });
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0] / seen[i]![1]).toBeGreaterThanOrEqual(seen[i - 1]![0] / seen[i - 1]![1]);
    const [done, total] = seen[seen.length - 1]!;
    expect(done).toBe(total);
    console.log(`progress: ${seen.length} reports: ${seen.map(([d, t]) => `${d}/${t}`).join(' ')}`);
  });
});
