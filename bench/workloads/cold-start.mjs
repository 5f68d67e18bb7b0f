// cold-start — time from `await import(...)` to the first result of one small attention, in a
// fresh Node process (performance.now() before the dynamic import and after the result; Node's
// own start-up is excluded; the OS file cache is warm). Median over several processes. Two
// workloads: `cold` (the full entry, dist/index.js, beside the other engines) and `cold-core`
// (this library's `wasm-attention/core` entry, dist/core.js: the same measurement, a smaller bundle).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { attentionModel } from '../lib/onnx-models.mjs';
import { median, ROOT, Skip } from '../lib/util.mjs';

// A small attention for every engine: [1, 2, 16, 8].
const SHAPE = [1, 2, 16, 8];
const INPUT = `const x = new Float32Array(${SHAPE.reduce((a, b) => a * b)}).map((_, i) => Math.sin(i));`;
const DONE = `const t1 = performance.now(); if (!Number.isFinite(y[0])) throw new Error('bad result'); process.stdout.write(JSON.stringify({ ms: t1 - t0 }));`;

/** This library's script: import `bundle` (a file in dist/), create a runtime, one attention. */
const ours = (bundle) => (engine) => `const t0 = performance.now();
const m = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', bundle)).href)});
const tImport = performance.now();
const rt = await m.createRuntime({ isa: ${JSON.stringify(engine.isa)} });
const tCreate = performance.now();
${INPUT}
const t = { data: x, shape: ${JSON.stringify(SHAPE)} };
const y = rt.attention(t, t, t).data;
${DONE.replace('{ ms: t1 - t0 }', '{ ms: t1 - t0, parts: { import: tImport - t0, createRuntime: tCreate - tImport, firstAttention: t1 - tCreate } }')}`;

const scripts = {
  'wasm-attention': ours('index.js'),
  'onnxruntime-web': () => {
    const model = Buffer.from(attentionModel(SHAPE[1], SHAPE[2], SHAPE[2], SHAPE[3], false).bytes).toString('base64');
    return `const t0 = performance.now();
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
const s = await ort.InferenceSession.create(Buffer.from('${model}', 'base64'), { executionProviders: ['wasm'] });
${INPUT}
const T = new ort.Tensor('float32', x, ${JSON.stringify(SHAPE)});
const y = (await s.run({ Q: T, K: T, V: T })).Y.data;
${DONE}`;
  },
  'onnxruntime-node': () => {
    const model = Buffer.from(attentionModel(SHAPE[1], SHAPE[2], SHAPE[2], SHAPE[3], false).bytes).toString('base64');
    return `const t0 = performance.now();
const ort = (await import('onnxruntime-node')).default;
const s = await ort.InferenceSession.create(Buffer.from('${model}', 'base64'), { intraOpNumThreads: 1, interOpNumThreads: 1 });
${INPUT}
const T = new ort.Tensor('float32', x, ${JSON.stringify(SHAPE)});
const y = (await s.run({ Q: T, K: T, V: T })).Y.data;
${DONE}`;
  },
  'tfjs-wasm': () => `const t0 = performance.now();
const tf = await import('@tensorflow/tfjs-core');
const w = await import('@tensorflow/tfjs-backend-wasm');
const { createRequire } = await import('node:module');
const dir = (await import('node:path')).dirname(createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))}).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
w.setWasmPaths(dir + '/');
w.setThreadsCount(1);
await tf.setBackend('wasm');
${INPUT}
const t = tf.tensor(x, ${JSON.stringify(SHAPE.slice(1))});
const y = tf.matMul(tf.softmax(tf.mul(tf.matMul(t, t, false, true), ${1 / Math.sqrt(SHAPE[3])})), t).dataSync();
${DONE}`,
};

function setup(family, makeScript = scripts[family]) {
  return (engine, ctx) => {
    if (engine.threads !== 1) throw new Skip('thread count does not apply');
    // The script runs from a file, as an application would: `node -e` + import() would add the
    // ESM loader's own set-up (about 6 ms here) to the first import. The file sits under
    // node_modules/.cache so bare specifiers (onnxruntime-web, …) resolve from the project.
    const script = makeScript(engine);
    const dir = path.join(ROOT, 'node_modules', '.cache', 'wasm-attention-bench');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `cold-${family}-${engine.isa ?? 'x'}-${process.pid}.mjs`);
    writeFileSync(file, script);
    const runs = family === 'wasm-attention' ? (ctx.quick ? 5 : 11) : (ctx.quick ? 3 : 5);
    return {
      note: `median of ${runs} fresh processes`,
      measure() {
        const samples = [];
        const parts = {};
        for (let i = 0; i < runs; i++) {
          const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', file], {
            cwd: ROOT, encoding: 'utf8', timeout: 120_000,
          });
          if (r.status !== 0) throw new Error(`cold-start process failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
          const res = JSON.parse(r.stdout);
          samples.push(res.ms);
          for (const [k, v] of Object.entries(res.parts ?? {})) (parts[k] ??= []).push(v);
        }
        const split = Object.entries(parts).map(([k, v]) => `${k} ${median(v).toFixed(1)} ms`).join(', ');
        return { value: median(samples), samples, note: split ? `medians: ${split}` : undefined };
      },
      dispose() {
        rmSync(file, { force: true });
      },
    };
  };
}

export default [{
  id: 'cold',
  order: 900,
  singleThread: true,
  inProcess: false,
  title: 'cold start: import → first result (one small attention [1, 2, 16, 8])',
  unit: 'ms',
  workText: 'a script file run by a fresh `node` process each time; performance.now() before `await import()` and after the first result',
  setup: Object.fromEntries(Object.keys(scripts).map((f) => [f, setup(f)])),
  targets: [
    { label: 'cold start ≤ 20 ms (relaxed build, the default under the flag)', engine: 'wasm-attention/relaxed/1t', atMost: 20 },
    { label: 'cold start ≤ 20 ms (simd128 build)', engine: 'wasm-attention/simd128/1t', atMost: 20 },
  ],
}, {
  id: 'cold-core',
  order: 901,
  singleThread: true,
  inProcess: false,
  title: 'cold start through wasm-attention/core (dist/core.js): import → first result, same attention',
  unit: 'ms',
  workText: 'as `cold`, importing the core entry',
  setup: { 'wasm-attention': setup('wasm-attention', ours('core.js')) },
  targets: [
    { label: 'cold start ≤ 20 ms through wasm-attention/core (relaxed build)', engine: 'wasm-attention/relaxed/1t', atMost: 20 },
    { label: 'cold start ≤ 20 ms through wasm-attention/core (simd128 build)', engine: 'wasm-attention/simd128/1t', atMost: 20 },
  ],
}];
