// Threads with a bundler that leaves dist/worker.js out: an app importing 'wasm-attention' is
// bundled by esbuild (the `browser` condition, one output file, as a user's build would) into a
// folder with nothing else, and served with COOP/COEP. `createRuntime({ threads: 2 })` given no
// workerUrl first tries worker.js beside the bundle (absent: the request fails), then starts the
// workers from the copy of worker.js embedded in the bundle, through a blob: URL — so the pool
// runs with no bundler configuration, and a call split over the two threads equals the
// one-thread result. Chromium and Firefox (WebKitGTK has no SharedArrayBuffer on such pages).

import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { expectedCase, fixtures, type Install, installPackedPackage, maxAbsError } from '../env/helpers';
import { ENGINE_FACTS, selectedEngines } from './engines';
import { readReport } from './report';
import { useBrowser } from './use-browser';

type Server = Awaited<ReturnType<typeof startServer>>;

let install: Install;
let server: Server;
let appDir: string;

beforeAll(async () => {
  install = installPackedPackage();
  const src = join(install.dir, 'app-src');
  mkdirSync(src);
  cpSync(join(fixtures, 'case.mjs'), join(src, 'case.mjs'));
  writeFileSync(join(src, 'app.js'), [
    "import { createRuntime } from 'wasm-attention';",
    "import { runCase, runSplit } from './case.mjs';",
    'const workers = [];',
    'const NativeWorker = globalThis.Worker;',
    'globalThis.Worker = class extends NativeWorker {',
    '  constructor(url, options) { workers.push(String(url)); super(url, options); }',
    '};',
    'const warnings = [];',
    'const warn = console.warn;',
    "console.warn = (...args) => { warnings.push(args.join(' ')); warn(...args); };",
    'try {',
    '  const result = await runCase(createRuntime, { threads: 2 });',
    '  const split = await runSplit(createRuntime, 2);',
    '  window.report = { crossOriginIsolated: globalThis.crossOriginIsolated, ...result, ...split, workers, warnings };',
    '} catch (error) {',
    '  window.report = { error: String(error?.stack ?? error) };',
    '}',
  ].join('\n'));
  appDir = join(install.dir, 'app');
  await build({
    entryPoints: [join(src, 'app.js')], bundle: true, format: 'esm', platform: 'browser', conditions: ['browser'],
    outfile: join(appDir, 'app.js'), logLevel: 'warning', absWorkingDir: install.dir,
  });
  writeFileSync(join(appDir, 'index.html'), '<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<script type="module" src="./app.js"></script>\n');
  server = await startServer({ root: install.dir, isolated: true });
});

afterAll(async () => {
  await server?.close();
  install?.cleanup();
});

describe('an esbuild bundle without worker.js', () => {
  it('esbuild emitted the app alone (no worker.js beside it)', () => {
    expect(readdirSync(appDir).sort()).toEqual(['app.js', 'index.html']);
    expect(existsSync(join(appDir, 'worker.js'))).toBe(false);
  });

  describe.each(selectedEngines().filter((e) => ENGINE_FACTS[e].threadsOnIsolatedPage))('%s', (engine) => {
    const browser = useBrowser(engine);

    it('threads: 2 starts its workers from the embedded copy (blob: URL) and splits a call exactly', async () => {
      const r = await readReport<{
        crossOriginIsolated: boolean; threads: number; output: number[]; splitThreads: number; splitDiff: number; workers: string[]; warnings: string[];
      }>(browser(), `${server.url}/app/index.html`, {
        // Firefox reports the first attempt's failure (worker.js is not there) as a page error.
        expectedErrors: /^Loading Worker from “[^”]*\/app\/worker\.js” was blocked because of a disallowed MIME type/,
      });
      expect(r.crossOriginIsolated).toBe(true);
      expect(r.threads).toBe(2);
      expect(maxAbsError(r.output, expectedCase())).toBeLessThan(1e-6);
      expect(r.splitThreads).toBe(2);
      expect(r.splitDiff).toBe(0);
      // Each runtime: worker.js beside app.js first (not there), then the embedded copy.
      expect(r.workers.filter((u) => u.endsWith('/app/worker.js')).length).toBeGreaterThan(0);
      expect(r.workers.filter((u) => u.startsWith('blob:')).length).toBeGreaterThan(0);
      expect(r.workers.every((u) => u.endsWith('/app/worker.js') || u.startsWith('blob:'))).toBe(true);
      expect(r.warnings).toEqual([]);
    });
  });
});
