// The built package as a user gets it: dist/index.js through ESM `import`, dist/index.cjs through
// CommonJS `require`, each in a fresh Node process, computing one attention that is checked
// against a direct computation; and the shipped .wasm files compile on their own (workerd-style
// hosts hand them over as WebAssembly.Module). `npm test` builds dist/ before this runs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
