// path-options.ts — reading the `paths` of rt.routedAttention. Each path is the options of one
// variant plus its `type` (the variant registry, variants.ts, says which variants can be paths and
// with which keys); routedAttention runs the variants after it has placed its inputs, so a path
// must hold nothing the caller's code can still change: readOptions has copied it plain (nested
// values too), and here it is checked against its type's keys (unknown keys rejected) before
// routedAttention checks that its inputs are alive and writes anything.

import { AttentionError, formatValue } from '../runtime/index';
import { readOptions } from './options';
import { type AttentionPath, pathTypes, variantEntries } from './variants';

export type { AttentionPath } from './variants';

/** Each path type's keys (with `type`), from the registry. */
function keysByType(): Record<string, string[]> {
  const byType: Record<string, string[]> = {};
  for (const v of variantEntries()) {
    if (v.path === undefined) continue;
    // scale, out and layout come from the call: every path reads routedAttention's q, k, v in the call's layout
    byType[v.path] = ['type', ...(v.pathKeys ?? v.keys).filter((k) => k !== 'scale' && k !== 'out' && k !== 'layout')];
  }
  return byType;
}

/** The path types as the error messages list them: 'full' | 'window' | … */
export function pathTypeList(separator: string): string {
  return pathTypes().map((t) => `'${t}'`).join(separator);
}

/** Reads `paths[i]` of rt.routedAttention (the keys of its type; values are plain copies). */
export function readPath(path: unknown, i: number): AttentionPath {
  const label = `options.paths[${i}]`;
  const byType = keysByType();
  // Every key of every type (and layout, to say where it goes), each read once; then only the keys of this path's type are allowed.
  const all = readOptions<Record<string, unknown>>(path, [...new Set([...Object.values(byType).flat(), 'layout'])], label, 'rt.routedAttention');
  if (all.layout !== undefined) {
    throw new AttentionError('INVALID_OPTION', `${label}.layout is not an option of a path: every path reads q, k and v in the call's layout (set options.layout of rt.routedAttention), got ${formatValue(all.layout)}`);
  }
  delete all.layout;
  const type = all.type;
  const keys = typeof type === 'string' && Object.hasOwn(byType, type) ? byType[type] : undefined;
  if (keys === undefined) {
    throw new AttentionError('INVALID_OPTION', `${label} must be { type: ${pathTypeList(' | ')}, … }, got type ${formatValue(type)}`);
  }
  // Its keys are its type's, its values plain copies; each variant checks them when the path runs.
  return readOptions<Record<string, unknown>>(all, keys, label, `a '${type}' path of rt.routedAttention`) as unknown as AttentionPath;
}
