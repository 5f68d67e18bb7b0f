// Builds the browser demo (examples/browser): esbuild bundles main.ts — `import 'wasm-attention'`
// resolves through the package's own "exports" to dist/browser.js — into
// examples/browser/dist/demo.js, and copies the worker-pool script beside it (the runtime looks
// for worker.js next to the bundle). Both pages fetch the stories260K checkpoint from dist/ (the
// demo's real-attention view and the Llama page), copied there below. Needs `npm run build` first.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

if (!existsSync('dist/browser.js') || !existsSync('dist/worker.js')) {
  console.error('build-demo: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
mkdirSync('examples/browser/dist', { recursive: true });
await build({
  entryPoints: ['examples/browser/main.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: 'examples/browser/dist/demo.js',
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
copyFileSync('dist/worker.js', 'examples/browser/dist/worker.js');
// The tiny-llama page (llama.html): llama.ts with the model of examples/tiny-llama, and the
// checkpoint and llama2.c's greedy ids it fetches from dist/.
await build({
  entryPoints: ['examples/browser/llama.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: 'examples/browser/dist/llama.js',
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
for (const f of ['stories260K.bin', 'greedy-tokens.txt']) copyFileSync(`test/fixtures/stories260K/${f}`, `examples/browser/dist/${f}`);
console.log('demo: examples/browser/dist/demo.js, llama.js (+ worker.js, stories260K.bin); serve examples/browser');
