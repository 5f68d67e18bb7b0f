// Types of cross-engine.mjs (plain JavaScript: the page loads it as is).

/** One fixed attention of the check. */
export interface CrossEngineCase {
  name: string;
  /** q's shape [B, H, Nq, D] */
  shape: number[];
  /** keys and values per head */
  kvLength: number;
  causal: boolean;
  seed: number;
}

/** What one binary computed: its isa and each case's output bytes (base64 of the Float32Array). */
export interface CrossEngineRun {
  isa: string;
  outputs: Record<string, string>;
}

/** The cases through the default binary, forced simd128 and, where it validates, forced relaxed. */
export interface CrossEngineResult {
  default: CrossEngineRun;
  simd128: CrossEngineRun;
  relaxed?: CrossEngineRun;
  /** runLowPrecision's outputs per binary, when it was given */
  lowPrecision?: { simd128: CrossEngineRun; relaxed?: CrossEngineRun };
}

/** The cases: a full attention with ragged tiles, a causal one, a decode step (one query). */
export const CASES: CrossEngineCase[];

/** q [B, H, Nq, D], k and v [B, H, kvLength, D] of a case: uniform in [−1, 1) from its seed. */
export function caseInputs(c: CrossEngineCase): Record<'q' | 'k' | 'v', { data: Float32Array; shape: number[] }>;

/** Base64 of a Float32Array's bytes. */
export function toBase64(f32: Float32Array): string;

/** Runs every case on the library's createRuntime / isaSupported (and runLowPrecision's paths when given). */
export function runCrossEngine(library: {
  createRuntime(options?: { isa?: 'relaxed' | 'simd128' }): Promise<{ isa: string; attention(q: unknown, k: unknown, v: unknown, o: { causal: boolean }): { data: Float32Array }; dispose(): void }>;
  isaSupported(isa: 'relaxed' | 'simd128'): boolean;
}, runLowPrecision?: (createRuntime: unknown, options: { isa: 'relaxed' | 'simd128' }) => Promise<CrossEngineRun>): Promise<CrossEngineResult>;
