// proxy-worker.ts — entry point of the proxy runtime's worker (bundled to dist/proxy-worker.js).
// Receives the runtime options, creates an in-thread Runtime, then runs each forwarded call and
// posts back its result (the result's buffers transferred, not copied) or its error's code and
// message. Works as a Node worker_threads Worker and as a browser / Deno / Bun module Worker.

import { createRuntime, type Runtime } from '../create-runtime';
import { AttentionError } from '../runtime/errors';
import { setHeadsObserver } from '../attention/heads-observer';
import { ABORT_SLOT, collectTransferables, type FromWorker, PROXIED_METHODS, type ToWorker } from './protocol';

interface Port {
  post(message: FromWorker, transfer?: ArrayBuffer[]): void;
  listen(handler: (message: ToWorker) => void): void;
}

async function parentPort(): Promise<Port> {
  const g = globalThis as unknown as {
    process?: { versions?: { node?: string } };
    postMessage?: (m: unknown, t?: ArrayBuffer[]) => void;
    addEventListener?: (t: string, h: (e: { data: ToWorker }) => void) => void;
  };
  if (g.process?.versions?.node) {
    const { parentPort: port } = await import('node:worker_threads');
    if (!port) throw new Error('wasm-attention proxy worker: not started as a worker thread');
    return { post: (m, t) => port.postMessage(m, t), listen: (h) => port.on('message', h) };
  }
  return { post: (m, t) => g.postMessage!(m, t), listen: (h) => g.addEventListener!('message', (e) => h(e.data)) };
}

/** Minimum time between two progress messages of one call. */
const PROGRESS_INTERVAL_MS = 75;

async function main(): Promise<void> {
  const port = await parentPort();
  let rt: Runtime | undefined;
  let flag: Int32Array | undefined;
  port.listen((message) => {
    if (message.type === 'init') {
      if (message.abortFlag) flag = new Int32Array(message.abortFlag);
      createRuntime(message.options).then(
        (runtime) => { rt = runtime; port.post({ type: 'ready' }); },
        (error: unknown) => port.post({ type: 'init-error', code: error instanceof AttentionError ? error.code : 'UNSUPPORTED', message: error instanceof Error ? error.message : String(error) }),
      );
      return;
    }
    const { id, method, args, progress } = message;
    let last = Date.now();
    let lastDone = 0;
    let lastTotal = 1;
    const abortFlag = flag;
    setHeadsObserver(abortFlag || progress ? (done, total) => {
      if (abortFlag && Atomics.load(abortFlag, ABORT_SLOT) === id) {
        throw new AttentionError('ABORTED', `${method} was aborted (options.signal) after ${done} of ${total} units`);
      }
      lastTotal = total;
      const now = Date.now();
      if (progress && done > lastDone && done < total && now - last >= PROGRESS_INTERVAL_MS) {
        last = now;
        lastDone = done;
        port.post({ type: 'progress', id, done, total });
      }
    } : undefined);
    try {
      if (!rt || !Object.prototype.hasOwnProperty.call(PROXIED_METHODS, method)) throw new Error(`unknown proxied method ${String(method)}`);
      const fn = (rt as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
      const value = fn.apply(rt, args);
      if (progress) port.post({ type: 'progress', id, done: lastTotal, total: lastTotal });
      port.post({ type: 'result', id, value }, collectTransferables(value));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      port.post({ type: 'error', id, code: error instanceof AttentionError ? error.code : undefined, name: e.name, message: e.message });
    } finally {
      setHeadsObserver(undefined);
    }
  });
}

void main();
