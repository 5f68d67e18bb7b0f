// wllama-engine.ts — llama.cpp compiled to WebAssembly (@wllama/wllama 3.x) behind the page's
// LlmEngine interface. Facts this relies on (wllama 3.13, Chromium 156, this machine):
//   - its completion API takes a string prompt only (an array of ids crashed its worker); the empty
//     prompt with BOS added is exactly [BOS] (test/browser/wllama.test.ts: the ids from '' are
//     llama2.c's ids from BOS);
//   - greedy = temperature 0; with n_probs k every generated token's id is in
//     choices[0].logprobs.content[i].id, and the k most likely tokens of that step (log-softmax of
//     the raw logits) in .top_logprobs;
//   - by default flash attention is on, which stores K/V as f16 even with an f32 cache: exact
//     comparisons need flash_attn false and cache_type_k/v 'f32' (LlmLoadOptions passes both);
//   - n_gpu_layers 0 keeps it on the CPU (no WebGPU device is requested);
//   - more than one thread needs a crossOriginIsolated page (COOP/COEP headers);
//   - prompt and generation times come from llama.cpp itself (response.timings: prompt_n /
//     prompt_ms, predicted_n / predicted_ms); cache_prompt false makes every prompt run in full.
// The wasm file is served beside the page as wllama.wasm (bench/llm/page.ts copies it there).

import { Wllama } from '@wllama/wllama';
import type { LlmEngine, LlmLoadOptions, LlmMeasure, LlmPrompt } from './wllama-page';

/** The parts of a wllama completion response this engine reads. */
interface Completion {
  choices: Array<{ logprobs?: { content?: Array<{ id: number; top_logprobs?: Array<{ id: number; logprob: number }> }> } | null }>;
  timings?: { prompt_n: number; prompt_ms: number; predicted_n: number; predicted_ms: number; cache_n: number };
}

/** A wllama engine (one model at a time). */
export function createWllamaEngine(): LlmEngine {
  let wllama: Wllama | undefined;

  const complete = async (options: Record<string, unknown>): Promise<Completion> => {
    if (!wllama) throw new Error('wllama: no model loaded');
    return (await wllama.createCompletion({
      temperature: 0, seed: 0, cache_prompt: false, n_probs: 1, ...options,
    } as unknown as Parameters<Wllama['createCompletion']>[0])) as unknown as Completion;
  };

  return {
    async load(model: Blob, o: LlmLoadOptions) {
      const silent = { ...console, debug: () => {}, log: () => {}, warn: () => {} };
      wllama = new Wllama({ default: './wllama.wasm' }, { suppressNativeLog: true, logger: silent });
      await wllama.loadModel([model], {
        n_threads: o.threads,
        n_ctx: o.contextLength,
        cache_type_k: o.kvCache,
        cache_type_v: o.kvCache,
        flash_attn: o.flashAttention,
        n_gpu_layers: 0,
        n_parallel: 1,
        seed: 0,
      });
      return { threads: wllama.getNumThreads() };
    },

    async greedy(tokens: number, top: number) {
      const r = await complete({ prompt: '', max_tokens: tokens, n_probs: top });
      const content = r.choices[0]?.logprobs?.content;
      if (!content) throw new Error(`wllama returned no logprobs.content: ${JSON.stringify(r).slice(0, 300)}`);
      const steps = content.map((c) => (c.top_logprobs ?? []).map(({ id, logprob }) => ({ id, logprob })));
      return { ids: content.map((c) => c.id), firstStep: steps[0] ?? [], steps };
    },

    async time(prompt: LlmPrompt, decodeTokens: number) {
      const r = await complete({ prompt: prompt.text, max_tokens: decodeTokens, ignore_eos: true, n_probs: 0 });
      const t = r.timings;
      if (!t) throw new Error('wllama returned no timings');
      if (t.prompt_n !== prompt.ids.length || t.cache_n !== 0) {
        throw new Error(`wllama ran ${t.prompt_n} prompt tokens (${t.cache_n} cached) for a prompt of ${prompt.ids.length}`);
      }
      const prefill: LlmMeasure = { tokens: t.prompt_n, ms: t.prompt_ms };
      const decode: LlmMeasure = { tokens: t.predicted_n, ms: t.predicted_ms };
      return { prefill, decode };
    },

    async dispose() {
      await wllama?.exit();
      wllama = undefined;
    },
  };
}
