// reference/sliding-window.ts — float64 oracle of sliding-window attention with dilation
// (rt.slidingWindowAttention), written from the definition:
//   keyLen = keyLengths[b] (default nk);  offset = keyLen − nq ('bottom-right', default) or 0 ('top-left')
//   p = i + offset;  query row i sees every key j = p + t·dilation with −left ≤ t ≤ right
//   (right = 0 when causal) and 0 ≤ j < keyLen.
// Independent of src/.

import { referenceByKeyLists, type RefTensor } from './sparse';

export interface ReferenceWindowOptions {
  left: number;
  right: number;
  dilation?: number;
  causal?: boolean | 'bottom-right' | 'top-left';
  keyLengths?: ArrayLike<number>;
  scale?: number;
}

/** Keys row i sees (sorted), by the definition above. */
export function windowKeys(i: number, nq: number, keyLen: number, o: ReferenceWindowOptions): number[] {
  const d = o.dilation ?? 1;
  const offset = o.causal === 'top-left' ? 0 : keyLen - nq;
  const p = i + offset;
  const right = o.causal ? 0 : o.right;
  const keys: number[] = [];
  for (let t = -o.left; t <= right; t++) {
    const j = p + t * d;
    if (j >= 0 && j < keyLen) keys.push(j);
  }
  return keys;
}

export function referenceSlidingWindow(q: RefTensor, k: RefTensor, v: RefTensor, o: ReferenceWindowOptions): Float64Array {
  const [, , nq, D] = q.shape;
  const nk = k.shape[2];
  const scale = o.scale ?? 1 / Math.sqrt(D);
  return referenceByKeyLists(q, k, v, scale, (b, _h, i) =>
    windowKeys(i, nq, o.keyLengths ? o.keyLengths[b] : nk, o).map((j) => [j]));
}
