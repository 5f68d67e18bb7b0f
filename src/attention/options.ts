// options.ts — validation helpers for numeric options, shared by the attention entry points.

import { AttentionError } from '../runtime/index';
import { asNumber } from '../tensor';

/** A finite number, or the default when undefined. */
export function finiteOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AttentionError('INVALID_OPTION', `${name} must be a finite number, got ${String(value)}`);
  }
  return value;
}

/** A finite number ≥ 0, or the default when undefined. */
export function nonNegativeOption(value: unknown, name: string, fallback: number): number {
  const v = finiteOption(value, name, fallback);
  if (v < 0) throw new AttentionError('INVALID_OPTION', `${name} must be ≥ 0, got ${v}`);
  return v;
}

/** An integer ≥ min, or the default when undefined. */
export function integerOption(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

/** Per-batch integer lengths in [0, max], from any array-like (number, Int32Array, BigInt64Array). */
export function lengthsOption(value: unknown, name: string, batch: number, max: number): number[] {
  const isArrayLike = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!isArrayLike) {
    throw new AttentionError('INVALID_OPTION', `${name} must be an array of ${batch} lengths, got ${String(value)}`);
  }
  const list = Array.from(value as ArrayLike<number | bigint>, asNumber);
  if (list.length !== batch) {
    throw new AttentionError('SHAPE_MISMATCH', `${name} must hold one length per batch entry (${batch}), got ${list.length}`);
  }
  for (const x of list) {
    if (!Number.isInteger(x) || x < 0 || x > max) {
      throw new AttentionError('INVALID_OPTION', `${name} entries must be integers in [0, ${max}], got ${x}`);
    }
  }
  return list;
}
