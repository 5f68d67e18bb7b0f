// useBrowser(engine): launches a browser for the tests of a describe block and closes it after them.

import { afterAll, beforeAll } from 'vitest';
import type { BrowserDriver, LaunchOptions } from './driver';
import type { Engine } from './engines';
import { launchBrowser } from './launch';

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
