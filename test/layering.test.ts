// Enforces the layering of ARCHITECTURE.md by scanning import statements:
//   assembly/index.ts → any assembly file (it is the export list); so does assembly/params-shared.ts
//                      (it reads the block sizes of every family)
//   assembly/*       → assembly/simd.ts, assembly/gemm.ts (kernels may share micro-kernels),
//                      (the f32 attention files attention*.ts each other's parameter block, packing,
//                      tile steps and row path; sage.ts and attention-kv.ts those too: they run the
//                      same tile loop; attention-kv.ts and its decode row paths attention-kv-f16/-q8.ts
//                      kv-rows.ts),
//                      assembly/rows.ts (the shared row kernels), and the
//                      low-precision helpers assembly/qd8.ts (activation quantizers), assembly/f16.ts only
//   src/runtime/*    → src/runtime only, plus node:worker_threads (the pool; loaded lazily)
//   src/kernels/*    → src/runtime, each other (one module per kernel family; instance.ts and
//                      params.ts are what they share; the families never reach the variants)
//   src/tensor.ts    → src/runtime, src/typed-arrays.ts, src/wasm-tensor.ts
//   src/wasm-tensor.ts → src/runtime, src/typed-arrays.ts
//   src/typed-arrays.ts → src/runtime
//   src/attention, src/ops, src/position, src/layers → src/kernels/, src/tensor.ts, src/typed-arrays.ts,
//                      src/runtime, each other
//   src/**           → never test/, bench/, examples/; no eval / new Function
//   the core entry   → everything src/core.ts and src/workerd-core.ts reach, import by import,
//                      is in CORE_GRAPH: no src/layers, src/position, nor the long-sequence and
//                      structured variants (the `wasm-attention/core` bundle must stay small)
// A violation names the file and the import.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== '__tests__') out.push(...files(p));
    } else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  const clause = String.raw`(?:type\s+)?(?:\{[^}]*\}|\*\s+as\s+\w+|\*|\w+(?:\s*,\s*\{[^}]*\})?)`;
  const statement = new RegExp(String.raw`^\s*(?:import|export)\s+${clause}\s+from\s+['"]([^'"]+)['"]`, 'gm');
  for (const m of text.matchAll(statement)) found.push(m[1]);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(m[1]);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]);
  return found;
}

/** Repo-relative path an import resolves to (without extension), or the bare package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(root, resolve(dirname(file), spec)).replace(/\.(ts|js)$/, '');
}

const rules: Array<{ from: RegExp; allowed: RegExp; what: string }> = [
  { from: /^assembly\/index\.ts$/, allowed: /^assembly\//, what: 'assembly/index.ts lists kernel exports' },
  { from: /^assembly\/params-shared\.ts$/, allowed: /^assembly\//, what: 'assembly/params-shared.ts reads every family\'s block size' },
  { from: /^assembly\/(?!index\.ts|params-shared\.ts|sage\.ts|attention(-params|-pack|-tile|-rows|-weights|-merge|-kv(-f16|-q8)?)?\.ts)/, allowed: /^assembly\/(simd|gemm|rows|qd8|f16)$/, what: 'kernels import only the lane helpers, the GEMM micro-kernel, the shared row kernels, the activation quantizers and f16 conversion' },
  // The f32 attention kernel's files: the parameter block, packing, the tile loop's steps, the row path.
  { from: /^assembly\/attention(-params|-pack|-tile|-rows|-weights|-merge)?\.ts$/, allowed: /^assembly\/(simd|gemm|attention-(params|pack|tile|rows))$/, what: 'the f32 attention files import only the lane helpers, the GEMM micro-kernel and each other\'s parameter block, packing, tile steps and row path' },
  // 8-bit attention runs the f32 kernel's tile loop with int8 scores: it shares attention-tile.ts's steps.
  { from: /^assembly\/sage\.ts$/, allowed: /^assembly\/(simd|gemm|attention-(params|pack|tile))$/, what: 'the 8-bit attention kernel imports only the lane helpers, the GEMM micro-kernel and the f32 attention helpers it shares' },
  // Attention over f16/int8 KV-cache rows runs the f32 kernel's tile loop on panels it converts, and its helpers in the row path.
  { from: /^assembly\/attention-kv\.ts$/, allowed: /^assembly\/(simd|attention|attention-params|attention-tile|attention-kv-f16|attention-kv-q8|kv-rows)$/, what: 'the KV-cache attention kernel imports only the f32 attention helpers, its two decode row paths and the cache row formats' },
  { from: /^assembly\/attention-kv-(f16|q8)\.ts$/, allowed: /^assembly\/(simd|f16|kv-rows)$/, what: 'a KV-cache decode row path imports only the lane helpers, f16 conversion and the cache row formats' },
  { from: /^src\/runtime\//, allowed: /^(src\/runtime\/|node:worker_threads$)/, what: 'src/runtime imports only src/runtime (and Node worker threads, loaded lazily)' },
  { from: /^src\/kernels\//, allowed: /^src\/(runtime\/index|kernels\/)/, what: 'src/kernels/ imports only src/runtime and its own families' },
  { from: /^src\/tensor\.ts$/, allowed: /^src\/(runtime\/index|typed-arrays|wasm-tensor)$/, what: 'src/tensor.ts imports only src/runtime, src/typed-arrays.ts and src/wasm-tensor.ts' },
  { from: /^src\/wasm-tensor\.ts$/, allowed: /^src\/(runtime\/index|typed-arrays)$/, what: 'src/wasm-tensor.ts imports only src/runtime and src/typed-arrays.ts' },
  { from: /^src\/typed-arrays\.ts$/, allowed: /^src\/runtime\/index$/, what: 'src/typed-arrays.ts imports only src/runtime' },
  {
    from: /^src\/(attention|ops|position|layers)\//,
    allowed: /^src\/(kernels\/|tensor|typed-arrays|runtime\/index|attention\/|ops\/|position\/|layers\/)/,
    what: 'variants import kernels, tensor, runtime and each other',
  },
];

/** The files the core entry may reach (repo-relative, without extension). */
const CORE_GRAPH = new RegExp(String.raw`^src/(${[
  'core', 'workerd-core', 'workerd-kernels', 'core-runtime', 'runtime-factory', 'kernels/(instance|params|gemm|attention|softmax)', 'tensor', 'typed-arrays', 'wasm-tensor', String.raw`runtime/[\w.-]+`,
  'ops/(matmul|packed|softmax)', 'attention/(sdpa|onnx|run-heads|head-layout|heads-observer|mask|options)', String.raw`wasm/(relaxed|simd128)\.wasm`,
].join('|')})$`);

/** Every src/ file reachable from `entry` through static and dynamic imports (repo-relative, no extension). */
function importGraph(entry: string): Map<string, string> {
  const reached = new Map<string, string>([[entry, '(entry)']]);
  const queue = [entry];
  while (queue.length) {
    const from = queue.shift()!;
    const file = join(root, `${from}.ts`);
    if (!from.startsWith('src/') || from.endsWith('.wasm')) continue;
    for (const spec of imports(file)) {
      const to = target(file, spec);
      if (!to.startsWith('src/') || reached.has(to)) continue;
      reached.set(to, from);
      queue.push(to);
    }
  }
  return reached;
}

describe('layering', () => {
  const all = [...files(join(root, 'assembly')), ...files(join(root, 'src'))].filter((f) => !f.endsWith('.generated.ts'));

  it('scans the source tree and finds real imports', () => {
    expect(all.length).toBeGreaterThan(10);
    expect(imports(join(root, 'src/kernels/gemm.ts')).map((s) => target(join(root, 'src/kernels/gemm.ts'), s))).toContain('src/runtime/index');
    expect(imports(join(root, 'src/attention/onnx.ts')).length).toBeGreaterThanOrEqual(5);
  });

  it.each(['src/core', 'src/workerd-core'])('%s (the core entry) reaches no layers, positions or heavy variants', (entry) => {
    const graph = importGraph(entry);
    expect(graph.has('src/core-runtime') && graph.has('src/attention/sdpa') && graph.has('src/runtime/instantiate')).toBe(true);
    for (const [file, from] of graph) expect(file, `${file} (imported by ${from}) is outside the core entry's import graph`).toMatch(CORE_GRAPH);
    // and the full entry does reach them (the scan follows imports)
    const full = importGraph('src/index');
    expect(full.has('src/layers/mha') && full.has('src/position/rope') && full.has('src/attention/routing')).toBe(true);
  });

  it.each(all.map((f) => [relative(root, f), f] as const))('%s respects the layering', (rel, file) => {
    for (const spec of imports(file)) {
      const to = target(file, spec);
      expect(to, `${rel} imports ${spec}`).not.toMatch(/^(test|bench|examples)\//);
      for (const rule of rules) {
        if (rule.from.test(rel)) expect(to, `${rel} imports ${spec}: ${rule.what}`).toMatch(rule.allowed);
      }
    }
    const text = readFileSync(file, 'utf8');
    expect(text, `${rel} uses eval`).not.toMatch(/\beval\s*\(|new\s+Function\s*\(/);
    if (!rel.startsWith('src/runtime/') && rel.startsWith('src/')) {
      expect(text, `${rel} touches WebAssembly.* outside src/runtime`).not.toMatch(/WebAssembly\.(instantiate|Module|Instance|compile|validate)/);
    }
  });
});
