// Starts WebKitGTK's MiniBrowser (Debian: `apt-get install -y webkit2gtk-driver
// libwebkit2gtk-4.1-0 xvfb xauth`) under WebDriver: the GTK MiniBrowser has no headless mode, so
// this starts an X server of its own (Xvfb, on the first free display, `-displayfd`), then
// WebKitWebDriver on a free loopback port with that DISPLAY, and drives it with
// selenium-webdriver (classic WebDriver: WebKitWebDriver has no BiDi). WebKit makes no network
// requests of its own by default (checked through a logging proxy); requests not to loopback go to
// the proxy of LaunchOptions.trafficProxy all the same. Every process started here is stopped by
// close() (and when the test process exits).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Builder, By, type WebDriver } from 'selenium-webdriver';
import { freePort } from '../env/helpers';
import { type BrowserDriver, type BrowserPage, CLOSED_PROXY, describeFunction, type LaunchOptions, pollUntil } from './driver';

/** WebKitGTK's MiniBrowser: $WEBKIT_MINIBROWSER, else /usr/lib/<arch>/webkit2gtk-4.1/MiniBrowser. */
export function miniBrowserPath(): string | undefined {
  if (process.env.WEBKIT_MINIBROWSER) return process.env.WEBKIT_MINIBROWSER;
  const dirs = existsSync('/usr/lib') ? readdirSync('/usr/lib').map((d) => join('/usr/lib', d)) : [];
  return ['/usr/lib', ...dirs].map((d) => join(d, 'webkit2gtk-4.1', 'MiniBrowser')).find((p) => existsSync(p));
}

const INSTALL_HINT = 'install them with `apt-get update && apt-get install -y webkit2gtk-driver libwebkit2gtk-4.1-0 xvfb xauth` (.ci/run does)';

/** Every child started here, stopped if the process exits before close(). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A process started here and the last 2,000 characters of its stderr. */
interface Started {
  child: ChildProcess;
  stderr(): string;
}

function start(command: string, args: string[], env: NodeJS.ProcessEnv, extraFd = false): Started {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe', ...(extraFd ? ['pipe' as const] : [])] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  return { child, stderr: () => stderr };
}

function stop(started: Started | undefined): Promise<void> {
  const child = started?.child;
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** Starts Xvfb on the first free display; resolves with the process and its display number. */
function startXvfb(): Promise<{ xvfb: Started; display: string }> {
  const xvfb = start('Xvfb', ['-displayfd', '3', '-screen', '0', '1920x1080x24', '-nolisten', 'tcp'], process.env, true);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb did not report a display within 20 s: ${xvfb.stderr()}`)), 20_000);
    xvfb.child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start Xvfb (${e.message}): ${INSTALL_HINT}`));
    });
    xvfb.child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited with ${code}: ${xvfb.stderr()}`));
    });
    xvfb.child.stdio[3]!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve({ xvfb, display: `:${out.trim()}` });
      }
    });
  });
}

/** Records uncaught errors, unhandled rejections and console.error() calls of the page. */
function installErrorRecorder(): void {
  const w = window as unknown as { __driverErrors?: { page: string[]; console: string[] } };
  if (w.__driverErrors) return;
  const log = { page: [] as string[], console: [] as string[] };
  w.__driverErrors = log;
  addEventListener('error', (e) => log.page.push(String(e.message)));
  addEventListener('unhandledrejection', (e) => log.page.push(String((e.reason as Error)?.message ?? e.reason)));
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    log.console.push(args.map(String).join(' '));
    consoleError.apply(console, args);
  };
}

function readErrors(): { page: string[]; console: string[] } {
  return (window as unknown as { __driverErrors?: { page: string[]; console: string[] } }).__driverErrors ?? { page: [], console: [] };
}

/** The device-pixel box of the first element matching `selector`, scrolled into view (null if none). */
function elementBox(selector: string): { x: number; y: number; width: number; height: number } | null {
  const element = document.querySelector(selector);
  if (!element) return null;
  element.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  const r = element.getBoundingClientRect();
  const px = (v: number) => Math.round(v * devicePixelRatio);
  return { x: px(r.left), y: px(r.top), width: Math.max(1, px(r.width)), height: Math.max(1, px(r.height)) };
}

/** Crops a base64 PNG to a box, in the page (no fetch: works under any Content-Security-Policy). */
async function cropPng({ png, x, y, width, height }: { png: string; x: number; y: number; width: number; height: number }): Promise<string> {
  const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }), x, y, width, height);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
  return canvas.toDataURL('image/png').slice('data:image/png;base64,'.length);
}

/**
 * Runs `fn(arg)` in the page through executeAsyncScript, awaiting a returned promise. The result
 * travels as JSON text (WebDriver's own serialization turns undefined properties into null).
 */
async function evaluateIn<R, A>(driver: WebDriver, fn: (arg: A) => R | Promise<R>, arg?: A): Promise<Awaited<R>> {
  const script = `const done = arguments[arguments.length - 1];
const arg = arguments.length > 1 ? arguments[0] : undefined;
Promise.resolve().then(() => (${fn.toString()})(arg)).then(
  (value) => done({ ok: true, json: value === undefined ? undefined : JSON.stringify(value) }),
  (error) => done({ ok: false, error: String((error && error.stack) || error) }));`;
  const result = (arg === undefined ? await driver.executeAsyncScript(script) : await driver.executeAsyncScript(script, arg)) as
    { ok: boolean; json?: string | null; error?: string };
  if (!result.ok) throw new Error(`evaluate(${describeFunction(fn as never)}) threw in the page: ${result.error}`);
  return (typeof result.json === 'string' ? JSON.parse(result.json) : undefined) as Awaited<R>;
}

/** WebKitGTK's MiniBrowser as a BrowserDriver. */
export async function webkitDriver({ sharedArrayBuffer = false, trafficProxy = CLOSED_PROXY }: LaunchOptions = {}): Promise<BrowserDriver> {
  const binary = miniBrowserPath();
  if (!binary) throw new Error(`no WebKitGTK MiniBrowser (webkit2gtk-4.1): ${INSTALL_HINT}, or set WEBKIT_MINIBROWSER`);
  let xvfb: Started | undefined;
  let webdriver: Started | undefined;
  let driver: WebDriver | undefined;
  const shutdown = async () => {
    await driver?.quit().catch(() => undefined);
    await stop(webdriver);
    await stop(xvfb);
  };
  try {
    const x = await startXvfb();
    xvfb = x.xvfb;
    const port = await freePort();
    // WebKitGTK (through GLib) takes its proxy from these variables; loopback stays direct.
    const env: NodeJS.ProcessEnv = {
      ...process.env, DISPLAY: x.display,
      http_proxy: trafficProxy, https_proxy: trafficProxy, HTTP_PROXY: trafficProxy, HTTPS_PROXY: trafficProxy,
      no_proxy: '127.0.0.1,localhost', NO_PROXY: '127.0.0.1,localhost',
    };
    if (sharedArrayBuffer) env.JSC_useSharedArrayBuffer = '1';
    webdriver = start('WebKitWebDriver', [`--port=${port}`], env);
    const started = webdriver;
    const failed = new Promise<never>((_, reject) => {
      started.child.once('error', (e) => reject(new Error(`cannot start WebKitWebDriver (${e.message}): ${INSTALL_HINT}`)));
      started.child.once('exit', (code) => reject(new Error(`WebKitWebDriver exited with ${code}: ${started.stderr()}`)));
    });
    failed.catch(() => undefined); // observed by the race below only while starting
    const server = `http://127.0.0.1:${port}`;
    await Promise.race([
      failed,
      pollUntil(() => fetch(`${server}/status`).then((r) => r.ok, () => false), `WebKitWebDriver on ${server}`, 20_000),
    ]);
    driver = await new Builder().usingServer(server).withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary, args: ['--automation'] },
    }).build();
    await driver.manage().setTimeouts({ script: 300_000, pageLoad: 60_000 });
  } catch (error) {
    await shutdown();
    throw error;
  }
  const session = driver;
  const caps = await session.getCapabilities();
  let current: { closed: boolean } | undefined;
  return {
    engine: 'webkit',
    version: `WebKitGTK ${caps.get('browserVersion')} (${caps.get('browserName')})`,
    async newPage({ width = 1280, height = 720 } = {}) {
      if (current) current.closed = true;
      const state = { closed: false };
      current = state;
      await session.manage().window().setRect({ width, height });
      const live = () => {
        if (state.closed) throw new Error('this WebKit page was closed (WebKitWebDriver drives one window: a newer page replaced it)');
      };
      const page: BrowserPage = {
        async goto(url) {
          live();
          await session.get(url);
          await evaluateIn(session, installErrorRecorder);
        },
        evaluate: (fn, arg) => {
          live();
          return evaluateIn(session, fn, arg);
        },
        waitFor: (fn, arg, timeoutMs) => {
          live();
          return pollUntil(() => evaluateIn(session, fn, arg), describeFunction(fn as never), timeoutMs);
        },
        async screenshot({ selector } = {}) {
          live();
          // WebKitWebDriver captures what was last painted: let the page paint its current state.
          await evaluateIn(session, () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
          if (!selector) return Buffer.from(await session.takeScreenshot(), 'base64');
          // Element screenshots come out black in WebKitGTK: crop a viewport screenshot instead.
          const box = await evaluateIn(session, elementBox, selector);
          if (!box) throw new Error(`screenshot: no element matches ${selector}`);
          const viewport = await session.takeScreenshot();
          return Buffer.from(await evaluateIn(session, cropPng, { png: viewport, ...box }), 'base64');
        },
        pageErrors: async () => (state.closed ? [] : (await evaluateIn(session, readErrors)).page),
        consoleErrors: async () => (state.closed ? [] : (await evaluateIn(session, readErrors)).console),
        async close() {
          if (state.closed) return;
          state.closed = true;
          await session.get('about:blank');
        },
      };
      return page;
    },
    close: shutdown,
  };
}
