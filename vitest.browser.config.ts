// `npm run test:browser`: the Chromium tests (test/browser/), driven by playwright-core with the
// system Chromium (`apt-get install -y chromium`; never a downloaded browser). Separate from
// `npm test`, which needs nothing beyond npm packages.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One Chromium at a time: the machine has two cores and each test starts its own browser.
    fileParallelism: false,
  },
});
