// `npm run bench:llm`: bundles bench/llm/main.ts (TypeScript: it shares the GGUF writer and the
// page driver with the tests) into node_modules/.cache/wasm-attention/ with esbuild and runs it.
// Arguments are passed through (see main.ts). Needs the system Chromium (`apt-get install chromium`)
// and the built package (the page bundles dist/browser.js; `npm run bench:llm` builds first).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const out = join(process.cwd(), 'node_modules', '.cache', 'wasm-attention', 'bench-llm.mjs');
mkdirSync(join(out, '..'), { recursive: true });
await build({
  entryPoints: ['bench/llm/main.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
await import(pathToFileURL(out).href);
