import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Node 20 validates relaxed-SIMD modules only behind this flag; with it both kernel binaries are tested.
    execArgv: ['--experimental-wasm-relaxed-simd'],
  },
});
