// t5.ts — T5 relative-position buckets (Raffel et al., "Exploring the Limits of Transfer Learning
// with a Unified Text-to-Text Transformer", JMLR 2020, §2.1), as in the reference
// `_relative_position_bucket` of mesh-tensorflow / Hugging Face transformers (T5Attention):
//
//   n = j − p (key position minus query position)
//   bidirectional: buckets split in halves; n > 0 uses the upper half (+num_buckets/2), then |n|
//   unidirectional: n ← max(−n, 0) (future keys all fall in bucket 0)
//   with B the (half) bucket count and E = B/2 exact buckets:
//     n < E  → bucket n
//     n ≥ E  → min(B − 1, E + ⌊ln(n/E) / ln(max_distance/E) · (B − E)⌋)
//
// The log part is evaluated in float32 steps, as PyTorch does, so bucket boundaries match it.
// Each head h learns one scalar per bucket: bias(h, n) = weights[bucket(n), h] (the
// nn.Embedding(num_buckets, num_heads) table). T5 does not scale scores by 1/√d: the layer's
// `unscaled` option sets the score scale to 1.
//
// Buckets saturate for |n| ≥ max_distance (the log term reaches B − E there), so a bias table
// over distances clamped to [−R, R] with R = min(max_distance, the largest distance a call can
// see) is exact: (2R + 1) floats per head, never an nq × nk buffer.

import { AttentionError } from '../runtime/index';

/** T5's bucket of the relative position n = key position − query position. */
export function t5RelativeBucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let n = relativePosition;
  let buckets = numBuckets;
  let bucket = 0;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (n > 0) bucket += buckets;
    n = Math.abs(n);
  } else {
    n = -Math.min(n, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (buckets - maxExact)));
  return bucket + Math.min(large, buckets - 1);
}

/** Checks T5 bucket parameters. */
export function checkT5Parameters(numBuckets: unknown, maxDistance: unknown, bidirectional: boolean, name: string): void {
  const minBuckets = bidirectional ? 4 : 2;
  if (typeof numBuckets !== 'number' || !Number.isInteger(numBuckets) || numBuckets < minBuckets) {
    throw new AttentionError('INVALID_OPTION', `${name}.numBuckets must be an integer ≥ ${minBuckets}${bidirectional ? ' (bidirectional halves the buckets)' : ''}, got ${String(numBuckets)}`);
  }
  const half = bidirectional ? Math.floor(numBuckets / 2) : numBuckets;
  const maxExact = Math.floor(half / 2);
  if (typeof maxDistance !== 'number' || !Number.isInteger(maxDistance) || maxDistance <= maxExact) {
    throw new AttentionError('INVALID_OPTION', `${name}.maxDistance must be an integer > ${maxExact} (the exact buckets), got ${String(maxDistance)}`);
  }
}

/**
 * Writes the T5 bias tables: element (h, d + R) = weights[bucket(d), h] for d ∈ [−R, R], into
 * `out` (heads·(2R + 1) floats). `weights` is [numBuckets, heads] row-major.
 */
export function fillT5Table(
  out: Float32Array, weights: ArrayLike<number>, heads: number, R: number,
  bidirectional: boolean, numBuckets: number, maxDistance: number,
): void {
  const width = 2 * R + 1;
  for (let d = -R; d <= R; d++) {
    const bucket = t5RelativeBucket(d, bidirectional, numBuckets, maxDistance);
    for (let h = 0; h < heads; h++) out[h * width + d + R] = weights[bucket * heads + h];
  }
}
