// The Browsers section of bench/RESULTS.md (bench/browser/report.mjs), without a browser: its
// ratio columns, its place in the file (before "## Results", replaced on the next run), and that
// scripts/readme-bench.mjs still reads exactly the CLI's tables once it is there.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BROWSERS_END, BROWSERS_START, browserWorkloadMarkdown, browsersMarkdown, withBrowsersSection } from '../../bench/browser/report.mjs';
import { root } from '../env/helpers';

const environments = [{ id: 'node', label: 'Node', detail: 'v20' }, { id: 'chromium', label: 'Chromium', detail: '156' }];
const row = (environment: string, engine: string, family: string, value: number) => ({ environment, engine, family, status: 'ok', value, medianMs: 1 / value, samples: 5, reps: 1, maxError: 1e-7 });
const workload = {
  id: 'A1', title: 'SDPA H=12, N=512, Dh=64', unit: 'GFLOP/s', workText: '0.805 GFLOP per call',
  rows: [
    row('node', 'wasm-attention/relaxed/1t', 'wasm-attention', 10), row('node', 'onnxruntime-web/1t', 'onnxruntime-web', 5),
    row('chromium', 'wasm-attention/relaxed/1t', 'wasm-attention', 8), row('chromium', 'onnxruntime-web/1t', 'onnxruntime-web', 4),
    { environment: 'chromium', engine: 'wasm-attention/simd128/1t', family: 'wasm-attention', status: 'failed', error: 'boom' },
  ],
};
const run = {
  date: '2026-01-01T00:00:00.000Z', command: 'node bench/browser.mjs', quick: true, totalMs: 1000, loadAverageAtEnd: [1, 1, 1],
  machine: { cpu: 'CPU', cores: 2, loadAverage: [1, 1, 1], commit: 'abc1234' }, environments, workloads: [workload], notes: ['a note'],
};

const cells = (markdown: string, first: string, engine: string) => markdown.split('\n')
  .find((l) => l.startsWith(`| ${first} | ${engine} |`))!.slice(2, -2).split(' | ');

describe('bench/browser/report.mjs', () => {
  it('ratios: to onnxruntime-web in the same environment and to the same engine in Node', () => {
    const md = browserWorkloadMarkdown(workload, environments);
    expect(cells(md, 'Chromium', 'wasm-attention/relaxed/1t').slice(-2)).toEqual(['2.00×', '0.80×']);
    expect(cells(md, 'Chromium', 'onnxruntime-web/1t').slice(-2)).toEqual(['—', '0.80×']);
    expect(cells(md, 'Node', 'wasm-attention/relaxed/1t').slice(-2)).toEqual(['2.00×', '—']);
    expect(cells(md, 'Chromium', 'wasm-attention/simd128/1t')[2]).toBe('failed: boom');
  });

  it('goes before "## Results", and a second run replaces it', () => {
    const results = '# Benchmark results\n\n## Targets\n\nt\n\n## Results\n\n### A1 — SDPA\n\n| engine | GFLOP/s |\n';
    const once = withBrowsersSection(results, browsersMarkdown(run));
    expect(once.indexOf(BROWSERS_START)).toBeLessThan(once.indexOf('## Results'));
    expect(once.indexOf(BROWSERS_END)).toBeLessThan(once.indexOf('## Results'));
    const twice = withBrowsersSection(once, browsersMarkdown({ ...run, date: '2026-02-02T00:00:00.000Z' }));
    expect(twice.split(BROWSERS_START).length).toBe(2);
    expect(twice).toContain('2026-02-02');
    expect(twice).not.toContain('2026-01-01');
    expect(twice.replace(/<!-- browsers:start -->[\s\S]*<!-- browsers:end -->\n\n/, '')).toBe(results);
  });

  it('scripts/readme-bench.mjs reads the same table from bench/RESULTS.md with the section in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-readme-bench-'));
    try {
      mkdirSync(join(dir, 'bench'));
      const results = readFileSync(join(root, 'bench', 'RESULTS.md'), 'utf8');
      writeFileSync(join(dir, 'bench', 'RESULTS.md'), withBrowsersSection(results, browsersMarkdown(run)));
      copyFileSync(join(root, 'README.md'), join(dir, 'README.md'));
      // The README's table is the one readme-bench makes from RESULTS.md alone (as CI checks).
      execFileSync(process.execPath, [join(root, 'scripts', 'readme-bench.mjs')], { cwd: dir, stdio: 'pipe' });
      const expected = readFileSync(join(dir, 'README.md'), 'utf8');
      writeFileSync(join(dir, 'bench', 'RESULTS.md'), results);
      copyFileSync(join(root, 'README.md'), join(dir, 'README.md'));
      execFileSync(process.execPath, [join(root, 'scripts', 'readme-bench.mjs')], { cwd: dir, stdio: 'pipe' });
      expect(expected).toBe(readFileSync(join(dir, 'README.md'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
