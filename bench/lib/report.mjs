// report.mjs — ratios, targets and the Markdown of bench/RESULTS.md, from the run's result object.

import { fmt, fmtBytes, fmtErr, fmtMs } from './util.mjs';

const LOWER_IS_BETTER = new Set(['ms', 'KB']);

/** How many times better `a` is than `b` (same unit): > 1 means a is faster / smaller. */
export function ratio(unit, a, b) {
  return LOWER_IS_BETTER.has(unit) ? b / a : a / b;
}

const ok = (r) => r.status === 'ok' && Number.isFinite(r.value);

/** ratios[i][j] = ratio of ok result i to ok result j, same workload, same run. */
export function ratioTable(w) {
  const rows = w.results.filter(ok);
  const table = {};
  for (const a of rows) {
    table[a.engine] = {};
    for (const b of rows) if (a !== b) table[a.engine][b.engine] = +ratio(w.unit, a.value, b.value).toPrecision(4);
  }
  return table;
}

function bestOurs(w, threads = 1) {
  const ours = w.results.filter((r) => r.family === 'wasm-attention' && r.threads === threads && ok(r));
  return ours.sort((a, b) => ratio(w.unit, b.value, a.value))[0];
}

const fmtValue = (unit, v) => (unit === 'ms' ? fmtMs(v) : fmt(v));

function why(r) {
  if (!r) return 'not measured';
  if (r.status === 'failed') return `failed: ${r.error}`;
  if (r.status === 'skipped') return `skipped: ${r.reason}`;
  return 'no result';
}

/** Evaluates every workload's `targets` against the results. */
export function evaluateTargets(workloads, results) {
  const byId = new Map(results.map((w) => [w.id, w]));
  const out = [];
  for (const spec of workloads) {
    const w = byId.get(spec.id);
    for (const t of spec.targets ?? []) {
      const goal = t.atLeast !== undefined ? `≥ ${t.atLeast}${t.ofPeak ? ` (${Math.round(t.atLeast * 100)}%)` : t.vs || t.scaling ? '×' : ` ${spec.unit}`}` : t.atMost !== undefined ? `≤ ${t.atMost} ${spec.unit}` : 'reported';
      const row = { workload: spec.id, label: t.label, goal, status: 'n/a', measured: '' };
      out.push(row);
      if (!w) {
        row.measured = 'workload not run';
        continue;
      }
      if (t.memory) {
        const ours = w.results.filter((r) => r.family === 'wasm-attention' && ok(r) && r.memoryBytes);
        row.measured = ours.length ? ours.map((r) => `${r.short}: ${fmtBytes(r.memoryBytes)}`).join(', ') : 'not measured';
        row.status = ours.length ? 'reported' : 'n/a';
        row.value = ours.length ? Math.max(...ours.map((r) => r.memoryBytes)) : undefined;
        continue;
      }
      if (t.vs) {
        const mine = bestOurs(w);
        const theirs = w.results.find((r) => r.family === t.vs && r.threads === 1);
        if (!mine) {
          row.measured = `wasm-attention: ${why(w.results.find((r) => r.family === 'wasm-attention'))}`;
        } else if (!theirs || !ok(theirs)) {
          row.measured = `${t.vs}: ${why(theirs)}`;
        } else {
          const x = ratio(w.unit, mine.value, theirs.value);
          row.value = x;
          row.measured = `${x.toFixed(2)}× (${mine.short} ${fmtValue(w.unit, mine.value)} vs ${theirs.short} ${fmtValue(w.unit, theirs.value)} ${w.unit})`;
          row.status = x >= t.atLeast ? 'met' : 'not met';
        }
        continue;
      }
      if (t.scaling) {
        // Ours at N threads against ours at 1 thread, same binary, same run.
        const one = w.results.find((r) => r.engine === `wasm-attention/${t.scaling.isa}/1t`);
        const many = w.results.find((r) => r.engine === `wasm-attention/${t.scaling.isa}/${t.scaling.threads}t`);
        if (!one || !ok(one)) row.measured = `wasm-attention/${t.scaling.isa}/1t: ${why(one)}`;
        else if (!many || !ok(many)) row.measured = `wasm-attention/${t.scaling.isa}/${t.scaling.threads}t: ${why(many)} (run with --threads 1,${t.scaling.threads})`;
        else {
          const x = ratio(w.unit, many.value, one.value);
          row.value = x;
          row.measured = `${x.toFixed(2)}× (${many.short} ${fmtValue(w.unit, many.value)} vs ${one.short} ${fmtValue(w.unit, one.value)} ${w.unit})`;
          row.status = x >= t.atLeast ? 'met' : 'not met';
        }
        continue;
      }
      if (t.ofPeak) {
        const mine = w.results.find((r) => r.engine === t.ofPeak);
        const peak = byId.get('peak')?.results.find((r) => r.engine === t.ofPeak);
        if (!mine || !ok(mine)) row.measured = `${t.ofPeak}: ${why(mine)}`;
        else if (!peak || !ok(peak)) row.measured = `peak: ${peak ? why(peak) : 'peak workload not run'}`;
        else {
          // Fastest sample against fastest sample: noise can only slow a compute-bound loop, and the
          // two workloads run minutes apart, so comparing one's median with the other's best
          // would measure the machine's phase as much as the kernel.
          const ceiling = peak.bestValue ?? peak.value;
          const best = mine.bestValue ?? mine.value;
          const x = best / ceiling;
          row.value = x;
          row.measured = `${(x * 100).toFixed(0)}% (fastest samples: ${fmt(best)} of ${fmt(ceiling)} GFLOP/s; median ${fmt(mine.value)}, ${mine.short})`;
          row.status = x >= t.atLeast ? 'met' : 'not met';
        }
        continue;
      }
      const r = w.results.find((x) => x.engine === t.engine);
      if (!r || !ok(r)) {
        row.measured = `${t.engine}: ${why(r)}`;
        continue;
      }
      row.value = r.value;
      row.measured = `${fmtValue(w.unit, r.value)} ${w.unit} (${r.short})`;
      row.status = (t.atMost === undefined || r.value <= t.atMost) && (t.atLeast === undefined || r.value >= t.atLeast) ? 'met' : 'not met';
    }
  }
  return out;
}

const esc = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(header, rows, align = (i) => (i === 0 ? '---' : '---:')) {
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => align(i)).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function targetsMarkdown(targets) {
  if (!targets.length) return '_No targets in the selected workloads._';
  const met = targets.filter((t) => t.status === 'met').length;
  const judged = targets.filter((t) => t.status === 'met' || t.status === 'not met').length;
  const mark = { met: '✅ met', 'not met': '❌ not met', 'n/a': 'n/a', reported: 'reported' };
  return `${table(['target', 'measured (same run)', 'goal', 'status'], targets.map((t) => [t.label, t.measured, t.goal, mark[t.status] ?? t.status]), () => '---')}\n\n${met} of ${judged} measurable targets met.`;
}

export function workloadMarkdown(w) {
  const oks = w.results.filter(ok);
  const timed = w.results.some((r) => r.medianMs !== undefined);
  const hasErr = w.results.some((r) => r.maxError !== undefined);
  const hasMem = w.results.some((r) => r.memoryBytes);
  const header = ['engine', w.unit];
  if (timed) header.push('median ms', 'samples × reps');
  if (hasErr) header.push('max |err| vs float64');
  if (hasMem) header.push('Wasm memory');
  for (const b of oks) header.push(`vs ${b.short}`);
  const rows = w.results.map((r) => {
    const row = [r.engine];
    if (ok(r)) row.push(fmtValue(w.unit, r.value));
    else row.push(r.status === 'skipped' ? `skipped (${r.reason})` : `failed: ${r.error}`);
    if (timed) row.push(r.medianMs !== undefined ? fmtMs(r.medianMs) : '—', r.samples ? `${r.samples} × ${r.reps}` : '—');
    if (hasErr) row.push(fmtErr(r.maxError));
    if (hasMem) row.push(r.memoryBytes ? fmtBytes(r.memoryBytes) : '—');
    for (const b of oks) row.push(!ok(r) ? '' : b === r ? '—' : `${ratio(w.unit, r.value, b.value).toFixed(2)}×`);
    return row;
  });
  const lines = [`### ${w.id} — ${w.title}`, '', w.workText ? `${w.workText}.` : '', '', table(header, rows)];
  const notes = w.results.filter((r) => r.note).map((r) => `- ${r.engine}: ${r.note}`);
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}

export function resultsMarkdown(run) {
  const m = run.machine;
  const lines = [
    '# Benchmark results',
    '',
    '<!-- Generated by bench/cli.mjs; do not edit. Regenerate with `npm run bench`. -->',
    '',
    `- **Date:** ${run.date}`,
    `- **Command:** \`${run.command}\``,
    `- **Machine:** ${m.cpu}, ${m.cores} logical cores (${m.simdFlags.join(', ') || 'SIMD flags unknown'}), ${m.memoryGiB} GiB RAM, ${m.os}`,
    `- **Runtime:** Node ${m.node}, V8 ${m.v8}`,
    m.commit ? `- **Library:** commit ${m.commit}` : null,
    `- **Load average (1, 5, 15 min):** ${m.loadAverage.join(', ')} at start, ${run.loadAverageAtEnd.join(', ')} at the end (other load on the machine adds noise; engines are interleaved so it hits all alike)`,
    `- **Method:** ${run.method}`,
    `- **Threads:** ${run.threads.join(', ')}. ${run.threadsNote}`,
    `- **Total run time:** ${(run.totalMs / 1000).toFixed(0)} s`,
    '',
    'Ratios read "row engine vs column engine": how many times faster (for GFLOP/s, GB/s, ms) or',
    'smaller (KB) the row is, both measured in this run. Errors are max |output − float64 reference|',
    'over a sample of output elements (the reference is computed in float64 from the same float32 inputs).',
    '',
    '## Targets',
    '',
    targetsMarkdown(run.targets),
    '',
    '## Results',
    '',
    ...run.workloads.flatMap((w) => [workloadMarkdown(w), '']),
    '## Notes',
    '',
    ...run.notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.filter((l) => l !== null).filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}
