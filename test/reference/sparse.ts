// reference/sparse.ts — float64 building blocks for the long-sequence variant oracles
// (sliding-window.ts, global-local.ts, segmented.ts, lsh.ts, linformer.ts in this folder).
//
// Independent of src/ (no imports from it). One query attends to an explicit list of keys:
//   s_j = scale · q·k_j + bias_j,   w_j = exp(s_j − max) / Σ exp(s − max),   out = Σ w_j v_j,
//   lse = log Σ exp(s_j)          (−∞ and out = 0 when the list is empty or every bias is −∞).
// Tensors are dense row-major [B, H, S, D] (float32 values are read exactly).

/** A dense row-major tensor. */
export interface RefTensor {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
}

/** A key: the row of a key tensor and of a value tensor (any float arrays), plus an additive bias. */
export interface RefKey {
  k: ArrayLike<number>;
  kOff: number;
  v: ArrayLike<number>;
  vOff: number;
  bias?: number;
}

/** Softmax attention of one query (q[qOff .. qOff + D)) over `keys`, in float64. */
export function attendOne(
  q: ArrayLike<number>, qOff: number, keys: RefKey[], D: number, Dv: number, scale: number,
): { out: Float64Array; lse: number } {
  const out = new Float64Array(Dv);
  const s = new Float64Array(keys.length);
  let max = -Infinity;
  keys.forEach((key, j) => {
    let dot = 0;
    for (let x = 0; x < D; x++) dot += q[qOff + x] * key.k[key.kOff + x];
    s[j] = scale * dot + (key.bias ?? 0);
    if (s[j] > max) max = s[j];
  });
  if (max === -Infinity) return { out, lse: -Infinity };
  let sum = 0;
  for (let j = 0; j < keys.length; j++) {
    s[j] = Math.exp(s[j] - max);
    sum += s[j];
  }
  keys.forEach((key, j) => {
    const w = s[j] / sum;
    if (w === 0) return;
    for (let x = 0; x < Dv; x++) out[x] += w * key.v[key.vOff + x];
  });
  return { out, lse: max + Math.log(sum) };
}

/** Offset of row `i` of head (b, h) in a dense [B, H, S, D] tensor. */
export const rowOffset = (b: number, h: number, i: number, H: number, S: number, D: number): number =>
  ((b * H + h) * S + i) * D;

/**
 * Attention where every query row sees an explicit list of key indices (with optional biases):
 * visible(b, h, i) → [[j, bias?], …] over rows of k/v head ⌊h / (Hq/Hkv)⌋. Returns [B, Hq, nq, Dv].
 */
export function referenceByKeyLists(
  q: RefTensor, k: RefTensor, v: RefTensor, scale: number,
  visible: (b: number, h: number, i: number) => Array<[number, number?]>,
): Float64Array {
  const [B, Hq, nq, D] = q.shape;
  const [, Hkv, nk] = k.shape;
  const Dv = v.shape[3];
  const group = Hq / Hkv;
  const out = new Float64Array(B * Hq * nq * Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < nq; i++) {
        const keys: RefKey[] = visible(b, h, i).map(([j, bias]) => ({
          k: k.data, kOff: rowOffset(b, kvh, j, Hkv, nk, D), v: v.data, vOff: rowOffset(b, kvh, j, Hkv, nk, Dv), bias,
        }));
        const r = attendOne(q.data, rowOffset(b, h, i, Hq, nq, D), keys, D, Dv, scale);
        out.set(r.out, rowOffset(b, h, i, Hq, nq, Dv));
      }
    }
  }
  return out;
}

/** Exact merge of two partial attentions over disjoint key sets (their lse): the combined one. */
export function mergeLse(a: { out: Float64Array; lse: number }, b: { out: Float64Array; lse: number }): { out: Float64Array; lse: number } {
  if (b.lse === -Infinity) return a;
  if (a.lse === -Infinity) return b;
  const m = Math.max(a.lse, b.lse);
  const ea = Math.exp(a.lse - m);
  const eb = Math.exp(b.lse - m);
  const out = new Float64Array(a.out.length);
  for (let x = 0; x < out.length; x++) out[x] = (a.out[x] * ea + b.out[x] * eb) / (ea + eb);
  return { out, lse: m + Math.log(ea + eb) };
}
