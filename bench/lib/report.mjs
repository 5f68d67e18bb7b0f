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

/** Our fastest ok row at `threads` (of `variant` when given: 'int8', 'f32', …; any binary). */
function bestOurs(w, threads = 1, variant = undefined) {
  const ours = w.results.filter((r) => r.family === 'wasm-attention' && r.threads === threads && ok(r) && (variant === undefined || r.variant === variant));
  // ratio(b, a) > 1 when b is better: b first. (A comparator must be negative for "a first": the
  // ratio alone is always positive, which left the order to the sort algorithm.)
  return ours.sort((a, b) => ratio(w.unit, b.value, a.value) - 1)[0];
}

/** The 1-thread row a `vs` target compares with: another family's (its `vsVariant`), or our best of `vsVariant`. */
function theirRow(w, t) {
  if (t.vs === 'wasm-attention') return bestOurs(w, 1, t.vsVariant) ?? w.results.find((r) => r.family === t.vs && r.variant === t.vsVariant);
  return w.results.find((r) => r.family === t.vs && r.threads === 1 && (t.vsVariant === undefined || r.variant === t.vsVariant));
}

const variantText = (family, variant) => (variant === undefined ? family : `${family} ${variant}`);

const fmtValue = (unit, v) => (unit === 'ms' ? fmtMs(v) : fmt(v));

function why(r) {
  if (!r) return 'not measured';
  if (r.status === 'failed') return `failed: ${r.error}`;
  if (r.status === 'skipped') return `skipped: ${r.reason}`;
  return 'no result';
}

/** A ratio with two decimals, more when two would round it onto the goal it misses. */
function fmtRatio(x, goal) {
  let d = 2;
  while (d < 6 && x < goal && +x.toFixed(d) >= goal) d++;
  return x.toFixed(d);
}

/**
 * A not-met target's `explain({ w, byId, mine, theirs })` (the workload's results, all results by
 * id, the two rows compared) says where the time goes, from what this run measured.
 */
function explainRow(row, t, ctx) {
  try {
    const text = t.explain(ctx);
    if (text) row.explanation = text;
  } catch (e) {
    row.explanation = `(no explanation: ${e.message})`;
  }
}

/** Evaluates every workload's `targets` against the results. */
export function evaluateTargets(workloads, results) {
  const byId = new Map(results.map((w) => [w.id, w]));
  const out = [];
  for (const spec of workloads) {
    const w = byId.get(spec.id);
    for (const t of spec.targets ?? []) {
      const times = t.vs || t.scaling || t.weightBytes || t.detail;
      const goal = t.atLeast !== undefined ? `≥ ${t.atLeast}${t.ofPeak ? ` (${Math.round(t.atLeast * 100)}%)` : times ? '×' : ` ${spec.unit}`}` : t.atMost !== undefined ? `≤ ${t.atMost}${times ? '×' : ` ${spec.unit}`}` : 'reported';
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
      if (t.weightBytes) {
        // Bytes of our matrix in one format against another's (f32): memory, not time.
        const of = (variant) => w.results.find((r) => r.family === 'wasm-attention' && r.variant === variant && r.weightBytes);
        const [mine, base] = [of(t.weightBytes.variant), of(t.weightBytes.of)];
        if (!mine || !base) {
          row.measured = `${!mine ? t.weightBytes.variant : t.weightBytes.of}: weight bytes not measured`;
        } else {
          const x = mine.weightBytes / base.weightBytes;
          row.value = x;
          row.measured = `${x.toFixed(3)}× (${t.weightBytes.variant} ${mine.weightBytes} bytes vs ${t.weightBytes.of} ${base.weightBytes})`;
          row.status = (t.atMost === undefined || x <= t.atMost) && (t.atLeast === undefined || x >= t.atLeast) ? 'met' : 'not met';
          if (row.status === 'not met' && t.explain) explainRow(row, t, { w, byId, mine, theirs: base });
        }
        continue;
      }
      if (t.vs) {
        const mine = bestOurs(w, 1, t.variant);
        const theirs = theirRow(w, t);
        if (!mine) {
          row.measured = `${variantText('wasm-attention', t.variant)}: ${why(w.results.find((r) => r.family === 'wasm-attention' && (t.variant === undefined || r.variant === t.variant)))}`;
        } else if (!theirs || !ok(theirs)) {
          row.measured = `${variantText(t.vs, t.vsVariant)}: ${why(theirs)}`;
        } else {
          const x = ratio(w.unit, mine.value, theirs.value);
          row.value = x;
          row.measured = `${fmtRatio(x, t.atLeast)}× (${mine.short} ${fmtValue(w.unit, mine.value)} vs ${theirs.short} ${fmtValue(w.unit, theirs.value)} ${w.unit})`;
          row.status = x >= t.atLeast ? 'met' : 'not met';
          if (row.status === 'not met' && t.explain) explainRow(row, t, { w, byId, mine, theirs });
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
      if (t.detail) {
        // A number the engine measured beside its value (r.detail[t.detail], e.g. Q-A1's speed-up).
        const x = r.detail?.[t.detail];
        if (!Number.isFinite(x)) {
          row.measured = `${t.engine}: ${t.detail} not measured`;
          continue;
        }
        row.value = x;
        row.measured = `${fmtRatio(x, t.atLeast)}× (${r.short})`;
        row.status = (t.atMost === undefined || x <= t.atMost) && (t.atLeast === undefined || x >= t.atLeast) ? 'met' : 'not met';
        if (row.status === 'not met' && t.explain) explainRow(row, t, { w, byId, mine: r });
        continue;
      }
      row.value = r.value;
      row.measured = `${fmtValue(w.unit, r.value)} ${w.unit} (${r.short})`;
      row.status = (t.atMost === undefined || r.value <= t.atMost) && (t.atLeast === undefined || r.value >= t.atLeast) ? 'met' : 'not met';
      if (row.status === 'not met' && t.explain) explainRow(row, t, { w, byId, mine: r });
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
  const why = targets.filter((t) => t.explanation).map((t) => `- **${t.label}** — not met: ${t.explanation}`);
  return `${table(['target', 'measured (same run)', 'goal', 'status'], targets.map((t) => [t.label, t.measured, t.goal, mark[t.status] ?? t.status]), () => '---')}\n\n${met} of ${judged} measurable targets met.${why.length ? `\n\nWhere the time goes, for the unmet targets that measure it:\n\n${why.join('\n')}` : ''}`;
}

/** A row's weight bytes, and the rate it streams them at (GB/s) when timed and `withRate`. */
function weightsText(r, withRate) {
  if (!r.weightBytes) return '—';
  const rate = withRate && ok(r) && r.medianMs ? ` (${fmt(r.weightBytes / r.medianMs / 1e6)} GB/s)` : '';
  return `${fmtBytes(r.weightBytes)}${rate}`;
}

export function workloadMarkdown(w) {
  const oks = w.results.filter(ok);
  const timed = w.results.some((r) => r.medianMs !== undefined);
  const hasErr = w.results.some((r) => r.maxError !== undefined);
  const hasMem = w.results.some((r) => r.memoryBytes);
  const hasWeights = w.results.some((r) => r.weightBytes);
  const columns = w.ratioColumns ? oks.filter((r) => w.ratioColumns.includes(r.engine)) : oks;
  const header = ['engine', w.unit];
  if (timed) header.push('median ms', 'samples × reps');
  if (hasErr) header.push('max |err| vs float64');
  if (hasMem) header.push('Wasm memory');
  if (hasWeights) header.push(w.weightRate ? 'weights (read rate)' : 'weights');
  for (const b of columns) header.push(`vs ${b.short}`);
  const rows = w.results.map((r) => {
    const row = [r.engine];
    if (ok(r)) row.push(fmtValue(w.unit, r.value));
    else row.push(r.status === 'skipped' ? `skipped (${r.reason})` : `failed: ${r.error}`);
    if (timed) row.push(r.medianMs !== undefined ? fmtMs(r.medianMs) : '—', r.samples ? `${r.samples} × ${r.reps}` : '—');
    if (hasErr) row.push(fmtErr(r.maxError));
    if (hasMem) row.push(r.memoryBytes ? fmtBytes(r.memoryBytes) : '—');
    if (hasWeights) row.push(weightsText(r, w.weightRate));
    for (const b of columns) row.push(!ok(r) ? '' : b === r ? '—' : `${ratio(w.unit, r.value, b.value).toFixed(2)}×`);
    return row;
  });
  const lines = [`### ${w.id} — ${w.title}`, '', w.workText ? `${w.workText}.` : '', '', table(header, rows)];
  const notes = w.results.filter((r) => r.note).map((r) => `- ${r.engine}: ${r.note}`);
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}

/** What the widest vector extension means for the native reference. */
function vectorWidth(flags) {
  if (flags.includes('avx512f')) return `AVX-512: native code runs 512-bit vectors${flags.some((f) => f.includes('vnni')) ? ' and VNNI int8 dot products' : ''}`;
  if (flags.includes('avx2')) return `AVX2: native code runs 256-bit vectors${flags.includes('avx_vnni') ? ' and VNNI int8 dot products' : ', int8 dot products without VNNI'}`;
  return 'native code runs 128-bit vectors';
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
    `- **Machine:** ${m.cpu}, ${m.cores} logical cores, ${m.memoryGiB} GiB RAM, ${m.os}`,
    `- **CPU vector extensions:** ${m.simdFlags.join(', ') || 'unknown'} (from /proc/cpuinfo; ${vectorWidth(m.simdFlags)}; Wasm SIMD is 128-bit on every CPU, so onnxruntime-node is a reference column, not a target)`,
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
