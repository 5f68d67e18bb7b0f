// launchBrowser(engine): the one entry point the browser tests use to start a browser, whatever
// the engine (see driver.ts for the interface and engines.ts for the list and each one's facts);
// useBrowser(engine) does it for the tests of a describe block.

import { afterAll, beforeAll } from 'vitest';
import { chromiumDriver } from './chromium';
import type { BrowserDriver, LaunchOptions } from './driver';
import type { Engine } from './engines';
import { firefoxDriver } from './firefox';
import { webkitDriver } from './webkit';

/** Launches `engine` headless (WebKit: under an Xvfb of its own) and returns its driver. */
export function launchBrowser(engine: Engine, options: LaunchOptions = {}): Promise<BrowserDriver> {
  switch (engine) {
    case 'chromium':
      return chromiumDriver();
    case 'firefox':
      return firefoxDriver();
    case 'webkit':
      return webkitDriver(options);
  }
}

/**
 * Launches `engine` before the tests of the calling describe block and closes it after them (one
 * browser at a time: the blocks of a file run one after another). Returns a getter for it.
 */
export function useBrowser(engine: Engine, options?: LaunchOptions): () => BrowserDriver {
  let browser: BrowserDriver | undefined;
  beforeAll(async () => {
    browser = await launchBrowser(engine, options);
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error(`${engine} is not running (its launch failed)`);
    return browser;
  };
}
