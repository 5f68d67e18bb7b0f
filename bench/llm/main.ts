// main.ts — `npm run bench:llm`: whole-model speed of LLM engines in one Chromium page
// (test/browser/pages/wllama.html via bench/llm/page.ts), on synthetic Llamas written as GGUF
// (test/helpers/gguf-models.ts: seeded random weights at real models' shapes, ASCII vocabulary).
// For each engine × model × tensor type × thread count: load, one untimed warm-up, then `repeats`
// runs of a 128-token prompt (BOS + 127 letters: the prefill) followed by 128 greedy decode steps
// (EOS ignored); the median of each phase's tokens/s is reported, with the times engines measure
// themselves (wllama: llama.cpp's own prompt/generation timers). Engines get the same file, threads,
// F16 KV cache and flash attention on (llama.cpp's defaults in wllama).
//
//   node bench/llm/cli.mjs [--engines wllama] [--models 15M,135M-gqa] [--types F32,Q8_0,Q4_0]
//                          [--threads 1,2] [--repeats 3] [--prompt 128] [--decode 128] [--write]
// --write replaces bench/llm/RESULTS.md. Models are generated once into the system's temp folder
// (wasm-attention-llm-models/, deterministic from the seed; 60 MB to 540 MB each) and reused.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOS, type ModelType, promptOfTokens, SYNTHETIC_LLAMAS, type SyntheticLlamaName, writeSyntheticLlama } from '../../test/helpers/gguf-models';
import { CHROMIUM_PATH } from '../../test/browser/chromium';
import { buildLlmPage, type LlmJob, type LlmResult, openLlmPage, serveModel } from './page';

interface Options {
  engines: string[];
  models: SyntheticLlamaName[];
  types: ModelType[];
  threads: number[];
  repeats: number;
  prompt: number;
  decode: number;
  write: boolean;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
  };
  const list = (name: string, fallback: string) => value(name, fallback).split(',').filter(Boolean);
  const models = list('models', '15M,135M-gqa') as SyntheticLlamaName[];
  for (const m of models) if (!(m in SYNTHETIC_LLAMAS)) throw new Error(`--models: unknown model '${m}'; known: ${Object.keys(SYNTHETIC_LLAMAS).join(', ')}`);
  const types = list('types', 'F32,Q8_0,Q4_0') as ModelType[];
  for (const t of types) if (!['F32', 'F16', 'Q8_0', 'Q4_0'].includes(t)) throw new Error(`--types: '${t}' is not one of F32, F16, Q8_0, Q4_0`);
  return {
    engines: list('engines', 'wllama'),
    models,
    types,
    threads: list('threads', '1,2').map(Number),
    repeats: Number(value('repeats', '3')),
    prompt: Number(value('prompt', '128')),
    decode: Number(value('decode', '128')),
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
}

function table(rows: Row[]): string {
  const lines = [
    '| engine | model | weights | file MiB | threads | prefill tokens/s | decode tokens/s | load ms |',
    '|---|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.engine} | ${r.model} | ${r.type} | ${r.mib.toFixed(0)} | ${r.threads} | ${r.prefill.toFixed(1)} | ${r.decode.toFixed(1)} | ${r.loadMs.toFixed(0)} |`),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const root = process.cwd();
  if (!existsSync(join(root, 'test', 'browser', 'pages', 'wllama.html'))) throw new Error('run from the repository root (npm run bench:llm)');
  const text = promptOfTokens(o.prompt - 1);
  const prompt = { text, ids: [BOS, ...Array.from(text, (c) => 131 + c.charCodeAt(0) - 0x21)] };
  const dir = mkdtempSync(join(tmpdir(), 'llm-page-'));
  const rows: Row[] = [];
  const loadBefore = loadavg()[0];
  try {
    await buildLlmPage(dir, root);
    const llm = await openLlmPage(dir, { isolated: true });
    try {
      for (const model of o.models) {
        for (const type of o.types) {
          const path = modelFile(model, type);
          const url = serveModel(dir, path);
          for (const engine of o.engines) {
            for (const threads of o.threads) {
              const job: LlmJob = {
                engine, model: url, threads, contextLength: 512, kvCache: 'f16', flashAttention: true,
                timing: { prompt, decodeTokens: o.decode, repeats: o.repeats },
              };
              const r: LlmResult = await llm.run(job, 3_600_000); // two threads on a busy machine are slow
              const row: Row = {
                engine, model, type, mib: r.modelBytes / 2 ** 20, threads: r.threads,
                prefill: median(r.prefill!.map(perSecond)), decode: median(r.decode!.map(perSecond)), loadMs: r.loadMs,
              };
              rows.push(row);
              console.error(`${engine} ${model} ${type} ${r.threads}t: prefill ${row.prefill.toFixed(1)} tokens/s, decode ${row.decode.toFixed(1)} tokens/s`);
            }
          }
        }
      }
      if (llm.errors.length) console.error(`page errors: ${llm.errors.join(' | ')}`);
    } finally {
      await llm.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const chromium = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8' }).trim();
  const report = [
    '# LLM engines in Chromium',
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; ${chromium}; ${new Date().toISOString().slice(0, 10)}; ` +
      `load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (other processes share the cores: ` +
      'two-thread rows suffer most, since ggml\'s threads wait for each other at every step).',
    `Command: \`npm run bench:llm -- ${process.argv.slice(2).join(' ')}\`.`,
    `Each row: the median of ${o.repeats} runs of a ${o.prompt}-token prompt then ${o.decode} greedy decode steps, after a warm-up;`,
    'synthetic Llamas with seeded random weights (test/helpers/gguf-models.ts), F16 KV cache, flash attention on.',
    '',
    table(rows),
    '',
  ].join('\n');
  console.log(report);
  if (o.write) writeFileSync(join(root, 'bench', 'llm', 'RESULTS.md'), report);
}

await main();
