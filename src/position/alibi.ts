// alibi.ts — ALiBi: attention with linear biases (Press, Smith, Lewis, "Train Short, Test Long",
// ICLR 2022). Head h adds m_h·(j − p) to the score of query position p and key position j
// (≤ 0 for past keys: a linear penalty by distance), where the slopes m_h follow the reference
// implementation's `get_slopes` (github.com/ofirpress/attention_with_linear_biases):
//   n a power of two:  m_h = s^(h+1),  s = 2^(−8/n)                   (geometric from 2^(−8/n) down to 2^(−8))
//   otherwise:         the slopes for c = 2^⌊log2 n⌋ heads, then every other slope of the 2c-head
//                      sequence (indices 0, 2, 4, …) for the remaining n − c heads.
// 'symmetric' (bidirectional encoders, e.g. MosaicBERT) uses −m_h·|j − p| instead.
//
// In the fused kernel the bias is a table over the relative distance d = j − p, clamped to
// [−R, R]; ALiBi grows without bound, so R is chosen ≥ every distance a call can see (no clamping
// happens): a (2R + 1)-float table per head, never an nq × nk buffer.

import { AttentionError } from '../runtime/index';

/** The ALiBi slopes for `numHeads` heads, in float64, exactly as the reference `get_slopes`. */
export function alibiSlopes(numHeads: number): number[] {
  if (!Number.isInteger(numHeads) || numHeads <= 0 || numHeads > 2 ** 24) {
    throw new AttentionError('INVALID_ARGUMENT', `numHeads must be a positive integer ≤ 2^24 (one slope per head), got ${String(numHeads)}`);
  }
  const powerOfTwo = (n: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(n) - 3));
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(start * start ** i);
    return out;
  };
  if (Number.isInteger(Math.log2(numHeads))) return powerOfTwo(numHeads);
  const closest = 2 ** Math.floor(Math.log2(numHeads));
  const extra = alibiSlopes(2 * closest).filter((_, i) => i % 2 === 0).slice(0, numHeads - closest);
  return [...powerOfTwo(closest), ...extra];
}

/**
 * Writes the ALiBi tables: element (h, d + R) = slope_h·d (or −slope_h·|d| when symmetric), for
 * d ∈ [−R, R], into `out` (length heads·(2R + 1), rows of 2R + 1).
 */
export function fillAlibiTable(out: Float32Array, slopes: ArrayLike<number>, R: number, symmetric: boolean): void {
  const width = 2 * R + 1;
  for (let h = 0; h < slopes.length; h++) {
    const m = slopes[h];
    const row = h * width;
    for (let d = -R; d <= R; d++) out[row + d + R] = symmetric ? -m * Math.abs(d) : m * d;
  }
}
