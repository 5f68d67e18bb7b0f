// The built package as a user gets it: dist/index.js through ESM `import`, dist/index.cjs through
// CommonJS `require` — and the same for the `wasm-attention/core` entry (dist/core.js,
// dist/core.cjs) — each in a fresh Node process, computing one attention that is checked against
// a direct computation; the exports map resolves both entries (code and types) for `import` and
// `require`; isaSupported's probes agree with validating the shipped binaries with and without
// Node 20's relaxed-SIMD flag; and the shipped .wasm files compile on their own (workerd-style
// hosts hand them over as WebAssembly.Module). `npm test` builds dist/ before this runs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { createRuntimeSync } from '../src/index';

const root = fileURLToPath(new URL('..', import.meta.url));

// q = k = v = [[1, 0], [0, 1]] per head: each row attends itself with weight e^s/(e^s + 1), s = 1/√2.
const script = (load: string) => `
${load}
const rt = createRuntimeSync();
const x = { data: new Float32Array([1, 0, 0, 1]), shape: [1, 1, 2, 2] };
const y = rt.attention(x, x, x);
const w = Math.exp(Math.SQRT1_2) / (Math.exp(Math.SQRT1_2) + 1);
const want = [w, 1 - w, 1 - w, w];
const err = Math.max(...Array.from(y.data, (v, i) => Math.abs(v - want[i])));
console.log(JSON.stringify({ err, isa: rt.isa }));
`;

function run(args: string[]): { err: number; isa: string } {
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('built package', () => {
  it('loads through ESM import', () => {
    const r = run(['--input-type=module', '-e', script("import { createRuntimeSync } from './dist/index.js';")]);
    expect(r.err).toBeLessThan(1e-6);
  });

  it('loads through CommonJS require', () => {
    const r = run(['-e', script("const { createRuntimeSync } = require('./dist/index.cjs');")]);
    expect(r.err).toBeLessThan(1e-6);
  });

  it('picks relaxed SIMD when the engine validates it, simd128 otherwise', () => {
    expect(run(['--input-type=module', '-e', script("import { createRuntimeSync } from './dist/index.js';")]).isa).toBe('simd128');
    expect(run(['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script("import { createRuntimeSync } from './dist/index.js';")]).isa).toBe('relaxed');
  });

  it('loads wasm-attention/core through ESM import and CommonJS require (dist/core.js, dist/core.cjs)', () => {
    const esm = run(['--input-type=module', '-e', script("import { createRuntimeSync } from './dist/core.js';")]);
    expect(esm.err).toBeLessThan(1e-6);
    expect(run(['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script("import { createRuntimeSync } from './dist/core.js';")]).isa).toBe('relaxed');
    expect(run(['-e', script("const { createRuntimeSync } = require('./dist/core.cjs');")]).err).toBeLessThan(1e-6);
    // the core runtime has no extended methods
    const out = execFileSync(process.execPath, ['-e', "const { createRuntimeSync } = require('./dist/core.cjs'); const rt = createRuntimeSync(); console.log(typeof rt.attention, typeof rt.multiHeadAttention, typeof rt.lshAttention)"], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('function undefined undefined');
  });

  it('the exports map resolves wasm-attention and wasm-attention/core for import and require (self-reference)', () => {
    const resolve = (spec: string) => execFileSync(process.execPath, [
      '--input-type=module', '-e',
      `import { createRequire } from 'node:module'; console.log(JSON.stringify([import.meta.resolve('${spec}'), createRequire(import.meta.url).resolve('${spec}')]))`,
    ], { cwd: root, encoding: 'utf8' });
    const [coreImport, coreRequire] = JSON.parse(resolve('wasm-attention/core')) as string[];
    expect(coreImport).toMatch(/\/dist\/core\.js$/);
    expect(coreRequire).toMatch(/\/dist\/core\.cjs$/);
    const [fullImport, fullRequire] = JSON.parse(resolve('wasm-attention')) as string[];
    expect(fullImport).toMatch(/\/dist\/index\.js$/);
    expect(fullRequire).toMatch(/\/dist\/index\.cjs$/);
  });

  it('TypeScript (node16) resolves the types of both entries for import and require', () => {
    const options: ts.CompilerOptions = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
    const from = `${root}test/package.test.ts`;
    const types = (spec: string, mode: ts.ResolutionMode) =>
      ts.resolveModuleName(spec, from, options, ts.sys, undefined, undefined, mode).resolvedModule?.resolvedFileName;
    expect(types('wasm-attention/core', ts.ModuleKind.ESNext)).toMatch(/\/dist\/types\/core\.d\.ts$/);
    expect(types('wasm-attention/core', ts.ModuleKind.CommonJS)).toMatch(/\/dist\/types\/core\.d\.cts$/);
    expect(types('wasm-attention', ts.ModuleKind.ESNext)).toMatch(/\/dist\/types\/index\.d\.ts$/);
    expect(types('wasm-attention', ts.ModuleKind.CommonJS)).toMatch(/\/dist\/types\/index\.d\.cts$/);
  });

  it.each(['index.js', 'core.js'])('dist/%s: isaSupported agrees with validating the shipped binaries, with and without the relaxed-SIMD flag', (entry) => {
    const check = `import { isaSupported } from './dist/${entry}'; import { readFileSync } from 'node:fs';
const v = (isa) => WebAssembly.validate(readFileSync('./dist/wasm/' + isa + '.wasm'));
console.log(JSON.stringify(['simd128', 'relaxed'].map((isa) => [isaSupported(isa), v(isa)])));`;
    const plain = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', check], { cwd: root, encoding: 'utf8' }));
    expect(plain).toEqual([[true, true], [false, false]]);
    const flagged = JSON.parse(execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', check], { cwd: root, encoding: 'utf8' }));
    expect(flagged).toEqual([[true, true], [true, true]]);
  });

  it.each(['simd128', 'relaxed'])('dist/wasm/%s.wasm works as a precompiled module (createRuntime({ module }))', (name) => {
    const bytes = readFileSync(`${root}dist/wasm/${name}.wasm`);
    if (name === 'relaxed' && !WebAssembly.validate(bytes)) throw new Error('this test process must run with --experimental-wasm-relaxed-simd');
    const rt = createRuntimeSync({ module: new WebAssembly.Module(bytes) });
    expect(rt.isa).toBe(name);
    const x = { data: new Float32Array([1, 0, 0, 1]), shape: [1, 1, 2, 2] };
    const w = Math.exp(Math.SQRT1_2) / (Math.exp(Math.SQRT1_2) + 1);
    expect(Array.from(rt.attention(x, x, x).data).map((v) => Number(v.toFixed(6)))).toEqual([w, 1 - w, 1 - w, w].map((v) => Number(v.toFixed(6))));
  });
});
