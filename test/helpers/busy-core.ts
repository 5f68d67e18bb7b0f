// busy-core.ts — a child process that keeps one core busy, for tests of races that show up when
// the machine is loaded (a worker thread descheduled at the wrong moment). The child spins in
// 50 ms slices and exits on its own when this process is gone or after `seconds`, so a crashed
// test run never leaves it spinning.

import { type ChildProcess, spawn } from 'node:child_process';

/** Source of the spinning child: spin, check the parent is alive, repeat until the deadline. */
const SPIN = `
const parent = Number(process.argv[1]);
const end = Date.now() + 1000 * Number(process.argv[2]);
while (Date.now() < end) {
  const slice = Date.now() + 50;
  while (Date.now() < slice) {}
  try { process.kill(parent, 0); } catch { process.exit(0); }
}`;

/** Starts the spinner; call the returned function to stop it. */
export function busyCore(seconds = 120): () => void {
  const child: ChildProcess = spawn(process.execPath, ['-e', SPIN, String(process.pid), String(seconds)], { stdio: 'ignore' });
  return () => {
    child.kill();
  };
}
