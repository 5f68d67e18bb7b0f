// Reads what a test page computed: opens the page, waits until it sets its result global
// (`window.report` unless told otherwise), returns it, and fails the test if the page raised an
// error or reported one (`report.error`).

import { expect } from 'vitest';
import type { BrowserDriver } from './driver';

/** Options of readReport(). */
export interface ReadReportOptions {
  /** the global the page sets (default 'report') */
  global?: string;
  /** how long the page may take (default 60 s: WebKit and Firefox start slower on a loaded machine) */
  timeoutMs?: number;
  /** page errors the test expects (the browser's own messages, e.g. a script it could not load) */
  expectedErrors?: RegExp;
}

/** Opens `url` in a new page of `browser`, waits for its result global and returns it. */
export async function readReport<T>(
  browser: BrowserDriver, url: string, { global = 'report', timeoutMs = 60_000, expectedErrors }: ReadReportOptions = {},
): Promise<T> {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    await page.waitFor((name) => (window as unknown as Record<string, unknown>)[name] !== undefined, global, timeoutMs);
    const r = await page.evaluate((name) => (window as unknown as Record<string, unknown>)[name], global) as T & { error?: string };
    expect((await page.pageErrors()).filter((e) => !expectedErrors?.test(e))).toEqual([]);
    expect(r.error).toBeUndefined();
    return r;
  } finally {
    await page.close();
  }
}
