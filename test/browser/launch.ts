// launchBrowser(engine): the one entry point the browser tests use to start a browser, whatever
// the engine (see driver.ts for the interface and engines.ts for the list and each one's facts).
// No vitest here: bench/browser.mjs uses it too (use-browser.ts is the tests' hook).

import { chromiumDriver } from './chromium';
import type { BrowserDriver, LaunchOptions } from './driver';
import type { Engine } from './engines';
import { firefoxDriver } from './firefox';
import { webkitDriver } from './webkit';

/** Launches `engine` headless (WebKit: under an Xvfb of its own) and returns its driver. */
export function launchBrowser(engine: Engine, options: LaunchOptions = {}): Promise<BrowserDriver> {
  switch (engine) {
    case 'chromium':
      return chromiumDriver(options);
    case 'firefox':
      return firefoxDriver(options);
    case 'webkit':
      return webkitDriver(options);
  }
}
