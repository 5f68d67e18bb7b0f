// The same inputs in Chromium, Firefox, WebKit and Node: pages/cross-engine.mjs computes fixed
// seeded attentions (full with ragged tiles, causal, a decode step) through each engine's default
// binary, forced simd128 and, where relaxed SIMD validates, forced relaxed, and returns the output
// bytes. The test checks, against Node's run of the same file on the same packed package:
//   • each engine picks its documented default binary (engines.ts);
//   • outputs of the same binary are bit-identical across the engines and Node;
//   • so are the low-precision paths of the environment tests' case.mjs (integer products on both
//     binaries; f32 paths in simd128, within 1e-6 in relaxed: test/env/helpers.ts);
//   • relaxed and simd128 differ by at most twice the stated bound of docs/guarantees.md ("within ~1e-7 absolute of
//     float64 on unit-scale inputs"), and each is within that bound of a float64 reference
//     (test/reference/attention.ts), computed here independently of the library.

import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../scripts/serve.mjs';
import { fixtures, type Install, installPackedPackage, lowPrecisionDifferences } from '../env/helpers';
import { referenceAttention } from '../reference/attention';
import { ENGINE_FACTS, type Engine, selectedEngines } from './engines';
import { launchBrowser } from './launch';
import { CASES, caseInputs, type CrossEngineResult, runCrossEngine } from './pages/cross-engine.mjs';
import { readReport } from './report';

/** docs/guarantees.md's accuracy statement: outputs within ~1e-7 absolute of float64 (unit-scale inputs). */
const STATED_BOUND = 1e-7;
/** "~": the measured worst cases of these inputs are 1.25e-7 from float64 and 1.19e-7 between the binaries. */
const TO_REFERENCE = 1.5 * STATED_BOUND;
const BETWEEN_BINARIES = 2 * STATED_BOUND;

const engines = selectedEngines();
const reports = new Map<Engine | 'node', CrossEngineResult>();
let install: Install;

const floats = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return Number.isNaN(max) ? Infinity : max;
}

beforeAll(async () => {
  install = installPackedPackage();
  cpSync(join(import.meta.dirname, 'pages'), install.dir, { recursive: true });
  // Node: the packed package's ESM entry, under vitest's --experimental-wasm-relaxed-simd.
  const { runLowPrecision } = await import(pathToFileURL(join(fixtures, 'case.mjs')).href);
  reports.set('node', await runCrossEngine(await import(pathToFileURL(join(install.packageDir, 'dist', 'index.js')).href), runLowPrecision));
  const server = await startServer({ root: install.dir });
  try {
    for (const engine of engines) {
      const browser = await launchBrowser(engine);
      try {
        reports.set(engine, await readReport<CrossEngineResult>(browser, `${server.url}/cross-engine.html`));
      } finally {
        await browser.close();
      }
    }
  } finally {
    await server.close();
  }
});

afterAll(() => {
  install?.cleanup();
});

describe(`the cross-engine check (${['node', ...engines].join(', ')})`, () => {
  it.each(engines)('%s picks its documented default binary and runs simd128 when forced', (engine) => {
    const r = reports.get(engine)!;
    expect(r.default.isa).toBe(ENGINE_FACTS[engine].defaultIsa);
    expect(r.simd128.isa).toBe('simd128');
    if (ENGINE_FACTS[engine].defaultIsa === 'relaxed') expect(r.relaxed?.isa).toBe('relaxed');
    else expect(r.relaxed).toBeUndefined(); // relaxed SIMD does not validate there
  });

  it('the default binary computes what that binary computes when forced', () => {
    for (const [name, r] of reports) {
      const forced = r.default.isa === 'relaxed' ? r.relaxed : r.simd128;
      expect(r.default.outputs, name).toEqual(forced?.outputs);
    }
  });

  it.each(['simd128', 'relaxed'] as const)('%s outputs are bit-identical across the engines and Node', (isa) => {
    const node = reports.get('node')![isa];
    expect(node?.isa).toBe(isa); // vitest runs Node with --experimental-wasm-relaxed-simd
    let compared = 0;
    for (const engine of engines) {
      const run = reports.get(engine)![isa];
      if (!run) continue;
      for (const c of CASES) expect(run.outputs[c.name], `${engine} ${c.name}`).toBe(node!.outputs[c.name]);
      compared++;
    }
    expect(compared).toBe(engines.filter((e) => isa === 'simd128' || ENGINE_FACTS[e].defaultIsa === 'relaxed').length);
  });

  it.each(['simd128', 'relaxed'] as const)('%s low-precision paths (int8 / q8_0 / q4_0 / f16 products, 8-bit attention, f16 / int8 KV caches) agree with Node', (isa) => {
    const node = reports.get('node')!.lowPrecision?.[isa];
    expect(node?.isa).toBe(isa);
    let compared = 0;
    for (const engine of engines) {
      const low = reports.get(engine)!.lowPrecision;
      expect(low, engine).toBeDefined();
      if (!low![isa]) continue;
      // Integer products bit for bit; f32 paths bit for bit in simd128 (see lowPrecisionDifferences).
      expect(lowPrecisionDifferences(low![isa], node!), engine).toEqual([]);
      compared++;
    }
    expect(compared).toBe(engines.filter((e) => isa === 'simd128' || ENGINE_FACTS[e].defaultIsa === 'relaxed').length);
  });

  it.each(CASES.map((c) => c.name))('%s: relaxed and simd128 within the stated bound of each other and of float64', (name) => {
    const c = CASES.find((x) => x.name === name)!;
    const { q, k, v } = caseInputs(c);
    const reference = referenceAttention(q, k, v, { causal: c.causal }).output;
    for (const [env, r] of reports) {
      const simd128 = floats(r.simd128.outputs[name]);
      expect(simd128.length).toBe(reference.length);
      expect(maxDifference(simd128, reference), `${env} simd128 vs float64`).toBeLessThanOrEqual(TO_REFERENCE);
      if (!r.relaxed) continue;
      const relaxed = floats(r.relaxed.outputs[name]);
      expect(maxDifference(relaxed, reference), `${env} relaxed vs float64`).toBeLessThanOrEqual(TO_REFERENCE);
      expect(maxDifference(relaxed, simd128), `${env} relaxed vs simd128`).toBeLessThanOrEqual(BETWEEN_BINARIES);
    }
  });
});
