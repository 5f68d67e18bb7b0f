// as-pect.config.cjs — kernel specs (assembly/__tests__/*.spec.ts), run by `npm run test:kernels`.
//
// Compiler options do not live here: as-pect 8 has no `flags` field; for every spec file it runs
// asc with `--config ./as-pect.asconfig.json --target noCoverage` (the CLI's `-a` default, see
// node_modules/@as-pect/cli/lib/index.js). That file is the `asp --init` template plus
//   "enable": ["simd"], "disable": ["relaxed-simd"], "optimizeLevel": 3, "shrinkLevel": 0,
// i.e. the simd128 build of asconfig.json (SIMD128, no relaxed SIMD, which Node 20 only validates
// behind --experimental-wasm-relaxed-simd). It keeps as-pect's own runtime (incremental GC,
// exported runtime, RTRACE, raw bindings) instead of the kernels' stub runtime: the test
// framework allocates, the kernels do not. exp.spec.ts asserts ASC_FEATURE_SIMD and
// !ASC_FEATURE_RELAXED_SIMD, so a config drift fails loudly.
//
// `asp` loads this file with import(); a CommonJS module's exports arrive as `default`.
module.exports = {
  /** Spec files. helpers.ts in the same folder is imported by the specs, not an entry. */
  entries: ['assembly/__tests__/**/*.spec.ts'],
  /** No per-compilation includes (a glob with no match adds nothing). */
  include: ['assembly/__tests__/**/*.include.ts'],
  disclude: [/node_modules/],
  /** The kernels need no host imports; as-pect supplies its own through createImports. */
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  /** Set to true to get assembly/__tests__/<name>.wasm/.wat next to each spec. */
  outputBinary: false,
};
