// Byte addresses are computed through typed helpers (src/runtime/bytes.ts: f32Bytes, f32At,
// wordIndex, wordsIn; src/attention/head-layout.ts: headAt, rowAt), not by multiplying or
// shifting by 4 at call sites. Files still awaiting conversion are listed with how many such
// expressions they hold; the list can only shrink: a count that grows fails, and so does one
// that dropped without its entry being lowered (or removed at 0). Any other file must have none.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `4 * x`, `x * 4`, `<< 2`, `>> 2`, `>>> 2`: an element count turned into bytes (or back) by hand. */
const BY_HAND = /(?<![\w.])4 \* |\* 4(?![\w.])|<< 2(?!\d)|>>>? 2(?!\d)/g;

/** The files that define the conversions. */
const DEFINITIONS = new Set(['src/runtime/bytes.ts']);

/** Files awaiting conversion → the hand-written conversions they hold (may only shrink). */
const AWAITING = new Map<string, number>([]);

function sources(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard', 'src'], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f.endsWith('.ts') && !f.endsWith('.generated.ts') && !DEFINITIONS.has(f));
}

describe('byte addresses through typed helpers', () => {
  it('finds the helpers and the sources', () => {
    const files = sources();
    expect(files).toContain('src/kernels/params.ts');
    expect(readFileSync(join(root, 'src/runtime/bytes.ts'), 'utf8')).toMatch(/export function f32At/);
  });

  it('no file converts elements to bytes by hand, except those awaiting conversion, and those only shrink', () => {
    const problems: string[] = [];
    for (const file of sources()) {
      const count = (readFileSync(join(root, file), 'utf8').match(BY_HAND) ?? []).length;
      const listed = AWAITING.get(file);
      if (listed === undefined && count > 0) problems.push(`${file}: ${count} hand-written byte conversion(s); use f32Bytes / f32At / wordIndex / headAt`);
      if (listed !== undefined && count > listed) problems.push(`${file}: ${count} hand-written byte conversions, more than the ${listed} listed`);
      if (listed !== undefined && count < listed) problems.push(`${file}: ${count} hand-written byte conversions now — lower its entry to ${count} (remove it at 0)`);
    }
    expect(problems).toEqual([]);
  });
});
