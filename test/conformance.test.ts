// The 87 ONNX `Attention` conformance cases (opsets 23–25) through rt.onnxAttention, on both
// kernel binaries when the engine accepts relaxed SIMD.
// Tolerances: float32 cases |got − want| ≤ 1e-5 + 1e-5·|want| (the README of the cases says a
// correct float32 implementation lands within about 1e-5). float16 cases are widened to float32
// and compared with the float16 expected outputs at 2e-3 + 2e-3·|want| (float16 has 11
// significant bits: one rounding of the expected value alone is up to 4.9e-4 relative).
// −∞ and NaN must match exactly.

import { describe, expect, it } from 'vitest';
import { createRuntimeSync, isaSupported, type Isa, type OnnxAttentionInputs } from '../src/index';
import {
  type ConformanceCase, decodeTensor, INPUT_ORDER, isFloat16Case, loadConformanceCases, OUTPUT_ORDER,
} from './helpers/onnx-cases';

const cases = loadConformanceCases();
const isas: Isa[] = isaSupported('relaxed') ? ['simd128', 'relaxed'] : ['simd128'];

function compare(got: Float32Array, want: Float32Array, atol: number, rtol: number): string | undefined {
  if (got.length !== want.length) return `length ${got.length} ≠ ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const a = got[i];
    const b = want[i];
    if (Number.isNaN(b) || !Number.isFinite(b)) {
      if (!Object.is(a, b)) return `at ${i}: got ${a}, want ${b}`;
      continue;
    }
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) return `at ${i}: got ${a}, want ${b} (diff ${Math.abs(a - b)})`;
  }
  return undefined;
}

function runCase(rt: ReturnType<typeof createRuntimeSync>, c: ConformanceCase) {
  const inputs: Record<string, unknown> = {};
  c.inputs.forEach((t, i) => {
    if (t) inputs[INPUT_ORDER[i]] = { data: decodeTensor(t), shape: t.shape };
  });
  return rt.onnxAttention(inputs as unknown as OnnxAttentionInputs, c.attributes, { qkMatmulOutput: !!c.outputs[3] });
}

describe.each(isas)('ONNX Attention conformance (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });

  it('has all 87 cases', () => {
    expect(cases.length).toBe(87);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const out = runCase(rt, c) as unknown as Record<string, { data: Float32Array; shape: number[] } | undefined>;
    const half = isFloat16Case(c);
    const tol = half ? 2e-3 : 1e-5;
    let checked = 0;
    c.outputs.forEach((t, i) => {
      if (!t) return;
      const name = OUTPUT_ORDER[i];
      const got = out[name];
      expect(got, `${name} missing`).toBeDefined();
      expect(got!.shape).toEqual(t.shape);
      const problem = compare(got!.data, decodeTensor(t) as Float32Array, tol, tol);
      expect(problem, `${name}: ${problem}`).toBeUndefined();
      checked++;
    });
    expect(checked).toBeGreaterThan(0);
  });
});
