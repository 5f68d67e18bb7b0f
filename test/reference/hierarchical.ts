// reference/hierarchical.ts — float64 oracle of hierarchical attention (rt.hierarchicalAttention),
// from the definition (independent of src/):
//   bounds[ℓ] = boundaries [0, b₁, …, n_ℓ] grouping the n_ℓ units of level ℓ (n_0 = n tokens);
//   level 0: token i attends the tokens of its segment (q·k, values v);
//   level ℓ ≥ 1: X^ℓ_g = G_{ℓ−1}(O^{ℓ−1} rows of group g of bounds[ℓ−1]); unit i attends the units
//     of its group of bounds[ℓ] (top level L = bounds.length: all units), queries = keys = values = X^ℓ;
//   document = G_L(all rows of O^L);
//   y_t = Σ_ℓ c_ℓ·O^ℓ[a_ℓ(t)], a_ℓ(t) the level-ℓ unit holding token t.
// G: mean, coordinate-wise max, or Σ softmax(s·w·o_i)·o_i with a learned query w ([Dv] or [H, Dv]).

import { attendOne, type RefKey, type RefTensor, rowOffset } from './sparse';

export type RefAggregate = 'mean' | 'max' | { query: RefTensor; scale?: number };

export interface ReferenceHierarchicalOptions {
  bounds: number[][];
  aggregate?: RefAggregate | RefAggregate[];
  combine?: 'mean' | 'sum' | number[];
  scale?: number;
  levelScale?: number;
}

export interface ReferenceHierarchicalResult {
  output: Float64Array;
  levels: Float64Array[];
  document: Float64Array;
}

function pool(rows: Float64Array[], g: RefAggregate, h: number, Dv: number): Float64Array {
  const out = new Float64Array(Dv);
  if (g === 'mean') {
    for (const r of rows) for (let e = 0; e < Dv; e++) out[e] += r[e] / rows.length;
  } else if (g === 'max') {
    out.fill(-Infinity);
    for (const r of rows) for (let e = 0; e < Dv; e++) out[e] = Math.max(out[e], r[e]);
  } else {
    const w = g.query.shape.length === 2 ? Array.from(g.query.data).slice(h * Dv, (h + 1) * Dv) : Array.from(g.query.data);
    const keys: RefKey[] = rows.map((r) => ({ k: r, kOff: 0, v: r, vOff: 0 }));
    out.set(attendOne(w, 0, keys, Dv, Dv, g.scale ?? 1 / Math.sqrt(Dv)).out);
  }
  return out;
}

export function referenceHierarchical(q: RefTensor, k: RefTensor, v: RefTensor, o: ReferenceHierarchicalOptions): ReferenceHierarchicalResult {
  const [B, H, n, D] = q.shape;
  const Hkv = k.shape[1];
  const Dv = v.shape[3];
  const L = o.bounds.length;
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const levelScale = o.levelScale ?? 1 / Math.sqrt(Dv);
  const aggs: RefAggregate[] = Array.isArray(o.aggregate) ? o.aggregate : new Array(L + 1).fill(o.aggregate ?? 'mean');
  const c = o.combine === undefined || o.combine === 'mean' ? new Array(L + 1).fill(1 / (L + 1))
    : o.combine === 'sum' ? new Array(L + 1).fill(1) : o.combine;
  const sizes = [n, ...o.bounds.map((b) => b.length - 1)];
  const groupOf = (b: number[], i: number): [number, number] => {
    for (let g = 0; g + 1 < b.length; g++) if (i >= b[g] && i < b[g + 1]) return [b[g], b[g + 1]];
    throw new Error('reference: unit outside every group');
  };
  const levels = sizes.map((s) => new Float64Array(B * H * s * Dv));
  const document = new Float64Array(B * H * Dv);
  const output = new Float64Array(B * H * n * Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / Hkv));
      // level 0
      const O: Float64Array[][] = [];
      O.push([]);
      for (let i = 0; i < n; i++) {
        const [s0, s1] = groupOf(o.bounds[0], i);
        const keys: RefKey[] = [];
        for (let j = s0; j < s1; j++) keys.push({ k: k.data, kOff: rowOffset(b, kvh, j, Hkv, n, D), v: v.data, vOff: rowOffset(b, kvh, j, Hkv, n, Dv) });
        O[0].push(attendOne(q.data, rowOffset(b, h, i, H, n, D), keys, D, Dv, scale).out);
      }
      for (let l = 1; l <= L; l++) {
        const below = o.bounds[l - 1];
        const X: Float64Array[] = [];
        for (let g = 0; g + 1 < below.length; g++) X.push(pool(O[l - 1].slice(below[g], below[g + 1]), aggs[l - 1], h, Dv));
        const groups = l < L ? o.bounds[l] : [0, X.length];
        O.push(X.map((x, i) => {
          const [s0, s1] = groupOf(groups, i);
          const keys: RefKey[] = [];
          for (let j = s0; j < s1; j++) keys.push({ k: X[j], kOff: 0, v: X[j], vOff: 0 });
          return attendOne(x, 0, keys, Dv, Dv, levelScale).out;
        }));
      }
      document.set(pool(O[L], aggs[L], h, Dv), (b * H + h) * Dv);
      for (let l = 0; l <= L; l++) O[l].forEach((r, i) => levels[l].set(r, rowOffset(b, h, i, H, sizes[l], Dv)));
      // token-level combination
      for (let t = 0; t < n; t++) {
        let unit = t;
        const y = new Float64Array(Dv);
        for (let l = 0; l <= L; l++) {
          if (l > 0) {
            const bd = o.bounds[l - 1];
            let g = 0;
            while (!(unit >= bd[g] && unit < bd[g + 1])) g++;
            unit = g;
          }
          for (let e = 0; e < Dv; e++) y[e] += c[l] * O[l][unit][e];
        }
        output.set(y, rowOffset(b, h, t, H, n, Dv));
      }
    }
  }
  return { output, levels, document };
}
