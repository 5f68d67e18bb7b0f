// wllama-page.ts — the script of wllama.html: runs LLM jobs in the page for the Node side
// (bench/llm/page.ts drives it through playwright). A job names an engine, a GGUF model URL and
// what to do: greedy ids from BOS (the oracle check) and/or timed prefill + decode (the bench).
// Engines sit in one registry, each behind the LlmEngine interface: wllama (wllama-engine.ts) and
// this library's GGUF model (wllama-peer-wasm-attention.ts) get the same model bytes, threads and
// prompt.
//
// window.llm.run(job) → LlmResult; document.body.dataset.state is 'ready' once the page can take
// jobs, and #status shows the last job's summary.

import { createWllamaEngine } from './wllama-engine';
import { createWasmAttentionEngine } from './wllama-peer-wasm-attention';

/** Load options every engine receives. */
export interface LlmLoadOptions {
  /** Worker threads (1 = none; more need a crossOriginIsolated page). */
  threads: number;
  /** Positions the KV cache holds. */
  contextLength: number;
  /** KV cache element type. */
  kvCache: 'f32' | 'f16';
  /** Flash attention (llama.cpp stores K/V as f16 with it, whatever kvCache says). */
  flashAttention: boolean;
}

/** A prompt as text (for engines with a tokenizer) and as the ids it tokenizes to (BOS first). */
export interface LlmPrompt {
  text: string;
  ids: number[];
}

/** A token and its log-probability. */
export interface LlmTokenLogprob {
  id: number;
  logprob: number;
}

/** A timed phase. */
export interface LlmMeasure {
  tokens: number;
  ms: number;
}

/** One engine, as the page drives it. */
export interface LlmEngine {
  /** Loads a GGUF model; resolves to the thread count actually used (and the Wasm memory, if known). */
  load(model: Blob, options: LlmLoadOptions): Promise<{ threads: number; memoryBytes?: number; kvCacheBytes?: number }>;
  /**
   * `tokens` ids generated greedily from BOS alone, and the `top` most likely tokens with their
   * log-probabilities (log-softmax of the logits) of the first step and of every step; `ranges`,
   * where the engine has the logits, is each step's max − min logit.
   */
  greedy(tokens: number, top: number): Promise<{ ids: number[]; firstStep: LlmTokenLogprob[]; steps: LlmTokenLogprob[][]; ranges?: number[] }>;
  /** Runs `prompt` (the prefill), then `decodeTokens` greedy steps (EOS ignored), timing both. */
  time(prompt: LlmPrompt, decodeTokens: number): Promise<{ prefill: LlmMeasure; decode: LlmMeasure }>;
  /** Frees the model and its workers. */
  dispose(): Promise<void>;
}

/** What the Node side asks for. */
export interface LlmJob extends LlmLoadOptions {
  engine: string;
  /** URL of the GGUF file, relative to the page. */
  model: string;
  /** Generate this many ids greedily from BOS. */
  greedy?: number;
  /** With `greedy`: the most likely tokens kept per step (default 5). */
  top?: number;
  /** Time prefill and decode `repeats` times after one untimed warm-up. */
  timing?: { prompt: LlmPrompt; decodeTokens: number; repeats: number };
}

/** What a job returns. */
export interface LlmResult {
  engine: string;
  threads: number;
  modelBytes: number;
  loadMs: number;
  /** Wasm memory after load, where the engine reports it. */
  memoryBytes?: number;
  /** Bytes of the KV caches, where the engine reports them. */
  kvCacheBytes?: number;
  greedy?: number[];
  /** The 5 most likely first tokens after BOS (with `greedy`). */
  firstStep?: LlmTokenLogprob[];
  /** The `top` most likely tokens of every greedy step. */
  steps?: LlmTokenLogprob[][];
  /** Each greedy step's logit range (max − min), where the engine has the logits. */
  ranges?: number[];
  prefill?: LlmMeasure[];
  decode?: LlmMeasure[];
}

const ENGINES: Record<string, () => LlmEngine> = {
  wllama: createWllamaEngine,
  'wasm-attention': createWasmAttentionEngine,
};

async function run(job: LlmJob): Promise<LlmResult> {
  const create = ENGINES[job.engine];
  if (!create) throw new Error(`unknown engine '${job.engine}'; this page has ${Object.keys(ENGINES).join(', ')}`);
  const response = await fetch(job.model);
  if (!response.ok) throw new Error(`GET ${job.model}: ${response.status}`);
  const model = await response.blob();
  const engine = create();
  try {
    const t0 = performance.now();
    const { threads, memoryBytes, kvCacheBytes } = await engine.load(model, job);
    const result: LlmResult = { engine: job.engine, threads, modelBytes: model.size, loadMs: performance.now() - t0, memoryBytes, kvCacheBytes };
    if (job.greedy) {
      const { ids, firstStep, steps, ranges } = await engine.greedy(job.greedy, job.top ?? 5);
      result.greedy = ids;
      result.firstStep = firstStep;
      result.steps = steps;
      result.ranges = ranges;
    }
    if (job.timing) {
      const { prompt, decodeTokens, repeats } = job.timing;
      await engine.time({ text: prompt.text.slice(0, 8), ids: prompt.ids.slice(0, 9) }, 8); // warm-up
      result.prefill = [];
      result.decode = [];
      for (let r = 0; r < repeats; r++) {
        const m = await engine.time(prompt, decodeTokens);
        result.prefill.push(m.prefill);
        result.decode.push(m.decode);
      }
    }
    status(`${job.engine} ${job.model} (${threads} threads): done`);
    return result;
  } finally {
    await engine.dispose();
  }
}

function status(text: string): void {
  const el = document.getElementById('status');
  if (el) el.textContent = text;
}

declare global {
  interface Window {
    /** The page's entry point for the Node side. */
    llm: { engines: string[]; run(job: LlmJob): Promise<LlmResult> };
  }
}

window.llm = { engines: Object.keys(ENGINES), run };
document.body.dataset.state = 'ready';
status(`ready: engines ${Object.keys(ENGINES).join(', ')}; crossOriginIsolated ${String(globalThis.crossOriginIsolated)}`);
