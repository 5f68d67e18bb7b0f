// The bench CLI (bench/cli.mjs) end to end on its cheapest workload, peak-int8 on the relaxed
// binary: a prepared object listing `variants` gives one timed row per variant, and rewriting
// RESULTS.md keeps the Browsers section that bench:browser wrote (its own run) as it was.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BROWSERS = '<!-- browsers:start -->\n## Browsers\n\nmeasured elsewhere, kept as is\n<!-- browsers:end -->';

describe('bench/cli.mjs', () => {
  it('runs a row per variant and keeps the Browsers section of the file it rewrites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-bench-cli-'));
    try {
      const file = join(dir, 'RESULTS.md');
      writeFileSync(file, `# Benchmark results\n\n## Targets\n\nold\n\n${BROWSERS}\n\n## Results\n\nold\n`);
      const json = execFileSync(process.execPath, [
        '--experimental-wasm-relaxed-simd', join(root, 'bench', 'cli.mjs'),
        '--quick', '--workloads', 'peak-int8', '--engines', 'wasm-attention/relaxed/1t', '--json', '--output', file,
      ], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const [w] = JSON.parse(json).workloads;
      expect(w.results.map((r: { engine: string }) => r.engine)).toEqual([
        'wasm-attention/relaxed/1t dot_i16x8', 'wasm-attention/relaxed/1t relaxed dot', 'wasm-attention/relaxed/1t relaxed dot-add',
      ]);
      for (const r of w.results) {
        expect(r.status).toBe('ok');
        expect(r.value).toBeGreaterThan(0);
        expect(r.variant).toBe(r.engine.split(' ').slice(1).join(' '));
      }
      const text = readFileSync(file, 'utf8');
      expect(text).toContain(BROWSERS);
      expect(text.indexOf(BROWSERS)).toBeLessThan(text.indexOf('## Results'));
      expect(text).not.toContain('\nold\n');
      expect(text).toContain('### peak-int8 — ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
