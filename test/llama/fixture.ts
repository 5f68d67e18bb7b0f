// fixture.ts — the stories260K checkpoint and llama2.c's greedy ids (test/fixtures/stories260K,
// see its PROVENANCE.md), and runtimes for the model (not a test file itself).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Runtime } from 'wasm-attention';
import { parseLlama2cCheckpoint, type LlamaCheckpoint } from '../../examples/tiny-llama/loader';
import { createRuntimeSync, type Isa } from '../../src/index';

export const CHECKPOINT_PATH = fileURLToPath(new URL('../fixtures/stories260K/stories260K.bin', import.meta.url));
export const GREEDY_PATH = fileURLToPath(new URL('../fixtures/stories260K/greedy-tokens.txt', import.meta.url));
export const CHECKPOINT_SHA256 = '9414d5a285453a7eab631713d171753232c978f6f97654211469aff8be93c8d6';
export const GREEDY_SHA256 = '684c511b88ddced44cb4d794cf9daa210937dafc3e7d10cce88140a3c0aea36e';
export const BOS = 1;

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function checkpointBytes(): Uint8Array {
  return readFileSync(CHECKPOINT_PATH);
}

let parsed: LlamaCheckpoint | undefined;
export function checkpoint(): LlamaCheckpoint {
  return (parsed ??= parseLlama2cCheckpoint(checkpointBytes(), { name: 'stories260K.bin' }));
}

/** The 256 ids llama2.c's run.c generates greedily from BOS. */
export function greedyTokens(): number[] {
  return readFileSync(GREEDY_PATH, 'utf8').trim().split(/\s+/).map(Number);
}

/**
 * A runtime from src/ for the model. The model (examples/tiny-llama) is typed against the
 * package ('wasm-attention', i.e. dist/types); src/ is the same API, but TypeScript sees two
 * declarations of classes with private fields, hence the cast.
 */
export function runtime(isa?: Isa): Runtime {
  return createRuntimeSync(isa ? { isa } : {}) as unknown as Runtime;
}
