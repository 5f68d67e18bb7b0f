// An uncaught AttentionError as a user meets it: a script of the packed package (installed by
// name) makes a shape mistake and does not catch the error; Node (ESM and CommonJS), Deno and Bun
// must print its class name, code and message and a short stack — a few KB, not the bundle. (The
// Node entries ship unminified so the line a host quotes at the throw site is one statement; a
// minified bundle is one line of about 200 KB with the embedded kernels.)

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, type Install, installPackedPackage } from './helpers';

let install: Install;

beforeAll(() => {
  install = installPackedPackage();
}, 120_000);

afterAll(() => install?.cleanup());

/** Runs a program that must fail; resolves with its exit code and everything it printed. */
function fail(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: install.dir, env, timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: stdout + stderr });
    });
  });
}

const MESSAGE = "v must have k's heads and length [1, 1, 3, valueDim], got [1, 1, 2, 4]; q [1, 1, 2, 4], k [1, 1, 3, 4], v [1, 1, 2, 4]";

function expectReadable({ code, output }: { code: number | null; output: string }): void {
  expect(code, output.slice(0, 2000)).not.toBe(0);
  expect(output).toContain('AttentionError');
  expect(output).toContain(MESSAGE);
  expect(output.length, `printed ${output.length} characters:\n${output.slice(0, 2000)}`).toBeLessThan(4096);
  expect(output).not.toMatch(/\bE \[AttentionError\]/); // a minified class name beside error.name
}

describe('an uncaught AttentionError prints readably', () => {
  it('Node, ESM import', async () => {
    const r = await fail(process.execPath, ['uncaught.mjs']);
    expectReadable(r);
    expect(r.output).toContain("code: 'SHAPE_MISMATCH'");
  });

  it('Node, CommonJS require', async () => {
    const r = await fail(process.execPath, ['uncaught.cjs']);
    expectReadable(r);
    expect(r.output).toContain("code: 'SHAPE_MISMATCH'");
  });

  it('Deno', async () => {
    const env = { ...process.env, DENO_DIR: join(install.dir, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
    expectReadable(await fail(bin('deno'), ['run', '--no-prompt', 'uncaught.mjs'], env));
  });

  it('Bun, ESM and CommonJS', async () => {
    const env = { ...process.env, NO_COLOR: '1' };
    expectReadable(await fail(bin('bun'), ['uncaught.mjs'], env));
    expectReadable(await fail(bin('bun'), ['uncaught.cjs'], env));
  });
});
