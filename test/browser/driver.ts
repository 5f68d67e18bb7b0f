// The small driver interface every browser test is written against, so one test file runs in
// Chromium (playwright-core), Firefox (puppeteer-core over WebDriver BiDi) and WebKit
// (selenium-webdriver and WebKitGTK's WebKitWebDriver) alike: launch, open a page, evaluate a
// function in it, wait for a condition, take a screenshot, read the errors it raised, close.
// launch.ts starts one; chromium.ts, firefox.ts and webkit.ts implement it.
//
// Functions given to evaluate() and waitFor() are sent as source text and run in the page: they
// may use only their argument (JSON) and the page's globals, and must return JSON.

import type { Engine } from './engines';

/** One page (tab) of a launched browser. */
export interface BrowserPage {
  /** Navigates to `url` and waits for its load event. */
  goto(url: string): Promise<void>;
  /** Runs `fn(arg)` in the page and returns its result (awaited if it is a promise). */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<Awaited<R>>;
  /** Polls `fn(arg)` in the page until it returns a truthy value; throws after `timeoutMs`. */
  waitFor<A = undefined>(fn: (arg: A) => unknown, arg?: A, timeoutMs?: number): Promise<void>;
  /**
   * A PNG of the element `selector` (its first match), or of the page. `fullPage` asks for the whole
   * page where the engine's driver can (WebKitWebDriver takes the viewport only).
   */
  screenshot(options?: { selector?: string; fullPage?: boolean }): Promise<Buffer>;
  /**
   * Uncaught exceptions and unhandled rejections of the page. Chromium and Firefox report every
   * one; WebKitWebDriver has no event for them, so in WebKit they are recorded from the moment
   * goto() returns (errors before that are seen only through what the page reports itself).
   */
  pageErrors(): Promise<string[]>;
  /** console.error() messages of the page (WebKit: from the moment goto() returns, as above). */
  consoleErrors(): Promise<string[]>;
  /** Closes the page. */
  close(): Promise<void>;
}

/** A launched browser. */
export interface BrowserDriver {
  /** which engine it is */
  readonly engine: Engine;
  /** the browser's own version string */
  readonly version: string;
  /**
   * Opens a page with a viewport of about `width` × `height` CSS pixels. WebKit's driver drives one
   * window: opening a page there closes the previous one.
   */
  newPage(options?: { width?: number; height?: number }): Promise<BrowserPage>;
  /** Closes the browser and everything started for it. */
  close(): Promise<void>;
}

/** Options of launchBrowser(). */
export interface LaunchOptions {
  /**
   * WebKit only: start WebKitWebDriver with `JSC_useSharedArrayBuffer=1`, which makes WebKitGTK
   * expose SharedArrayBuffer on crossOriginIsolated pages (it does not by default).
   */
  sharedArrayBuffer?: boolean;
  /**
   * Where the browser sends every request that is not to loopback (loopback is always direct).
   * Default: CLOSED_PROXY, so nothing leaves the machine; driver.test.ts points it at a logging
   * proxy to see which requests a browser makes of its own.
   */
  trafficProxy?: string;
}

/** A proxy on a closed loopback port (discard, 9): requests sent there fail at once. */
export const CLOSED_PROXY = 'http://127.0.0.1:9';

/** The default time waitFor() waits. */
export const DEFAULT_WAIT_MS = 30_000;

/**
 * Calls `check()` every `intervalMs` until it resolves truthy; throws a timeout error naming
 * `what` after `timeoutMs`. Used by the drivers whose protocol has no "wait for function".
 */
export async function pollUntil(check: () => Promise<unknown>, what: string, timeoutMs = DEFAULT_WAIT_MS, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A short description of a page function for error messages. */
export function describeFunction(fn: (...args: never[]) => unknown): string {
  const text = fn.toString().replace(/\s+/g, ' ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
