// Node example: greedy text generation with a trained Llama (llama2.c's stories260K) on
// wasm-attention. From the repository root:
//
//   npm run example:llama                                   # 256 tokens from BOS
//   npm run example:llama -- --prompt 1,461,461 --steps 64  # from given ids
//
// (builds the package and this script, then runs it; `--help` lists the options). Prints the
// generated ids as they come, then tokens per second of the prefill (the prompt in one call) and
// of the decode steps, for each of --repeat runs of the same generation (the first includes the
// JavaScript engine's warm-up); from BOS on the bundled checkpoint it also compares the ids with
// the ones llama2.c's run.c generates (test/fixtures/stories260K/greedy-tokens.txt).
// The checkpoint has no tokenizer here (its tok512 vocabulary is not included), so ids are
// printed, not text. Built by examples/tiny-llama/build.mjs to dist/run.mjs; it imports
// 'wasm-attention' like any user of the package.

import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRuntime, type Isa } from 'wasm-attention';
import { CheckpointError, parseLlama2cCheckpoint } from './loader';
import { TinyLlama } from './model';

const BOS = 1;
// Relative to the bundle, examples/tiny-llama/dist/run.mjs.
const fixture = (file: string) => fileURLToPath(new URL(`../../../test/fixtures/stories260K/${file}`, import.meta.url));
const DEFAULT_MODEL = fixture('stories260K.bin');
const GREEDY = fixture('greedy-tokens.txt');

const HELP = `usage: npm run example:llama -- [options]

  --model PATH      llama2.c checkpoint (default: test/fixtures/stories260K/stories260K.bin)
  --prompt IDS      prompt token ids, comma- or space-separated (default: 1 = BOS)
  --steps N         tokens to generate (default 256; at most the checkpoint's seq_len minus the prompt)
  --isa NAME        kernel binary: relaxed or simd128 (default: relaxed when the engine has it)
  --threads N       worker threads (default 1; this model's products are too small to split)
  --repeat N        run the generation N times and report each (default 3: the first run includes
                    the JavaScript engine's warm-up)
  --no-stop         keep going after BOS (llama2.c's run.c stops when the model emits BOS = 1)
  --json            also print the result as one JSON line
  -h, --help        this text`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      steps: { type: 'string', default: '256' },
      isa: { type: 'string' },
      threads: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '3' },
      'no-stop': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}
try {
  args = parse();
} catch (e) {
  fail(`${(e as Error).message}\n\n${HELP}`);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const modelPath = args.model ?? DEFAULT_MODEL;
const prompt = args.prompt === undefined ? [BOS] : args.prompt.split(/[\s,]+/).filter(Boolean).map(Number);
const steps = Number(args.steps);
const threads = Number(args.threads);
const repeat = Number(args.repeat);
if (!prompt.length || prompt.some((t) => !Number.isInteger(t) || t < 0)) fail(`--prompt must be token ids (non-negative integers), got "${args.prompt}"`);
if (!Number.isInteger(steps) || steps < 0) fail(`--steps must be a non-negative integer, got "${args.steps}"`);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer, got "${args.threads}"`);
if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat must be a positive integer, got "${args.repeat}"`);
if (args.isa !== undefined && args.isa !== 'relaxed' && args.isa !== 'simd128') fail(`--isa must be relaxed or simd128, got "${args.isa}"`);
if (!existsSync(modelPath)) fail(`no checkpoint at ${modelPath}`);

let checkpoint;
try {
  checkpoint = parseLlama2cCheckpoint(readFileSync(modelPath), { name: basename(modelPath) });
} catch (e) {
  if (e instanceof CheckpointError) fail(`${e.code}: ${e.message}`);
  throw e;
}
const c = checkpoint.config;
if (prompt.some((t) => t >= c.vocabSize)) fail(`--prompt ids must be below the vocabulary size ${c.vocabSize}`);
const maxSteps = c.seqLen - prompt.length + 1;
if (steps > maxSteps) fail(`--steps ${steps} does not fit: ${prompt.length} prompt tokens + ${steps} generated exceed seq_len ${c.seqLen} (at most ${maxSteps})`);

const rt = await createRuntime({ ...(args.isa ? { isa: args.isa as Isa } : {}), threads });
const llama = new TinyLlama(rt, checkpoint);
console.log(
  `${basename(modelPath)}: dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} query / ${c.nKvHeads} key-value heads, ` +
    `vocab ${c.vocabSize}, seq_len ${c.seqLen} — wasm-attention ${rt.isa} binary, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}`,
);
console.log(`prompt (${prompt.length} token${prompt.length > 1 ? 's' : ''}): ${prompt.join(' ')}`);
process.stdout.write('generated: ');
const stopTokens = args['no-stop'] ? [] : [BOS];
const runs = [];
for (let i = 0; i < repeat; i++) {
  llama.reset();
  runs.push(llama.generate(prompt, steps, { stopTokens, onToken: i === 0 ? (id) => process.stdout.write(`${id} `) : undefined }));
  if (i === 0) process.stdout.write('\n');
  else if (runs[i].tokens.join() !== runs[0].tokens.join()) fail(`run ${i + 1} generated other ids than run 1`);
}
const result = runs[0];

const rate = (n: number, ms: number) => (ms > 0 ? n / (ms / 1000) : 0);
runs.forEach((r, i) => {
  console.log(
    `run ${i + 1}: prefill ${r.promptTokens} token${r.promptTokens > 1 ? 's' : ''} in one call ${r.prefillMs.toFixed(2)} ms ` +
      `(${rate(r.promptTokens, r.prefillMs).toFixed(0)} tokens/s), decode ${r.decodeSteps} steps ${r.decodeMs.toFixed(1)} ms ` +
      `(${rate(r.decodeSteps, r.decodeMs).toFixed(0)} tokens/s)${i === 0 && repeat > 1 ? ' — includes JIT warm-up' : ''}`,
  );
});

// From BOS on the bundled checkpoint: compare with llama2.c's run.c.
let matches: number | undefined;
if (modelPath === DEFAULT_MODEL && prompt.length === 1 && prompt[0] === BOS && existsSync(GREEDY)) {
  const want = readFileSync(GREEDY, 'utf8').trim().split(/\s+/).map(Number);
  const n = Math.min(want.length, result.tokens.length);
  matches = result.tokens.slice(0, n).filter((t, i) => t === want[i]).length;
  console.log(`llama2.c run.c (greedy-tokens.txt): ${matches} of the first ${n} ids match`);
}
if (args.json) {
  console.log(JSON.stringify({
    isa: rt.isa, threads: rt.threads, prompt, tokens: result.tokens, matches,
    runs: runs.map((r) => ({
      prefillMs: r.prefillMs, prefillTokensPerSecond: rate(r.promptTokens, r.prefillMs),
      decodeMs: r.decodeMs, decodeSteps: r.decodeSteps, decodeTokensPerSecond: rate(r.decodeSteps, r.decodeMs),
    })),
  }));
}
llama.dispose();
rt.dispose();
if (matches !== undefined && matches !== Math.min(256, result.tokens.length)) process.exitCode = 1;
