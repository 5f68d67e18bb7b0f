// run-workload.mjs — one workload on a list of engines, measured as bench/cli.mjs measures it:
// prepare, warm-up (an engine whose single run is too slow is skipped), check against the float64
// reference, then interleaved samples and the median. Runs unchanged in Node and in the browser
// page (page.mjs), so the rows of every environment come from the same code.

import { PROFILES, sampleInterleaved, warmup } from '../lib/measure.mjs';
import { errorText, median, Skip } from '../lib/util.mjs';

function fail(r, e) {
  if (e instanceof Skip) {
    r.status = 'skipped';
    r.reason = e.message;
  } else {
    r.status = 'failed';
    r.error = errorText(e);
  }
}

function throughput(w, ms) {
  return w.unit === 'ms' ? ms : w.work / ms / 1e6; // GFLOP/s or GB/s
}

/**
 * Runs workload `w` (a bench/workloads module's default export) on `engines` (bench engine
 * objects: { id, family, short, label, threads, supports(w), prepare(w, ctx) }).
 * Returns { id, title, unit, work, workText, results: [{ engine, family, short, label, threads,
 * status, value?, medianMs?, samples?, reps?, samplesMs?, maxError?, note?, reason?, error? }] }.
 */
export async function runWorkload(w, engines, { quick = false, log = () => {} } = {}) {
  const profile = quick ? PROFILES.quick : PROFILES.full;
  const ctx = { quick, threads: [1] };
  const out = { id: w.id, title: w.title, unit: w.unit, work: w.work, workText: w.workText, results: [] };
  if (w.reference) {
    w.inputs();
    w.reference();
  }
  const live = [];
  for (const e of engines.filter((x) => x.supports(w))) {
    const r = { engine: e.id, family: e.family, short: e.short, label: e.label, threads: e.threads, status: 'ok' };
    out.results.push(r);
    try {
      const p = await e.prepare(w, ctx);
      if (p.note) r.note = p.note;
      live.push({ r, p });
    } catch (err) {
      fail(r, err);
    }
  }
  try {
    const timed = [];
    for (const x of live) {
      try {
        await warmup(x.p, profile, (ms) => {
          if (ms > profile.maxRunMs) throw new Skip(`too slow: one run took ${(ms / 1000).toFixed(1)} s; limit ${profile.maxRunMs / 1000} s`);
        });
        if (x.p.check) x.r.maxError = await x.p.check();
        x.p.entry = x;
        timed.push(x.p);
      } catch (err) {
        fail(x.r, err);
      }
    }
    await sampleInterleaved(timed, (p) => {
      const { r } = p.entry;
      if (p.error && !p.samples.length) {
        fail(r, p.error);
      } else {
        if (p.error) r.note = `${r.note ? `${r.note}; ` : ''}failed after ${p.samples.length} samples: ${errorText(p.error)}`;
        r.medianMs = median(p.samples);
        r.value = throughput(w, r.medianMs);
        r.samples = p.samples.length;
        r.reps = p.reps;
        r.samplesMs = p.samples.map((s) => +s.toFixed(4));
      }
      log(`${w.id} ${r.engine}: ${r.status === 'ok' ? `${r.medianMs.toFixed(2)} ms` : r.status}`);
    });
  } finally {
    for (const x of live) await x.p.dispose?.();
  }
  return out;
}
