// worker.ts — entry point of a pool thread (bundled to dist/worker.js). Receives the kernel
// module, the shared memory and its slot, instantiates the kernels on that memory, then runs
// jobs: wait for the generation counter to move, make sure its view of memory covers the job
// (tasks.ts: viewCovering), run tasks, count itself done (even when it failed), repeat.
// Works as a Node worker_threads Worker and as a browser module Worker.

import { CONTROL, runTasks, viewCovering } from './tasks';
import type { KernelExports } from './instantiate';
import { wordIndex } from './bytes';

interface InitMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: number;
  index: number;
}

interface Port {
  post(message: unknown): void;
  once(handler: (message: InitMessage) => void): void;
}

async function parentPort(): Promise<Port> {
  const g = globalThis as unknown as { process?: { versions?: { node?: string } }; postMessage?: (m: unknown) => void; addEventListener?: (t: string, h: (e: { data: InitMessage }) => void, o?: unknown) => void };
  if (g.process?.versions?.node) {
    const { parentPort: port } = await import('node:worker_threads');
    if (!port) throw new Error('wasm-attention worker: not started as a worker thread');
    return { post: (m) => port.postMessage(m), once: (h) => port.once('message', h) };
  }
  return {
    post: (m) => g.postMessage!(m),
    once: (h) => g.addEventListener!('message', (e) => h(e.data), { once: true }),
  };
}

function serve(init: InitMessage, port: Port): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as unknown as KernelExports;
  const c = wordIndex(init.control);
  // This first view covers the control block (allocated before the pool started its workers);
  // it is what the thread waits on. Jobs take a view of their own (runJob).
  const i32 = new Int32Array(init.memory.buffer);
  // Read the generation before saying ready: the main thread starts no job until every worker
  // is ready, so this thread cannot miss the first one.
  let generation = Atomics.load(i32, c + CONTROL.GENERATION);
  port.post({ ready: init.index });
  for (;;) {
    Atomics.wait(i32, c + CONTROL.GENERATION, generation);
    generation = Atomics.load(i32, c + CONTROL.GENERATION);
    if (Atomics.load(i32, c + CONTROL.SHUTDOWN)) break;
    let failed: number;
    try {
      failed = runJob(init, exports, Atomics.load(i32, c + CONTROL.MEMORY_BYTES));
    } catch {
      failed = 1; // could not take part (e.g. no view covering the job's memory): never silent
    }
    // Always report: the main thread waits for every worker's DONE.
    if (failed) Atomics.add(i32, c + CONTROL.FAILED, failed);
    Atomics.add(i32, c + CONTROL.DONE, 1);
    Atomics.notify(i32, c + CONTROL.DONE);
  }
}

/**
 * Runs this worker's share of the current job on a view of memory that covers all of it (memory
 * may have grown since this thread last looked); returns the number of failed tasks.
 */
function runJob(init: InitMessage, exports: KernelExports, memoryBytes: number): number {
  const view = viewCovering(init.memory, memoryBytes);
  const c = wordIndex(init.control);
  const params = view[c + CONTROL.SLOTS + 2 * init.index];
  const workspace = view[c + CONTROL.SLOTS + 2 * init.index + 1];
  return runTasks(exports, view, init.control, params, workspace);
}

void parentPort().then((port) => {
  port.once((init) => {
    try {
      serve(init, port);
    } catch (error) {
      port.post({ error: String(error) });
    }
  });
});
