// The three browser engines the browser suite runs in, and what the library does in each (measured
// here, checked by the tests): which kernel binary createRuntime() picks and whether `threads`
// runs on a crossOriginIsolated page. `BROWSERS=chromium,webkit npm run test:browser` runs a subset.

/** A browser engine of the suite: Blink (Chromium), Gecko (Firefox ESR), WebKit (WebKitGTK). */
export type Engine = 'chromium' | 'firefox' | 'webkit';

/** Every engine, in the order the suite runs them. */
export const ENGINES: readonly Engine[] = ['chromium', 'firefox', 'webkit'];

/** What the library does in one engine. */
export interface EngineFacts {
  /** name for test titles */
  label: string;
  /** the binary createRuntime() picks by default: relaxed where relaxed SIMD validates */
  defaultIsa: 'relaxed' | 'simd128';
  /**
   * Whether `threads: 2` runs two threads on a crossOriginIsolated page. WebKitGTK does not expose
   * SharedArrayBuffer even there (a gap of the GTK/WPE ports; Safari exposes it), so the runtime
   * falls back to one thread with its warning, unless WebKitWebDriver is started with
   * `JSC_useSharedArrayBuffer=1` (`launchBrowser('webkit', { sharedArrayBuffer: true })`).
   */
  threadsOnIsolatedPage: boolean;
}

/** The facts of each engine. */
export const ENGINE_FACTS: Record<Engine, EngineFacts> = {
  chromium: { label: 'Chromium', defaultIsa: 'relaxed', threadsOnIsolatedPage: true },
  firefox: { label: 'Firefox', defaultIsa: 'relaxed', threadsOnIsolatedPage: true },
  webkit: { label: 'WebKit', defaultIsa: 'simd128', threadsOnIsolatedPage: false },
};

/**
 * The engines to run: all of them, or the comma-separated list in $BROWSERS. An unknown name is an
 * error (a typo must not silently run nothing).
 */
export function selectedEngines(list = process.env.BROWSERS): Engine[] {
  if (!list?.trim()) return [...ENGINES];
  const names = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of names) {
    if (!(ENGINES as readonly string[]).includes(name)) throw new Error(`BROWSERS: expected a comma-separated list of ${ENGINES.join(', ')}; got "${name}"`);
  }
  return ENGINES.filter((e) => names.includes(e));
}
