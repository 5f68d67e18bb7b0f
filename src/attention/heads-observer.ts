// heads-observer.ts — an optional observer the attention loops call between their units of work:
// the proxy runtime's worker sets one per call to report progress and to poll its shared abort
// flag (it throws AttentionError('ABORTED') to stop the call). Every loop that may run long —
// run-heads.ts (rt.attention, rt.onnxAttention) and each variant's loop over (batch, head) pairs,
// levels or paths — asks observeUnits for a tick function before it starts; with no observer it
// gets undefined and runs as it would without one (one test per unit).

/** Called with the units done so far and the call's total; may throw to stop the call. */
export type HeadsObserver = (done: number, total: number) => void;

/** A loop's tick: unit `done` (and `width` units from it, default 1) starts now. May throw to stop the call. */
export type UnitsTick = (done: number, width?: number) => void;

let observer: HeadsObserver | undefined;
/** The call's outermost observed loop: the unit it is in (and its width) and its total. */
let outer: { done: number; width: number; total: number } | undefined;

/** Sets (or clears, with undefined) the observer of the next call on this thread: set once per call. */
export function setHeadsObserver(next: HeadsObserver | undefined): void {
  observer = next;
  outer = undefined;
}

/** The observer in place, if any. */
export function headsObserver(): HeadsObserver | undefined {
  return observer;
}

/**
 * The tick of a loop over `total` units (heads, (batch, head) pairs, levels × pairs, paths × pairs),
 * or undefined when no observer is in place. The loop calls it with the units done before each
 * unit; the observer hears (done, total). Create it once per loop, before the first unit. The
 * first loop of a call owns its progress; a loop that runs inside one of its units (a path of
 * rt.routedAttention, the full attention of a path) reports within that unit: its done mapped onto
 * [unit, unit + width) of the outer total, so progress stays monotone and every tick still gives
 * the observer a chance to stop the call.
 */
export function observeUnits(total: number): UnitsTick | undefined {
  const observe = observer;
  if (!observe || !(total > 0)) return undefined;
  const parent = outer;
  if (parent) {
    const { done: base, width: span, total: all } = parent;
    return (done) => observe(base + Math.floor((Math.min(done, total) * span) / total), all);
  }
  const own = (outer = { done: 0, width: 1, total });
  return (done, width = 1) => {
    own.done = done;
    own.width = width;
    observe(done, total);
  };
}
