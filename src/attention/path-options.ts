// path-options.ts — reading the `paths` of rt.routedAttention. Each path is the options of one
// variant plus its `type`; routedAttention runs the variants after it has placed its inputs, so a
// path must hold nothing the caller's code can still change: readOptions has copied it plain
// (nested values too), and here it is checked against its type's keys (unknown keys rejected)
// before routedAttention checks that its inputs are alive and writes anything.

import { AttentionError, formatValue } from '../runtime/index';
import { GLOBAL_LOCAL_KEYS, type GlobalLocalOptions } from './global-local';
import { LINFORMER_KEYS, type LinformerOptions } from './linformer';
import { LSH_KEYS, type LshOptions } from './lsh';
import { readOptions } from './options';
import type { RoutingOptions } from './routing';
import { SEGMENTED_KEYS, type SegmentedOptions } from './segmented';
import { SLIDING_WINDOW_KEYS, type SlidingWindowOptions } from './sliding-window';

/** The variant of every path type. */
export const PATH_TYPES = ['full', 'window', 'global-local', 'segmented', 'lsh', 'linformer', 'routing'] as const;

/** One attention path of `rt.routedAttention`: a variant and its options (scale and out come from the call). */
export type AttentionPath =
  | {
    /** Full attention (rt.attention). */
    type: 'full';
    /** As rt.attention's causal. */
    causal?: boolean | 'bottom-right' | 'top-left';
    /** As rt.attention's window. */
    window?: {
      /** Keys before the aligned position. */
      left?: number;
      /** Keys after the aligned position. */
      right?: number } }
  | ({
    /** Sliding-window attention (rt.slidingWindowAttention). */
    type: 'window' } & Omit<SlidingWindowOptions, 'scale' | 'out'>)
  | ({
    /** Longformer / BigBird (rt.globalLocalAttention). */
    type: 'global-local' } & Omit<GlobalLocalOptions, 'scale' | 'out'>)
  | ({
    /** Segmented attention (rt.segmentedAttention). */
    type: 'segmented' } & Omit<SegmentedOptions, 'scale' | 'out'>)
  | ({
    /** Reformer LSH attention (rt.lshAttention; sharedQK ignores k). */
    type: 'lsh' } & Omit<LshOptions, 'scale' | 'out'>)
  | ({
    /** Linformer (rt.linformerAttention). */
    type: 'linformer' } & Omit<LinformerOptions, 'scale' | 'out'>)
  | ({
    /** Routing Transformer clustering attention (rt.routingAttention). */
    type: 'routing' } & Omit<RoutingOptions, 'scale' | 'out' | 'returnCentroids'>);

/** A variant's keys without those routedAttention sets for every path (scale, out, …), plus `type`. */
function pathKeys(keys: readonly string[], dropped: readonly string[] = []): string[] {
  return ['type', ...keys.filter((k) => k !== 'scale' && k !== 'out' && !dropped.includes(k))];
}

/**
 * Reads `paths[i]` of rt.routedAttention (the keys of its type; values are plain copies).
 * `routingKeys`: the keys of RoutingOptions (routing.ts passes them: it imports this file).
 */
export function readPath(path: unknown, i: number, routingKeys: readonly string[]): AttentionPath {
  const label = `options.paths[${i}]`;
  const byType: Record<string, string[]> = {
    full: ['type', 'causal', 'window'],
    window: pathKeys(SLIDING_WINDOW_KEYS),
    'global-local': pathKeys(GLOBAL_LOCAL_KEYS),
    segmented: pathKeys(SEGMENTED_KEYS),
    lsh: pathKeys(LSH_KEYS),
    linformer: pathKeys(LINFORMER_KEYS),
    routing: pathKeys(routingKeys, ['returnCentroids']),
  };
  // Every key of every type, each read once; then only the keys of this path's type are allowed.
  const all = readOptions<Record<string, unknown>>(path, [...new Set(Object.values(byType).flat())], label, 'rt.routedAttention');
  const type = all.type;
  const keys = typeof type === 'string' && Object.hasOwn(byType, type) ? byType[type] : undefined;
  if (keys === undefined) {
    throw new AttentionError('INVALID_OPTION', `${label} must be { type: ${PATH_TYPES.map((t) => `'${t}'`).join(' | ')}, … }, got type ${formatValue(type)}`);
  }
  // Its keys are its type's, its values plain copies; each variant checks them when the path runs.
  return readOptions<Record<string, unknown>>(all, keys, label, `a '${type}' path of rt.routedAttention`) as AttentionPath;
}
