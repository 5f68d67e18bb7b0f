// heads-observer.ts — an optional observer the attention driver (run-heads.ts) calls between
// (batch, head) pairs: the proxy runtime's worker sets one to report progress and to poll its
// shared abort flag (it throws AttentionError('ABORTED') to stop the call). Unset, the driver
// runs every pair in one batch as before.

/** Called with the pairs done so far and the call's total; may throw to stop the call. */
export type HeadsObserver = (done: number, total: number) => void;

let observer: HeadsObserver | undefined;

/** Sets (or clears, with undefined) the observer of the next attention calls on this thread. */
export function setHeadsObserver(next: HeadsObserver | undefined): void {
  observer = next;
}

/** The observer in place, if any. */
export function headsObserver(): HeadsObserver | undefined {
  return observer;
}
