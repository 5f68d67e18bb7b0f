// util.mjs — small shared pieces of the bench CLI: the "skipped" signal, number formatting, paths.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (bench/lib/../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Thrown by an engine's prepare() when it deliberately does not run a workload (too slow, pending
 * feature, thread count fixed per process). Reported as "skipped (reason)", never silently omitted.
 */
export class Skip extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'Skip';
  }
}

/** Awaits `fn()` only when it returned a promise. */
export async function call(fn) {
  const r = fn();
  if (r && typeof r.then === 'function') await r;
}

/** A short single-line form of an error for tables. */
export function errorText(e) {
  const s = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  // Engines' messages may carry paths of the machine that built them (onnxruntime's source tree)
  // or of this one: results name files by their base name only.
  return s.replace(/\s+/g, ' ').replace(/(?<![:\w/.])(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}[\\/]([\w.@+-]+)/g, '…/$1').trim();
}

/** 3 significant digits, no exponent for ordinary magnitudes. */
export function fmt(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.01) return x.toFixed(3);
  return x.toPrecision(2);
}

export function fmtMs(ms) {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function fmtErr(e) {
  if (e === undefined || e === null) return '—';
  if (!Number.isFinite(e)) return String(e);
  return e === 0 ? '0' : e.toExponential(1);
}

export function fmtBytes(b) {
  if (b === undefined || b === null) return '—';
  if (b >= 1 << 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  return `${(b / 1024).toFixed(0)} KiB`;
}

export { median } from '../engines/timing.mjs';
