// wasm-modules.d.ts — `import mod from './x.wasm'` as hosts that precompile Wasm modules see it
// (Cloudflare Workers / workerd, whose bundlers give a WebAssembly.Module). Used by src/workerd.ts.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
