// generate.ts — greedy decoding over any model with a KV cache (TinyLlama here, LlamaModel in
// examples/llama/model.ts): the prompt in one forward call (the prefill), then one call per
// generated token, each appending to the caches; timed per phase.

/** Options of `generate`. */
export interface GenerateOptions {
  /** Stop after generating one of these ids (it is included in the output). Default: none. */
  stopTokens?: readonly number[];
  /** Called with every generated id as soon as it is chosen. */
  onToken?: (id: number, index: number) => void;
}

/** What `generate` returns. */
export interface Generation {
  /** The generated ids (the prompt not included). */
  tokens: number[];
  /** Prompt tokens, run in one forward call (the prefill). */
  promptTokens: number;
  /** Time of the prefill call, which also yields the first generated token. */
  prefillMs: number;
  /** Time of the decode steps (one forward call per token after the first; onToken not included). */
  decodeMs: number;
  /** Decode steps run (tokens.length − 1, or 0). */
  decodeSteps: number;
}

/** What greedy decoding needs of a model. */
export interface CausalModel {
  /** Tokens in the caches: the position of the next token. */
  readonly position: number;
  /** Positions the caches hold. */
  readonly maxLength: number;
  /** Runs tokens at the next positions, appending them to the caches; the last token's logits. */
  forward(tokens: ArrayLike<number>): Float32Array;
}

/** Index of the largest value; the first one on ties (run.c's argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let max = values[0];
  for (let i = 1; i < values.length; i++) {
    if (values[i] > max) {
      max = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * Greedy decoding: runs the prompt in one forward call, then appends the argmax token and runs
 * it, `maxNewTokens` times at most (stopping after a stop token). Continues from the caches'
 * current position.
 */
export function generateGreedy(model: CausalModel, prompt: ArrayLike<number>, maxNewTokens: number, options: GenerateOptions = {}): Generation {
  if (prompt.length < 1) throw new RangeError('the prompt needs at least one token (e.g. BOS = 1)');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new RangeError(`maxNewTokens must be a non-negative integer, got ${String(maxNewTokens)}`);
  // The last generated token is not run, so prompt + maxNewTokens − 1 positions are needed.
  if (model.position + prompt.length + Math.max(0, maxNewTokens - 1) > model.maxLength) {
    throw new RangeError(
      `a prompt of ${prompt.length} and ${maxNewTokens} new tokens do not fit in maxLength ${model.maxLength} (position ${model.position})`,
    );
  }
  const stop = new Set(options.stopTokens ?? []);
  const tokens: number[] = [];
  const result: Generation = { tokens, promptTokens: prompt.length, prefillMs: 0, decodeMs: 0, decodeSteps: 0 };
  if (maxNewTokens === 0) return result;
  // Timed: the forward calls and the argmax (not onToken, which may print).
  let t = performance.now();
  let next = argmax(model.forward(prompt));
  result.prefillMs = performance.now() - t;
  for (;;) {
    tokens.push(next);
    options.onToken?.(next, tokens.length - 1);
    if (tokens.length >= maxNewTokens || stop.has(next)) break;
    t = performance.now();
    next = argmax(model.forward([next]));
    result.decodeMs += performance.now() - t;
    result.decodeSteps++;
  }
  return result;
}
