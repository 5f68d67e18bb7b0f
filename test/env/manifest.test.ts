// The package manifest as published: no runtime dependencies, an "exports" map whose every target
// is in the packed tarball (npm pack --dry-run), with the conditions each environment needs, and
// nothing but the built files, README and ARCHITECTURE in the tarball (plus core/package.json, which
// points resolvers that ignore "exports" at the core entry). (publint and
// @arethetypeswrong/cli check the same tarball in `npm run test:package`.)

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { npmCli, root } from './helpers';

type Exports = string | { [condition: string]: Exports };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies?: object; peerDependencies?: object; optionalDependencies?: object; bundleDependencies?: object;
  exports: Record<string, Exports>; main: string; module: string; types: string;
};

let packed: Set<string>;

beforeAll(() => {
  const out = execFileSync(process.execPath, [npmCli(), 'pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
  });
  const [{ files }] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ files: Array<{ path: string }> }>;
  packed = new Set(files.map((f) => f.path));
}, 60_000);

/** Every file path an exports entry can resolve to. */
function targets(e: Exports): string[] {
  return typeof e === 'string' ? [e] : Object.values(e).flatMap(targets);
}

describe('package manifest', () => {
  it('has no runtime dependencies', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    expect(pkg.bundleDependencies ?? []).toEqual([]);
  });

  it('maps "." for workerd, deno, browser, node (import/require), import, require and default', () => {
    const dot = pkg.exports['.'] as Record<string, Exports>;
    expect(Object.keys(dot)).toEqual(['workerd', 'deno', 'browser', 'node', 'import', 'require', 'default']);
    expect(targets(dot.workerd)).toContain('./dist/workerd.js');
    expect(targets(dot.browser)).toContain('./dist/browser.js');
    expect(targets(dot.deno)).toContain('./dist/index.js');
    expect(targets(dot.node)).toEqual(expect.arrayContaining(['./dist/index.js', './dist/index.cjs']));
    expect(targets(dot.require)).toEqual(['./dist/types/index.d.cts', './dist/index.cjs']);
    // "types" comes first in every condition object (TypeScript takes the first match).
    const check = (e: Exports): void => {
      if (typeof e === 'string') return;
      if ('types' in e) expect(Object.keys(e)[0]).toBe('types');
      Object.values(e).forEach(check);
    };
    check(dot);
  });

  it('maps "./core" with the same conditions to the core bundles and their types', () => {
    const dot = pkg.exports['.'] as Record<string, Exports>;
    const core = pkg.exports['./core'] as Record<string, Exports>;
    // the same structure, every target renamed index → core (browser.js → core.browser.js, workerd.js → core.workerd.js)
    const renamed = JSON.parse(JSON.stringify(dot)
      .replace(/\.\/dist\/(browser|workerd)\.js/g, './dist/core.$1.js')
      .replace(/\.\/dist\/index\./g, './dist/core.')
      .replace(/\/types\/index\./g, '/types/core.'));
    expect(core).toEqual(renamed);
    expect(Object.keys(core)).toEqual(['workerd', 'deno', 'browser', 'node', 'import', 'require', 'default']);
  });

  it('ships every file the exports map, main, module and types point at', () => {
    const all = [...Object.values(pkg.exports).flatMap(targets), pkg.main, pkg.module, pkg.types];
    for (const target of all) expect(packed.has(target.replace(/^\.\//, '')), target).toBe(true);
  });

  it('ships core/package.json for resolvers without "exports" (node10), pointing at the core bundles', () => {
    const stub = JSON.parse(readFileSync(join(root, 'core', 'package.json'), 'utf8')) as { main: string; module: string; types: string };
    expect(stub).toMatchObject({ main: '../dist/core.cjs', module: '../dist/core.js', types: '../dist/types/core.d.cts' });
    expect(packed.has('core/package.json')).toBe(true);
    for (const target of [stub.main, stub.module, stub.types]) expect(packed.has(target.replace(/^\.\.\//, '')), target).toBe(true);
  });

  it('ships only built files, the core/package.json stub and the two documents', () => {
    for (const path of packed) expect(path).toMatch(/^(dist\/|README\.md$|ARCHITECTURE\.md$|package\.json$|core\/package\.json$|LICENSE)/);
    expect([...packed].some((p) => p.startsWith('dist/types/') && p.endsWith('.d.cts'))).toBe(true);
  });
});
