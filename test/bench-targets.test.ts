// The bench's target arithmetic (bench/lib/report.mjs): the GEMM-vs-peak target compares the
// fastest GEMM sample with the peak loop's fastest sample, so a slow phase of the machine during
// the GEMM's samples (a low median) does not read as a slow kernel; vs-engine targets use medians.
import { describe, expect, it } from 'vitest';
import { evaluateTargets } from '../bench/lib/report.mjs';

const ENGINE = 'wasm-attention/relaxed/1t';
const peakTarget = { label: 'G1 ≥ 80% of the peak', ofPeak: ENGINE, atLeast: 0.8 };
const vsTarget = { label: 'G1 ≥ 2.5× onnxruntime-web', vs: 'onnxruntime-web', atLeast: 2.5 };
const specs = [
  { id: 'peak', unit: 'GFLOP/s', targets: [] },
  { id: 'G1', unit: 'GFLOP/s', targets: [peakTarget, vsTarget] },
];

function result(engine: string, family: string, value: number, bestValue: number) {
  return { engine, family, threads: 1, short: engine, status: 'ok', value, bestValue };
}

function run(gemm: { value: number; best: number }, peak: { value: number; best: number }, ortWeb = 10) {
  return evaluateTargets(specs, [
    { id: 'peak', unit: 'GFLOP/s', results: [result(ENGINE, 'wasm-attention', peak.value, peak.best)] },
    {
      id: 'G1',
      unit: 'GFLOP/s',
      results: [result(ENGINE, 'wasm-attention', gemm.value, gemm.best), result('onnxruntime-web/1t', 'onnxruntime-web', ortWeb, ortWeb)],
    },
  ]);
}

describe('bench targets', () => {
  it('GEMM vs peak: fastest sample against fastest sample, median shown', () => {
    // A noisy median (26) with a quiet fastest sample (40) against a peak of 42.
    const [row] = run({ value: 26, best: 40 }, { value: 41, best: 42 });
    expect(row.value).toBeCloseTo(40 / 42, 12);
    expect(row.status).toBe('met');
    expect(row.measured).toContain('median 26');
  });

  it('GEMM vs peak: a kernel slow in every sample is not met', () => {
    const [row] = run({ value: 30, best: 32 }, { value: 41, best: 42 });
    expect(row.value).toBeCloseTo(32 / 42, 12);
    expect(row.status).toBe('not met');
  });

  it('vs another engine: medians, not fastest samples', () => {
    const [, row] = run({ value: 26, best: 40 }, { value: 41, best: 42 }, 13);
    expect(row.value).toBeCloseTo(26 / 13, 12);
    expect(row.status).toBe('not met');
  });
});
