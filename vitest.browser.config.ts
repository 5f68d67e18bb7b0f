// `npm run test:browser`: the browser tests (test/browser/), each in Chromium, Firefox and WebKit
// (test/browser/engines.ts; `BROWSERS=firefox,webkit` picks some). The browsers are Debian's
// packages, never downloaded ones: chromium (driven by playwright-core), firefox-esr
// (puppeteer-core over WebDriver BiDi), WebKitGTK's MiniBrowser under Xvfb (WebKitWebDriver and
// selenium-webdriver); .ci/run installs them. Separate from `npm test`, which needs nothing beyond
// npm packages.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One browser at a time: the machine has two cores and each describe block starts its own.
    fileParallelism: false,
    // The cross-engine test computes Node's result of the relaxed binary too.
    execArgv: ['--experimental-wasm-relaxed-simd'],
  },
});
