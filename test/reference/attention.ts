// reference/attention.ts — a float64 oracle for attention, matmul and softmax, written from the math.
//
// Independent of src/ on purpose (no imports from it): the tests compare the Wasm kernels against
// these loops, so a shared bug cannot hide. Everything is computed in float64 (JavaScript numbers)
// from the given values (float32 inputs are read exactly), with plain loops in the style of
// llama2.c — slow, obvious, and easy to check against the formulas below.
//
// Attention, for batch b, query head h, query row i, key j (all tensors [B, H, S, D], row-major):
//   kvh      = ⌊h / (Hq / Hkv)⌋                                   (grouped-query / multi-query)
//   keyLen   = keyLengths[b] (default nk)
//   offset   = keyLen − nq ('bottom-right', the default), or 0 ('top-left')
//   p        = i + offset                                          (the row's aligned position)
//   visible  = j < keyLen
//              and (not causal or j ≤ p)
//              and (window.left  undefined or j ≥ p − left)
//              and (window.right undefined or j ≤ p + right)
//              and mask(b, h, i, j) is true (boolean) / is not −∞ (float)
//   s        = scale · Σ_d q[b,h,i,d]·k[b,kvh,j,d]                 (scale default 1/√D; 1 if D = 0)
//   s        = softcap · tanh(s / softcap)   when softcap > 0        (before the mask)
//   s        = s + mask(b, h, i, j)          for a float mask
//   w[i, j]  = exp(s_j − max) / Σ_visible exp(s_j' − max) for visible j, else 0
//   out[i,:] = Σ_visible w[i, j] · v[b, kvh, j, :]
// A row with no visible key has weights 0 and output 0. Keys that are not visible are never read,
// so NaN or ±∞ stored there cannot reach the result; a visible NaN score makes its whole row NaN
// (as NumPy's softmax, ONNX's reference and PyTorch do).
// The mask broadcasts NumPy-style, aligned right, to [B, Hq, nq, nk]; its last dimension may be 1.

/** A dense row-major tensor: float32 or float64 values (or 0/1 bytes for boolean masks). */
export interface RefTensor {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
}

export type RefCausal = boolean | 'bottom-right' | 'top-left';

export interface ReferenceAttentionOptions {
  scale?: number;
  causal?: RefCausal;
  /** Uint8Array: boolean, nonzero = attend. Any other array: additive float. */
  mask?: RefTensor;
  keyLengths?: ArrayLike<number>;
  softcap?: number;
  window?: { left?: number; right?: number };
  returnWeights?: boolean;
}

export interface ReferenceAttentionResult {
  /** [B, Hq, nq, Dv] */
  output: Float64Array;
  outputShape: number[];
  /** [B, Hq, nq, nk], when returnWeights */
  weights?: Float64Array;
  weightsShape?: number[];
}

/** Element (b, h, i, j) of a mask broadcast (right-aligned) to [B, H, nq, nk]; dims of 1 repeat. */
function maskAt(mask: RefTensor, b: number, h: number, i: number, j: number): number {
  const rank = mask.shape.length;
  const full = [1, 1, 1, 1];
  for (let a = 0; a < rank; a++) full[4 - rank + a] = mask.shape[a];
  const idx = [b, h, i, j];
  let flat = 0;
  for (let a = 0; a < 4; a++) {
    const coord = full[a] === 1 ? 0 : idx[a];
    flat = flat * full[a] + coord;
  }
  return mask.data[flat];
}

/** Throws unless `shape` broadcasts (right-aligned) to [B, H, nq, nk] with a last dim of nk or 1. */
function checkMaskShape(shape: readonly number[], target: number[]): void {
  if (shape.length < 1 || shape.length > 4) throw new Error(`reference: mask rank ${shape.length}`);
  for (let a = 0; a < shape.length; a++) {
    const t = target[4 - shape.length + a];
    if (shape[a] !== 1 && shape[a] !== t) throw new Error(`reference: mask [${shape}] does not broadcast to [${target}]`);
  }
}

export function referenceAttention(
  q: RefTensor,
  k: RefTensor,
  v: RefTensor,
  opts: ReferenceAttentionOptions = {},
): ReferenceAttentionResult {
  const [B, Hq, nq, D] = q.shape;
  const [, Hkv, nk] = k.shape;
  const Dv = v.shape[3];
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) throw new Error('reference: rank');
  if (k.shape[0] !== B || v.shape[0] !== B || k.shape[3] !== D || v.shape[1] !== Hkv || v.shape[2] !== nk) {
    throw new Error('reference: shapes');
  }
  if (Hq % Hkv !== 0) throw new Error('reference: kv heads must divide q heads');
  const group = Hq / Hkv;

  const scale = opts.scale ?? (D > 0 ? 1 / Math.sqrt(D) : 1); // (an empty dot product is 0 whatever the scale)
  const softcap = opts.softcap ?? 0;
  const causal = opts.causal ?? false;
  const topLeft = causal === 'top-left';
  const left = opts.window?.left;
  const right = opts.window?.right;
  const mask = opts.mask;
  const boolMask = mask !== undefined && mask.data instanceof Uint8Array;
  if (mask) checkMaskShape(mask.shape, [B, Hq, nq, nk]);

  const output = new Float64Array(B * Hq * nq * Dv);
  const weights = opts.returnWeights ? new Float64Array(B * Hq * nq * nk) : undefined;
  const visible = new Uint8Array(nk);
  const s = new Float64Array(nk);
  const w = new Float64Array(nk);

  for (let b = 0; b < B; b++) {
    const keyLen = opts.keyLengths ? opts.keyLengths[b] : nk;
    const offset = topLeft ? 0 : keyLen - nq;
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < nq; i++) {
        const p = i + offset;

        // which keys this row sees
        for (let j = 0; j < nk; j++) {
          let ok = j < keyLen;
          if (causal && j > p) ok = false;
          if (left !== undefined && j < p - left) ok = false;
          if (right !== undefined && j > p + right) ok = false;
          if (mask) {
            const m = maskAt(mask, b, h, i, j);
            if (boolMask ? m === 0 : m === -Infinity) ok = false;
          }
          visible[j] = ok ? 1 : 0;
        }

        // scores of the visible keys
        let count = 0;
        let max = -Infinity;
        for (let j = 0; j < nk; j++) {
          if (!visible[j]) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) {
            dot += q.data[((b * Hq + h) * nq + i) * D + d] * k.data[((b * Hkv + kvh) * nk + j) * D + d];
          }
          let score = scale * dot;
          if (softcap > 0) score = softcap * Math.tanh(score / softcap);
          if (mask && !boolMask) score += maskAt(mask, b, h, i, j);
          s[j] = score;
          max = Math.max(max, score); // NaN propagates, as in NumPy
          count++;
        }

        // softmax over the visible keys (a row with none stays all zeros)
        w.fill(0);
        if (count > 0) {
          let sum = 0;
          for (let j = 0; j < nk; j++) {
            if (!visible[j]) continue;
            w[j] = Math.exp(s[j] - max);
            sum += w[j];
          }
          for (let j = 0; j < nk; j++) w[j] /= sum;
        }

        // weighted sum of the visible values
        for (let e = 0; e < Dv; e++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) {
            if (!visible[j]) continue;
            acc += w[j] * v.data[((b * Hkv + kvh) * nk + j) * Dv + e];
          }
          output[((b * Hq + h) * nq + i) * Dv + e] = acc;
        }
        if (weights) weights.set(w, ((b * Hq + h) * nq + i) * nk);
      }
    }
  }
  const result: ReferenceAttentionResult = { output, outputShape: [B, Hq, nq, Dv] };
  if (weights) {
    result.weights = weights;
    result.weightsShape = [B, Hq, nq, nk];
  }
  return result;
}

export interface ReferenceMatmulOptions {
  transposeB?: boolean;
  bias?: RefTensor;
}

/**
 * C = A·B (or A·Bᵀ) + bias in float64. A is [M, K] or [batch, M, K]; B is [K, N] ([N, K] when
 * transposeB) or batched like A; a 2-D B is shared by every batch entry; bias is [N].
 */
export function referenceMatmul(a: RefTensor, b: RefTensor, opts: ReferenceMatmulOptions = {}): { data: Float64Array; shape: number[] } {
  const transB = opts.transposeB ?? false;
  const batched = a.shape.length === 3;
  const batch = batched ? a.shape[0] : 1;
  const M = a.shape[a.shape.length - 2];
  const K = a.shape[a.shape.length - 1];
  const b0 = b.shape[b.shape.length - 2];
  const b1 = b.shape[b.shape.length - 1];
  const N = transB ? b0 : b1;
  if ((transB ? b1 : b0) !== K) throw new Error('reference: inner dimensions differ');
  const bBatched = b.shape.length === 3;
  const c = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    const aBase = t * M * K;
    const bBase = bBatched ? t * K * N : 0;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let x = 0; x < K; x++) {
          const bv = transB ? b.data[bBase + j * K + x] : b.data[bBase + x * N + j];
          acc += a.data[aBase + i * K + x] * bv;
        }
        if (opts.bias) acc += opts.bias.data[j];
        c[(t * M + i) * N + j] = acc;
      }
    }
  }
  return { data: c, shape: batched ? [batch, M, N] : [M, N] };
}

/** Softmax over the last axis in float64: −∞ → 0; a row that is all −∞ → zeros. */
export function referenceSoftmax(x: RefTensor): Float64Array {
  const cols = x.shape[x.shape.length - 1];
  const size = x.data.length;
  const out = new Float64Array(size);
  if (cols === 0) return out;
  for (let r = 0; r < size / cols; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x.data[r * cols + c]);
    if (max === -Infinity) continue; // all masked: zeros
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = Math.exp(x.data[r * cols + c] - max);
      sum += out[r * cols + c];
    }
    for (let c = 0; c < cols; c++) out[r * cols + c] /= sum;
  }
  return out;
}
