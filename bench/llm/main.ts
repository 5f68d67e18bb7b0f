// main.ts — `npm run bench:llm`: whole-model speed of LLM engines in one Chromium page
// (test/browser/pages/wllama.html via bench/llm/page.ts), on synthetic Llamas written as GGUF
// (test/helpers/gguf-models.ts: seeded random weights at real models' shapes, ASCII vocabulary).
// For each engine × model × tensor type × thread count: load, one untimed warm-up, then `repeats`
// runs of a 128-token prompt (BOS + 127 letters: the prefill) followed by 128 greedy decode steps
// (EOS ignored); the median of each phase's tokens/s is reported, with the times engines measure
// themselves (wllama: llama.cpp's own prompt/generation timers; wasm-attention: the page's clock
// around its forward calls), and each engine's ratio to wllama on the same row. Engines get the
// same file, threads, F16 KV cache and flash attention on (llama.cpp's defaults in wllama; this
// library's kvCache dtype 'f16', which it has no flash-attention switch for). wasm-attention's Wasm
// memory after load is reported against the file's tensor bytes plus its f16 KV caches' bytes
// (the job's 512 positions).
// Then the correctness comparison, both engines with an F32 KV cache and flash attention off:
// stories260K converted to GGUF (F32): greedy ids from BOS of each engine against llama2.c's;
// each synthetic model × type: greedy ids from BOS, and over the steps before the first differing
// id (identical contexts) the largest |Δ log-probability| of the tokens both engines rank in their
// top 5, divided by the step's logit range (ours), and the top-1 agreement.
//
//   node bench/llm/cli.mjs [--engines wllama,wasm-attention] [--models 15M,110M,135M-gqa] [--types F32,Q8_0,Q4_0]
//                          [--threads 1,2] [--repeats 3] [--prompt 128] [--decode 128] [--agree 32]
//                          [--quick] [--write]
// --quick (CI): the 15M model in F32 at one thread, one repeat, a 16-token prompt, 8 decode steps,
// 8 compared steps. --write replaces the LLM section of bench/RESULTS.md (bench/lib/sections.mjs).
// Models are generated once into the system's temp folder (wasm-attention-llm-models/,
// deterministic from the seed; 60 MB to 540 MB each) and reused.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openAsBlob, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGgufBlob } from '../../examples/llama/gguf';
import {
  BOS, checkpointToGguf, type ModelType, promptOfTokens, SYNTHETIC_LLAMAS, type SyntheticLlamaName, writeSyntheticLlama,
} from '../../test/helpers/gguf-models';
import { writeGgufFile } from '../../test/helpers/gguf-writer';
import { parseLlama2cCheckpoint } from '../../examples/tiny-llama/loader';
import { CHROMIUM_PATH } from '../../test/browser/chromium';
import { buildLlmPage, type LlmJob, type LlmResult, openLlmPage, serveModel } from './page';
import { SECTIONS, withSection } from '../lib/sections.mjs';

interface Options {
  engines: string[];
  models: SyntheticLlamaName[];
  types: ModelType[];
  threads: number[];
  repeats: number;
  prompt: number;
  decode: number;
  agree: number;
  quick: boolean;
  write: boolean;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
  };
  const list = (name: string, fallback: string) => value(name, fallback).split(',').filter(Boolean);
  const quick = argv.includes('--quick');
  const models = list('models', quick ? '15M' : '15M,110M,135M-gqa') as SyntheticLlamaName[];
  for (const m of models) if (!(m in SYNTHETIC_LLAMAS)) throw new Error(`--models: unknown model '${m}'; known: ${Object.keys(SYNTHETIC_LLAMAS).join(', ')}`);
  const types = list('types', quick ? 'F32' : 'F32,Q8_0,Q4_0') as ModelType[];
  for (const t of types) if (!['F32', 'F16', 'Q8_0', 'Q4_0'].includes(t)) throw new Error(`--types: '${t}' is not one of F32, F16, Q8_0, Q4_0`);
  return {
    engines: list('engines', 'wllama,wasm-attention'),
    models,
    types,
    threads: list('threads', quick ? '1' : '1,2').map(Number),
    repeats: Number(value('repeats', quick ? '1' : '3')),
    prompt: Number(value('prompt', quick ? '16' : '128')),
    decode: Number(value('decode', quick ? '8' : '128')),
    agree: Number(value('agree', quick ? '8' : '32')),
    quick,
    write: argv.includes('--write'),
  };
}

/** The model file, generated on first use into the temp folder. */
function modelFile(name: SyntheticLlamaName, type: ModelType, seed = 1): string {
  const folder = join(tmpdir(), 'wasm-attention-llm-models');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `synthetic-${name}-${type}-seed${seed}.gguf`);
  if (!existsSync(path)) {
    const t0 = performance.now();
    writeSyntheticLlama(`${path}.partial`, name, type, seed);
    renameSync(`${path}.partial`, path);
    console.error(`generated ${path} (${(statSync(path).size / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return path;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const perSecond = (m: { tokens: number; ms: number }) => (1000 * m.tokens) / m.ms;

interface Row {
  engine: string;
  model: string;
  type: ModelType;
  mib: number;
  threads: number;
  prefill: number;
  decode: number;
  loadMs: number;
  /** Wasm memory after load over tensor bytes + f32 KV cache (engines that report memory). */
  memory?: number;
}

/** The engine's rate over wllama's on the same model, type and threads. */
function ratio(rows: Row[], r: Row, key: 'prefill' | 'decode'): string {
  if (r.engine === 'wllama') return '';
  const peer = rows.find((p) => p.engine === 'wllama' && p.model === r.model && p.type === r.type && p.threads === r.threads);
  return peer ? ` (${(r[key] / peer[key]).toFixed(2)}×)` : '';
}

function table(rows: Row[]): string {
  const lines = [
    '| engine | model | weights | file MiB | threads | prefill tokens/s (× wllama) | decode tokens/s (× wllama) | load ms | memory / (tensors + KV) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.engine} | ${r.model} | ${r.type} | ${r.mib.toFixed(0)} | ${r.threads} | ${r.prefill.toFixed(1)}${ratio(rows, r, 'prefill')} | ` +
      `${r.decode.toFixed(1)}${ratio(rows, r, 'decode')} | ${r.loadMs.toFixed(0)} | ${r.memory === undefined ? '' : `${r.memory.toFixed(2)}×`} |`),
  ];
  return lines.join('\n');
}

/** One model's correctness comparison between wasm-attention and wllama. */
interface Agreement {
  model: string;
  type: ModelType;
  steps: number;
  /** Leading greedy ids the two engines share. */
  sameIds: number;
  /** Over the shared steps: max |Δ log-probability| of commonly ranked tokens / logit range. */
  maxRelative: number;
  /** Over the shared steps (+ the first differing one): steps whose top-1 ids agree. */
  top1: number;
  compared: number;
  /**
   * At the first differing id: how far apart the two candidates are in each engine (its top-1
   * log-probability minus that of the other engine's pick, over the logit range; the larger of the
   * two engines' gaps). Below `maxRelative` means the ids part at a near-tie the engines' rounding
   * decides. Undefined when every id agrees or a pick is outside the other's top 5.
   */
  gapAtDifference?: number;
}

/** Compares two greedy results (see the header). */
function agreement(model: string, type: ModelType, ours: LlmResult, theirs: LlmResult): Agreement {
  const a = ours.greedy!;
  const b = theirs.greedy!;
  let same = 0;
  while (same < a.length && a[same] === b[same]) same++;
  const compared = Math.min(a.length, same + 1);
  let maxRelative = 0;
  let top1 = 0;
  for (let i = 0; i < compared; i++) {
    const mine = ours.steps![i];
    const peer = new Map(theirs.steps![i].map((t) => [t.id, t.logprob]));
    if (mine[0].id === theirs.steps![i][0]?.id) top1++;
    if (i === same) continue; // contexts differ after this step's pick only; its logits are comparable
    for (const t of mine) {
      const p = peer.get(t.id);
      if (p !== undefined) maxRelative = Math.max(maxRelative, Math.abs(t.logprob - p) / ours.ranges![i]);
    }
  }
  let gapAtDifference: number | undefined;
  if (same < a.length) {
    const mine = new Map(ours.steps![same].map((t) => [t.id, t.logprob]));
    const peer = new Map(theirs.steps![same].map((t) => [t.id, t.logprob]));
    const ourGap = (mine.get(a[same])! - (mine.get(b[same]) ?? Number.NaN)) / ours.ranges![same];
    const peerGap = (peer.get(b[same])! - (peer.get(a[same]) ?? Number.NaN)) / ours.ranges![same];
    const gap = Math.max(ourGap, peerGap);
    if (Number.isFinite(gap)) gapAtDifference = gap;
  }
  return { model, type, steps: a.length, sameIds: same, maxRelative, top1, compared, gapAtDifference };
}

/** The file's tensor bytes (its header read from disk). */
async function tensorBytesOf(path: string): Promise<number> {
  const file = await openGgufBlob(await openAsBlob(path));
  return file.tensorInfos.reduce((n, t) => n + t.byteLength, 0);
}

/** The stories260K fixture (llama2.c's checkpoint and run.c's greedy ids) under `root`. */
const storiesFixture = (root: string, file: string) => join(root, 'test', 'fixtures', 'stories260K', file);

/** stories260K converted to GGUF F32, written once into the temp folder. */
function storiesFile(root: string): string {
  const folder = join(tmpdir(), 'wasm-attention-llm-models');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, 'stories260K-F32.gguf');
  if (!existsSync(path)) {
    const cp = parseLlama2cCheckpoint(readFileSync(storiesFixture(root, 'stories260K.bin')), { name: 'stories260K.bin' });
    writeGgufFile(path, checkpointToGguf(cp, 'F32'));
  }
  return path;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const root = process.cwd();
  if (!existsSync(join(root, 'test', 'browser', 'pages', 'wllama.html'))) throw new Error('run from the repository root (npm run bench:llm)');
  if (!existsSync(join(root, 'dist', 'browser.js'))) throw new Error('dist/ is missing: run `npm run build` first (the page bundles dist/browser.js)');
  const text = promptOfTokens(o.prompt - 1);
  const prompt = { text, ids: [BOS, ...Array.from(text, (c) => 131 + c.charCodeAt(0) - 0x21)] };
  const dir = mkdtempSync(join(tmpdir(), 'llm-page-'));
  const rows: Row[] = [];
  const agreements: Agreement[] = [];
  let stories: { ours: number[]; theirs: number[] } | undefined;
  const loadBefore = loadavg()[0];
  const contextLength = 512;
  const compare = o.engines.includes('wllama') && o.engines.includes('wasm-attention');
  const exact = (engine: string, model: string, greedy: number): LlmJob => ({
    engine, model, threads: 1, contextLength, kvCache: 'f32', flashAttention: false, greedy, top: 5,
  });
  try {
    await buildLlmPage(dir, root);
    const llm = await openLlmPage(dir, { isolated: true });
    try {
      for (const model of o.models) {
        for (const type of o.types) {
          const path = modelFile(model, type);
          const url = serveModel(dir, path);
          const tensorBytes = await tensorBytesOf(path);
          for (const threads of o.threads) {
            for (const engine of o.engines) {
              const job: LlmJob = {
                engine, model: url, threads, contextLength, kvCache: 'f16', flashAttention: true,
                timing: { prompt, decodeTokens: o.decode, repeats: o.repeats },
              };
              const r: LlmResult = await llm.run(job, 3_600_000); // two threads on a busy machine are slow
              const row: Row = {
                engine, model, type, mib: r.modelBytes / 2 ** 20, threads: r.threads,
                prefill: median(r.prefill!.map(perSecond)), decode: median(r.decode!.map(perSecond)), loadMs: r.loadMs,
                ...(r.memoryBytes !== undefined && r.kvCacheBytes !== undefined && { memory: r.memoryBytes / (tensorBytes + r.kvCacheBytes) }),
              };
              rows.push(row);
              console.error(`${engine} ${model} ${type} ${r.threads}t: prefill ${row.prefill.toFixed(1)} tokens/s, decode ${row.decode.toFixed(1)} tokens/s` +
                (row.memory === undefined ? '' : `, memory ${row.memory.toFixed(2)}× tensors + KV`));
            }
          }
          if (compare) {
            const ours = await llm.run(exact('wasm-attention', url, o.agree), 3_600_000);
            const theirs = await llm.run(exact('wllama', url, o.agree), 3_600_000);
            const a = agreement(model, type, ours, theirs);
            agreements.push(a);
            console.error(`${model} ${type}: ${a.sameIds}/${a.steps} same greedy ids, max |Δlogprob|/range ${a.maxRelative.toExponential(2)}, top-1 ${a.top1}/${a.compared}, gap where the ids part ${a.gapAtDifference ?? '—'}`);
          }
        }
      }
      if (compare) {
        const url = serveModel(dir, storiesFile(root));
        const n = o.quick ? 64 : 256;
        const ours = await llm.run(exact('wasm-attention', url, n));
        const theirs = await llm.run(exact('wllama', url, n));
        stories = { ours: ours.greedy!, theirs: theirs.greedy! };
      }
      if (llm.errors.length) console.error(`page errors: ${llm.errors.join(' | ')}`);
    } finally {
      await llm.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const chromium = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8' }).trim();
  const want = readFileSync(storiesFixture(root, 'greedy-tokens.txt'), 'utf8').trim().split(/\s+/).map(Number);
  const matching = (ids: number[]) => ids.filter((id, i) => id === want[i]).length;
  const correctness = !compare ? [] : [
    '### Correctness: wasm-attention against wllama (F32 KV cache, flash attention off, one thread)',
    '',
    stories
      ? `stories260K converted to GGUF (F32), ${stories.ours.length} greedy ids from BOS: wasm-attention ${matching(stories.ours)}/${stories.ours.length} ` +
        `and wllama ${matching(stories.theirs)}/${stories.theirs.length} equal llama2.c run.c's; the engines agree on ` +
        `${stories.ours.filter((id, i) => id === stories!.theirs[i]).length}/${stories.ours.length}.`
      : '',
    '',
    'Synthetic models: greedy ids from BOS; over the steps before the first differing id, the largest |Δ log-probability| of the tokens both',
    'engines rank in their top 5, over the step\'s logit range, and the steps whose most likely token agrees (that first differing step included);',
    'where the ids part, how far apart the two candidates are (the larger of the engines\' log-probability gaps, over the logit range):',
    'a gap at the size of the differences above is a near-tie that rounding decides. Quantized rows differ more than F32 ones because',
    'the engines round activations differently: llama.cpp\'s WebAssembly build truncates the 8-bit codes toward zero and keeps block',
    'scales in f16 (ggml-cpu/arch/wasm/quants.c), wasm-attention rounds to nearest with f32 scales (as ggml\'s reference quantizer rounds).',
    '',
    '| model | weights | same greedy ids | max \\|Δ logprob\\| / logit range | top-1 agreement | gap where the ids part |',
    '|---|---|---:|---:|---:|---:|',
    ...agreements.map((a) => `| ${a.model} | ${a.type} | ${a.sameIds}/${a.steps} | ${a.maxRelative.toExponential(2)} | ${a.top1}/${a.compared} | ${a.gapAtDifference === undefined ? '—' : a.gapAtDifference.toExponential(2)} |`),
    '',
  ];
  const body = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; ${chromium}; ${new Date().toISOString().slice(0, 10)}; ` +
      `load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (other processes share the cores: ` +
      'two-thread rows suffer most, since ggml\'s threads wait for each other at every step).',
    `Command: \`npm run bench:llm -- ${process.argv.slice(2).join(' ')}\`.`,
    `Each row: the median of ${o.repeats} runs of a ${o.prompt}-token prompt then ${o.decode} greedy decode steps, after a warm-up;`,
    'synthetic Llamas with seeded random weights (test/helpers/gguf-models.ts); wllama with an F16 KV cache and flash attention on',
    '(its defaults), wasm-attention with f16 KV caches (rt.kvCache dtype \'f16\'); memory: Wasm memory after load over the file\'s tensor',
    'bytes + those KV caches\' bytes (512 positions). Both engines read Q8_0 / Q4_0 / F16 weights in place and quantize activations to 8-bit blocks for the',
    'block formats (llama.cpp\'s vec_dot_q8_0_q8_0 / q4_0_q8_0 scheme); wasm-attention keeps ffn_down rows that are not multiples of 32 in F32 as the file does.',
    '',
    table(rows),
    '',
    ...correctness,
  ];
  console.log(['# LLM engines in Chromium', '', ...body].join('\n'));
  if (o.write) {
    const file = join(root, 'bench', 'RESULTS.md');
    const section = [
      SECTIONS.llm.start,
      '## LLMs in Chromium: GGUF Llamas beside llama.cpp (wllama)',
      '',
      '<!-- Generated by bench/llm/main.ts; do not edit. Regenerate with `npm run bench:llm -- --write` (`npm run bench` keeps this section as it is). -->',
      '',
      ...body,
      SECTIONS.llm.end,
    ].join('\n');
    writeFileSync(file, withSection(existsSync(file) ? readFileSync(file, 'utf8') : '', 'llm', section));
    console.error(`wrote the LLM section of ${file}`);
  }
}

await main();
