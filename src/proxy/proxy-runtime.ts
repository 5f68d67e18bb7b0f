// proxy-runtime.ts — createRuntime({ proxy: true }): a runtime whose compute methods run in a
// dedicated worker (dist/proxy-worker.js; Node worker_threads, else a module Worker) and return
// Promises. Calls run one at a time in order. Inputs are structured-cloned, or transferred with
// `transfer: true`; results come back as plain tensors. Abort: a queued call is dropped; a running
// attention or variant is stopped through a shared flag its loop polls between units (heads;
// SharedArrayBuffer available), any other call by terminating the worker, which restarts on the
// next call.

import type { AttentionOptions, AttentionWithWeights } from '../attention/sdpa';
import type { Runtime } from '../create-runtime';
import { AttentionError, formatValue } from '../runtime/errors';
import type { Tensor, TensorLike } from '../tensor';
import {
  ABORT_SLOT, collectTransferables, type FromWorker, OBSERVED_METHODS, PROXIED_METHODS, type ProxiedMethod, type ToWorker, WASM_RESIDENT_METHODS,
} from './protocol';

/** Options every proxied call accepts beside the method's own (removed before the call is sent). */
export interface ProxyCallOptions {
  /**
   * Aborts the call with AttentionError code 'ABORTED'. A call not started yet rejects at once.
   * A running `attention`, `onnxAttention` or other variant of `attentionVariants()` stops at its
   * next unit (a (batch, head) pair, or the variant's unit: docs/proxy.md) through a shared flag,
   * where SharedArrayBuffer is available (see `sharedAbort`); the worker lives on. Any other
   * running method, and every method without SharedArrayBuffer, stops by terminating the worker
   * (restarted by the next call).
   */
  signal?: AbortSignal;
  /**
   * Called on the main thread with (done, total): `done` of the call's `total` units (the same
   * units as `signal`'s) have finished. `total` is fixed for the call and `done` strictly
   * increases; reports come at most about every 75 ms, then a final done === total. Methods
   * without units report only 1 / 1. A throwing callback is ignored.
   */
  onProgress?: (done: number, total: number) => void;
  /** Transfers the inputs' buffers instead of copying them: the caller's arrays are detached. */
  transfer?: boolean;
}

/** Any function (the methods ProxyMethods maps). */
export type ProxyFn = (...args: never[]) => unknown;
/** A Runtime method as the proxy offers it: same arguments (options may add ProxyCallOptions), a Promise of the result. */
export type Proxied<F> = F extends (...args: infer A) => infer R
  ? (...args: { [I in keyof A]: A[I] extends object | undefined ? A[I] | (A[I] & ProxyCallOptions) : A[I] }) => Promise<R>
  : never;

/**
 * The proxied surface of a Runtime class R: each forwarded method (ProxiedMethod) with R's own
 * documentation, returning a Promise. Mapped over R's keys, so every method keeps its doc comment.
 */
export type ProxyMethods<R> = { [M in keyof Pick<R, ProxiedMethod & keyof R>]: R[M] extends ProxyFn ? Proxied<R[M]> : never };

interface WorkerHandle {
  post(message: ToWorker, transfer?: ArrayBuffer[]): void;
  terminate(): void;
  ref(active: boolean): void;
}

interface Pending {
  id: number;
  method: ProxiedMethod;
  args: unknown[];
  transfer: ArrayBuffer[];
  options: ProxyCallOptions;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  started: boolean;
  /** the caller aborted it while it ran (a result that still arrives is dropped) */
  aborted?: boolean;
  onAbort?: () => void;
}

declare const __dirname: string | undefined;

/**
 * proxy-worker.js beside this bundle: resolved against the bundle's URL (ESM), or its directory
 * (the CommonJS bundles, whose import.meta is empty), as runtime/pool.ts finds worker.js.
 */
function besideBundle(): string | URL {
  const bundleUrl: unknown = import.meta.url;
  if (typeof bundleUrl === 'string' && bundleUrl !== '') return new URL('./proxy-worker.js', bundleUrl);
  if (typeof __dirname === 'string') return `${__dirname}/proxy-worker.js`;
  throw new AttentionError('UNSUPPORTED', 'cannot locate proxy-worker.js: this bundle knows neither its URL (import.meta.url) nor its directory (__dirname); pass options.proxyWorkerUrl');
}

const isNode = (): boolean => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** Starts the worker at `url`; `onMessage` receives its messages, `onFailure` a load error or an exit. */
async function startWorker(url: string | URL, onMessage: (m: FromWorker) => void, onFailure: (message: string) => void): Promise<WorkerHandle> {
  if (isNode()) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(url, { execArgv: [] });
    worker.on('message', onMessage);
    worker.on('error', (e: Error) => onFailure(e.message));
    worker.on('exit', (code: number) => onFailure(`the worker exited (code ${code})`));
    return {
      post: (m, t) => worker.postMessage(m, t),
      terminate: () => { worker.removeAllListeners(); void worker.terminate(); },
      ref: (active) => (active ? worker.ref() : worker.unref()),
    };
  }
  type BrowserWorker = { postMessage(m: unknown, t?: unknown[]): void; terminate(): void; onmessage: unknown; onerror: unknown };
  const Ctor = (globalThis as unknown as { Worker?: new (u: string | URL, o: unknown) => BrowserWorker }).Worker;
  if (typeof Ctor !== 'function') throw new Error('this environment has no Worker');
  const worker = new Ctor(url, { type: 'module' });
  worker.onmessage = (e: { data: FromWorker }) => onMessage(e.data);
  worker.onerror = (e: { message?: string; preventDefault?: () => void }) => {
    e.preventDefault?.();
    onFailure(e.message || 'the worker script did not load or threw at start');
  };
  return { post: (m, t) => worker.postMessage(m, t), terminate: () => worker.terminate(), ref: () => undefined };
}

/** Splits a call's options into the method's own and the proxy's; checks the proxy's. */
function splitOptions(method: string, value: unknown): { rest: unknown; proxy: ProxyCallOptions } {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) return { rest: value, proxy: {} };
  const o = value as Record<string, unknown>;
  if (!('signal' in o) && !('onProgress' in o) && !('transfer' in o)) return { rest: value, proxy: {} };
  const { signal, onProgress, transfer, ...rest } = o;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof (signal as AbortSignal).aborted === 'boolean' && typeof (signal as AbortSignal).addEventListener === 'function')) {
    throw new AttentionError('INVALID_OPTION', `${method}: options.signal must be an AbortSignal, got ${formatValue(signal)}`);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new AttentionError('INVALID_OPTION', `${method}: options.onProgress must be a function (done, total) => void, got ${formatValue(onProgress)}`);
  }
  if (transfer !== undefined && typeof transfer !== 'boolean') {
    throw new AttentionError('INVALID_OPTION', `${method}: options.transfer must be a boolean, got ${formatValue(transfer)}`);
  }
  return { rest: Object.keys(rest).length === 0 ? undefined : rest, proxy: { signal: signal as AbortSignal | undefined, onProgress: onProgress as ProxyCallOptions['onProgress'], transfer: transfer as boolean | undefined } };
}

const abortedError = (method: string, when: string): AttentionError =>
  new AttentionError('ABORTED', `${method} was aborted (options.signal) ${when}`);

/**
 * The runtime createRuntime({ proxy: true }) returns: the stateless compute methods of Runtime
 * (attention, onnxAttention, matmul, softmax, rope and every attention variant), each returning
 * a Promise and running in a dedicated worker. Methods whose results live in Wasm memory
 * (tensor, packMatrix, quantizeMatrix, quantizedMatrix, multiHeadAttention, kvCache,
 * recurrentMemoryAttention) reject with UNSUPPORTED. See docs/proxy.md.
 */
export class ProxyRuntime {
  private worker: WorkerHandle | undefined;
  private starting: Promise<WorkerHandle> | undefined;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private nextId = 1;
  private disposed = false;
  private readonly abortFlag: Int32Array | undefined;

  /** @internal use createRuntime({ proxy: true }) */
  constructor(private readonly url: string | URL, private readonly options: Record<string, unknown>) {
    this.abortFlag = typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object' && (isNode() || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true)
      ? new Int32Array(new SharedArrayBuffer(4))
      : undefined;
    for (const method of Object.keys(PROXIED_METHODS) as ProxiedMethod[]) {
      Object.defineProperty(this, method, { value: (...args: unknown[]) => this.call(method, args), enumerable: false });
    }
    for (const method of WASM_RESIDENT_METHODS) {
      Object.defineProperty(this, method, {
        value: () => Promise.reject(new AttentionError(
          'UNSUPPORTED',
          `proxy runtime: ${method} returns an object in Wasm memory, which cannot cross threads; use an in-thread runtime (createRuntime() without proxy) inside your own Worker for ${method}`,
        )),
        enumerable: false,
      });
    }
  }

  /** True when a running attention or variant can be stopped between its units (SharedArrayBuffer available), not only by restarting the worker. */
  get sharedAbort(): boolean {
    return this.abortFlag !== undefined;
  }

  /** Starts the worker (once); rejects UNSUPPORTED naming the URL when it does not start. */
  ready(): Promise<void> {
    return this.ensureWorker().then(() => undefined);
  }

  /** Terminates the worker; pending and later calls reject with DISPOSED. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.worker?.terminate();
    this.worker = undefined;
    const error = new AttentionError('DISPOSED', 'this proxy runtime was disposed');
    if (this.current) this.finish(this.current, undefined, error);
    for (const p of this.queue.splice(0)) this.finish(p, undefined, error);
  }

  private ensureWorker(): Promise<WorkerHandle> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.starting) return this.starting;
    const url = this.url;
    this.starting = new Promise<WorkerHandle>((resolve, reject) => {
      let started = false;
      let handle: WorkerHandle | undefined;
      const fail = (message: string): void => {
        const error = new AttentionError('UNSUPPORTED', `proxy runtime: the worker from ${String(url)} failed: ${message}. Serve dist/proxy-worker.js (wasm-attention/proxy-worker.js) and pass options.proxyWorkerUrl`);
        if (!started) {
          handle?.terminate();
          this.starting = undefined;
          reject(error);
          return;
        }
        if (this.worker !== handle) return;
        this.worker = undefined;
        handle?.terminate();
        if (this.current) this.finish(this.current, undefined, error);
      };
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'ready') {
          started = true;
          handle!.ref(false); // Node: an idle worker does not keep the process alive
          this.worker = handle;
          this.starting = undefined;
          resolve(handle!);
        } else if (m.type === 'init-error') {
          fail(m.message);
        } else this.onMessage(m);
      };
      startWorker(url, onMessage, fail).then((h) => {
        handle = h;
        h.post({ type: 'init', options: this.options, abortFlag: this.abortFlag?.buffer as SharedArrayBuffer | undefined });
      }, (e: unknown) => fail(e instanceof Error ? e.message : String(e)));
    });
    return this.starting;
  }

  private onMessage(m: FromWorker): void {
    const p = this.current;
    if (!p || m.type === 'ready' || m.type === 'init-error' || m.id !== p.id) return;
    if (m.type === 'progress') {
      if (p.aborted) return;
      try { p.options.onProgress?.(m.done, m.total); } catch { /* a throwing callback does not stop the call */ }
    } else if (m.type === 'result') {
      this.finish(p, m.value, p.aborted ? abortedError(p.method, 'while running') : undefined);
    } else {
      // ABORTED keeps the worker's message: how many of the call's units (heads) it had done.
      this.finish(p, undefined, m.code ? new AttentionError(m.code as AttentionError['code'], m.message) : Object.assign(new Error(m.message), { name: m.name }));
    }
  }

  private call(method: ProxiedMethod, argsIn: unknown[]): Promise<unknown> {
    if (this.disposed) return Promise.reject(new AttentionError('DISPOSED', `${method}: this proxy runtime was disposed`));
    const index = PROXIED_METHODS[method];
    const args = argsIn.slice();
    let proxy: ProxyCallOptions;
    try {
      const split = splitOptions(method, args[index]);
      proxy = split.proxy;
      if (index < args.length) args[index] = split.rest;
      while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
    } catch (error) {
      return Promise.reject(error);
    }
    if (proxy.signal?.aborted) return Promise.reject(abortedError(method, 'before it started'));
    return new Promise((resolve, reject) => {
      const p: Pending = {
        id: this.nextId++, method, args, options: proxy, resolve, reject, started: false,
        transfer: proxy.transfer ? collectTransferables(args) : [],
      };
      if (proxy.signal) {
        p.onAbort = () => this.abort(p);
        proxy.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.pump();
    });
  }

  private abort(p: Pending): void {
    if (!p.started) {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(p, undefined, abortedError(p.method, 'before it started'));
      return;
    }
    if (this.current !== p) return;
    p.aborted = true;
    if (this.abortFlag && OBSERVED_METHODS.has(p.method)) {
      // The method's loop polls this flag between units (heads) and throws ABORTED; the worker lives on.
      Atomics.store(this.abortFlag, ABORT_SLOT, p.id);
      return;
    }
    // No shared flag (or a method the driver does not poll): stop the worker; the next call starts a new one.
    this.worker?.terminate();
    this.worker = undefined;
    this.finish(p, undefined, abortedError(p.method, 'while running (the worker was restarted)'));
  }

  private finish(p: Pending, value: unknown, error?: unknown): void {
    if (p.onAbort) p.options.signal?.removeEventListener('abort', p.onAbort);
    if (this.current === p) {
      this.current = undefined;
      this.worker?.ref(false);
    }
    if (error !== undefined) p.reject(error);
    else p.resolve(value);
    if (!this.disposed) queueMicrotask(() => this.pump());
  }

  private pump(): void {
    if (this.current || this.disposed || this.queue.length === 0) return;
    const p = this.queue.shift()!;
    this.current = p;
    p.started = true;
    this.ensureWorker().then((worker) => {
      if (this.current !== p) return;
      if (this.abortFlag) Atomics.store(this.abortFlag, ABORT_SLOT, 0);
      worker.ref(true);
      try {
        worker.post({ type: 'call', id: p.id, method: p.method, args: p.args, progress: p.options.onProgress !== undefined }, p.transfer);
      } catch (error) {
        this.finish(p, undefined, new AttentionError('INVALID_ARGUMENT', `${p.method}: the arguments cannot be sent to the worker (${error instanceof Error ? error.message : String(error)}); pass plain tensors { data, shape } and plain option objects`));
      }
    }, (error: unknown) => {
      if (this.current === p) this.finish(p, undefined, error);
    });
  }
}

// The proxied methods, declared for TypeScript (defined per instance in the constructor).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface ProxyRuntime extends Omit<ProxyMethods<Runtime>, 'attention'> {
  /** rt.onnxAttention (the ONNX Attention operator) in the worker: see Runtime.onnxAttention; a Promise of its result. */
  onnxAttention: ProxyMethods<Runtime>['onnxAttention'];
  /** rt.matmul (the matrix product) in the worker: see Runtime.matmul; a Promise of its result. */
  matmul: ProxyMethods<Runtime>['matmul'];
  /** rt.softmax (the row softmax) in the worker: see Runtime.softmax; a Promise of its result. */
  softmax: ProxyMethods<Runtime>['softmax'];
  /** rt.rope (rotary position embedding) in the worker: see Runtime.rope; a Promise of its result. */
  rope: ProxyMethods<Runtime>['rope'];
  /** rt.slidingWindowAttention (sliding-window attention) in the worker: see Runtime.slidingWindowAttention; a Promise of its result. */
  slidingWindowAttention: ProxyMethods<Runtime>['slidingWindowAttention'];
  /** rt.globalLocalAttention (Longformer / BigBird attention) in the worker: see Runtime.globalLocalAttention; a Promise of its result. */
  globalLocalAttention: ProxyMethods<Runtime>['globalLocalAttention'];
  /** rt.segmentedAttention (segmented attention) in the worker: see Runtime.segmentedAttention; a Promise of its result. */
  segmentedAttention: ProxyMethods<Runtime>['segmentedAttention'];
  /** rt.linformerAttention (Linformer attention) in the worker: see Runtime.linformerAttention; a Promise of its result. */
  linformerAttention: ProxyMethods<Runtime>['linformerAttention'];
  /** rt.linformerProjections (the seeded Linformer projections) in the worker: see Runtime.linformerProjections; a Promise of its result. */
  linformerProjections: ProxyMethods<Runtime>['linformerProjections'];
  /** rt.lshAttention (Reformer LSH attention) in the worker: see Runtime.lshAttention; a Promise of its result. */
  lshAttention: ProxyMethods<Runtime>['lshAttention'];
  /** rt.lshRotations (the seeded LSH rotations) in the worker: see Runtime.lshRotations; a Promise of its result. */
  lshRotations: ProxyMethods<Runtime>['lshRotations'];
  /** rt.lshHash (LSH bucket ids) in the worker: see Runtime.lshHash; a Promise of its result. */
  lshHash: ProxyMethods<Runtime>['lshHash'];
  /** rt.hierarchicalAttention (hierarchical attention) in the worker: see Runtime.hierarchicalAttention; a Promise of its result. */
  hierarchicalAttention: ProxyMethods<Runtime>['hierarchicalAttention'];
  /** rt.routingAttention (Routing Transformer attention) in the worker: see Runtime.routingAttention; a Promise of its result. */
  routingAttention: ProxyMethods<Runtime>['routingAttention'];
  /** rt.routingCentroids (the seeded routing centroids) in the worker: see Runtime.routingCentroids; a Promise of its result. */
  routingCentroids: ProxyMethods<Runtime>['routingCentroids'];
  /** rt.routedAttention (attention routed over paths) in the worker: see Runtime.routedAttention; a Promise of its result. */
  routedAttention: ProxyMethods<Runtime>['routedAttention'];

  /** rt.attention in the worker (see Runtime.attention); with returnWeights, output and weights. */
  attention(q: TensorLike, k: TensorLike, v: TensorLike, options: AttentionOptions & ProxyCallOptions & { returnWeights: true }): Promise<AttentionWithWeights>;
  /** rt.attention in the worker (see Runtime.attention): the output. */
  attention(q: TensorLike, k: TensorLike, v: TensorLike, options?: AttentionOptions & ProxyCallOptions): Promise<Tensor>;
}

/** createRuntime({ proxy: true })'s work: the worker beside this bundle unless options.proxyWorkerUrl is given; started before it resolves. */
export async function createProxyRuntime(options: Record<string, unknown>, proxyWorkerUrl: string | URL | undefined): Promise<ProxyRuntime> {
  const rt = new ProxyRuntime(proxyWorkerUrl ?? besideBundle(), options);
  await rt.ready();
  return rt;
}
