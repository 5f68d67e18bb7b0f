// LM — a trained Llama end to end: llama2.c's stories260K checkpoint (dim 64, 5 layers,
// 8 query / 4 key-value heads, vocab 512; test/fixtures/stories260K) through
// examples/tiny-llama/model.ts — rt.multiHeadAttention with RoPE and GQA over rt.kvCache, RMSNorm
// and SwiGLU around rt.matmul.
//   LM-decode   generate 256 tokens greedily from BOS: 256 forward calls of one token (positions
//               0–255), each reading the KV cache; tokens/s = 256 / time of one generation.
//   LM-prefill  a 64-token prompt (BOS + the first 63 greedy ids) in ONE forward call: every
//               token's K/V into the cache, the last token's logits; tokens/s = 64 / time.
// Engines: wasm-attention (both binaries; the greedy ids are checked against llama2.c's before
// timing), plain JavaScript (run.c's forward pass transcribed, one token at a time), and
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
      return {
        note: 'examples/tiny-llama/model.ts: rt.multiHeadAttention (RoPE, GQA) + rt.kvCache, rt.matmul (weights read in place, matrix-vector path); 256 greedy ids = llama2.c\'s, checked before timing',
        run() {
          model.reset();
          model.generate([BOS], DECODE_TOKENS);
        },
        memoryBytes: () => rt.memoryBytes,
        dispose() {
          model.dispose();
          rt.dispose();
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
      return {
        note: `one model.forward(64 ids): one rt.multiHeadAttention call per layer (64 queries, causal, cache filled), products on packed weights (rt.packMatrix); next token = llama2.c's; max |logit difference| vs 64 one-token steps ${diff.toExponential(1)}`,
        run() {
          model.reset();
          model.forward(prompt);
        },
        memoryBytes: () => rt.memoryBytes,
        dispose() {
          model.dispose();
          rt.dispose();
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
