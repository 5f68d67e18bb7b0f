// reference/global-local.ts — float64 oracle of Longformer/BigBird attention
// (rt.globalLocalAttention), from the definition (independent of src/):
//   G = sorted global indices of (b, h);  window(i) as in sliding-window.ts (offset 0, nq = nk = n)
//   row i ∈ G sees every key j (causal: j ≤ i);
//   row i ∉ G sees window(i) ∪ G ∪ R(⌊i / blockSize⌋), each key once (causal: only j ≤ i),
// where R(qb) are the keys of the random blocks of query block qb, drawn as documented in
// src/attention/global-local.ts (the draw is part of the specification, so it is restated here):
//   candidates = key blocks kb (ascending) whose keys [kb·bs, min(kb·bs + bs, n) − 1] lie wholly
//     outside [q0 − left·d, q1 − 1 + right·d] (q0, q1 the block's rows, right = 0 when causal)
//     and, when causal, wholly before q0;
//   a partial Fisher–Yates shuffle of the candidates with mulberry32(mix(seed, head, qb)) picks
//   min(blocks, #candidates) of them: for t = 0, 1, …: swap(t, t + next() mod (count − t)).
// Also: topKIndices (the `count` largest scores, ties to the lower index, NaN lowest).

import { windowKeys } from './sliding-window';
import { referenceByKeyLists, type RefTensor } from './sparse';

export interface ReferenceGlobalLocalOptions {
  left: number;
  right: number;
  dilation?: number;
  causal?: boolean;
  /** global indices of (b, h) */
  global: (b: number, h: number) => readonly number[];
  random?: { blockSize: number; blocks: number; seed: number };
  scale?: number;
}

/** The `count` largest scores' indices (ties: lower index first; NaN lowest), ascending. */
export function topKIndices(scores: ArrayLike<number>, count: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  const val = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  idx.sort((a, b) => val(b) - val(a) || a - b);
  return idx.slice(0, count).sort((a, b) => a - b);
}

/** Restated from the specification (see the header): seed of the stream of (seed, a, b). */
export function mixSeedSpec(seed: number, a: number, b: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of [a, b]) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** mulberry32 as a u32 stream. */
export function mulberry32Spec(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Random key blocks of query block qb for head h (see the header). */
export function randomBlocks(n: number, qb: number, h: number, o: ReferenceGlobalLocalOptions): number[] {
  const r = o.random!;
  const bs = r.blockSize;
  const d = o.dilation ?? 1;
  const q0 = qb * bs;
  const q1 = Math.min(q0 + bs, n);
  const lo = q0 - o.left * d;
  const hi = q1 - 1 + (o.causal ? 0 : o.right * d);
  const cand: number[] = [];
  for (let kb = 0; kb * bs < n; kb++) {
    const k0 = kb * bs;
    const k1 = Math.min(k0 + bs, n) - 1;
    if ((k1 < lo || k0 > hi) && (!o.causal || k1 < q0)) cand.push(kb);
  }
  const take = Math.min(r.blocks, cand.length);
  const next = mulberry32Spec(mixSeedSpec(r.seed, h, qb));
  for (let t = 0; t < take; t++) {
    const pick = t + (next() % (cand.length - t));
    [cand[t], cand[pick]] = [cand[pick], cand[t]];
  }
  return cand.slice(0, take);
}

/** The keys row i of (b, h) sees, ascending. */
export function globalLocalKeys(n: number, b: number, h: number, i: number, o: ReferenceGlobalLocalOptions): number[] {
  const G = o.global(b, h);
  if (G.includes(i)) return Array.from({ length: o.causal ? i + 1 : n }, (_, j) => j);
  const set = new Set<number>(windowKeys(i, n, n, { left: o.left, right: o.right, dilation: o.dilation, causal: o.causal }));
  for (const g of G) set.add(g);
  if (o.random && o.random.blocks > 0) {
    const bs = o.random.blockSize;
    for (const kb of randomBlocks(n, Math.floor(i / bs), h, o)) {
      for (let j = kb * bs; j < Math.min(kb * bs + bs, n); j++) set.add(j);
    }
  }
  return [...set].filter((j) => !o.causal || j <= i).sort((x, y) => x - y);
}

export function referenceGlobalLocal(q: RefTensor, k: RefTensor, v: RefTensor, o: ReferenceGlobalLocalOptions): Float64Array {
  const n = q.shape[2];
  const scale = o.scale ?? 1 / Math.sqrt(q.shape[3]);
  return referenceByKeyLists(q, k, v, scale, (b, h, i) => globalLocalKeys(n, b, h, i, o).map((j) => [j]));
}
