// wllama-peer-wasm-attention.ts — this library's GGUF model (examples/llama/model.ts on the browser
// bundle, dist/browser.js) behind the LLM page's LlmEngine interface, beside wllama: the same Blob,
// the same thread count, the same prompt ids.
//   - The file is read whole (blob.arrayBuffer()) and parsed by examples/llama/gguf.ts; the model
//     keeps Q8_0 / Q4_0 / F16 tensors in their format (the library's quantized matrices);
//   - its KV caches have the job's `kvCache` type (rt.kvCache's dtype 'f32' or 'f16'); it has no
//     flash-attention switch;
//   - `threads` > 1 starts the runtime's worker pool (worker.js beside the page's bundle; the page
//     must be crossOriginIsolated); prefill products are split across the threads;
//   - times are the page's own (performance.now around the forward calls), ids are argmax of the
//     logits (first index on ties, like llama.cpp's greedy sampler);
//   - `top` log-probabilities are the log-softmax of the logits, with the logits' range beside them.

import { createRuntime, type Runtime } from 'wasm-attention';
import { parseGguf } from '../../../examples/llama/gguf';
import { LlamaModel } from '../../../examples/llama/model';
import { weightsFromGguf } from '../../../examples/llama/weights';
import { argmax } from '../../../examples/tiny-llama/generate';
import type { LlmEngine, LlmLoadOptions, LlmMeasure, LlmPrompt, LlmTokenLogprob } from './wllama-page';

/** The `top` most likely tokens of a step with their log-probabilities, and the logits' range. */
function topLogprobs(logits: Float32Array, top: number): { top: LlmTokenLogprob[]; range: number } {
  let max = -Infinity;
  let min = Infinity;
  for (const v of logits) {
    max = Math.max(max, v);
    min = Math.min(min, v);
  }
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logSum = max + Math.log(sum);
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b).slice(0, top);
  return { top: order.map((id) => ({ id, logprob: logits[id] - logSum })), range: max - min };
}

/** This library's engine (one model at a time). */
export function createWasmAttentionEngine(): LlmEngine {
  let rt: Runtime | undefined;
  let model: LlamaModel | undefined;
  const loaded = (): LlamaModel => {
    if (!model) throw new Error('wasm-attention: no model loaded');
    return model;
  };

  return {
    async load(blob: Blob, o: LlmLoadOptions) {
      const file = parseGguf(await blob.arrayBuffer(), { name: 'the model' });
      rt = await createRuntime({ threads: o.threads });
      model = new LlamaModel(rt, weightsFromGguf(file, 'the model'), { maxLength: o.contextLength, kvType: o.kvCache });
      return { threads: rt.threads, memoryBytes: rt.memoryBytes, kvCacheBytes: model.kvCacheBytes };
    },

    async greedy(tokens: number, top: number) {
      const m = loaded();
      m.reset();
      const ids: number[] = [];
      const steps: LlmTokenLogprob[][] = [];
      const ranges: number[] = [];
      let logits = m.forward([m.config.bosTokenId ?? 1]);
      for (;;) {
        const step = topLogprobs(logits, top);
        steps.push(step.top);
        ranges.push(step.range);
        ids.push(argmax(logits));
        if (ids.length >= tokens) break;
        logits = m.forward([ids[ids.length - 1]]);
      }
      return { ids, firstStep: steps[0], steps, ranges };
    },

    async time(prompt: LlmPrompt, decodeTokens: number) {
      const m = loaded();
      m.reset();
      let t = performance.now();
      let next = argmax(m.forward(prompt.ids));
      const prefill: LlmMeasure = { tokens: prompt.ids.length, ms: performance.now() - t };
      t = performance.now();
      for (let i = 0; i < decodeTokens; i++) next = argmax(m.forward([next]));
      const decode: LlmMeasure = { tokens: decodeTokens, ms: performance.now() - t };
      return { prefill, decode };
    },

    async dispose() {
      model?.dispose();
      rt?.dispose();
      model = undefined;
      rt = undefined;
    },
  };
}
