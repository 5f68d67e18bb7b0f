// Fuzzing every public method: at least FUZZ_CALLS (default 30,000) random calls
// per run, drawn by fast-check from test/reliability/fuzz-cases.ts, across every method of the
// Runtime and of the objects it returns, on four runtimes:
//   relaxed and simd128 release builds (maxMemoryBytes 256 MiB), the simd128 release build with
//   guardAllocations, and the debug kernel build (build/debug.wasm: assertions on, no
//   optimization) with guardAllocations — guard words around every Wasm allocation, verified
//   after every kernel call, so a write outside any buffer throws MEMORY_CORRUPTION.
// Each step is one of
//   valid   — a random small call checked against the float64 oracle (or an identity);
//   invalid — a call breaking the contract in a known way: it must throw an AttentionError with
//             an expected code and a message naming the argument, having reserved nothing (arena
//             blocks and bytes unchanged; Wasm memory unchanged unless the code is OUT_OF_MEMORY),
//             and the runtime must then compute a correct result (a valid call follows);
//   mutant  — a valid call with one option (at any depth) replaced by junk: it may succeed or
//             throw an AttentionError with a known code, never another error type; no leak; a
//             valid call follows.
// After every step the arena holds the blocks it held before (nothing leaks) and, in guard mode,
// every guard word is intact. The seed is printed: FUZZ_SEED=<seed> reproduces a run (the failing
// step is printed with its method, mode, runtime and data seed).

import { appendFileSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Runtime } from '../../src/index';
import { arenaStats, ISAS, rng } from '../helpers/numeric';
import { COVERED_INSIDE, type Ctx, type FuzzMethod, KNOWN_CODES, METHODS, runtimeMethods } from './fuzz-cases';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TARGET = Number(process.env.FUZZ_CALLS ?? 30_000);
/** FUZZ_TRACE=<file> appends every step to that file before it runs (to find a step that hangs). */
const TRACE = process.env.FUZZ_TRACE;

interface Rt {
  label: string;
  rt: Runtime;
  guarded: boolean;
}

const arenaOf = (rt: Runtime) => (rt as unknown as { kernels: { arena: { verifyGuards(): number } } }).kernels.arena;

describe('fuzz: every public method, valid and invalid inputs', () => {
  const runtimes: Rt[] = [];
  let foreign: Runtime;
  const limit = 256 * 1024 * 1024;
  beforeAll(() => {
    for (const isa of ISAS) runtimes.push({ label: isa, rt: createRuntimeSync({ isa, maxMemoryBytes: limit }), guarded: false });
    runtimes.push({ label: 'simd128+guards', rt: createRuntimeSync({ isa: 'simd128', maxMemoryBytes: limit, guardAllocations: true }), guarded: true });
    const debug = new WebAssembly.Module(readFileSync(new URL('../../build/debug.wasm', import.meta.url)));
    runtimes.push({ label: 'debug+guards', rt: createRuntimeSync({ module: debug, maxMemoryBytes: limit, guardAllocations: true }), guarded: true });
    foreign = createRuntimeSync({ isa: 'simd128' });
  });
  afterAll(() => {
    for (const r of runtimes) r.rt.dispose();
    foreign.dispose();
  });

  it(`${TARGET} random calls: valid ones match the float64 reference, invalid ones throw typed errors, nothing leaks or writes out of bounds`, () => {
    console.log(`[fuzz] seed ${SEED} (reproduce: FUZZ_SEED=${SEED}), at least ${TARGET} calls (FUZZ_CALLS)`);
    const counts = new Map<string, { valid: number; invalid: number; mutant: number }>();
    let mode: 'valid' | 'invalid' | 'mutant' | 'warm-up' = 'warm-up';
    let calls = 0;
    const byRuntime = new Map<string, number>();
    let current: Rt;
    const codes = new Map<string, number>();
    const call = <T>(name: string, fn: () => T): T => {
      if (mode !== 'warm-up') {
        calls++;
        const c = counts.get(name) ?? { valid: 0, invalid: 0, mutant: 0 };
        c[mode]++;
        counts.set(name, c);
        byRuntime.set(current.label, (byRuntime.get(current.label) ?? 0) + 1);
      }
      return fn();
    };
    const ctxOf = (r: Rt, seed: number): Ctx => ({ rt: r.rt, foreign, next: rng(seed), call });

    // Warm-up: one valid call of each method per runtime, so lazily reserved kernel parameter
    // blocks and workspaces exist before the leak checks start.
    for (const r of runtimes) {
      current = r;
      METHODS.forEach((m, i) => m.valid(ctxOf(r, 1000 + i)));
    }

    const afterwards = (r: Rt, seed: number, what: string) => {
      // The runtime must compute a correct result after a failed call.
      const m = METHODS[seed % METHODS.length];
      const saved = mode;
      mode = 'valid';
      try {
        m.valid(ctxOf(r, seed));
      } catch (e) {
        throw new Error(`after ${what}: the next valid call (${m.name}) failed: ${(e as Error).message}`);
      } finally {
        mode = saved;
      }
    };

    let faults = 0;
    let steps = 0;
    const start = performance.now();
    fc.assert(
      fc.property(
        fc.record({
          method: fc.integer({ min: 0, max: METHODS.length - 1 }),
          mode: fc.constantFrom<'valid' | 'invalid' | 'mutant'>('valid', 'valid', 'invalid', 'mutant'),
          runtime: fc.integer({ min: 0, max: 63 }),
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        }),
        (c) => {
          if (calls >= TARGET) return;
          steps++;
          // the debug build is slow (no optimization): give it a smaller share of the calls
          const r = runtimes[c.runtime % 8 === 7 ? runtimes.length - 1 : c.runtime % (runtimes.length - 1)];
          current = r;
          const m: FuzzMethod = METHODS[c.method];
          const where = `${m.name} (${c.mode}) on ${r.label}, data seed ${c.seed}`;
          if (TRACE) appendFileSync(TRACE, `step ${steps}: ${where}\n`);
          const before = arenaStats(r.rt);
          mode = c.mode;
          const ctx = ctxOf(r, c.seed);
          try {
            if (c.mode === 'valid') {
              m.valid(ctx);
            } else {
              const spec = c.mode === 'invalid' ? m.invalid(ctx) : m.mutant(ctx);
              const pre = { ...arenaStats(r.rt), memory: r.rt.memoryBytes };
              let thrown: unknown;
              let post = pre;
              try {
                spec.call();
              } catch (e) {
                thrown = e;
              } finally {
                post = { ...arenaStats(r.rt), memory: r.rt.memoryBytes };
                spec.cleanup?.();
              }
              faults++;
              const label = spec.label;
              if (c.mode === 'invalid' && thrown === undefined) throw new Error(`${label}: expected an AttentionError, got no error`);
              if (thrown !== undefined) {
                if (!(thrown instanceof AttentionError)) throw new Error(`${label}: threw ${String(thrown)} (${(thrown as Error)?.constructor?.name}), not an AttentionError`);
                const allowed = c.mode === 'invalid' ? (spec as unknown as { codes: readonly string[] }).codes : KNOWN_CODES;
                if (!allowed.includes(thrown.code)) throw new Error(`${label}: code ${thrown.code} (${thrown.message}), expected ${allowed.join(' or ')}`);
                const mentions = (spec as { mentions?: string }).mentions;
                if (mentions && !thrown.message.includes(mentions)) throw new Error(`${label}: message "${thrown.message}" does not name ${mentions}`);
                if (thrown.message.length < 10) throw new Error(`${label}: message "${thrown.message}" too short`);
                codes.set(thrown.code, (codes.get(thrown.code) ?? 0) + 1);
                // validation happens before Wasm memory is touched: nothing reserved, no growth
                if (post.blocks !== pre.blocks) throw new Error(`${label}: ${post.blocks - pre.blocks} arena blocks leaked`);
                if (c.mode === 'invalid' && thrown.code !== 'OUT_OF_MEMORY') {
                  if (post.bytes !== pre.bytes) throw new Error(`${label}: the arena changed by ${post.bytes - pre.bytes} bytes before the error`);
                  if (post.memory !== pre.memory) throw new Error(`${label}: Wasm memory grew before the error`);
                }
              }
              afterwards(r, c.seed, label);
            }
          } catch (e) {
            throw new Error(`${where}: ${(e as Error).message}`);
          }
          const after = arenaStats(r.rt);
          if (after.blocks !== before.blocks) throw new Error(`${where}: arena blocks ${before.blocks} → ${after.blocks} (a leak)`);
          if (r.guarded && arenaOf(r.rt).verifyGuards() <= 0) throw new Error(`${where}: guard mode is off`);
        },
      ),
      { seed: SEED, numRuns: TARGET, endOnFailure: true },
    );
    const seconds = (performance.now() - start) / 1000;

    // Coverage: every public Runtime method was called validly (directly or from another entry).
    const methods = runtimeMethods();
    const rows = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
    const lines = rows.map(([name, c]) => `  ${name.padEnd(34)} valid ${String(c.valid).padStart(5)}  invalid ${String(c.invalid).padStart(4)}  mutant ${String(c.mutant).padStart(4)}`);
    const faultCodes = [...codes.entries()].map(([code, n]) => `${code} ${n}`).join(', ');
    console.log(`[fuzz] ${calls} calls in ${steps} steps, ${seconds.toFixed(1)} s (seed ${SEED}); ${faults} faults tried (invalid + mutant steps); errors by code: ${faultCodes}`);
    console.log(`[fuzz] calls per runtime: ${[...byRuntime.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`[fuzz] Runtime methods covered (${methods.length}): ${methods.join(', ')}\n${lines.join('\n')}`);
    expect(calls).toBeGreaterThanOrEqual(TARGET);
    for (const name of methods) {
      const direct = counts.get(name)?.valid ?? 0;
      const inside = COVERED_INSIDE[name] ? counts.get(name)?.valid ?? 0 : 0;
      expect(direct + inside, `Runtime.${name} was never called validly by the fuzzer (add it to test/reliability/fuzz-cases.ts)`).toBeGreaterThan(0);
    }
    for (const m of METHODS) {
      const c = counts.get(m.name);
      expect(c?.invalid ?? 0, `${m.name}: no invalid calls`).toBeGreaterThan(0);
    }
  });
});
