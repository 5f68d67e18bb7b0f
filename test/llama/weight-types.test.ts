// The tiny Llama (stories260K) with its weights stored in each low-precision format
// (LlamaModel's weightType: rt.quantizeMatrix of every matrix whose rows allow it), teacher-forced
// over llama2.c's 256-token greedy sequence: the share of positions whose most likely next token
// equals the float32 model's (docs/low-precision.md reports these numbers). Each format must
// also differ from float32 (it is quantized) and agree at a floor set below the measured value
// (a 260K-parameter model's logits are close, so 8- and 4-bit products flip many near ties).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from 'wasm-attention';
import { LlamaModel } from '../../examples/llama/model';
import { weightsFromCheckpoint } from '../../examples/llama/weights';
import { BOS, checkpoint, greedyTokens, runtime } from './fixture';

/** Floors below the measured agreement (f16 255, int8 207, q8_0 228, q4_0 95 of 256). */
const FLOOR = { f16: 250, int8: 190, q8_0: 210, q4_0: 80 } as const;

let rt: Runtime;
let f32: number[];
const tokens = () => [BOS, ...greedyTokens().slice(0, 255)];

function argmaxes(weightType: 'f32' | keyof typeof FLOOR): { top: number[]; logits: Float32Array } {
  const model = new LlamaModel(rt, weightsFromCheckpoint(checkpoint()), { weightType, maxLength: 256 });
  try {
    const logits = model.forward(tokens(), { allLogits: true });
    const v = model.config.vocabSize;
    const top = Array.from({ length: 256 }, (_, p) => {
      let best = 0;
      for (let i = 1; i < v; i++) if (logits[p * v + i] > logits[p * v + best]) best = i;
      return best;
    });
    return { top, logits };
  } finally {
    model.dispose();
  }
}

beforeAll(() => {
  rt = runtime();
  f32 = argmaxes('f32').top;
});
afterAll(() => rt.dispose());

describe('stories260K teacher-forced top-1 agreement with float32, per weight format', () => {
  it('float32 itself predicts llama2.c\'s greedy ids', () => {
    expect(f32).toEqual(greedyTokens());
  });
  let f32Logits: Float32Array;
  beforeAll(() => {
    f32Logits = argmaxes('f32').logits;
  });
  it.each(Object.keys(FLOOR) as Array<keyof typeof FLOOR>)('%s', (type) => {
    const { top, logits } = argmaxes(type);
    expect(logits).not.toEqual(f32Logits);
    const agree = top.filter((t, p) => t === f32[p]).length;
    console.log(`${type}: ${agree}/256`);
    expect(agree).toBeGreaterThanOrEqual(FLOOR[type]);
  });
});
