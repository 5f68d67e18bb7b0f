// Bundles src/ into dist/index.js (ESM) and dist/index.cjs (CommonJS) with esbuild.
import { build } from 'esbuild';

const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['node:*'],
};
await build({ ...common, format: 'esm', outfile: 'dist/index.js' });
await build({ ...common, format: 'cjs', outfile: 'dist/index.cjs', logOverride: { 'empty-import-meta': 'silent' } });
// The worker-pool thread (ESM; Node worker_threads and browser module Workers load it).
await build({ ...common, entryPoints: ['src/runtime/worker.ts'], format: 'esm', outfile: 'dist/worker.js' });
console.log('bundles: dist/index.js, dist/index.cjs, dist/worker.js');
