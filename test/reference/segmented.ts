// reference/segmented.ts — float64 oracle of segmented attention (rt.segmentedAttention), from the
// definition (independent of src/):
//   segments: s = 0, 1, … with start = s·(S − o), end = min(start + S, n), generated while the
//   previous segment ends before n (one segment when n ≤ S);
//   token t attends every key of every segment containing t (each key once; causal: keys ≤ t),
//   and with summaries one extra key per segment s not containing t (causal: only segments with
//   an index below the first one containing t): key = mean of the segment's key rows, value =
//   mean of its value rows.

import { attendOne, type RefKey, rowOffset, type RefTensor } from './sparse';

export interface ReferenceSegmentedOptions {
  segmentLength: number;
  overlap?: number;
  summaries?: boolean;
  causal?: boolean;
  scale?: number;
}

export function referenceSegments(n: number, S: number, o: number): Array<[number, number]> {
  const segs: Array<[number, number]> = [];
  for (let s = 0; ; s++) {
    const start = s * (S - o);
    segs.push([start, Math.min(start + S, n)]);
    if (start + S >= n) break;
  }
  return segs;
}

export function referenceSegmented(q: RefTensor, k: RefTensor, v: RefTensor, opt: ReferenceSegmentedOptions): Float64Array {
  const [B, Hq, n, D] = q.shape;
  const Hkv = k.shape[1];
  const Dv = v.shape[3];
  const scale = opt.scale ?? 1 / Math.sqrt(D);
  const segs = referenceSegments(n, opt.segmentLength, opt.overlap ?? 0);
  const out = new Float64Array(B * Hq * n * Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / (Hq / Hkv));
      // summary keys / values of each segment
      const sumK = segs.map(([s0, s1]) => {
        const m = new Float64Array(D);
        for (let j = s0; j < s1; j++) for (let x = 0; x < D; x++) m[x] += k.data[rowOffset(b, kvh, j, Hkv, n, D) + x] / (s1 - s0);
        return m;
      });
      const sumV = segs.map(([s0, s1]) => {
        const m = new Float64Array(Dv);
        for (let j = s0; j < s1; j++) for (let x = 0; x < Dv; x++) m[x] += v.data[rowOffset(b, kvh, j, Hkv, n, Dv) + x] / (s1 - s0);
        return m;
      });
      for (let t = 0; t < n; t++) {
        const mine = segs.map(([s0, s1], s) => (t >= s0 && t < s1 ? s : -1)).filter((s) => s >= 0);
        const keys = new Set<number>();
        for (const s of mine) for (let j = segs[s][0]; j < segs[s][1]; j++) if (!opt.causal || j <= t) keys.add(j);
        const list: RefKey[] = [...keys].sort((x, y) => x - y).map((j) => ({
          k: k.data, kOff: rowOffset(b, kvh, j, Hkv, n, D), v: v.data, vOff: rowOffset(b, kvh, j, Hkv, n, Dv),
        }));
        if (opt.summaries) {
          segs.forEach((_, s) => {
            if (mine.includes(s) || (opt.causal && s > mine[0])) return;
            list.push({ k: sumK[s], kOff: 0, v: sumV[s], vOff: 0 });
          });
        }
        const r = attendOne(q.data, rowOffset(b, h, t, Hq, n, D), list, D, Dv, scale);
        out.set(r.out, rowOffset(b, h, t, Hq, n, Dv));
      }
    }
  }
  return out;
}
