// sinusoidal.ts — fixed sinusoidal absolute position encodings, added to token embeddings before
// the first layer (they are not an attention bias).
//
// For position p and frequency index i < dim/2, with ω_i = base^(−2i/dim):
//   'interleaved'  (Vaswani et al. 2017, §3.5): PE[p, 2i] = sin(p·ω_i), PE[p, 2i + 1] = cos(p·ω_i)
//   'concatenated' (Transformer-XL, Dai et al. 2019, PositionalEmbedding; also fairseq / tensor2tensor
//                   `get_timing_signal_1d` up to its frequency spacing): PE[p, i] = sin(p·ω_i),
//                   PE[p, dim/2 + i] = cos(p·ω_i)
// Positions are `offset, offset + 1, …` or an explicit list (Transformer-XL feeds descending
// relative positions klen − 1 … 0). Angles and sin/cos are computed in float64, then rounded to
// float32 once.

import { AttentionError, formatValue } from '../runtime/index';
import { checkElementCount, type Tensor } from '../tensor';
import { optionKeys, readOptions } from '../attention/options';

/** Options of `sinusoidalPositions`. */
export interface SinusoidalOptions {
  /** 'interleaved' (default; sin/cos alternate, the original Transformer) or 'concatenated' (all sines, then all cosines: Transformer-XL). */
  layout?: 'interleaved' | 'concatenated';
  /** Wavelength base. Default 10000. */
  base?: number;
  /** Position of the first row (default 0); ignored when `positions` is given. */
  offset?: number;
  /** Explicit positions, one per row (any finite numbers, e.g. Transformer-XL's descending klen−1 … 0). */
  positions?: ArrayLike<number>;
}

const SINUSOIDAL_KEYS = optionKeys<SinusoidalOptions>({ layout: true, base: true, offset: true, positions: true });

/**
 * Sinusoidal position encodings, shape [length, dim] (dim even). Add them to the embeddings:
 * `x[s, :] += pe[s, :]`.
 */
export function sinusoidalPositions(length: number, dim: number, optionsIn: SinusoidalOptions = {}): Tensor {
  const options = readOptions<SinusoidalOptions>(optionsIn, SINUSOIDAL_KEYS, 'options', 'sinusoidalPositions');
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) {
    throw new AttentionError('INVALID_ARGUMENT', `dim must be a positive even integer (sin/cos pairs), got ${String(dim)}`);
  }
  const layout = options.layout ?? 'interleaved';
  if (layout !== 'interleaved' && layout !== 'concatenated') {
    throw new AttentionError('INVALID_OPTION', `options.layout must be 'interleaved' or 'concatenated', got ${formatValue(layout)}`);
  }
  const base = options.base ?? 10000;
  if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) {
    throw new AttentionError('INVALID_OPTION', `options.base must be a positive number, got ${String(base)}`);
  }
  let positions: ArrayLike<number>;
  if (options.positions !== undefined) {
    if (!(Array.isArray(options.positions) || ArrayBuffer.isView(options.positions))) {
      throw new AttentionError('INVALID_OPTION', `options.positions must be an array of numbers, got ${String(options.positions)}`);
    }
    const p = Array.from(options.positions as ArrayLike<unknown>); // read once
    if (length !== undefined && length !== p.length) {
      throw new AttentionError('SHAPE_MISMATCH', `options.positions has ${p.length} entries but length is ${length}`);
    }
    for (let i = 0; i < p.length; i++) {
      if (typeof p[i] !== 'number' || !Number.isFinite(p[i])) {
        throw new AttentionError('INVALID_OPTION', `options.positions[${i}] must be a finite number, got ${String(p[i])}`);
      }
    }
    positions = p as ArrayLike<number>;
  } else {
    if (!Number.isInteger(length) || length < 0) {
      throw new AttentionError('INVALID_ARGUMENT', `length must be a non-negative integer, got ${String(length)}`);
    }
    const offset = options.offset ?? 0;
    if (typeof offset !== 'number' || !Number.isFinite(offset)) {
      throw new AttentionError('INVALID_OPTION', `options.offset must be a finite number, got ${String(offset)}`);
    }
    checkElementCount(length * dim, `sinusoidalPositions of [${length}, ${dim}]`); // before a list of `length` positions
    positions = Array.from({ length }, (_, i) => offset + i);
  }
  const n = positions.length;
  checkElementCount(n * dim, `sinusoidalPositions of [${n}, ${dim}]`);
  if (n === 0) return { data: new Float32Array(0), shape: [0, dim] };
  const half = dim / 2;
  const omega = new Float64Array(half);
  for (let i = 0; i < half; i++) omega[i] = Math.pow(base, (-2 * i) / dim);
  const data = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const p = positions[r];
    const row = r * dim;
    for (let i = 0; i < half; i++) {
      const angle = p * omega[i];
      if (layout === 'interleaved') {
        data[row + 2 * i] = Math.sin(angle);
        data[row + 2 * i + 1] = Math.cos(angle);
      } else {
        data[row + i] = Math.sin(angle);
        data[row + half + i] = Math.cos(angle);
      }
    }
  }
  return { data, shape: [n, dim] };
}
