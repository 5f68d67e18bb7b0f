// guard-checks.ts — the guardAllocations debugging mode's wrapper of the kernel exports.

import type { Arena } from './arena';
import type { KernelExports } from './instantiate';

/** The same exports, each function followed by a check of every guard word in the arena. */
export function withGuardChecks(exports: KernelExports, arena: Arena): KernelExports {
  const checked: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exports)) {
    checked[name] = typeof value === 'function'
      ? (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown)(...args);
        arena.verifyGuards();
        return result;
      }
      : value;
  }
  return checked as unknown as KernelExports;
}
