// cli.mjs — `npm run bench`: workloads × engines, warm-ups and interleaved medians, checked against
// float64, written to bench/RESULTS.md with the ratio of every engine to every other engine measured
// in the same run and the project's speed targets.
//
//   node --experimental-wasm-relaxed-simd bench/cli.mjs [--quick] [--engines a,b] [--workloads G1,A1]
//        [--threads 1,2] [--json] [--no-write] [--output bench/RESULTS.md] [--list]
//
// Workloads are the files in bench/workloads/, engines the modules in bench/engines/ that export
// `engines` (see bench/lib/registry.mjs). Progress goes to stderr; --json prints the result object
// to stdout.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { carrySections } from './lib/sections.mjs';
import { machineInfo } from './lib/machine.mjs';
import { PROFILES, sampleInterleaved, warmup } from './lib/measure.mjs';
import { applyFilter, loadEngines, loadWorkloads } from './lib/registry.mjs';
import { evaluateTargets, ratioTable, resultsMarkdown, targetsMarkdown } from './lib/report.mjs';
import { errorText, fmt, fmtErr, fmtMs, median, ROOT, Skip } from './lib/util.mjs';

const HELP = `usage: node --experimental-wasm-relaxed-simd bench/cli.mjs [options]

  --quick              short run (fewer warm-ups and samples; plain JS only on small workloads)
  --engines LIST       comma-separated engine ids, families or prefixes (e.g. wasm-attention,ort-node)
  --workloads LIST     comma-separated workload ids or prefixes (e.g. G1,A)
  --threads LIST       thread counts (default 1)
  --json               print the result object (JSON) to stdout
  --no-write           do not write the results file
  --output FILE        results file (default bench/RESULTS.md)
  --list               list workloads and engines, then exit
  -h, --help           this text`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      engines: { type: 'string' },
      workloads: { type: 'string' },
      threads: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      output: { type: 'string', default: path.join('bench', 'RESULTS.md') },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  console.error(`${e.message}\n\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const started = performance.now();
const threads = [...new Set(args.threads.split(',').map((s) => Number(s.trim())))];
if (threads.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`--threads must be a list of positive integers, got "${args.threads}"`);
  process.exit(2);
}
const ctx = { quick: args.quick, threads };
const profile = args.quick ? PROFILES.quick : PROFILES.full;

let workloads;
let engines;
try {
  workloads = applyFilter(await loadWorkloads(), args.workloads, 'workloads');
  engines = applyFilter(await loadEngines(ctx), args.engines, 'engines');
} catch (e) {
  console.error(e.message);
  process.exit(2);
}

if (args.list) {
  console.log('workloads:');
  for (const w of workloads) console.log(`  ${w.id.padEnd(6)} ${w.unit.padEnd(8)} ${w.title}`);
  console.log('engines:');
  for (const e of engines) console.log(`  ${e.id.padEnd(30)} ${e.label}`);
  process.exit(0);
}

// ── progress on stderr ────────────────────────────────────────────────────────────────────────

const clock = () => `[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s]`;
const log = (s) => process.stderr.write(`${clock()} ${s}\n`);
const valueText = (unit, v) => `${unit === 'ms' ? fmtMs(v) : fmt(v)} ${unit}`;

function resultLine(w, r) {
  const head = `${w.id.padEnd(5)} ${r.engine.padEnd(28)}`;
  if (r.status === 'skipped') return `${head} skipped (${r.reason})`;
  if (r.status === 'failed') return `${head} FAILED: ${r.error.slice(0, 160)}`;
  let s = `${head} ${valueText(w.unit, r.value).padStart(14)}`;
  if (r.medianMs !== undefined && w.unit !== 'ms') s += `  ${fmtMs(r.medianMs)} ms (${r.samples}×${r.reps})`;
  if (r.maxError !== undefined) s += `  err ${fmtErr(r.maxError)}`;
  return s;
}

// ── one workload ──────────────────────────────────────────────────────────────────────────────

/** The result row of variant `v` of engine `e`: `wasm-attention/relaxed/1t int8`. */
function variantRow(base, e, v) {
  return {
    ...base,
    engine: `${e.id} ${v.variant}`,
    short: `${e.short} ${v.variant}`,
    label: `${e.label}: ${v.label ?? v.variant}`,
    variant: v.variant,
  };
}

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
  return w.unit === 'ms' ? ms : w.work / ms / 1e6; // GFLOP/s for flops, GB/s for bytes (both per ms / 1e6)
}

async function runWorkload(w) {
  const chosen = engines.filter((e) => e.supports(w) && !(w.singleThread && e.threads !== 1));
  log(`${w.id} — ${w.title}${w.workText ? ` · ${w.workText}` : ''}`);
  const out = { id: w.id, title: w.title, unit: w.unit, work: w.work, workText: w.workText, results: [] };
  if (!chosen.length) {
    log(`${w.id}   (no selected engine supports this workload)`);
    return out;
  }
  if (w.reference) {
    const t = performance.now();
    w.inputs();
    w.reference();
    log(`${w.id}   inputs and float64 reference ready (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }

  // One result row per engine, or per variant when a prepared object lists `variants` (the
  // quantized workloads: our int8 and f32 products, onnxruntime's DynamicQuantizeMatMul and
  // MatMulInteger, …). Variants share their parent's dispose() and are timed like engines.
  const entries = [];
  const prepared = [];
  for (const e of chosen) {
    const base = { engine: e.id, family: e.family, short: e.short, label: e.label, threads: e.threads, status: 'ok' };
    let p;
    try {
      p = await e.prepare(w, ctx);
    } catch (err) {
      const r = { ...base };
      out.results.push(r);
      fail(r, err);
      log(resultLine(w, r));
      continue;
    }
    prepared.push({ e, p });
    for (const v of p.variants ?? [p]) {
      const r = v === p ? { ...base } : variantRow(base, e, v);
      out.results.push(r);
      if (v.note) r.note = v.note;
      if (v.weightBytes) r.weightBytes = v.weightBytes;
      if (v.profile) r.profile = v.profile;
      if (v.error) {
        fail(r, v.error);
        log(resultLine(w, r));
      } else {
        entries.push({ e, r, p: v });
      }
    }
  }

  try {
    // Engines that measure themselves (cold start, sizes): one after another.
    for (const x of entries.filter((x) => x.p.measure)) {
      try {
        const m = await x.p.measure();
        x.r.value = m.value;
        if (m.samples) x.r.samplesMs = m.samples.map((s) => +s.toFixed(3));
        if (m.note) x.r.note = x.r.note ? `${x.r.note}; ${m.note}` : m.note;
        if (m.detail) x.r.detail = m.detail; // numbers a target's explanation reads (in --json too)
      } catch (err) {
        fail(x.r, err);
      }
      log(resultLine(w, x.r));
    }

    // Timed engines: warm up and check each, then sample all of them round-robin.
    const timed = [];
    const limit = profile.maxRunMs;
    for (const x of entries.filter((x) => x.p.run && !x.p.measure)) {
      try {
        await warmup(x.p, profile, (ms) => {
          if (ms > limit) {
            throw new Skip(`too slow: one run took ${(ms / 1000).toFixed(1)} s ≈ ${valueText(w.unit, throughput(w, ms))}; limit ${limit / 1000} s${args.quick ? ' in --quick' : ''}`);
          }
        });
        if (x.p.check) x.r.maxError = await x.p.check();
        if (x.p.checkNote) x.r.note = x.r.note ? `${x.r.note}; ${x.p.checkNote}` : x.p.checkNote;
        x.p.entry = x;
        timed.push(x.p);
      } catch (err) {
        fail(x.r, err);
        log(resultLine(w, x.r));
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
        r.bestValue = throughput(w, Math.min(...p.samples)); // the fastest sample (used as the peak ceiling)
        const mem = p.memoryBytes?.();
        if (mem) r.memoryBytes = mem;
      }
      log(resultLine(w, r));
    });
  } finally {
    for (const x of prepared) {
      try {
        await x.p.dispose?.();
      } catch (err) {
        log(`${w.id}   ${x.e.id}: dispose failed: ${errorText(err)}`);
      }
    }
  }
  out.ratios = ratioTable(out);
  if (w.weightRate) out.weightRate = true; // memory-bound: the weights column shows GB/s
  // The workload may name the rows worth a ratio column in the Markdown (the full table is in --json).
  if (w.ratioColumns) out.ratioColumns = out.results.filter((r) => r.status === 'ok' && w.ratioColumns(r)).map((r) => r.engine);
  return out;
}

// ── the run ───────────────────────────────────────────────────────────────────────────────────

const machine = machineInfo();
log(`wasm-attention bench (${args.quick ? 'quick' : 'full'}): ${workloads.length} workloads × ${engines.length} engines on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);

const results = [];
for (const w of workloads) {
  try {
    results.push(await runWorkload(w));
  } catch (e) {
    log(`${w.id}   FAILED: ${errorText(e)}`);
    results.push({ id: w.id, title: w.title, unit: w.unit, work: w.work, results: [], error: errorText(e) });
  }
}

const targets = evaluateTargets(workloads, results);
const invocation = `node ${process.execArgv.join(' ')}${process.execArgv.length ? ' ' : ''}bench/cli.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
const npmScript = process.env.npm_lifecycle_event;
const notes = [
  `Threads: ${threads.length === 1 && threads[0] === 1 ? 'every engine ran with 1 thread' : `thread counts ${threads.join(', ')}`}. Engine ids carry the thread count (\`wasm-attention/relaxed/1t\`); \`--threads 1,2\` adds N-thread rows for wasm-attention (createRuntime({ threads })). onnxruntime-web and tfjs-backend-wasm fix their thread count at initialization, so one count per process.`,
  'wasm-attention uses Wasm-resident tensors (`rt.tensor`) and `out:` (no copies per call); A4 keeps the K/V cache in Wasm memory. onnxruntime engines copy inputs in and outputs out on every `session.run` (their API); tfjs keeps the inputs as tensors and disposes each output.',
  'GEMM (G1–G3): A and B are inputs of every call for every engine (no constant-weight prepacking). A3: the weights are constants (ONNX initializers, which onnxruntime may prepack; rt.multiHeadAttention pre-packs them into GEMM panels once, at layer construction — `packWeights`, default true).',
  'onnxruntime models are built in memory with onnx-proto: MatMul (G1–G3), ONNX `Attention` opset 23 with 4-D [1, H, S, D] inputs (A1, A2 with is_causal=1, A4, A5); for A3 both a MatMul + com.microsoft `MultiHeadAttention` graph and a packed com.microsoft `Attention` graph are timed at preparation and the faster is used (see the A3 notes).',
  'Causal attention (A2) is counted as half the work of full attention (2·N²·D·H flops). Decode (A4) is reported in GB/s of K and V read.',
  'The peak workloads call kernel exports on directly instantiated dist/wasm/*.wasm modules, 8 independent accumulator chains, no memory traffic: `f32_peak_madd` (peak: f32x4 multiply-adds) and the int8 loops (peak-int8: `qs8_peak_dot_i16x8`, the relaxed `qs8_peak_relaxed_dot` the int8 kernels use, `qs8_peak_relaxed_dot_add`), a multiply-add counted as 2 ops.',
  'Quantized workloads (Q-G1, Q-G3, Q-MV, Q-MV-4k, Q-A3): one row per engine and format (`wasm-attention/relaxed/1t int8`, `onnxruntime-web/1t DynamicQuantizeMatMul`, …), all sampled round-robin in one process. Weights are constants, quantized once: ours through rt.quantizeMatrix (MatMulNBits bytes through rt.quantizedMatrix), onnxruntime\'s as initializers holding the same int8 codes and per-column scales, or the same 4-bit blocks; our f32 rows use the same constant weights packed or resident once. Errors are against the float64 product of the float32 inputs, so they include each format\'s quantization error. Ratio columns: our 1-thread f32 and onnxruntime-web (the rest are in --json). onnxruntime-node is a reference column only (native code with the vector extensions in the header); it runs in this process because its CommonJS build and onnxruntime-web\'s ES-module build load separate copies of onnxruntime-common (each session is checked to run on the native binding).',
  'Cold start: a script file run by a fresh `node --experimental-wasm-relaxed-simd` process per sample; performance.now() before `await import(...)` and after the first result of one small attention ([1, 2, 16, 8]); Node\'s own start-up is excluded; files are in the OS cache.',
  `Plain JS is skipped where one run would take more than ${args.quick ? 1.5 : 5} s; any engine whose single run exceeds ${profile.maxRunMs / 1000} s is skipped after its first run (both noted in the tables).`,
  `Profile "${args.quick ? 'quick' : 'full'}": ≥ ${profile.warmupRuns} warm-up runs and ≥ ${profile.warmupMs} ms of warm-up per engine, samples of ≥ ${profile.minSampleMs} ms (a sample repeats short runs), ${profile.minSamples}–${profile.maxSamples} samples per engine within ~${profile.budgetMs / 1000} s, taken round-robin across engines; the median sample is reported.`,
];
const failures = results.flatMap((w) => w.results.filter((r) => r.status === 'failed').map((r) => `${w.id} ${r.engine} failed: ${r.error}`));
notes.push(...failures.map((f) => `Failure — ${f}`));

const run = {
  date: new Date().toISOString(),
  command: npmScript ? `npm run ${npmScript}  (${invocation})` : invocation,
  machine,
  quick: args.quick,
  threads,
  threadsNote: 'wasm-attention rows with N > 1 threads use createRuntime({ threads: N }) (a worker pool over shared Wasm memory; the main thread takes part); every other engine runs one thread.',
  method: `warm-ups, then median of interleaved samples (${args.quick ? 'quick' : 'full'} profile; see Notes)`,
  engines: engines.map(({ id, family, label, threads: t }) => ({ id, family, label, threads: t })),
  workloads: results,
  targets,
  notes,
  totalMs: 0,
  loadAverageAtEnd: [],
};
run.totalMs = performance.now() - started;
run.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));

log(`done in ${(run.totalMs / 1000).toFixed(0)} s`);
process.stderr.write(`\nTargets\n${targetsMarkdown(targets)}\n`);

if (!args['no-write']) {
  const file = path.resolve(ROOT, args.output);
  // The sections other commands write (bench:browser, bench:llm: their own runs) are carried over.
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(file, carrySections(previous, resultsMarkdown(run)));
  log(`wrote ${path.relative(process.cwd(), file) || file}`);
}
if (args.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
