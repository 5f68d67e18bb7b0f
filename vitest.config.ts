import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chromium tests need a system package: `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['test/browser/**', '**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Node 20 validates relaxed-SIMD modules only behind this flag; with it both kernel binaries are tested.
    execArgv: ['--experimental-wasm-relaxed-simd'],
  },
});
