// Code reads top to bottom in small files with one job: no tracked source file in src/, assembly/,
// scripts/, examples/ or bench/ is longer than 500 lines — except the files listed below, each
// awaiting a split, with its length when it was listed. The list can only shrink: a listed file
// that grows fails, and so does one that has come under the limit (take it off the list).
// (No machine paths in tracked files: test/standalone.test.ts.)

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT = 500;

/** Files over the limit, awaiting a split: path → lines when listed (they may shrink, not grow). */
const AWAITING_SPLIT = new Map<string, { lines: number; why: string }>([]);

function sourceFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', 'src', 'assembly', 'scripts', 'examples', 'bench'], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => /\.(ts|mts|mjs|js)$/.test(f) && !f.endsWith('.generated.ts') && !f.startsWith('examples/tiny-llama/dist/'));
}

const linesOf = (file: string): number => readFileSync(join(root, file), 'utf8').split('\n').length - 1;

describe('source files stay small', () => {
  const files = sourceFiles();

  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('src/kernels/instance.ts');
  });

  it(`no file over ${LIMIT} lines except those awaiting a split, and those only shrink`, () => {
    const problems: string[] = [];
    for (const file of files) {
      const lines = linesOf(file);
      const listed = AWAITING_SPLIT.get(file);
      if (listed) {
        if (lines > listed.lines) problems.push(`${file}: ${lines} lines, more than the ${listed.lines} it had when listed as awaiting a split`);
        if (lines <= LIMIT) problems.push(`${file}: ${lines} lines, under the limit now: take it off AWAITING_SPLIT`);
      } else if (lines > LIMIT) {
        problems.push(`${file}: ${lines} lines (limit ${LIMIT}): split it by job`);
      }
    }
    for (const file of AWAITING_SPLIT.keys()) if (!files.includes(file)) problems.push(`${file} is listed in AWAITING_SPLIT but no longer exists`);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
