// The Cloudflare Worker example (examples/cloudflare-worker) against hostile request bodies, in
// workerd as test/env/workerd.test.ts runs it (the packed package, bundled by the example's
// build.mjs). It built tensors straight from the JSON body: a 46-byte POST
// {"shape":[1,8388608,1,0],"q":[],"k":[],"v":[]} made the runtime build an object per head
// until the isolate died. Now the body's size is checked while it is read (at most 1 MiB) and
// every field before a tensor is built: each hostile body below is a 400 with a code, answered within
// a generous hang guard, and the Worker then still computes a valid request correctly.

import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bin, CASE_SHAPE, caseInputs, expectedCase, freePort, type Install, installPackedPackage, kill, maxAbsError, root, run,
} from '../env/helpers';

const HANG_GUARD_MS = 10_000;
let install: Install;
let workerd: ChildProcess | undefined;
let base = '';
let log = '';

beforeAll(async () => {
  install = installPackedPackage();
  symlinkSync(join(root, 'node_modules', 'esbuild'), join(install.dir, 'node_modules', 'esbuild'), 'dir');
  cpSync(join(root, 'examples', 'cloudflare-worker'), join(install.dir, 'worker'), { recursive: true });
  await run(process.execPath, ['build.mjs'], { cwd: join(install.dir, 'worker'), timeout: 60_000 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  workerd = spawn(bin('workerd'), ['serve', 'config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: join(install.dir, 'worker'), stdio: ['ignore', 'pipe', 'pipe'],
  });
  workerd.stdout!.on('data', (d) => (log += d));
  workerd.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (workerd.exitCode !== null) throw new Error(`workerd exited (${workerd.exitCode}):\n${log}`);
    try {
      if ((await fetch(base, { signal: AbortSignal.timeout(2_000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`workerd did not answer within 30 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(async () => {
  await kill(workerd);
  install?.cleanup();
}, 30_000);

const post = (body: BodyInit, init: RequestInit = {}) =>
  fetch(base, { method: 'POST', body, signal: AbortSignal.timeout(HANG_GUARD_MS), ...init } as RequestInit);

/** A JSON body of about `bytes` bytes: valid numbers, too many of them. */
function bigBody(bytes: number): string {
  const n = Math.ceil(bytes / 20);
  const q = Array.from({ length: n }, (_, i) => Math.sin(i) * 0.9);
  return JSON.stringify({ shape: [1, 1, n, 1], q, k: q, v: q });
}

const HOSTILE: Array<[string, string, string]> = [
  ['the 46-byte body of 8388608 empty heads', '{"shape":[1,8388608,1,0],"q":[],"k":[],"v":[]}', 'INVALID_BODY'],
  ['a huge shape with empty arrays', JSON.stringify({ shape: [65536, 65536, 65536, 65536], q: [], k: [], v: [] }), 'INVALID_BODY'],
  ['a shape of 2^40 elements in range per entry', JSON.stringify({ shape: [1024, 1024, 1024, 1024], q: [], k: [], v: [] }), 'INVALID_BODY'],
  ['negative dimensions', JSON.stringify({ shape: [1, -1, 2, 2], q: [1, 2], k: [1, 2], v: [1, 2] }), 'INVALID_BODY'],
  ['fractional and non-numeric dimensions', JSON.stringify({ shape: [1, 1.5, 'x', 2], q: [], k: [], v: [] }), 'INVALID_BODY'],
  ['a shape that is not an array', JSON.stringify({ shape: 'abc', q: [], k: [], v: [] }), 'INVALID_BODY'],
  ['arrays of the wrong length', JSON.stringify({ shape: [1, 1, 2, 2], q: [1, 2, 3, 4], k: [1, 2, 3], v: [1, 2, 3, 4] }), 'INVALID_BODY'],
  ['strings and nulls for numbers', JSON.stringify({ shape: [1, 1, 1, 2], q: ['1', null], k: [1, 2], v: [1, 2] }), 'INVALID_BODY'],
  ['objects for arrays', JSON.stringify({ shape: [1, 1, 1, 2], q: { length: 2 }, k: [1, 2], v: [1, 2] }), 'INVALID_BODY'],
  ['a non-boolean causal', JSON.stringify({ shape: [1, 1, 1, 2], q: [1, 2], k: [1, 2], v: [1, 2], causal: 'yes' }), 'INVALID_BODY'],
  ['a JSON array', '[1, 2, 3]', 'INVALID_BODY'],
  ['not JSON', '{"shape": [1, 1, 1, 1], "q": [1', 'INVALID_JSON'],
];

describe('the Cloudflare Worker example in workerd: hostile bodies', () => {
  it.each(HOSTILE)('%s: 400', async (_name, body, code) => {
    const r = await post(body);
    const json = (await r.json()) as { code: string; error: string };
    expect(r.status, `${json.code}: ${json.error}\n${log}`).toBe(400);
    expect(json.code, json.error).toBe(code);
    expect(json.error.length).toBeGreaterThan(10);
  });

  it('the 46-byte body is 46 bytes', () => {
    expect(new TextEncoder().encode(HOSTILE[0][1]).byteLength).toBe(46);
  });

  it('a 2 MB body streamed without Content-Length: 400 once the limit is passed', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 2_000_000) controller.close();
        else {
          controller.enqueue(chunk);
          sent += chunk.byteLength;
        }
      },
    });
    const r = await post(stream, { duplex: 'half' } as RequestInit);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: string }).code).toBe('BODY_TOO_LARGE');
  });

  it('a 2 MB body with its Content-Length: 400 once the limit is passed', async () => {
    const r = await post(bigBody(2_000_000));
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: string }).code).toBe('BODY_TOO_LARGE');
  });

  it('afterwards the Worker still computes a valid request (the float64 reference)', async () => {
    const { q, k, v } = caseInputs();
    const r = await post(JSON.stringify({ shape: CASE_SHAPE, q: Array.from(q.data), k: Array.from(k.data), v: Array.from(v.data), causal: true }));
    expect(r.status, log).toBe(200);
    const json = (await r.json()) as { shape: number[]; output: number[] };
    expect(json.shape).toEqual(CASE_SHAPE);
    expect(maxAbsError(json.output, expectedCase())).toBeLessThan(1e-6);
  });
});
