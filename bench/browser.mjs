// browser.mjs — `npm run bench:browser`: the standard attention workloads (A1 full SDPA N=512, A2
// causal N=1024, A4 decode step) in Node and in Chromium, Firefox and WebKit, wasm-attention beside
// onnxruntime-web in the same page, one thread; writes the "Browsers" section of bench/RESULTS.md.
//
//   node --experimental-wasm-relaxed-simd bench/browser.mjs [--quick] [--browsers chromium,firefox,webkit]
//        [--workloads A1,A2,A4] [--json] [--no-write] [--output bench/RESULTS.md]
//
// The browsers are the browser suite's (test/browser/: Debian's packages, driven through one
// interface; its TypeScript is compiled here with esbuild). The page (bench/browser/page.html) is
// served crossOriginIsolated from the repository root and runs the bench's own modules.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { startServer } from '../scripts/serve.mjs';
import { browsersMarkdown, withBrowsersSection } from './browser/report.mjs';
import { runWorkload } from './browser/run-workload.mjs';
import { engines as ortWebEngines } from './engines/ort-web.mjs';
import { engines as wasmAttentionEngines } from './engines/wasm-attention.mjs';
import { machineInfo } from './lib/machine.mjs';
import { attentionModel } from './lib/onnx-models.mjs';
import { errorText, ROOT } from './lib/util.mjs';

const HELP = `usage: node --experimental-wasm-relaxed-simd bench/browser.mjs [options]

  --quick              short run (the CLI's quick profile)
  --browsers LIST      chromium,firefox,webkit (default: all three)
  --workloads LIST     workload ids (default: A1,A2,A4)
  --json               print the result object (JSON) to stdout
  --no-write           do not write the results file
  --output FILE        results file whose Browsers section is replaced (default bench/RESULTS.md)
  -h, --help           this text`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      browsers: { type: 'string', default: 'chromium,firefox,webkit' },
      workloads: { type: 'string', default: 'A1,A2,A4' },
      json: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      output: { type: 'string', default: path.join('bench', 'RESULTS.md') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  console.error(`${e.message}\n\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const started = performance.now();
const log = (s) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The suite's drivers (test/browser/launch.ts, engines.ts), compiled to one ES module. */
async function loadDrivers() {
  const outfile = path.join(ROOT, 'node_modules', '.cache', 'wasm-attention-bench', 'browser-drivers.mjs');
  mkdirSync(path.dirname(outfile), { recursive: true });
  await build({
    stdin: { contents: "export * from './launch';\nexport * from './engines';\n", resolveDir: path.join(ROOT, 'test', 'browser'), loader: 'ts', sourcefile: 'drivers.ts' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'warning',
  });
  return import(pathToFileURL(outfile).href);
}

const drivers = await loadDrivers();
let browsers;
let workloads;
try {
  browsers = drivers.selectedEngines(args.browsers);
  workloads = await Promise.all(list(args.workloads).map(async (id) => {
    if (!/^[A-Za-z0-9-]+$/.test(id)) throw new Error(`--workloads: expected workload ids, got "${id}"`);
    const w = (await import(pathToFileURL(path.join(ROOT, 'bench', 'workloads', `${id}.mjs`)).href)).default;
    if (w.kind !== 'sdpa') throw new Error(`--workloads: ${id} is not an attention (sdpa) workload`);
    return w;
  }));
} catch (e) {
  console.error(e.message);
  process.exit(2);
}

const machine = machineInfo();
const environments = [{ id: 'node', label: 'Node', detail: `${process.version}, V8 ${process.versions.v8}; --experimental-wasm-relaxed-simd ${process.execArgv.includes('--experimental-wasm-relaxed-simd') ? 'on' : 'off'}` }];
const rows = new Map(workloads.map((w) => [w.id, []]));
const quick = args.quick;

// Node: the same engines the CLI uses (wasm-attention's module, onnxruntime-web's Node build).
log(`Node ${process.version}: ${workloads.map((w) => w.id).join(', ')}`);
for (const w of workloads) {
  const engines = [...wasmAttentionEngines({ threads: [1] }), ...ortWebEngines({ threads: [1] })];
  const r = await runWorkload(w, engines, { quick, log });
  rows.get(w.id).push(...r.results.map((x) => ({ environment: 'node', ...x })));
}

// Browsers: one page each; the ONNX models are built here (onnx-proto does not load in a page).
const models = Object.fromEntries(workloads.map((w) => {
  const { H, Nq, Nk, D, causal } = w.params;
  return [w.id, Buffer.from(attentionModel(H, Nq, Nk, D, causal).bytes).toString('base64')];
}));
const server = await startServer({ root: ROOT, isolated: true });
try {
  for (const engine of browsers) {
    const facts = drivers.ENGINE_FACTS[engine];
    log(`${facts.label}: launching`);
    const browser = await drivers.launchBrowser(engine);
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/bench/browser/page.html`);
      await page.waitFor(() => window.benchReady !== undefined, undefined, 60_000);
      const ready = await page.evaluate(() => window.benchReady);
      if (ready !== true) throw new Error(`the bench page did not load: ${ready?.error ?? ready}`);
      const env = await page.evaluate(() => window.benchEnvironment);
      environments.push({
        id: engine, label: facts.label,
        detail: `${browser.version}; ${env.relaxed ? 'relaxed SIMD' : 'no relaxed SIMD'}; crossOriginIsolated ${env.crossOriginIsolated}; timer step ${env.timerResolutionMs < 0.001 ? '< 1 µs' : `${+(env.timerResolutionMs * 1000).toFixed(1)} µs`}`,
      });
      for (const w of workloads) {
        log(`${facts.label}: ${w.id}`);
        const r = await page.evaluate(({ id, quick, model }) => window.runBenchWorkload(id, { quick, model }), { id: w.id, quick, model: models[w.id] });
        for (const x of r.results) log(`${w.id} ${engine} ${x.engine}: ${x.status === 'ok' ? `${x.medianMs.toFixed(2)} ms` : `${x.status} ${x.reason ?? x.error}`}`);
        rows.get(w.id).push(...r.results.map((x) => ({ environment: engine, ...x })));
      }
      const errors = await page.pageErrors();
      if (errors.length) log(`${facts.label}: page errors: ${errors.join('; ')}`);
    } catch (e) {
      process.exitCode = 1; // a browser that does not run at all fails the command (CI runs it)
      log(`${facts.label}: FAILED: ${errorText(e)}`);
      for (const w of workloads) rows.get(w.id).push({ environment: engine, engine: 'all engines', status: 'failed', error: errorText(e) });
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}

const npmScript = process.env.npm_lifecycle_event;
const invocation = `node ${process.execArgv.join(' ')}${process.execArgv.length ? ' ' : ''}bench/browser.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
const run = {
  date: new Date().toISOString(),
  command: npmScript ? `npm run ${npmScript}  (${invocation})` : invocation,
  machine,
  quick,
  environments,
  workloads: workloads.map((w) => ({ id: w.id, title: w.title, unit: w.unit, work: w.work, workText: w.workText, rows: rows.get(w.id) })),
  notes: [
    'One thread everywhere (threads need a crossOriginIsolated page in browsers; WebKitGTK has no SharedArrayBuffer even there). wasm-attention: one row per kernel binary the environment validates (WebKit has no relaxed SIMD, so no relaxed row). Inputs and outputs are Wasm-resident tensors with `out:`; A4 goes through rt.kvCache, as in the CLI.',
    'onnxruntime-web: the wasm backend, one thread, the ONNX Attention graph of the CLI; in the pages the package\'s dist/ort.wasm.bundle.min.mjs (what `onnxruntime-web/wasm` gives a bundler), in Node its Node build.',
    'The page is served crossOriginIsolated (COOP/COEP): Firefox rounds performance.now() to 1 ms on other pages. A sample lasts at least 30 ms (15 ms in --quick) whatever the timer step shown above.',
    'The browsers run headless on the same machine (WebKit under Xvfb) with its other load; compare rows of one environment first: they were interleaved.',
  ],
  totalMs: performance.now() - started,
  loadAverageAtEnd: os.loadavg().map((x) => +x.toFixed(2)),
};
log(`done in ${(run.totalMs / 1000).toFixed(0)} s`);

const section = browsersMarkdown(run);
if (!args['no-write']) {
  const file = path.resolve(ROOT, args.output);
  writeFileSync(file, withBrowsersSection(readFileSync(file, 'utf8'), section));
  log(`wrote the Browsers section of ${path.relative(process.cwd(), file) || file}`);
} else {
  process.stderr.write(`\n${section}\n`);
}
if (args.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
