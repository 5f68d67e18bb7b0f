// reference/linformer.ts — float64 oracle of Linformer attention (rt.linformerAttention), from the
// definition (independent of src/): for batch b with valid length len (default n) and kv head g,
//   K'[r, :] = Σ_{j < len} E[g][j, r] · K[b, g, j, :],   V'[r, :] = Σ_{j < len} F[g][j, r] · V[b, g, j, :]
//   out[b, h, i, :] = softmax_r(scale · q_i·K'[r]) · V'        (r < k; every projected key visible)
// E, F: [n', k] shared by the heads or [kvHeads, n', k]; rows j ≥ len are unused.

import { attendOne, rowOffset, type RefTensor } from './sparse';

export interface ReferenceLinformerOptions {
  e: RefTensor;
  f: RefTensor;
  keyLengths?: ArrayLike<number>;
  scale?: number;
}

export function referenceLinformer(q: RefTensor, k: RefTensor, v: RefTensor, o: ReferenceLinformerOptions): Float64Array {
  const [B, Hq, nq, D] = q.shape;
  const [, Hkv, n] = k.shape;
  const Dv = v.shape[3];
  const kd = o.e.shape[o.e.shape.length - 1];
  const eRows = o.e.shape[o.e.shape.length - 2];
  const perHead = o.e.shape.length === 3;
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const out = new Float64Array(B * Hq * nq * Dv);
  for (let b = 0; b < B; b++) {
    const len = o.keyLengths ? o.keyLengths[b] : n;
    for (let g = 0; g < Hkv; g++) {
      const base = perHead ? g * eRows * kd : 0;
      const kp = new Float64Array(kd * D);
      const vp = new Float64Array(kd * Dv);
      for (let r = 0; r < kd; r++) {
        for (let j = 0; j < len; j++) {
          const ej = o.e.data[base + j * kd + r];
          const fj = o.f.data[base + j * kd + r];
          for (let x = 0; x < D; x++) kp[r * D + x] += ej * k.data[rowOffset(b, g, j, Hkv, n, D) + x];
          for (let x = 0; x < Dv; x++) vp[r * Dv + x] += fj * v.data[rowOffset(b, g, j, Hkv, n, Dv) + x];
        }
      }
      const keys = Array.from({ length: kd }, (_, r) => ({ k: kp, kOff: r * D, v: vp, vOff: r * Dv }));
      for (let h = g * (Hq / Hkv); h < (g + 1) * (Hq / Hkv); h++) {
        for (let i = 0; i < nq; i++) {
          out.set(attendOne(q.data, rowOffset(b, h, i, Hq, nq, D), keys, D, Dv, scale).out, rowOffset(b, h, i, Hq, nq, Dv));
        }
      }
    }
  }
  return out;
}
