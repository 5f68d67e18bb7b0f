// Types of tier-run.mjs (the script runs as plain JavaScript in a child process).

export interface TierInputs {
  int8: { m: number; k: number; n: number; a: Float32Array; b: Int8Array; scale: Float32Array };
  blocks: {
    m: number;
    k: number;
    n: number;
    a: Float32Array;
    q8_0: Uint8Array;
    q4_0: Uint8Array;
    qb4w: Uint8Array;
    scales: Float32Array;
    zeroPoints: Uint8Array;
  };
}

/** The fixed inputs of every product. */
export function inputs(): TierInputs;

/** Runs every product of one binary on inputs(); outputs as float32 bit patterns. */
export function run(isa: 'simd128' | 'relaxed'): Record<'int8' | 'q8_0' | 'q4_0' | 'qb4w', number[]>;
