// tester.ts — the kernel specs' shared tally and tolerance check (not a spec itself: the as-pect
// entries glob is *.spec.ts). Per-family testers build on it: gemm-tester.ts, attention-tester.ts,
// softmax-tester.ts, lsh-tester.ts, rows-tester.ts.
//
// A Tally collects one test's cases: each case is begun (tally.begin()), its elements checked
// with close() — |got − want| ≤ atol + rtol·mag, mag the magnitude the error scales with (Σ|a·b|
// for a product, Σ p·|v| for attention; pass |want| when there is none), exact() or bits() — and
// ended with endCase(what), which records one failure naming the case, how many elements were off
// and the first of them; fail(what) records any other check (guards, inputs modified). finish()
// logs the count and the worst fraction of the tolerance used, and expects no failure: one
// expectation per test, whose message is the first failure.

import { keep, report } from './helpers';

export class Tally {
  name: string;
  cases: i32 = 0;
  failures: i32 = 0;
  firstFailure: string = '';
  /** Worst |got − want| / (atol + rtol·mag) over the elements that passed. */
  worst: f64 = 0;
  /** Elements off in the current case, and the first of them. */
  bad: i32 = 0;
  firstBad: string = '';

  constructor(name: string) {
    this.name = name;
  }

  /** Starts a case. */
  begin(): void {
    this.cases++;
    this.bad = 0;
    this.firstBad = '';
  }

  /** Records a failed check of the current test. */
  fail(what: string): void {
    if (this.failures == 0) this.firstFailure = what;
    this.failures++;
  }

  /** |got − want| ≤ atol + rtol·mag for element (i, j) of the current case (NaN never passes). */
  close(got: f64, want: f64, atol: f64, rtol: f64, mag: f64, i: i32, j: i32): bool {
    const tol = atol + rtol * mag;
    const err = Math.abs(got - want);
    if (err <= tol) {
      if (tol > 0 && err / tol > this.worst) this.worst = err / tol;
      return true;
    }
    this.off(i, j, got, want.toString());
    return false;
  }

  /** got must equal want exactly (zeros of rows that see no key, integer results). */
  exact(got: f64, want: f64, i: i32, j: i32): bool {
    if (got == want) return true;
    this.off(i, j, got, want.toString() + ' exactly');
    return false;
  }

  /** got must equal want bit for bit (a kernel and a reference computing the same f32 operations). */
  bits(got: f32, want: f32, i: i32, j: i32): bool {
    if (reinterpret<u32>(got) == reinterpret<u32>(want)) return true;
    this.off(i, j, got, want.toString() + ' bit for bit');
    return false;
  }

  private off(i: i32, j: i32, got: f64, want: string): void {
    if (this.bad == 0) this.firstBad = '[' + i.toString() + ',' + j.toString() + '] = ' + got.toString() + ', expected ' + want;
    this.bad++;
  }

  /** Ends the current case: a failure naming it when any element was off. */
  endCase(what: string): void {
    if (this.bad > 0) this.fail(what + ': ' + this.bad.toString() + ' elements off, first ' + this.firstBad);
  }

  /** Logs the test's totals (and `extra`) and expects no failure. */
  finish(extra: string = ''): void {
    report(
      this.name + ': ' + this.cases.toString() + ' cases, worst err/tolerance = ' + this.worst.toString() + extra +
      (this.failures > 0 ? '; ' + this.failures.toString() + ' failures, first: ' + this.firstFailure : ''),
    );
    expect(this.failures).toBe(0, keep(this.name + ': ' + this.firstFailure));
  }
}
