// measure.mjs — warm-up, calibration and interleaved median timing of prepared engines.
//
// Per engine: warm-up runs (at least `warmupRuns`, unless they pass `warmupCapMs`, and `warmupMs`), then a sample repeats the run
// `reps` times so that one sample lasts ≥ `minSampleMs` (timer resolution, tiny workloads), and
// the number of samples fits `budgetMs` within [minSamples, maxSamples]. Samples are taken
// round-robin across the engines of a workload (rotating who goes first), so machine noise hits
// every engine alike; the result is the median sample. An engine whose threads keep the CPU busy
// after a run (p.settleMs) is followed by that much idle time, so it does not slow the next one.

import { median } from './util.mjs';

export const PROFILES = {
  quick: { warmupRuns: 2, warmupMs: 150, warmupCapMs: 1000, minSampleMs: 15, budgetMs: 600, minSamples: 3, maxSamples: 9, maxRunMs: 8000 },
  full: { warmupRuns: 3, warmupMs: 600, warmupCapMs: 3000, minSampleMs: 30, budgetMs: 8000, minSamples: 5, maxSamples: 41, maxRunMs: 30000 },
};

async function timed(p, reps) {
  const t = performance.now();
  if (p.isAsync) for (let i = 0; i < reps; i++) await p.run();
  else for (let i = 0; i < reps; i++) p.run();
  return (performance.now() - t) / reps;
}

/**
 * Warms `p` up and sizes its sampling. Returns { singleMs } or throws. Sets p.isAsync, p.reps,
 * p.target. `tooSlow(ms)` is called after the first run and may throw a Skip.
 */
export async function warmup(p, profile, tooSlow) {
  const t0 = performance.now();
  const first = performance.now();
  const r = p.run();
  p.isAsync = Boolean(r && typeof r.then === 'function');
  if (p.isAsync) await r;
  const firstMs = performance.now() - first;
  tooSlow?.(firstMs);
  const recent = [firstMs];
  let runs = 1;
  // At least `warmupRuns` runs unless that would exceed `warmupCapMs` (long runs), and at least
  // `warmupMs` in total.
  for (;;) {
    const elapsed = performance.now() - t0;
    if (!((runs < profile.warmupRuns && elapsed < profile.warmupCapMs) || elapsed < profile.warmupMs)) break;
    recent.push(await timed(p, 1));
    runs++;
    if (runs >= 100_000) break;
  }
  const singleMs = median(recent.slice(-3));
  tooSlow?.(singleMs);
  p.reps = Math.max(1, Math.ceil(profile.minSampleMs / Math.max(singleMs, 1e-3)));
  const sampleMs = singleMs * p.reps;
  p.target = Math.min(profile.maxSamples, Math.max(profile.minSamples, Math.round(profile.budgetMs / sampleMs)));
  p.samples = [];
  return { singleMs, warmupRuns: runs };
}

/** Round-robin sampling until each prepared engine has p.target samples. `onDone(p)` per engine. */
export async function sampleInterleaved(list, onDone) {
  let round = 0;
  let active = list.filter((p) => p.samples.length < p.target);
  while (active.length) {
    for (let i = 0; i < active.length; i++) {
      const p = active[(i + round) % active.length];
      try {
        p.samples.push(await timed(p, p.reps));
        if (p.settleMs) await new Promise((resolve) => setTimeout(resolve, p.settleMs));
      } catch (e) {
        p.error = e;
        p.target = p.samples.length;
      }
      if (p.samples.length >= p.target) onDone(p);
    }
    round++;
    active = active.filter((p) => p.samples.length < p.target);
  }
}

/**
 * Interleaved timing of synchronous variants measured inside one workload's own runtime (Q-A1's
 * two precisions, Q-A4's three caches): `samples` rounds, each timing `reps` calls of every fn of
 * `runs` (name → fn) in turn; returns name → ms per call of each sample.
 */
export function timeInterleaved(runs, samples, reps) {
  const times = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let s = 0; s < samples; s++) {
    for (const [name, run] of Object.entries(runs)) {
      const t = performance.now();
      for (let r = 0; r < reps; r++) run();
      times[name].push((performance.now() - t) / reps);
    }
  }
  return times;
}
