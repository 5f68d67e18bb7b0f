// The published declarations in the projects users have: the packed package installed by name
// and a TypeScript file using it, type-checked by tsc with `strict` and `skipLibCheck: false`
//  - as a browser project: lib ES2022 + DOM, no @types at all (`types: []`), bundler resolution;
//  - as a Node project: lib ES2020 + @types/node, node16 resolution, ESM and CommonJS.
// ES2022 has no `Symbol.dispose` and ES2020 without DOM no `WebAssembly` namespace: the package
// ships minimal global fallbacks (dist/types/globals.d.ts), which must also merge cleanly with
// the real declarations (lib ESNext + DOM + @types/node).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, type Install, installPackedPackage, root } from './helpers';

let install: Install;

beforeAll(() => {
  install = installPackedPackage();
}, 120_000);

afterAll(() => install?.cleanup());

const USE = `
const rt = createRuntimeSync();
const x = { data: new Float32Array(4), shape: [1, 1, 2, 2] };
const y: Tensor = rt.attention(x, x, x, { causal: true });
const shape: readonly number[] = y.shape;
const copy: number[] = [...y.shape];
const t = rt.tensor([2, 2]);
t.dispose();
const q = rt.quantizeMatrix({ data: new Float32Array(64 * 2), shape: [64, 2] }, { type: 'q8_0' });
q.dispose();
rt.dispose();
export const used = [shape, copy];
`;

/** Type-checks `source` as `name` under `config` (compilerOptions); returns tsc's output ('' when clean). */
function typeCheck(name: string, source: string, compilerOptions: Record<string, unknown>, packageType: 'module' | 'commonjs'): string {
  writeFileSync(join(install.dir, 'package.json'), JSON.stringify({ name: 'types-project', private: true, type: packageType }));
  writeFileSync(join(install.dir, name), source);
  writeFileSync(join(install.dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022', ...compilerOptions },
    files: [name],
  }));
  try {
    execFileSync(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: install.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    return '';
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
  }
}

describe('the declarations type-check in strict projects without skipLibCheck', () => {
  it('a browser project: lib ES2022 + DOM, types [], bundler resolution', () => {
    const out = typeCheck('browser.ts', `import { createRuntimeSync, type Tensor } from 'wasm-attention';\n${USE}`, {
      lib: ['ES2022', 'DOM'], types: [], module: 'ESNext', moduleResolution: 'Bundler',
    }, 'module');
    expect(out).toBe('');
  }, 120_000);

  it('the core entry in the same browser project', () => {
    const out = typeCheck('core.ts', `import { createRuntimeSync, type Tensor } from 'wasm-attention/core';\n${USE.replace(/const q = [^\n]*\nq\.dispose\(\);\n/, '')}`, {
      lib: ['ES2022', 'DOM'], types: [], module: 'ESNext', moduleResolution: 'Bundler',
    }, 'module');
    expect(out).toBe('');
  }, 120_000);

  it('a project whose libs declare everything (ESNext + DOM + @types/node): the fallbacks merge without conflict', () => {
    const out = typeCheck('all.ts', `import { createRuntimeSync, type Tensor } from 'wasm-attention';\n${USE}`, {
      lib: ['ESNext', 'DOM'], types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], module: 'ESNext', moduleResolution: 'Bundler',
    }, 'module');
    expect(out).toBe('');
  }, 120_000);

  it('a Node project: lib ES2020 + @types/node, node16 resolution, as ESM and as CommonJS', () => {
    const node = { lib: ['ES2020'], types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], module: 'Node16', moduleResolution: 'Node16' };
    expect(typeCheck('esm.mts', `import { createRuntimeSync, type Tensor } from 'wasm-attention';\n${USE}`, node, 'module')).toBe('');
    expect(typeCheck('cjs.cts', `import { createRuntimeSync, type Tensor } from 'wasm-attention';\n${USE}`, node, 'commonjs')).toBe('');
  }, 120_000);
});
