// Bundles the Worker for plain workerd (no wrangler): what wrangler does, with esbuild. The
// `workerd` condition selects wasm-attention's workerd entry; its two `.wasm` imports are copied
// to dist/wasm/ and stay imports, which config.capnp declares as Wasm modules.
//
//   node build.mjs && npx workerd serve config.capnp
import { build } from 'esbuild';

await build({
  entryPoints: ['src/worker.js'],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  outdir: 'dist',
  conditions: ['workerd', 'worker', 'browser'],
  loader: { '.wasm': 'copy' },
  assetNames: 'wasm/[name]',
  logLevel: 'warning',
});
console.log('dist/worker.js, dist/wasm/{relaxed,simd128}.wasm');
