// Bundles src/ with esbuild into the package's entry points (see package.json "exports"), with
// source maps. The browser and workerd bundles are minified (bytes over the network; parsing and
// compiling the module source is most of the import time); the Node entries (index.js, index.cjs,
// core.js, core.cjs — also what Deno and Bun load) are not: a host printing an uncaught error
// quotes the throwing source line, which in a minified bundle is the whole ~200 KB bundle.
//   dist/index.js    ESM — Node `import`, Deno, Bun, and the `default` condition
//   dist/index.cjs   CommonJS — Node `require`
//   dist/browser.js  ESM for browsers and their bundlers: the `node:*` imports (taken only when
//                    running in Node) are replaced by an empty module, so no bundler sees them
//   dist/workerd.js  ESM for Cloudflare Workers / workerd (src/workerd.ts): imports
//                    ./wasm/{relaxed,simd128}.wasm as precompiled modules and leaves the embedded
//                    base64 kernels and the `node:*` imports out (workerd forbids compiling bytes
//                    and has no worker threads)
//   dist/core.js, core.cjs, core.browser.js, core.workerd.js
//                    the same four for `wasm-attention/core` (src/core.ts, src/workerd-core.ts):
//                    CoreRuntime only, no layers, positions or long-sequence/structured variants
//   dist/worker.js   the worker-pool thread (Node worker_threads and browser module Workers)
//   dist/proxy-worker.js  the proxy runtime's worker (createRuntime({ proxy: true }))
import { build } from 'esbuild';

const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['node:*'],
};

/** Replaces every `node:*` import with an empty module (browser builds never take those paths). */
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'no-node-builtins' }));
    b.onLoad({ filter: /.*/, namespace: 'no-node-builtins' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

/** Replaces the embedded base64 kernels with empty strings (hosts that hand over a module). */
const noEmbeddedKernels = {
  name: 'no-embedded-kernels',
  setup(b) {
    b.onResolve({ filter: /wasm-bytes\.generated$/ }, (args) => ({ path: args.path, namespace: 'no-embedded-kernels' }));
    b.onLoad({ filter: /.*/, namespace: 'no-embedded-kernels' }, () => ({
      contents: ['SIMD128', 'RELAXED', 'SIMD128_MT', 'RELAXED_MT'].map((n) => `export const ${n}_WASM_BASE64 = '';`).join('\n'),
      loader: 'js',
    }));
  },
};

/** The four bundles of one entry: ESM, CommonJS, browser ESM, and workerd ESM (from its own source). */
async function bundleEntry(source, workerdSource, name) {
  const entry = { ...common, entryPoints: [source] };
  const server = { ...entry, minify: false }; // Node, Deno, Bun: readable stack lines
  await build({ ...server, format: 'esm', outfile: `dist/${name}.js` });
  await build({ ...server, format: 'cjs', outfile: `dist/${name}.cjs`, logOverride: { 'empty-import-meta': 'silent' } });
  await build({ ...entry, format: 'esm', outfile: `dist/${name === 'index' ? 'browser' : `${name}.browser`}.js`, external: [], plugins: [noNodeBuiltins] });
  await build({
    ...common,
    entryPoints: [workerdSource],
    format: 'esm',
    outfile: `dist/${name === 'index' ? 'workerd' : `${name}.workerd`}.js`,
    external: ['./wasm/*.wasm'],
    plugins: [noNodeBuiltins, noEmbeddedKernels],
    define: { __WORKER_SOURCE__: 'undefined' }, // workerd has no worker threads
  });
}

// The worker-pool thread first (ESM; Node worker_threads and browser module Workers load it).
// `export {}` marks it as an ES module for tools that guess (it has no imports or exports). Its
// source is also embedded in the other bundles (__WORKER_SOURCE__, src/runtime/pool.ts): where
// dist/worker.js is not served beside the bundle (esbuild, Rollup and webpack do not emit it), a
// browser starts the pool's workers from that copy through a blob: URL.
await build({ ...common, entryPoints: ['src/runtime/worker.ts'], format: 'esm', outfile: 'dist/worker.js', footer: { js: 'export {};' } });
// The proxy runtime's worker (createRuntime({ proxy: true })): the full API in one ESM file that
// Node worker_threads and module Workers load; not embedded (it is the size of the full entry).
await build({ ...common, entryPoints: ['src/proxy/proxy-worker.ts'], format: 'esm', outfile: 'dist/proxy-worker.js', define: { __WORKER_SOURCE__: 'undefined' } });
// The embedded copy only ever runs in a browser: its `node:*` imports become empty modules, as in
// the browser bundles.
const inlineWorker = await build({
  ...common, entryPoints: ['src/runtime/worker.ts'], format: 'esm', sourcemap: false, write: false, external: [], plugins: [noNodeBuiltins],
});
common.define = { __WORKER_SOURCE__: JSON.stringify(inlineWorker.outputFiles[0].text) };
await bundleEntry('src/index.ts', 'src/workerd.ts', 'index');
// The core entry has no proxy runtime: the attention driver's heads observer (its progress and
// abort hook, src/attention/heads-observer.ts) is compiled out of its bundles.
common.define = { ...common.define, __HEADS_OBSERVER__: 'false' };
await bundleEntry('src/core.ts', 'src/workerd-core.ts', 'core');
console.log('bundles: dist/{index,core}.js, dist/{index,core}.cjs, dist/browser.js, dist/core.browser.js, dist/workerd.js, dist/core.workerd.js, dist/worker.js, dist/proxy-worker.js');
