// The repository stands alone: a clone with nothing beside it builds and passes its tests.
// - No tracked file names a path of one machine (absolute home, work or temporary folders) or
//   reaches outside the repository for data (the shared folder beside it that the fixtures came from).
// - The fixtures copied into test/fixtures/ are complete and unchanged: every file listed in the
//   ONNX cases' SHA256SUMS is there with its hash, and nothing else is.
// A failure names the file, the line and what was found.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Paths that only exist on one machine or outside the clone. */
const MACHINE_PATH = /(?<![\w.])(?:\/(?:work|tmp|home|root|Users|mnt|var\/folders)\/[\w.-]|[A-Za-z]:\\\\?[\w.-]+\\)|\.\.\/shared\b/;

/**
 * Generated files whose committed copy predates the generator's path scrubbing (bench/lib/util.mjs
 * errorText; run.c named by hash), until their generator runs again; then they leave this list (the
 * test below fails on a listed file that has become clean). bench/RESULTS.md was regenerated
 * without paths, so none is left.
 */
const AWAITING_REGENERATION = new Set<string>();

/** Tracked files, from git (the clone's own list), without binaries and the lock file. */
function trackedTextFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => f !== '' && f !== 'package-lock.json')
    .filter((f) => /\.(?:ts|mts|cts|js|mjs|cjs|json|md|html|css|sh|yml|yaml|toml)$|^\.ci\//.test(f))
    .filter((f) => !f.startsWith('test/fixtures/') && f !== 'test/standalone.test.ts');
}

describe('the repository stands alone', () => {
  it('names no machine path and reads nothing outside the repository', () => {
    const found: string[] = [];
    const awaiting: string[] = [];
    for (const file of trackedTextFiles()) {
      const lines = readFileSync(join(root, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const m = MACHINE_PATH.exec(line);
        if (!m) return;
        if (AWAITING_REGENERATION.has(file)) awaiting.push(file);
        else found.push(`${file}:${i + 1}: ${m[0]}  (${line.trim().slice(0, 120)})`);
      });
    }
    expect(found, `machine paths in tracked files:\n${found.join('\n')}`).toEqual([]);
    for (const file of AWAITING_REGENERATION) {
      expect(awaiting, `${file} has no machine path any more: remove it from AWAITING_REGENERATION`).toContain(file);
    }
  });

  it('the rule catches what it is for', () => {
    // Built from parts, so this file does not itself name the paths it rejects.
    const path = (...parts: string[]): string => parts.join('/');
    for (const bad of [path('', 'work', 'shared', 'x'), `read ${path('..', 'shared', 'conformance')}`, `at ${path('', 'tmp', 'llama2c', 'run.c')}`, '/home/me/p', 'C:\\Users\\x\\']) {
      expect(MACHINE_PATH.test(bad), bad).toBe(true);
    }
    for (const fine of ['os.tmpdir()', 'shared memory', 'a/b/c', path('https://example.org', 'work', 'x'), 'SharedArrayBuffer']) {
      expect(MACHINE_PATH.test(fine), fine).toBe(false);
    }
  });

  it('the ONNX conformance fixtures are the 87 files of their SHA256SUMS, unchanged', () => {
    const dir = join(root, 'test/fixtures/onnx-attention');
    const listed = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => {
      const [hash, name] = l.split(/\s+\*?/);
      return { hash, name };
    });
    expect(listed.length).toBe(87);
    const present = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    expect(present).toEqual(listed.map((l) => l.name).sort());
    for (const { hash, name } of listed) {
      const got = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
      expect(got, name).toBe(hash);
    }
  });
});
