// Starts Debian's Firefox ESR (`apt-get install -y firefox-esr`: /usr/bin/firefox-esr, or
// $FIREFOX_PATH) headless through puppeteer-core 24 over WebDriver BiDi: no geckodriver (Debian
// has none; the npm package downloads one at install time) and never a downloaded browser.
// puppeteer gives every launch a fresh temporary profile with its testing preferences (no
// updates, no safebrowsing, no data reporting...); FIREFOX_PREFS adds what keeps the remaining
// background services off the network. Release builds ignore a changed Remote Settings server
// (it kept calling firefox.settings.services.mozilla.com, seen through a logging proxy) unless
// MOZ_DISABLE_NONLOCAL_CONNECTIONS=1, which also makes Firefox refuse every connection that is
// not to loopback, as Mozilla's own test harnesses run it.

import { existsSync } from 'node:fs';
import puppeteer, { type Page } from 'puppeteer-core';
import { type BrowserDriver, type BrowserPage, CLOSED_PROXY, DEFAULT_WAIT_MS, type LaunchOptions } from './driver';

/** Where the Firefox binary is. */
export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

/** A URL that cannot be reached: services that would call home are pointed at it. */
const NOWHERE = 'http://127.0.0.1:9/';

/** Preferences on top of puppeteer's: nothing in the background talks to the network. */
export const FIREFOX_PREFS: Record<string, string | number | boolean> = {
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.update.url': NOWHERE,
  'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': NOWHERE,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.trr.mode': 5,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.predictor.enabled': false,
  'browser.safebrowsing.update.enabled': false,
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  // With MOZ_DISABLE_NONLOCAL_CONNECTIONS, this dummy server makes Remote Settings skip all activity.
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'extensions.blocklist.enabled': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.topsites.contile.enabled': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.ping-centre.telemetry': false,
  'dom.push.connection.enabled': false,
  'geo.provider.network.url': '',
  'media.gmp-manager.url': NOWHERE,
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-widevinecdm.enabled': false,
};

function firefoxPage(page: Page): BrowserPage {
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e instanceof Error ? e.message : String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  return {
    async goto(url) {
      await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    },
    evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
    async waitFor(fn, arg, timeoutMs = DEFAULT_WAIT_MS) {
      await page.waitForFunction(fn as never, { timeout: timeoutMs, polling: 100 }, arg);
    },
    async screenshot({ selector, fullPage = false } = {}) {
      if (!selector) return Buffer.from(await page.screenshot({ fullPage }));
      const element = await page.$(selector);
      if (!element) throw new Error(`screenshot: no element matches ${selector}`);
      return Buffer.from(await element.screenshot());
    },
    pageErrors: async () => [...pageErrors],
    consoleErrors: async () => [...consoleErrors],
    close: () => page.close(),
  };
}

/** Preferences that send every request not to loopback through the proxy at `url`. */
function proxyPrefs(url: string): Record<string, string | number> {
  const { hostname, port } = new URL(url);
  return {
    'network.proxy.type': 1,
    'network.proxy.http': hostname,
    'network.proxy.http_port': Number(port),
    'network.proxy.ssl': hostname,
    'network.proxy.ssl_port': Number(port),
    'network.proxy.no_proxies_on': '',
  };
}

/** Debian's Firefox ESR as a BrowserDriver. */
export async function firefoxDriver({ trafficProxy = CLOSED_PROXY }: LaunchOptions = {}): Promise<BrowserDriver> {
  if (!existsSync(FIREFOX_PATH)) {
    throw new Error(`no Firefox at ${FIREFOX_PATH}: install it with \`apt-get update && apt-get install -y firefox-esr\` (.ci/run does), or set FIREFOX_PATH`);
  }
  const browser = await puppeteer.launch({
    browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: { ...FIREFOX_PREFS, ...proxyPrefs(trafficProxy) }, timeout: 60_000,
    env: { ...process.env, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' },
    // evaluate() may run a benchmark for minutes (bench/browser.mjs); puppeteer's default is 180 s.
    protocolTimeout: 900_000,
  });
  return {
    engine: 'firefox',
    version: await browser.version(),
    async newPage({ width = 1280, height = 720 } = {}) {
      const page = await browser.newPage();
      await page.setViewport({ width, height });
      return firefoxPage(page);
    },
    close: () => browser.close(),
  };
}
