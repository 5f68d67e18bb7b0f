// Node example: greedy generation with a Llama-family model on wasm-attention: a GGUF file
// (`llama` or `qwen2`, tensors F32 / F16 / Q8_0 / Q4_0) or a llama2.c checkpoint (the bundled
// stories260K by default), told apart by their first bytes ("GGUF"). From the repository root:
//
//   npm run example:llama                                   # 256 tokens from BOS, stories260K.bin
//   npm run example:llama -- --model model.gguf --threads 2
//   npm run example:llama -- --prompt 1,461,461 --steps 64  # from given ids
//   npm run example:llama -- --weights q8_0 --kv int8       # int8 weights and KV caches
//
// (builds the package and this script, then runs it; `--help` lists the options). Prints the
// generated ids as they come, then tokens per second of the prefill (the prompt in one call) and
// of the decode steps, for each of --repeat runs of the same generation (the first includes the
// JavaScript engine's warm-up), and the Wasm memory after loading against the file's tensor bytes
// plus the KV caches; from BOS on the bundled checkpoint it also compares the ids with the ones
// llama2.c's run.c generates (test/fixtures/stories260K/greedy-tokens.txt).
// Ids in, ids out (no tokenizer). Built by examples/tiny-llama/build.mjs to dist/run.mjs; it
// imports 'wasm-attention' like any user of the package. The model is examples/llama/model.ts.

import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRuntime, type Isa } from 'wasm-attention';
import { GgufError, parseGguf } from '../llama/gguf';
import { LlamaModel } from '../llama/model';
import { type LlamaWeights, modelFileFormat, tensorBytes, weightsFromCheckpoint, weightsFromGguf } from '../llama/weights';
import { CheckpointError, parseLlama2cCheckpoint } from './loader';

const BOS = 1;
// Relative to the bundle, examples/tiny-llama/dist/run.mjs.
const fixture = (file: string) => fileURLToPath(new URL(`../../../test/fixtures/stories260K/${file}`, import.meta.url));
const DEFAULT_MODEL = fixture('stories260K.bin');
const GREEDY = fixture('greedy-tokens.txt');

const HELP = `usage: npm run example:llama -- [options]

  --model PATH      a GGUF file or a llama2.c checkpoint, told apart by content
                    (default: test/fixtures/stories260K/stories260K.bin)
  --prompt IDS      prompt token ids, comma- or space-separated (default: 1 = BOS)
  --steps N         tokens to generate (default 256; at most the context length minus the prompt)
  --isa NAME        kernel binary: relaxed or simd128 (default: relaxed when the engine has it)
  --threads N       threads (default 1): prefill products of 4 or more rows are split across them
  --repeat N        run the generation N times and report each (default 3: the first run includes
                    the JavaScript engine's warm-up)
  --max-memory MIB  bound the runtime's Wasm memory (maxMemoryBytes)
  --pack            also keep f32 weights packed for the GEMM (a second copy; see model.ts)
  --weights TYPE    store the weight matrices as f32, f16, int8, q8_0 or q4_0 whatever the file
                    holds (default: the file's Q8_0 / Q4_0 / F16 kept as they are, others f32)
  --kv TYPE         KV caches as f32 (default), f16 or int8 (codes with one scale per token)
  --no-stop         keep going after the stop token (llama2.c's run.c stops at BOS = 1; a GGUF
                    file's is its EOS)
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
      pack: { type: 'boolean', default: false },
      weights: { type: 'string' },
      kv: { type: 'string' },
      'max-memory': { type: 'string' },
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
if (!existsSync(modelPath)) fail(`no model file at ${modelPath}`);
const WEIGHT_TYPES = ['f32', 'f16', 'int8', 'q8_0', 'q4_0'] as const;
if (args.weights !== undefined && !(WEIGHT_TYPES as readonly string[]).includes(args.weights)) fail(`--weights must be one of ${WEIGHT_TYPES.join(', ')}, got "${args.weights}"`);
const weightType = args.weights as (typeof WEIGHT_TYPES)[number] | undefined;
const KV_TYPES = ['f32', 'f16', 'int8'] as const;
if (args.kv !== undefined && !(KV_TYPES as readonly string[]).includes(args.kv)) fail(`--kv must be one of ${KV_TYPES.join(', ')}, got "${args.kv}"`);
const kvType = (args.kv ?? 'f32') as (typeof KV_TYPES)[number];

const fileName = basename(modelPath);
const bytes = readFileSync(modelPath);
const format = modelFileFormat(bytes);
let weights: LlamaWeights;
try {
  weights = format === 'gguf'
    ? weightsFromGguf(parseGguf(bytes, { name: fileName }), fileName)
    : weightsFromCheckpoint(parseLlama2cCheckpoint(bytes, { name: fileName }), fileName);
} catch (e) {
  if (e instanceof CheckpointError || e instanceof GgufError) fail(`${e.code}: ${e.message}`);
  throw e;
}
const c = weights.config;
if (prompt.some((t) => t >= c.vocabSize)) fail(`--prompt ids must be below the vocabulary size ${c.vocabSize}`);
const maxSteps = c.contextLength - prompt.length + 1;
if (steps > maxSteps) fail(`--steps ${steps} does not fit: ${prompt.length} prompt tokens + ${steps} generated exceed the context length ${c.contextLength} (at most ${maxSteps})`);
const stopToken = format === 'gguf' ? c.eosTokenId : BOS;

const maxMemoryMiB = args['max-memory'] === undefined ? undefined : Number(args['max-memory']);
if (maxMemoryMiB !== undefined && !(Number.isInteger(maxMemoryMiB) && maxMemoryMiB >= 1 && maxMemoryMiB <= 4096)) {
  fail(`--max-memory must be a whole number of MiB from 1 to 4096, got "${args['max-memory']}"`);
}
const rt = await createRuntime({
  ...(args.isa ? { isa: args.isa as Isa } : {}), threads, ...(maxMemoryMiB && { maxMemoryBytes: maxMemoryMiB * 2 ** 20 }),
});
const memoryBefore = rt.memoryBytes;
const maxLength = Math.max(1, prompt.length + steps - 1);
const llama = new LlamaModel(rt, weights, { maxLength, packWeights: args.pack, kvType, ...(weightType && { weightType }) });
const memoryAfterLoad = rt.memoryBytes;
const tensorMiB = tensorBytes(weights) / 2 ** 20;
const kvCacheBytes = llama.kvCacheBytes;
const cacheMiB = kvCacheBytes / 2 ** 20;
const types = [...new Set([weights.tensors.tokenEmbedding, ...weights.tensors.layers.flatMap((l) => [l.q, l.gate, l.down])].map((t) => t.type.name))];
console.log(
  `${fileName} (${format === 'gguf' ? `GGUF ${c.architecture}, ${types.join('/')}` : 'llama2.c checkpoint'}): dim ${c.dim}, ${c.nLayers} layers, ` +
    `${c.nHeads} query / ${c.nKvHeads} key-value heads, vocab ${c.vocabSize}, context ${c.contextLength}${weightType ? `, weights stored as ${weightType}` : ''}` +
    `${kvType !== 'f32' ? `, ${kvType} KV caches` : ''} — ` +
    `wasm-attention ${rt.isa} binary, ${rt.threads} thread${rt.threads > 1 ? 's' : ''}`,
);
const mib = (n: number) => (n / 2 ** 20).toFixed(1);
console.log(
  `Wasm memory after load: ${mib(memoryAfterLoad)} MiB (${mib(memoryBefore)} MiB before) for ${tensorMiB.toFixed(1)} MiB of tensors + ` +
    `${cacheMiB.toFixed(1)} MiB of ${kvType} KV cache (${maxLength} positions): ${(memoryAfterLoad / 2 ** 20 / (tensorMiB + cacheMiB)).toFixed(2)}×`,
);
console.log(`prompt (${prompt.length} token${prompt.length > 1 ? 's' : ''}): ${prompt.join(' ')}`);
process.stdout.write('generated: ');
const stopTokens = args['no-stop'] || stopToken === undefined ? [] : [stopToken];
const runs = [];
for (let i = 0; i < repeat; i++) {
  llama.reset();
  try {
    runs.push(llama.generate(prompt, steps, { stopTokens, onToken: i === 0 ? (id) => process.stdout.write(`${id} `) : undefined }));
  } catch (e) {
    // The library's errors (e.g. OUT_OF_MEMORY under --max-memory) by their code, not a stack trace.
    if (e instanceof Error && 'code' in e) fail(`\n${String(e.code)}: ${e.message}`);
    throw e;
  }
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
    isa: rt.isa, threads: rt.threads, format, kvType, prompt, tokens: result.tokens, matches,
    memory: { afterLoad: memoryAfterLoad, tensorBytes: tensorBytes(weights), kvCacheBytes },
    runs: runs.map((r) => ({
      prefillMs: r.prefillMs, prefillTokensPerSecond: rate(r.promptTokens, r.prefillMs),
      decodeMs: r.decodeMs, decodeSteps: r.decodeSteps, decodeTokensPerSecond: rate(r.decodeSteps, r.decodeMs),
    })),
  }));
}
llama.dispose();
rt.dispose();
// Exit code 1 when float32 weights and caches do not reproduce llama2.c's ids (quantized ones may differ).
const exact = (weightType === undefined || weightType === 'f32') && kvType === 'f32';
if (exact && matches !== undefined && matches !== Math.min(256, result.tokens.length)) process.exitCode = 1;
