// Starts the system Chromium (Debian's `chromium` package at /usr/bin/chromium, or
// $CHROMIUM_PATH) through playwright-core; never a downloaded browser. playwright's launch()
// gives every browser a fresh temporary profile (its own --user-data-dir). The flags work as root
// and keep Chromium off the network: even with the --disable-* flags, Chromium contacted
// update.googleapis.com and accounts.google.com in the background (seen through a logging proxy),
// so every request that is not to loopback (always direct) goes to a proxy on a closed port
// (driver.ts: CLOSED_PROXY).
// launchChromium() returns playwright's Browser (for tests that need playwright itself);
// chromiumDriver() wraps it in the suite's BrowserDriver (driver.ts).

import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type BrowserDriver, type BrowserPage, CLOSED_PROXY, DEFAULT_WAIT_MS, type LaunchOptions } from './driver';

/** Where the Chromium binary is. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium's command-line flags: headless as root, no network of its own. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Launches the system Chromium headless through playwright-core. */
export async function launchChromium({ trafficProxy = CLOSED_PROXY }: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it with \`apt-get update && apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS, `--proxy-server=${trafficProxy}`], timeout: 60_000 });
}

function chromiumPage(page: Page): BrowserPage {
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  return {
    async goto(url) {
      await page.goto(url);
    },
    evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
    async waitFor(fn, arg, timeoutMs = DEFAULT_WAIT_MS) {
      await page.waitForFunction(fn as never, arg, { timeout: timeoutMs });
    },
    async screenshot({ selector, fullPage = false } = {}) {
      return selector ? page.locator(selector).first().screenshot() : page.screenshot({ fullPage });
    },
    pageErrors: async () => [...pageErrors],
    consoleErrors: async () => [...consoleErrors],
    close: () => page.close(),
  };
}

/** The system Chromium as a BrowserDriver. */
export async function chromiumDriver(options: LaunchOptions = {}): Promise<BrowserDriver> {
  const browser = await launchChromium(options);
  return {
    engine: 'chromium',
    version: browser.version(),
    async newPage({ width = 1280, height = 720 } = {}) {
      return chromiumPage(await browser.newPage({ viewport: { width, height } }));
    },
    close: () => browser.close(),
  };
}
