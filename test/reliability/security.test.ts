// Security, Node side; test/browser/csp.test.ts runs the package in Chromium under
// a strict Content-Security-Policy.
//   • Static: neither src/ nor any shipped bundle (dist/*.js) contains eval, new Function /
//     Function(), string timers, fetch, XMLHttpRequest, WebSocket, EventSource, sendBeacon,
//     importScripts, blob: URLs (but one: the object URL of the pool's worker source embedded in the
//     bundles, the fallback where dist/worker.js is not served; nothing else may make one, and
//     each file makes it at most once) or a require()/import() of anything but the two Node built-ins it
//     needs — node:worker_threads (the thread pool) and node:os (threads: 'auto'), both dynamic
//     imports reached only in Node — and nothing of node:fs, node:net, node:http(s), node:dgram,
//     node:tls, node:child_process or process.binding. The browser and workerd bundles (of both
//     entries, `wasm-attention` and `wasm-attention/core`) replace those two imports with empty
//     modules.
//   • Dynamic: Node's permission model (`--experimental-permission`) runs the ESM and CommonJS
//     entries with read access to dist/ only, no child processes and no workers: an attention is
//     computed (so nothing outside the package's own files is read); with threads: 2 and
//     --allow-worker the pool starts (its worker is dist/worker.js); without --allow-worker, no
//     worker may start: createRuntime({ threads: 2 }) warns (naming the refusal) and runs on one
//     thread, computing the same.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceAttention } from '../reference/attention';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(ROOT, 'dist');

const FORBIDDEN: Array<[string, RegExp]> = [
  ['eval', /(?<![\w$.])eval\s*\(/],
  ['new Function', /new\s+Function\b/],
  ['Function()', /(?<![\w$.])Function\s*\(/],
  ['string setTimeout/setInterval', /set(?:Timeout|Interval)\s*\(\s*['"`]/],
  ['fetch', /(?<![\w$.])fetch\s*\(/],
  ['XMLHttpRequest', /XMLHttpRequest/],
  ['WebSocket', /WebSocket/],
  ['EventSource', /EventSource/],
  ['sendBeacon', /sendBeacon/],
  ['importScripts', /importScripts/],
  ['blob: URLs', /createObjectURL|['"`]blob:/],
  ['process.binding', /process\.binding/],
  ['node:fs and the network', /['"`](?:node:)?(?:fs|fs\/promises|net|http|https|http2|dgram|tls|dns|child_process|cluster|inspector)['"`]/],
];

/**
 * The one object URL the code may make: a Blob of the embedded worker source (src/runtime/pool.ts,
 * workerSources), as written in the source and as minified.
 */
const EMBEDDED_WORKER_URL = /URL\.createObjectURL\(\s*new Blob\(\s*\[\s*[\w$]+\s*\]\s*,\s*\{\s*type:\s*['"]text\/javascript['"]\s*\}\s*\)\s*\)/g;

/** Module specifiers the code may load: the two Node built-ins, and nothing else. */
const ALLOWED_IMPORTS = new Set(['node:worker_threads', 'node:os']);

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, ext) : ext.test(name) ? [path] : [];
  });
}

/** Specifiers of import(…) / require(…) / import … from '…' / export … from '…' in `text`. */
function specifiers(text: string): string[] {
  const out = new Set<string>();
  for (const re of [/\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g, /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g, /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"`]([^'"`]+)['"`]/g]) {
    for (const m of text.matchAll(re)) out.add(m[1]);
  }
  return [...out];
}

describe('static scan', () => {
  const bundles = existsSync(DIST) ? readdirSync(DIST).filter((f) => f.endsWith('.js') || f.endsWith('.cjs')).map((f) => join(DIST, f)) : [];

  it('dist/ holds the ten bundles (the full entry, the core entry, the pool worker, the proxy worker)', () => {
    expect(bundles.map((f) => relative(DIST, f)).sort()).toEqual([
      'browser.js', 'core.browser.js', 'core.cjs', 'core.js', 'core.workerd.js', 'index.cjs', 'index.js', 'proxy-worker.js', 'worker.js', 'workerd.js',
    ]);
  });

  it.each(['src', 'dist'])('%s: no eval, no Function constructor, no network, no fs, no other imports', (where) => {
    const list = where === 'src' ? files(join(ROOT, 'src'), /\.ts$/) : bundles;
    const found: string[] = [];
    const imports = new Map<string, string[]>();
    for (const file of list) {
      // comments may mention anything; only code counts
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
      const workerUrls = code.match(EMBEDDED_WORKER_URL)?.length ?? 0;
      if (workerUrls > 1) found.push(`${relative(ROOT, file)}: ${workerUrls} object URLs of the embedded worker`);
      const text = code.replace(EMBEDDED_WORKER_URL, '');
      for (const [name, re] of FORBIDDEN) if (re.test(text)) found.push(`${relative(ROOT, file)}: ${name}`);
      for (const spec of specifiers(text)) {
        if (where === 'src' && spec.startsWith('.')) continue; // its own modules
        if (where === 'dist' && spec.startsWith('./wasm/')) continue; // workerd.js: the shipped .wasm files
        imports.set(spec, [...(imports.get(spec) ?? []), relative(ROOT, file)]);
      }
    }
    expect(found).toEqual([]);
    const unexpected = [...imports.keys()].filter((s) => !ALLOWED_IMPORTS.has(s));
    expect(unexpected, JSON.stringify(Object.fromEntries(imports))).toEqual([]);
    console.log(`[security] ${where}: imports ${JSON.stringify(Object.fromEntries(imports))}`);
  });

  it('the Node built-ins are reached only by dynamic import (no top-level import a browser bundler would follow)', () => {
    for (const file of bundles) {
      const text = readFileSync(file, 'utf8');
      expect(text, relative(ROOT, file)).not.toMatch(/^\s*import\s[^(]*['"`]node:/m);
      expect(text, relative(ROOT, file)).not.toMatch(/require\(\s*['"`]node:/);
    }
    for (const name of ['browser.js', 'workerd.js', 'core.browser.js', 'core.workerd.js']) {
      expect(specifiers(readFileSync(join(DIST, name), 'utf8')).filter((s) => s.startsWith('node:')), name).toEqual([]);
    }
  });
});

describe("Node's permission model: read access to dist/ only", () => {
  const shape = [1, 2, 7, 8];
  const fill = (t: number) => ({ data: Float32Array.from({ length: 112 }, (_, i) => Math.sin(0.37 * i + 1.3 * t)), shape });
  const want = referenceAttention(fill(0), fill(1), fill(2), { causal: true }).output;
  const program = (load: string, threads: number) => `
${load}
const shape = [1, 2, 7, 8];
const fill = (t) => ({ data: Float32Array.from({ length: 112 }, (_, i) => Math.sin(0.37 * i + 1.3 * t)), shape });
(async () => {
  try {
    const rt = await createRuntime({ threads: ${threads} });
    const y = rt.attention(fill(0), fill(1), fill(2), { causal: true });
    console.log(JSON.stringify({ threads: rt.threads, output: Array.from(y.data) }));
    rt.dispose();
  } catch (e) {
    console.log(JSON.stringify({ error: { name: e.name, code: e.code, message: e.message } }));
  }
})();`;

  function run(kind: 'esm' | 'cjs', threads: number, allowWorker: boolean): { threads?: number; output?: number[]; error?: { name: string; code?: string; message: string }; stderr: string } {
    const load = kind === 'esm'
      ? `const { createRuntime } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});`
      : `const { createRuntime } = require(${JSON.stringify(join(DIST, 'index.cjs'))});`;
    const args = ['--experimental-permission', `--allow-fs-read=${DIST}/`, ...(allowWorker ? ['--allow-worker'] : [])];
    const r = spawnSync(process.execPath, [...args, ...(kind === 'esm' ? ['--input-type=module'] : []), '-e', program(load, threads)], {
      encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status !== 0) throw new Error(`node exited with ${r.status}: ${r.stderr}`);
    return { ...JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
  }

  it.each(['esm', 'cjs'] as const)('%s entry: computes attention reading only its own files', (kind) => {
    const r = run(kind, 1, false);
    expect(r.error).toBeUndefined();
    expect(r.threads).toBe(1);
    expect(Math.max(...want.map((w, i) => Math.abs(r.output![i] - w)))).toBeLessThan(1e-6);
  });

  it('threads: 2 with --allow-worker starts the pool (dist/worker.js); without it, a warning and one thread', () => {
    const r = run('esm', 2, true);
    expect(r.error).toBeUndefined();
    expect(r.threads).toBe(2);
    expect(Math.max(...want.map((w, i) => Math.abs(r.output![i] - w)))).toBeLessThan(1e-6);
    const denied = run('esm', 2, false);
    expect(denied.error).toBeUndefined();
    expect(denied.threads).toBe(1);
    expect(Math.max(...want.map((w, i) => Math.abs(denied.output![i] - w)))).toBeLessThan(1e-6);
    expect(denied.stderr).toMatch(/wasm-attention: could not start worker threads from .*worker\.js \(beside this bundle\).*running on one thread/);
  });
});
