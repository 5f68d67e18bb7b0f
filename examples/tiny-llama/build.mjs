// Builds the Node example: esbuild bundles run.ts (with model.ts and loader.ts) into
// examples/tiny-llama/dist/run.mjs. 'wasm-attention' stays an import, which Node resolves to this
// package's own build (package.json "exports" → dist/index.js), exactly as in a user's project;
// so `npm run build` must have run first (`npm run example:llama` does both).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, '..', '..', 'dist', 'index.js'))) {
  console.error('examples/tiny-llama: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
await build({
  entryPoints: [join(here, 'run.ts')],
  outfile: join(here, 'dist', 'run.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  external: ['wasm-attention'],
  sourcemap: true,
  logLevel: 'warning',
});
