// LM — a trained Llama end to end: llama2.c's stories260K checkpoint (dim 64, 5 layers,
// 8 query / 4 key-value heads, vocab 512; test/fixtures/stories260K) through
// examples/tiny-llama/model.ts — rt.multiHeadAttention with RoPE and GQA over rt.kvCache, RMSNorm
// and SwiGLU around rt.matmul.
//   LM-decode   generate 256 tokens greedily from BOS: 256 forward calls of one token (positions
//               0–255), each reading the KV cache; tokens/s = 256 / time of one generation.
//   LM-prefill  a 64-token prompt (BOS + the first 63 greedy ids) in ONE forward call: every
//               token's K/V into the cache, the last token's logits; tokens/s = 64 / time.
// Engines: wasm-attention (both binaries; the greedy ids are checked against llama2.c's before
// timing; one row per weight and KV-cache format: TinyLlama, then examples/llama's LlamaModel with
// f32, f16, int8, q8_0, q4_0 weights and f16 / int8 caches — their notes count the ids that
// still equal llama2.c's), plain JavaScript (run.c's forward pass transcribed, one token at a time), and
// llama2.c's own run.c built with gcc -O3 from a copy the user provides (LLAMA2C_RUN_C; see
// bench/lib/tiny-llama.mjs) — run.c has no batched prefill, so its LM-prefill row is its forward
// pass fed the 64 prompt tokens one by one, as run.c processes prompts.
// `throughput()` in cli.mjs turns `work` into a rate as work / ms / 1e6 (GFLOP/s from flops);
// work = tokens · 1e9 makes that tokens/s.

import {
  BOS, checkpoint, greedyTokens, idsFromRunC, llama2c, loadModelModule, plainLlama, prefillPrompt, timeRunC,
} from '../lib/tiny-llama.mjs';

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

const DECODE_TOKENS = 256;
const PREFILL_TOKENS = 64;
// run.c's prefill prompt: 62 letters (no spaces), which its encoder turns into the dummy-prefix
// token and 62 byte tokens; with BOS first that is 64 forward calls (63 timed by run.c).
const RUN_C_PROMPT = 'abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(0, 62);

async function wasmModel(engine) {
  const { createRuntimeSync } = await loadLib();
  const { TinyLlama } = await loadModelModule();
  const rt = createRuntimeSync({ isa: engine.isa });
  try {
    return { rt, model: new TinyLlama(rt, await checkpoint()) };
  } catch (e) {
    rt.dispose();
    throw e;
  }
}

// The weight and KV-cache formats of the LM rows beside the TinyLlama one: examples/llama's
// LlamaModel (what `npm run example:llama` runs) with weights stored as `weightType` (the block
// formats only where the row length is a multiple of 32: W2's 172 stays f32) and caches of `kvType`.
const FORMATS = [
  { variant: 'f32', label: 'LlamaModel, f32 weights and KV cache' },
  { variant: 'f16', weightType: 'f16', label: 'LlamaModel, f16 weights' },
  { variant: 'int8', weightType: 'int8', label: 'LlamaModel, int8 weights (W8A8)' },
  { variant: 'q8_0', weightType: 'q8_0', label: 'LlamaModel, q8_0 weights' },
  { variant: 'q4_0', weightType: 'q4_0', label: 'LlamaModel, q4_0 weights' },
  { variant: 'kv-f16', kvType: 'f16', label: 'LlamaModel, f32 weights, f16 KV cache' },
  { variant: 'kv-int8', kvType: 'int8', label: 'LlamaModel, f32 weights, int8 KV cache' },
  { variant: 'q4_0+kv-int8', weightType: 'q4_0', kvType: 'int8', label: 'LlamaModel, q4_0 weights, int8 KV cache' },
];

/** LlamaModel on stories260K in its own runtime (so memoryBytes is its own) for each of FORMATS. */
async function formatModels(engine) {
  const { createRuntimeSync } = await loadLib();
  const { LlamaModel, weightsFromCheckpoint } = await loadModelModule();
  const weights = weightsFromCheckpoint(await checkpoint(), 'stories260K.bin');
  return FORMATS.map((f) => {
    const rt = createRuntimeSync({ isa: engine.isa });
    try {
      const model = new LlamaModel(rt, weights, { ...(f.weightType && { weightType: f.weightType }), kvType: f.kvType ?? 'f32' });
      return { ...f, rt, model, dispose: () => { model.dispose(); rt.dispose(); } };
    } catch (e) {
      rt.dispose();
      throw e;
    }
  });
}

/** "254/256 ids equal llama2.c's (first difference at 17)". */
function agreement(got, want) {
  let same = 0;
  for (let i = 0; i < want.length; i++) if (got[i] === want[i]) same++;
  const first = want.findIndex((t, i) => got[i] !== t);
  return `${same}/${want.length} greedy ids equal llama2.c's${first >= 0 ? ` (first difference at ${first})` : ''}`;
}

const sameIds = (got, want, what) => {
  const i = want.findIndex((t, j) => got[j] !== t);
  if (i >= 0 || got.length !== want.length) throw new Error(`${what}: id ${i} is ${got[i]}, llama2.c's is ${want[i]} (${got.length} ids)`);
};

const decode = {
  id: 'LM-decode',
  order: 300,
  singleThread: true,
  title: 'tiny Llama (llama2.c stories260K) decode: 256 tokens greedily from BOS',
  unit: 'tokens/s',
  work: DECODE_TOKENS * 1e9,
  workText: '256 forward calls of one token through 5 layers (GQA 8/4 heads of 8, RoPE, KV cache, SwiGLU 172), greedy argmax; tokens/s = 256 ÷ time of one generation',
  setup: {
    async 'wasm-attention'(engine) {
      const { rt, model } = await wasmModel(engine);
      sameIds(model.generate([BOS], DECODE_TOKENS).tokens, greedyTokens(), 'wasm-attention greedy ids');
      const formats = await formatModels(engine);
      return {
        variants: [
          {
            variant: 'tiny',
            label: 'TinyLlama, f32',
            note: 'examples/tiny-llama/model.ts: rt.multiHeadAttention (RoPE, GQA) + rt.kvCache, rt.matmul (weights read in place, matrix-vector path); 256 greedy ids = llama2.c\'s, checked before timing',
            run() {
              model.reset();
              model.generate([BOS], DECODE_TOKENS);
            },
            memoryBytes: () => rt.memoryBytes,
          },
          ...formats.map((f) => {
            const ids = f.model.generate([BOS], DECODE_TOKENS).tokens;
            if (!f.weightType && !f.kvType) sameIds(ids, greedyTokens(), 'LlamaModel f32 greedy ids');
            return {
              variant: f.variant,
              label: f.label,
              note: `examples/llama/model.ts; ${agreement(ids, greedyTokens())}${f.kvType ? `; KV caches ${f.model.kvCacheBytes} bytes` : ''}`,
              run() {
                f.model.reset();
                f.model.generate([BOS], DECODE_TOKENS);
              },
              memoryBytes: () => f.rt.memoryBytes,
            };
          }),
        ],
        dispose() {
          model.dispose();
          rt.dispose();
          for (const f of formats) f.dispose();
        },
      };
    },
    async 'plain-js'() {
      const m = plainLlama(await checkpoint());
      const gen = () => {
        const out = [];
        let token = BOS;
        for (let pos = 0; pos < DECODE_TOKENS; pos++) {
          const logits = m.forward(token, pos);
          let best = 0;
          for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
          out.push((token = best));
        }
        return out;
      };
      sameIds(gen(), greedyTokens(), 'plain-JS greedy ids');
      return { note: 'llama2.c run.c\'s forward pass transcribed to JavaScript (Float32Array storage); ids = llama2.c\'s, checked', run: gen, dispose() {} };
    },
    'llama2.c'(engine, ctx) {
      const r = llama2c();
      const runs = ctx.quick ? 5 : 21;
      return {
        measure() {
          const t = timeRunC(['-n', String(DECODE_TOKENS)], DECODE_TOKENS - 1, runs);
          if (r.idTokenizer) sameIds(idsFromRunC(t.stdout), greedyTokens(), 'run.c greedy ids');
          return {
            value: t.value,
            note: `${r.ccVersion}: \`${r.compile}\` (run.c: ${r.source}); \`run stories260K.bin -z <tokenizer> -t 0 -n 256\`, ${runs} processes, run.c's own timer (from after its first token, 255 tokens) aggregated as Σ tokens ÷ Σ time${r.idTokenizer ? '; stand-in tokenizer printing ids, which equal greedy-tokens.txt' : ''}`,
          };
        },
        dispose() {},
      };
    },
  },
};

const prefill = {
  id: 'LM-prefill',
  order: 301,
  singleThread: true,
  title: 'tiny Llama (llama2.c stories260K) prefill: a 64-token prompt in one call',
  unit: 'tokens/s',
  work: PREFILL_TOKENS * 1e9,
  workText: '64 prompt tokens (BOS + the first 63 greedy ids) through 5 layers into an empty KV cache, logits of the last token; tokens/s = 64 ÷ time',
  setup: {
    async 'wasm-attention'(engine) {
      const { rt, model } = await wasmModel(engine);
      const { argmax } = await loadModelModule();
      const prompt = prefillPrompt();
      const logits = model.forward(prompt);
      if (argmax(logits) !== greedyTokens()[63]) throw new Error('wasm-attention prefill: the next token is not llama2.c\'s');
      model.reset();
      let stepped;
      for (const t of prompt) stepped = model.forward([t]);
      let diff = 0;
      for (let i = 0; i < logits.length; i++) diff = Math.max(diff, Math.abs(logits[i] - stepped[i]));
      const formats = await formatModels(engine);
      return {
        variants: [
          {
            variant: 'tiny',
            label: 'TinyLlama, f32',
            note: `one model.forward(64 ids): one rt.multiHeadAttention call per layer (64 queries, causal, cache filled), products on packed weights (rt.packMatrix); next token = llama2.c's; max |logit difference| vs 64 one-token steps ${diff.toExponential(1)}`,
            run() {
              model.reset();
              model.forward(prompt);
            },
            memoryBytes: () => rt.memoryBytes,
          },
          ...formats.map((f) => {
            const next = argmax(f.model.forward(prompt));
            if (!f.weightType && !f.kvType && next !== greedyTokens()[63]) throw new Error('LlamaModel f32 prefill: the next token is not llama2.c\'s');
            return {
              variant: f.variant,
              label: f.label,
              note: `examples/llama/model.ts, one forward(64 ids); next token ${next === greedyTokens()[63] ? '= llama2.c\'s' : `${next}, llama2.c's is ${greedyTokens()[63]}`}`,
              run() {
                f.model.reset();
                f.model.forward(prompt);
              },
              memoryBytes: () => f.rt.memoryBytes,
            };
          }),
        ],
        dispose() {
          model.dispose();
          rt.dispose();
          for (const f of formats) f.dispose();
        },
      };
    },
    async 'plain-js'() {
      const m = plainLlama(await checkpoint());
      const prompt = prefillPrompt();
      return {
        note: 'run.c\'s forward pass in JavaScript, the 64 tokens one by one (it has no batched prefill)',
        run() {
          prompt.forEach((t, pos) => m.forward(t, pos));
        },
        dispose() {},
      };
    },
    'llama2.c'(engine, ctx) {
      const r = llama2c();
      const runs = ctx.quick ? 9 : 41;
      return {
        measure() {
          const t = timeRunC(['-n', String(PREFILL_TOKENS), '-i', RUN_C_PROMPT], PREFILL_TOKENS - 1, runs);
          return {
            value: t.value,
            note: `${r.ccVersion}: \`${r.compile}\` (run.c: ${r.source}); run.c feeds prompt tokens one by one through its forward pass (no batched prefill): \`run stories260K.bin -z <tokenizer> -t 0 -n 64 -i <62 letters>\` (BOS + 63 prompt tokens), ${runs} processes, run.c's own timer (63 tokens after the first), Σ tokens ÷ Σ time`,
          };
        },
        dispose() {},
      };
    },
  },
};

export default [decode, prefill];
