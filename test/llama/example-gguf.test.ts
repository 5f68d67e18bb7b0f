// `npm run example:llama -- --model FILE` on GGUF files: stories260K converted to GGUF (F32) gives
// llama2.c's 256 greedy ids from BOS with one and two threads, the output names the format and the
// memory, and a truncated GGUF file is reported by its GgufError code (exit code 2).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { root } from '../env/helpers';
import { checkpointToGguf } from '../helpers/gguf-models';
import { writeGguf } from '../helpers/gguf-writer';
import { checkpoint, greedyTokens } from './fixture';

const script = join(root, 'examples', 'tiny-llama', 'dist', 'run.mjs');
const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', script, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

const dir = mkdtempSync(join(tmpdir(), 'llama-gguf-'));
const modelPath = join(dir, 'stories260K-F32.gguf');

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  execFileSync(process.execPath, [join(root, 'examples', 'tiny-llama', 'build.mjs')], { cwd: root, stdio: 'pipe', timeout: 60_000 });
  writeFileSync(modelPath, writeGguf(checkpointToGguf(checkpoint(), 'F32')));
});

describe('npm run example:llama -- --model FILE.gguf', () => {
  it.each([1, 2])('stories260K as an F32 GGUF file: llama2.c\'s 256 greedy ids from BOS (%i thread(s))', (threads) => {
    const r = run('--model', modelPath, '--repeat', '1', '--threads', String(threads), '--json');
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(json.format).toBe('gguf');
    expect(json.threads).toBe(threads);
    expect(json.tokens).toEqual(greedyTokens());
    expect(r.stdout).toContain(`generated: ${greedyTokens().join(' ')}`);
    expect(r.stdout).toMatch(/^stories260K-F32\.gguf \(GGUF llama, F32\): dim 64, 5 layers, 8 query \/ 4 key-value heads, vocab 512, context 512/);
    expect(r.stdout).toMatch(/Wasm memory after load: [\d.]+ MiB .* for 1\.0 MiB of tensors \+ [\d.]+ MiB of f32 KV cache \(256 positions\)/);
    expect(r.stdout).toMatch(/run 1: prefill 1 token in one call [\d.]+ ms \(\d+ tokens\/s\), decode 255 steps [\d.]+ ms \(\d+ tokens\/s\)/);
    expect(json.memory.tensorBytes).toBe(4 * (512 * 64 + 64 + 5 * (64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 64 + 3 * 64 * 172)));
  });

  it('reports a truncated GGUF file by its GgufError code (exit code 2)', () => {
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, writeGguf(checkpointToGguf(checkpoint(), 'F32')).subarray(0, 50_000));
    const r = run('--model', cut);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^TRUNCATED: cut\.gguf is truncated/);
  });
});
