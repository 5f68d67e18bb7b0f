// fuzz-quant.ts — the fuzz entries of the low-precision API (rt.quantizeMatrix, rt.quantizedMatrix,
// rt.matmul with a QuantizedMatrix), checked against test/reference/quant.ts: the same
// quantization computed by the reference (ggml's quantizers, the per-column int8 rule), the
// product with the kernels' documented float32 steps. Part of fuzz-cases.ts's METHODS.

import type { QuantizedMatrix, Tensor } from '../../src/index';
import {
  blockProductRef, decodeQ4_0Row, decodeQ8_0Row, decodeQb4wRow, numberToF16, f16ToNumber, productF64, qc8wProductRef,
  quantizeQ4_0, quantizeQ8_0, quantizeQb4w, quantizeWeightsInt8,
} from '../reference/quant';
import { check, type Ctx, type FuzzMethod, int, type Invalid, mutateOptions, type Next, pick, T } from './fuzz-cases';

const TOL = 1e-4;
const BLOCK_K = [32, 64, 96];

interface Case {
  type: 'int8' | 'q8_0' | 'q4_0' | 'f16';
  m: number;
  n: number;
  k: number;
  a: Tensor;
  /** B [K, N] */
  b: Tensor;
}

function quantCase(next: Next): Case {
  const type = pick(next, ['int8', 'q8_0', 'q4_0', 'f16'] as const);
  const k = type === 'q8_0' || type === 'q4_0' ? pick(next, BLOCK_K) : int(next, 1, 40);
  const n = int(next, 1, 11);
  const m = int(next, 1, 6);
  return { type, m, n, k, a: T([m, k], next), b: T([k, n], next) };
}

/** Bᵀ rows (n × k) of a [K, N] tensor. */
function rowsOf(b: Tensor, k: number, n: number): Float32Array {
  const rows = new Float32Array(n * k);
  for (let x = 0; x < k; x++) for (let j = 0; j < n; j++) rows[j * k + x] = b.data[x * n + j];
  return rows;
}

/** The reference product of a with B quantized as `type` (the same quantization as the library's). */
function reference(c: Case): ArrayLike<number> {
  const { m, n, k, a, b } = c;
  if (c.type === 'int8') {
    const { q, scale } = quantizeWeightsInt8(b.data, k, n);
    return qc8wProductRef(a.data, m, { k, n, data: q, transB: false, ld: n, scale }).out;
  }
  if (c.type === 'f16') return productF64(a.data, m, k, n, (x, j) => f16ToNumber(numberToF16(b.data[x * n + j])));
  const bytes = (c.type === 'q8_0' ? quantizeQ8_0 : quantizeQ4_0)(rowsOf(b, k, n), n, k);
  const decode = c.type === 'q8_0' ? decodeQ8_0Row : decodeQ4_0Row;
  return blockProductRef(a.data, m, k, Array.from({ length: n }, (_, j) => decode(bytes, k, j))).out;
}

function expectProduct(ctx: Ctx, c: Case, qb: QuantizedMatrix, what: string): void {
  const r = ctx.call('matmul', () => ctx.rt.matmul(c.a, qb));
  check(what, r.data, reference(c), TOL, TOL);
}

function commonInvalid(ctx: Ctx, c: Case, label: string): Invalid | undefined {
  const { next } = ctx;
  switch (int(next, 0, 3)) {
    case 0: {
      const q = ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(c.b, { type: c.type }));
      ctx.call('quantizedMatrix.dispose', () => q.dispose());
      return { label: `a disposed QuantizedMatrix (${label})`, call: () => ctx.call('matmul', () => ctx.rt.matmul(c.a, q)), codes: ['DISPOSED'], mentions: 'b' };
    }
    case 1: {
      const q = ctx.call('quantizeMatrix', () => ctx.foreign.quantizeMatrix(c.b, { type: c.type }));
      return { label: 'a QuantizedMatrix of another runtime', call: () => ctx.call('matmul', () => ctx.rt.matmul(c.a, q)), codes: ['INVALID_ARGUMENT'], mentions: 'another runtime', cleanup: () => q.dispose() };
    }
    case 2: {
      const q = ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(c.b, { type: c.type }));
      return { label: 'a of the wrong depth', call: () => ctx.call('matmul', () => ctx.rt.matmul(T([c.m, c.k + 1], next), q)), codes: ['SHAPE_MISMATCH'], mentions: 'a', cleanup: () => q.dispose() };
    }
    default: return undefined;
  }
}

export const quantizeMatrixMethod: FuzzMethod = {
  name: 'quantizeMatrix',
  valid(ctx) {
    const c = quantCase(ctx.next);
    const qb = ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(c.b, { type: c.type }));
    try {
      expectProduct(ctx, c, qb, `matmul(quantizeMatrix ${c.type})`);
    } finally {
      ctx.call('quantizedMatrix.dispose', () => qb.dispose());
    }
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = quantCase(next);
    const common = commonInvalid(ctx, c, c.type);
    if (common) return common;
    switch (int(next, 0, 3)) {
      case 0: return { label: 'unknown type', call: () => ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(c.b, { type: 'q5_k' as never })), codes: ['INVALID_OPTION'], mentions: 'options.type' };
      case 1: return { label: 'K not a multiple of 32 for a block type', call: () => ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(T([33, 2], next), { type: 'q4_0' })), codes: ['SHAPE_MISMATCH'], mentions: '32' };
      case 2: return { label: 'b of rank 1', call: () => ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(T([8], next), { type: c.type })), codes: ['SHAPE_MISMATCH'], mentions: 'b' };
      default: return { label: 'options null', call: () => ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(c.b, null as never)), codes: ['INVALID_OPTION'], mentions: 'options' };
    }
  },
  mutant(ctx) {
    const c = quantCase(ctx.next);
    const m = mutateOptions(ctx.next, { type: c.type, transposeB: false });
    return {
      label: m.label,
      call: () => {
        const q = ctx.call('quantizeMatrix', () => ctx.rt.quantizeMatrix(c.b, m.options as never));
        ctx.call('quantizedMatrix.dispose', () => q.dispose());
      },
    };
  },
};

/** Model-file data for rt.quantizedMatrix, from the reference quantizers, and its product. */
function dataCase(next: Next): { spec: Record<string, unknown>; a: Tensor; want: ArrayLike<number> } {
  const k = pick(next, BLOCK_K);
  const n = int(next, 1, 9);
  const m = int(next, 1, 5);
  const a = T([m, k], next);
  const rows = T([n, k], next).data;
  const kind = pick(next, ['q8_0', 'q4_0', 'matmulnbits'] as const);
  if (kind === 'matmulnbits') {
    const { b, scales, zp } = quantizeQb4w(rows, n, k, next() < 0.5);
    const want = blockProductRef(a.data, m, k, Array.from({ length: n }, (_, j) => decodeQb4wRow(b, scales, zp, k, j))).out;
    return { spec: { type: kind, shape: [n, k], data: b, scales, ...(zp && { zeroPoints: zp }) }, a, want };
  }
  const bytes = (kind === 'q8_0' ? quantizeQ8_0 : quantizeQ4_0)(rows, n, k);
  const decode = kind === 'q8_0' ? decodeQ8_0Row : decodeQ4_0Row;
  return { spec: { type: kind, shape: [n, k], data: bytes }, a, want: blockProductRef(a.data, m, k, Array.from({ length: n }, (_, j) => decode(bytes, k, j))).out };
}

export const quantizedMatrixMethod: FuzzMethod = {
  name: 'quantizedMatrix',
  valid(ctx) {
    const d = dataCase(ctx.next);
    const qb = ctx.call('quantizedMatrix', () => ctx.rt.quantizedMatrix(d.spec as never));
    try {
      const r = ctx.call('matmul', () => ctx.rt.matmul(d.a, qb));
      check(`matmul(quantizedMatrix ${String(d.spec.type)})`, r.data, d.want, TOL, TOL);
    } finally {
      ctx.call('quantizedMatrix.dispose', () => qb.dispose());
    }
  },
  invalid(ctx) {
    const d = dataCase(ctx.next);
    const data = d.spec.data as Uint8Array;
    const call = (spec: Record<string, unknown>) => () => ctx.call('quantizedMatrix', () => ctx.rt.quantizedMatrix(spec as never));
    switch (int(ctx.next, 0, 3)) {
      case 0: return { label: 'data one byte short', call: call({ ...d.spec, data: data.subarray(1) }), codes: ['SHAPE_MISMATCH'], mentions: 'data.data' };
      case 1: return { label: 'data an Int32Array', call: call({ ...d.spec, data: new Int32Array(data.length) }), codes: ['DTYPE_MISMATCH'], mentions: 'data.data' };
      case 2: return { label: 'unknown type', call: call({ ...d.spec, type: 'q4_1' }), codes: ['INVALID_OPTION'], mentions: 'data.type' };
      default: return { label: 'shape of rank 3', call: call({ ...d.spec, shape: [1, 2, 32] }), codes: ['SHAPE_MISMATCH'], mentions: 'data.shape' };
    }
  },
  mutant(ctx) {
    const d = dataCase(ctx.next);
    const m = mutateOptions(ctx.next, d.spec);
    return {
      label: m.label,
      call: () => {
        const q = ctx.call('quantizedMatrix', () => ctx.rt.quantizedMatrix(m.options as never));
        ctx.call('quantizedMatrix.dispose', () => q.dispose());
      },
    };
  },
};
