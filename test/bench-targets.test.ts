// The bench's target arithmetic (bench/lib/report.mjs): the GEMM-vs-peak target compares the
// fastest GEMM sample with the peak loop's fastest sample, so a slow phase of the machine during
// the GEMM's samples (a low median) does not read as a slow kernel; vs-engine targets use medians.
import { describe, expect, it } from 'vitest';
import { evaluateTargets, targetsMarkdown, workloadMarkdown } from '../bench/lib/report.mjs';

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

// Quantized workloads: one row per engine and format (`variant`); targets name the formats compared.
describe('bench targets with format variants', () => {
  type Row = { engine: string; family: string; threads: number; short: string; status: string; value: number; variant?: string; weightBytes?: number; medianMs?: number };
  const row = (engine: string, family: string, variant: string, value: number, extra: Partial<Row> = {}): Row => ({
    engine: `${engine} ${variant}`, family, threads: 1, short: `${engine.split('/').slice(1).join('/') || engine} ${variant}`, status: 'ok', value, variant, ...extra,
  });
  const results = [
    row('wasm-attention/relaxed/1t', 'wasm-attention', 'int8', 80, { weightBytes: 9_437_184 }),
    row('wasm-attention/relaxed/1t', 'wasm-attention', 'f32', 40, { weightBytes: 67_108_864 }),
    row('wasm-attention/simd128/1t', 'wasm-attention', 'int8', 60),
    row('wasm-attention/simd128/1t', 'wasm-attention', 'f32', 30),
    // A faster 2-thread row must not count as the 1-thread result.
    { ...row('wasm-attention/relaxed/2t', 'wasm-attention', 'int8', 150), threads: 2 },
    row('onnxruntime-web/1t', 'onnxruntime-web', 'MatMulInteger', 70),
    row('onnxruntime-web/1t', 'onnxruntime-web', 'DynamicQuantizeMatMul', 50),
  ];
  const evaluate = (targets: object[]) => evaluateTargets([{ id: 'Q', unit: 'G op/s', targets }], [{ id: 'Q', unit: 'G op/s', results }]);

  it('vs a peer: our best 1-thread row of the variant against the peer row of vsVariant', () => {
    const [r] = evaluate([{ label: 'int8 vs DQMM', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'DynamicQuantizeMatMul', atLeast: 1.5 }]);
    expect(r.value).toBeCloseTo(80 / 50, 12);
    expect(r.status).toBe('met');
    expect(r.measured).toContain('relaxed/1t int8');
  });

  it('our best binary is the one compared, whichever comes first in the results', () => {
    const faster = results.map((r) => (r.engine === 'wasm-attention/simd128/1t int8' ? { ...r, value: 90 } : r));
    const [r] = evaluateTargets([{ id: 'Q', unit: 'G op/s', targets: [{ label: 'x', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'DynamicQuantizeMatMul', atLeast: 1.5 }] }], [{ id: 'Q', unit: 'G op/s', results: faster }]);
    expect(r.value).toBeCloseTo(90 / 50, 12);
    expect(r.measured).toContain('simd128/1t int8');
  });

  it('vs our own f32: our best int8 against our best f32, both one thread', () => {
    const [r] = evaluate([{ label: 'int8 vs f32', vs: 'wasm-attention', variant: 'int8', vsVariant: 'f32', atLeast: 1.8 }]);
    expect(r.value).toBeCloseTo(80 / 40, 12);
    expect(r.status).toBe('met');
  });

  it('an unmet target carries its explanation; a met one does not', () => {
    const explain = ({ mine, theirs }: { mine: Row; theirs: Row }) => `${mine.engine} against ${theirs.engine}`;
    const [unmet, met] = evaluate([
      { label: 'int8 vs MatMulInteger', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'MatMulInteger', atLeast: 1.5, explain },
      { label: 'int8 vs DQMM', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'DynamicQuantizeMatMul', atLeast: 1.5, explain },
    ]);
    expect(unmet.status).toBe('not met');
    expect(unmet.explanation).toBe('wasm-attention/relaxed/1t int8 against onnxruntime-web/1t MatMulInteger');
    expect(met.explanation).toBeUndefined();
    expect(targetsMarkdown([unmet, met])).toContain('- **int8 vs MatMulInteger** — not met: wasm-attention/relaxed/1t int8 against');
  });

  it('an engine\'s own value against a goal (Q-A4\'s speed-ups) is explained when unmet, from the row\'s detail', () => {
    const explain = ({ mine }: { mine: Row & { detail?: { ms: number } } }) => `took ${mine.detail?.ms} ms`;
    const target = { label: 'speed-up', engine: ENGINE, atLeast: 2.5, explain };
    const evalAt = (value: number) => evaluateTargets([{ id: 'K', unit: '×', targets: [target] }], [{ id: 'K', unit: '×', results: [{ ...result(ENGINE, 'wasm-attention', value, value), detail: { ms: 3.5 } }] }])[0];
    const unmet = evalAt(2.17);
    expect(unmet.status).toBe('not met');
    expect(unmet.explanation).toBe('took 3.5 ms');
    const met = evalAt(2.6);
    expect(met.status).toBe('met');
    expect(met.explanation).toBeUndefined();
  });

  it('a target on a number the engine measured beside its value (detail: Q-A1\'s speed-up) reads that number', () => {
    const target = { label: 'int8 / f32', engine: ENGINE, detail: 'speedup', atLeast: 1.5, explain: () => 'why' };
    const at = (detail: Record<string, number> | undefined) => evaluateTargets([{ id: 'K', unit: 'GFLOP/s', targets: [target] }], [{ id: 'K', unit: 'GFLOP/s', results: [{ ...result(ENGINE, 'wasm-attention', 30, 30), detail }] }])[0];
    const unmet = at({ speedup: 1.16 });
    expect(unmet.value).toBe(1.16);
    expect(unmet.goal).toBe('≥ 1.5×');
    expect(unmet.status).toBe('not met');
    expect(unmet.explanation).toBe('why');
    expect(at({ speedup: 1.6 }).status).toBe('met');
    expect(at(undefined).status).toBe('n/a');
  });

  it('a ratio just under its goal is not printed as the goal', () => {
    const close = results.map((r) => (r.variant === 'DynamicQuantizeMatMul' ? { ...r, value: 80 / 1.4996 } : r));
    const [r] = evaluateTargets([{ id: 'Q', unit: 'G op/s', targets: [{ label: 'x', vs: 'onnxruntime-web', variant: 'int8', vsVariant: 'DynamicQuantizeMatMul', atLeast: 1.5 }] }], [{ id: 'Q', unit: 'G op/s', results: close }]);
    expect(r.status).toBe('not met');
    expect(r.measured).toMatch(/^1\.4996× /);
  });

  it('weight bytes: one format against another, as a fraction', () => {
    const [r] = evaluate([{ label: 'q4_0 memory', weightBytes: { variant: 'int8', of: 'f32' }, atMost: 0.16 }]);
    expect(r.value).toBeCloseTo(9_437_184 / 67_108_864, 12);
    expect(r.goal).toBe('≤ 0.16×');
    expect(r.status).toBe('met');
    const [missing] = evaluate([{ label: 'q4_0 memory', weightBytes: { variant: 'q4_0', of: 'f32' }, atMost: 0.16 }]);
    expect(missing.status).toBe('n/a');
  });

  it('the Markdown gives ratio columns only to the rows the workload names, and read rates when asked', () => {
    const md = workloadMarkdown({
      id: 'Q', title: 't', unit: 'G op/s', weightRate: true,
      results: results.slice(0, 2).map((r) => ({ ...r, medianMs: 2 })),
      ratioColumns: ['wasm-attention/relaxed/1t f32'],
    });
    const header = md.split('\n').find((l) => l.startsWith('| engine'));
    expect(header).toContain('vs relaxed/1t f32');
    expect(header).not.toContain('vs relaxed/1t int8');
    expect(md).toContain('9.0 MiB (4.72 GB/s)');
  });
});
