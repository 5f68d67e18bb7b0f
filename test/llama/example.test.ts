// The Node example as `npm run example:llama` runs it (after `npm run build`, which `npm test`
// does first): examples/tiny-llama/build.mjs bundles run.ts, which imports the built package by
// name ('wasm-attention'). Greedy ids from BOS and from given ids, tokens/s printed, and a clear
// error for a file that is not a checkpoint.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { root } from '../env/helpers';
import { checkpointBytes, greedyTokens } from './fixture';

const script = join(root, 'examples', 'tiny-llama', 'dist', 'run.mjs');
const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', script, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  execFileSync(process.execPath, [join(root, 'examples', 'tiny-llama', 'build.mjs')], { cwd: root, stdio: 'pipe', timeout: 60_000 });
});

describe('npm run example:llama', () => {
  it('generates llama2.c greedy ids from BOS and prints ids and tokens/s', () => {
    const r = run('--steps', '48', '--repeat', '2', '--json');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const json = JSON.parse(lines.at(-1)!);
    expect(json.tokens).toEqual(greedyTokens().slice(0, 48));
    expect(json.matches).toBe(48);
    expect(json.runs).toHaveLength(2);
    expect(json.runs[1].decodeSteps).toBe(47);
    expect(r.stdout).toContain(`generated: ${greedyTokens().slice(0, 48).join(' ')}`);
    expect(r.stdout).toMatch(/run 2: prefill 1 token in one call [\d.]+ ms \(\d+ tokens\/s\), decode 47 steps [\d.]+ ms \(\d+ tokens\/s\)/);
    expect(r.stdout).toContain('llama2.c run.c (greedy-tokens.txt): 48 of the first 48 ids match');
  });

  it('continues given ids (prefilled in one call) and checks its arguments', () => {
    const want = greedyTokens();
    const r = run('--prompt', [1, ...want.slice(0, 19)].join(','), '--steps', '12', '--repeat', '1', '--isa', 'simd128', '--json');
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(json.isa).toBe('simd128');
    expect(json.tokens).toEqual(want.slice(19, 31));
    expect(r.stdout).toMatch(/prefill 20 tokens in one call/);
    expect(run('--steps', '600').stderr).toMatch(/--steps 600 does not fit/);
    expect(run('--prompt', '1,999').stderr).toMatch(/below the vocabulary size 512/);
  });

  it('--weights stores the matrices in a low-precision format (and checks its value)', () => {
    const r = run('--weights', 'f16', '--steps', '16', '--repeat', '1', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights stored as f16/);
    // f16 weights agree with float32 on stories260K's first greedy ids (255 of 256 teacher-forced)
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).tokens).toEqual(greedyTokens().slice(0, 16));
    const q4 = run('--weights', 'q4_0', '--steps', '8', '--repeat', '1');
    expect(q4.status, q4.stderr).toBe(0);
    expect(q4.stdout).toMatch(/weights stored as q4_0/);
    expect(run('--weights', 'q5_k').stderr).toMatch(/--weights must be one of f32, f16, int8, q8_0, q4_0, got "q5_k"/);
  });

  it('reports a truncated or foreign checkpoint clearly (exit code 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiny-llama-'));
    writeFileSync(join(dir, 'cut.bin'), checkpointBytes().subarray(0, 100_000));
    const cut = run('--model', join(dir, 'cut.bin'));
    expect(cut.status).toBe(2);
    expect(cut.stderr).toMatch(/^TRUNCATED: cut\.bin is truncated: .* describes 1,056,540 bytes but it has 100,000/);
    const foreign = run('--model', join(root, 'package.json'));
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(/^NOT_A_CHECKPOINT: package\.json is not a llama2\.c checkpoint/);
  });
});
