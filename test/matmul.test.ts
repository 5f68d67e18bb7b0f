// rt.matmul and rt.softmax against the float64 oracle of test/reference/attention.ts, on every
// kernel binary the engine accepts.
//
// matmul: sizes M, N, K ∈ {1, 3, 4, 5, 7, 8, 9, 63, 64, 65, 257, 520} (tails of the 4×8 tile, of
// the KC = 256 depth block and of the NC = 512 column slice), transposeB, bias, 2-D and batched
// 3-D A with a shared 2-D B or a batched B, `out` as a WasmTensor or a plain Tensor, inputs as
// WasmTensors. Inputs are float32 uniform in [−2, 2]. Tolerance: the standard bound of a K-term
// float32 dot product plus the bias add,
//     |got − ref| ≤ 1e-6 + (K + 2)·2⁻²⁴·(Σₓ|a[i,x]·b[x,j]| + |bias[j]|)
// where ref and the magnitude Σ|a·b| are computed in float64 (the magnitude as
// referenceMatmul(|a|, |b|, |bias|)).
//
// softmax: rows of cols ∈ the same sizes, ranks 1–3, values in [−10, 10] with some −∞ entries and
// some all −∞ rows. Tolerance |got − ref| ≤ 1e-7 + (1e-6 + cols·1.2e-7)·|ref| (the kernel's
// documented bound: exp ≤ 2e-7 relative, the sum ≤ cols·ε); −∞ entries must give exactly 0 and
// an all −∞ row exactly zeros.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type Tensor, WasmTensor } from '../src/index';
import { arenaStats, ISAS, mismatch, rng, uniformF32 } from './helpers/numeric';
import { referenceMatmul, referenceSoftmax } from './reference/attention';

const SIZES = [1, 3, 4, 5, 7, 8, 9, 63, 64, 65, 257, 520];
const SMALL = [1, 3, 4, 5, 7, 8, 9, 63, 64, 65];
const U = 2 ** -24;

const f32t = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((p, d) => p * d, 1), rng(seed)), shape });
const abs = (t: Tensor): Tensor => ({ data: t.data.map(Math.abs), shape: t.shape });

/** Checks C against the float64 product with the K-term dot-product error bound. */
function expectMatmul(got: Tensor, a: Tensor, b: Tensor, transposeB: boolean, bias: Tensor | undefined, context: string): void {
  const want = referenceMatmul(a, b, { transposeB, bias });
  const magnitude = referenceMatmul(abs(a), abs(b), { transposeB, bias: bias ? abs(bias) : undefined });
  const K = a.shape[a.shape.length - 1];
  expect(got.shape, context).toEqual(want.shape);
  const bad = mismatch(got.data, want.data, 0, 0, want.shape, (i) => 1e-6 + (K + 2) * U * magnitude.data[i]);
  expect(bad, `${bad} — ${context}`).toBeUndefined();
}

interface MatmulCase {
  m: number;
  n: number;
  k: number;
  transposeB: boolean;
  bias: boolean;
  /** 0: 2-D; else batch size of a 3-D A */
  batch: number;
  batchedB: boolean;
  out: 'none' | 'wasm' | 'plain';
  residentInputs: boolean;
  seed: number;
}

const matmulCase = (sizes: number[]): fc.Arbitrary<MatmulCase> => fc.record({
  m: fc.constantFrom(...sizes),
  n: fc.constantFrom(...sizes),
  k: fc.constantFrom(...sizes),
  transposeB: fc.boolean(),
  bias: fc.boolean(),
  batch: fc.constantFrom(0, 1, 2, 3),
  batchedB: fc.boolean(),
  out: fc.constantFrom<'none' | 'wasm' | 'plain'>('none', 'wasm', 'plain'),
  residentInputs: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

describe.each(ISAS)('rt.matmul vs float64 reference (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });
  afterAll(() => rt.dispose());

  function run(c: MatmulCase): void {
    const next = rng(c.seed);
    const batched = c.batch > 0;
    const aShape = batched ? [c.batch, c.m, c.k] : [c.m, c.k];
    const bMat = c.transposeB ? [c.n, c.k] : [c.k, c.n];
    const bShape = batched && c.batchedB ? [c.batch, ...bMat] : bMat;
    const a: Tensor = { data: uniformF32(aShape.reduce((p, d) => p * d, 1), next), shape: aShape };
    const b: Tensor = { data: uniformF32(bShape.reduce((p, d) => p * d, 1), next), shape: bShape };
    const bias: Tensor | undefined = c.bias ? { data: uniformF32(c.n, next), shape: [c.n] } : undefined;
    const outShape = batched ? [c.batch, c.m, c.n] : [c.m, c.n];
    const context = `a [${aShape}] b [${bShape}] ${JSON.stringify({ ...c, seed: undefined })}`;
    const owned: WasmTensor[] = [];
    const wasm = (t: Tensor): WasmTensor => {
      const w = rt.tensor(t.shape, t.data);
      owned.push(w);
      return w;
    };
    try {
      const aIn = c.residentInputs ? wasm(a) : a;
      const bIn = c.residentInputs ? wasm(b) : b;
      const biasIn = bias && c.residentInputs ? wasm(bias) : bias;
      let out: WasmTensor | Tensor | undefined;
      if (c.out === 'wasm') {
        out = rt.tensor(outShape, new Float32Array(outShape.reduce((p, d) => p * d, 1)).fill(Number.NaN));
        owned.push(out as WasmTensor);
      } else if (c.out === 'plain') {
        out = { data: new Float32Array(outShape.reduce((p, d) => p * d, 1)).fill(Number.NaN), shape: outShape };
      }
      const got = rt.matmul(aIn, bIn, { transposeB: c.transposeB, bias: biasIn, out });
      if (out) expect(got, 'returns `out`').toBe(out);
      const result = got instanceof WasmTensor ? { data: got.toArray(), shape: [...got.shape] } : got;
      expectMatmul(result, a, b, c.transposeB, bias, context);
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  it('every size in {1, 3, 4, 5, 7, 8, 9, 63, 64, 65}³, A·B and A·Bᵀ, with bias', () => {
    const before = arenaStats(rt).blocks;
    let count = 0;
    for (const m of SMALL) {
      for (const n of SMALL) {
        for (const k of SMALL) {
          for (const transposeB of [false, true]) {
            run({ m, n, k, transposeB, bias: (m + n + k) % 2 === 0, batch: 0, batchedB: false, out: 'none', residentInputs: false, seed: m * 10007 + n * 101 + k });
            count++;
          }
        }
      }
    }
    expect(count).toBe(2000);
    expect(arenaStats(rt).blocks).toBeLessThanOrEqual(before + 1); // + the workspace at most
  });

  it('random cases over all sizes (257, 520 included), batched A with shared or batched B, out, WasmTensors', () => {
    rt.matmul({ data: new Float32Array(1), shape: [1, 1] }, { data: new Float32Array(1), shape: [1, 1] }); // warm up
    const before = arenaStats(rt).blocks;
    let runs = 0;
    fc.assert(
      fc.property(matmulCase(SIZES), (c) => {
        runs++;
        run(c);
        expect(arenaStats(rt).blocks).toBe(before);
      }),
      { seed: 4242, numRuns: 250 },
    );
    expect(runs).toBeGreaterThanOrEqual(250);
  });

  it('the block edges: K around 256 and N around 512, M around 4', () => {
    for (const k of [255, 256, 257, 520]) {
      for (const n of [7, 511, 512, 513]) {
        for (const transposeB of [false, true]) {
          run({ m: 5, n, k, transposeB, bias: true, batch: 2, batchedB: k % 2 === 0, out: 'none', residentInputs: false, seed: k * n });
        }
      }
    }
  });

  it('empty dimensions: K = 0 gives zeros (or the bias), M = 0 / N = 0 / batch = 0 give empty results', () => {
    rt.matmul(f32t([64, 64], 1), f32t([64, 64], 2)); // leave data behind in the arena
    const e = (shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((p, d) => p * d, 1)), shape });
    const bias = f32t([5], 3);
    const cases: Array<[string, Tensor, Tensor, boolean, Tensor | undefined]> = [
      ['K = 0', e([3, 0]), e([0, 5]), false, undefined],
      ['K = 0 with bias', e([3, 0]), e([0, 5]), false, bias],
      ['K = 0, transposeB, with bias', e([3, 0]), e([5, 0]), true, bias],
      ['K = 0, batched', e([2, 3, 0]), e([2, 0, 5]), false, bias],
      ['M = 0', e([0, 4]), f32t([4, 5], 4), false, bias],
      ['N = 0', f32t([3, 4], 5), e([4, 0]), false, undefined],
      ['batch = 0', e([0, 3, 4]), f32t([4, 5], 6), false, undefined],
    ];
    for (const [name, a, b, transposeB, bi] of cases) {
      const got = rt.matmul(a, b, { transposeB, bias: bi });
      expectMatmul(got, a, b, transposeB, bi, name);
    }
  });

  it('a large product: [520, 520] · [520, 257]ᵀ + bias', () => {
    run({ m: 520, n: 257, k: 520, transposeB: true, bias: true, batch: 0, batchedB: false, out: 'wasm', residentInputs: true, seed: 7 });
  });
});

describe.each(ISAS)('rt.softmax vs float64 reference (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });
  afterAll(() => rt.dispose());

  function check(x: Tensor, context: string): void {
    const cols = x.shape[x.shape.length - 1];
    const got = rt.softmax(x);
    const want = referenceSoftmax(x);
    expect(got.shape, context).toEqual(x.shape);
    const bad = mismatch(got.data, want, 1e-7, 1e-6 + cols * 1.2e-7, x.shape);
    expect(bad, `${bad} — ${context}`).toBeUndefined();
    for (let i = 0; i < x.data.length; i++) {
      if (x.data[i] === -Infinity) expect(Object.is(got.data[i], 0), `−∞ at ${i} must give +0, got ${got.data[i]} — ${context}`).toBe(true);
    }
  }

  it('random rows of every tail width, ranks 1–3, with −∞ entries and all −∞ rows', () => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.record({
          cols: fc.constantFrom(...SIZES),
          lead: fc.constantFrom<number[]>([], [1], [3], [7], [2, 3], [1, 5]),
          pMasked: fc.constantFrom(0, 0.1, 0.5, 0.95),
          pDeadRow: fc.constantFrom(0, 0.3),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        }),
        ({ cols, lead, pMasked, pDeadRow, seed }) => {
          runs++;
          const next = rng(seed);
          const shape = [...lead, cols];
          const rows = lead.reduce((p, d) => p * d, 1);
          const data = uniformF32(rows * cols, next, -10, 10);
          for (let r = 0; r < rows; r++) {
            const dead = next() < pDeadRow;
            for (let c = 0; c < cols; c++) if (dead || next() < pMasked) data[r * cols + c] = -Infinity;
          }
          check({ data, shape }, `shape [${shape}] pMasked ${pMasked} pDeadRow ${pDeadRow}`);
        },
      ),
      { seed: 777, numRuns: 250 },
    );
    expect(runs).toBeGreaterThanOrEqual(250);
  });

  it('an all −∞ row gives exact zeros, one finite entry gives 1, −∞ gives 0', () => {
    for (const cols of SIZES) {
      const data = new Float32Array(3 * cols).fill(-Infinity);
      data[cols + (cols >> 1)] = 3.5; // row 1: one finite value
      for (let c = 0; c < cols; c++) data[2 * cols + c] = c % 3 === 0 ? -Infinity : (c % 7) - 3; // row 2: mixed
      const got = rt.softmax({ data, shape: [3, cols] });
      for (let c = 0; c < cols; c++) {
        expect(Object.is(got.data[c], 0), `dead row col ${c} of ${cols}: ${got.data[c]}`).toBe(true);
        const one = c === cols >> 1 ? 1 : 0;
        expect(Math.abs(got.data[cols + c] - one), `single-entry row col ${c} of ${cols}`).toBeLessThanOrEqual(1e-6);
      }
      check({ data, shape: [3, cols] }, `cols ${cols}`);
    }
  });

  it('a WasmTensor input gives the same result and is not modified', () => {
    const next = rng(99);
    const values = uniformF32(4 * 65, next, -10, 10);
    values[3] = -Infinity;
    const x = rt.tensor([4, 65], values);
    try {
      const got = rt.softmax(x);
      expect(Array.from(got.data)).toEqual(Array.from(rt.softmax({ data: values, shape: [4, 65] }).data));
      expect(Array.from(x.data)).toEqual(Array.from(values));
      check({ data: values, shape: [4, 65] }, 'WasmTensor');
    } finally {
      x.dispose();
    }
  });
});
