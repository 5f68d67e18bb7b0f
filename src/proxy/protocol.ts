// protocol.ts — what the proxy runtime (proxy-runtime.ts, main thread) and its worker
// (proxy-worker.ts) say to each other, and which Runtime methods go through the proxy: the
// stateless compute methods, each with the index of its options argument.

import { type VariantMethod, variantEntries } from '../attention/variants';

/** The name of a method a ProxyRuntime forwards to its worker: every variant of the registry, and the other stateless compute methods. */
export type ProxiedMethod =
  | VariantMethod | 'onnxAttention' | 'matmul' | 'softmax' | 'rope' | 'linformerProjections' | 'lshRotations' | 'lshHash' | 'routingCentroids';

/** The forwarded methods that are not attention variants, each with the position of its options argument. */
const OTHER_METHODS: Readonly<Record<Exclude<ProxiedMethod, VariantMethod>, number>> = {
  onnxAttention: 2,
  matmul: 2,
  softmax: 1,
  rope: 1,
  linformerProjections: 0,
  lshRotations: 0,
  lshHash: 1,
  routingCentroids: 2,
};

/**
 * The Runtime methods a ProxyRuntime forwards, each with the position of its options argument
 * (where `signal`, `onProgress` and `transfer` are read and removed before the call is sent):
 * every variant of the registry (attention/variants.ts; options after q, k, v) and the others.
 */
export const PROXIED_METHODS: Readonly<Record<ProxiedMethod, number>> = {
  ...OTHER_METHODS,
  ...(Object.fromEntries(variantEntries().map((v) => [v.method, 3])) as Record<VariantMethod, number>),
};

/**
 * The forwarded methods whose loops tell the heads observer (attention/heads-observer.ts) of each
 * unit: every variant of the registry and onnxAttention. A running call of one of them stops at
 * its next unit when the shared abort flag names it; the others (matmul, softmax, rope, the
 * seeded tables, lshHash, routingCentroids) are stopped by terminating the worker.
 */
export const OBSERVED_METHODS: ReadonlySet<ProxiedMethod> = new Set<ProxiedMethod>(['onnxAttention', ...variantEntries().map((v) => v.method)]);

/**
 * The Runtime methods that return objects living in Wasm memory (WasmTensor, PackedMatrix,
 * QuantizedMatrix, layers, caches): a ProxyRuntime rejects them with UNSUPPORTED.
 */
export const WASM_RESIDENT_METHODS = [
  'tensor', 'packMatrix', 'quantizeMatrix', 'quantizedMatrix', 'multiHeadAttention', 'kvCache', 'recurrentMemoryAttention',
] as const;

/** Main thread → worker. */
export type ToWorker =
  | { type: 'init'; options: Record<string, unknown>; abortFlag?: SharedArrayBuffer }
  | { type: 'call'; id: number; method: ProxiedMethod; args: unknown[]; progress: boolean };

/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; code: string; message: string }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; code?: string; name: string; message: string }
  | { type: 'progress'; id: number; done: number; total: number };

/** Slot of the abort flag (an Int32Array over a SharedArrayBuffer): the id of the call to abort. */
export const ABORT_SLOT = 0;

/**
 * The ArrayBuffers inside a value (typed arrays' buffers, nested in arrays and plain objects),
 * each once, shared memory left out: what a message may transfer instead of copying.
 */
export function collectTransferables(value: unknown, into: Set<ArrayBuffer> = new Set(), depth = 0): ArrayBuffer[] {
  if (depth > 8 || value === null || typeof value !== 'object') return [...into];
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer) into.add(buffer);
  } else if (value instanceof ArrayBuffer) {
    into.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectTransferables(item, into, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key of Object.keys(value)) collectTransferables((value as Record<string, unknown>)[key], into, depth + 1);
  }
  return [...into];
}
