// Bad input: every public entry point throws AttentionError with the right `code` and a message
// that names the argument and the expected / actual value or shape — and the runtime survives:
// after every error it still computes a correct attention (checked against the float64
// reference) and its arena holds exactly the blocks it held before (no leak).
//
// Leak checks reach into internals: helpers/numeric.ts arenaStats reads
// (rt as any).kernels.arena.blockCount / allocatedBytes, since the public API has no allocation
// counter. rt.memoryBytes (public) must not grow either.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionError, type AttentionErrorCode, createRuntimeSync, type Runtime, type Tensor, type WasmTensor,
} from '../src/index';
import { arenaStats, attentionParts, ISAS, mismatch, rng, uniformF32 } from './helpers/numeric';
import { referenceAttention } from './reference/attention';

/** Runs fn, which must throw an AttentionError with this code and every fragment in its message. */
function expectError(fn: () => unknown, code: AttentionErrorCode, fragments: Array<string | RegExp>): AttentionError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a throw').toBeDefined();
  expect(thrown, String(thrown)).toBeInstanceOf(AttentionError);
  const err = thrown as AttentionError;
  expect(err.name).toBe('AttentionError');
  expect(err.code, err.message).toBe(code);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
  return err;
}

const f32 = (shape: number[], seed = 1): Tensor => ({ data: uniformF32(shape.reduce((p, d) => p * d, 1), rng(seed)), shape });

// A valid call: q [2, 4, 5, 8], k [2, 2, 7, 8], v [2, 2, 7, 3] (GQA, group 2); output [2, 4, 5, 3].
const Q = f32([2, 4, 5, 8], 1);
const K = f32([2, 2, 7, 8], 2);
const V = f32([2, 2, 7, 3], 3);

/** A correct attention after an error: several options, checked against the float64 reference. */
function expectHealthy(rt: Runtime): void {
  const mask = { data: new Uint8Array([1, 1, 0, 1, 1, 1, 0]), shape: [7] };
  const opts = { causal: true as const, keyLengths: [6, 7], mask, softcap: 5, window: { left: 4 } };
  const got = rt.attention(Q, K, V, { ...opts, returnWeights: true });
  const want = referenceAttention(Q, K, V, { ...opts, returnWeights: true });
  expect(mismatch(got.output.data, want.output, 2e-5, 2e-5)).toBeUndefined();
  expect(mismatch(got.weights.data, want.weights!, 2e-5, 2e-5)).toBeUndefined();
}

interface ErrorCase {
  name: string;
  call: (rt: Runtime, fx: Fixtures) => unknown;
  code: AttentionErrorCode;
  fragments: Array<string | RegExp>;
  /** an upper bound on the message length (values in messages are cut) */
  maxLength?: number;
}

interface Fixtures {
  /** a WasmTensor [2, 4, 5, 8] of another runtime */
  foreign: WasmTensor;
  /** a disposed WasmTensor [2, 2, 7, 8] of this runtime */
  disposed: WasmTensor;
  /** a live WasmTensor of the wrong output shape [2, 4, 5, 4] */
  wrongOut: WasmTensor;
}

const attn = (over: { q?: unknown; k?: unknown; v?: unknown }, options?: unknown) =>
  (rt: Runtime) => rt.attention(('q' in over ? over.q : Q) as Tensor, ('k' in over ? over.k : K) as Tensor, ('v' in over ? over.v : V) as Tensor, options as never);

const onnx4 = { Q: f32([2, 4, 5, 8]), K: f32([2, 2, 7, 8]), V: f32([2, 2, 7, 3]) };
const onnx3 = { Q: f32([2, 5, 32]), K: f32([2, 7, 16]), V: f32([2, 7, 6]) }; // 4 q heads, 2 kv heads, head 8, value 3

const CASES: ErrorCase[] = [
  // ── rt.attention: ranks, shapes, dtypes ──
  { name: 'q of rank 3', call: attn({ q: f32([2, 4, 40]) }), code: 'SHAPE_MISMATCH', fragments: ['q must be 4-D', '[batch, heads, nq, headDim]', 'got [2, 4, 40]'] },
  { name: 'k of rank 5', call: attn({ k: f32([1, 2, 2, 7, 8]) }), code: 'SHAPE_MISMATCH', fragments: ['k must be 4-D', 'got [1, 2, 2, 7, 8]'] },
  { name: 'v of rank 2', call: attn({ v: f32([14, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['v must be 4-D', 'got [14, 3]'] },
  { name: 'k batch ≠ q batch', call: attn({ k: f32([1, 2, 7, 8]) }), code: 'SHAPE_MISMATCH', fragments: ['batch', 'q [2, 4, 5, 8]', 'k [1, 2, 7, 8]'] },
  { name: 'v batch ≠ q batch', call: attn({ v: f32([3, 2, 7, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['batch', 'v [3, 2, 7, 3]'] },
  { name: 'k head size ≠ q head size', call: attn({ k: f32([2, 2, 7, 6]) }), code: 'SHAPE_MISMATCH', fragments: ["k's head size", '(8)', '[2, 2, 7, 6]'] },
  { name: 'v heads ≠ k heads', call: attn({ v: f32([2, 1, 7, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['v must have', '[2, 2, 7, valueDim]', 'got [2, 1, 7, 3]'] },
  { name: 'v length ≠ k length', call: attn({ v: f32([2, 2, 6, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['[2, 2, 7, valueDim]', 'got [2, 2, 6, 3]'] },
  { name: 'kv heads that do not divide q heads', call: attn({ q: f32([2, 3, 5, 8]) }), code: 'SHAPE_MISMATCH', fragments: ['k/v heads (2)', 'q heads (3)'] },
  { name: 'zero kv heads', call: attn({ k: f32([2, 0, 7, 8]), v: f32([2, 0, 7, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['k/v heads (0)'] },
  { name: 'Float64Array q', call: attn({ q: { data: new Float64Array(320), shape: [2, 4, 5, 8] } }), code: 'DTYPE_MISMATCH', fragments: ['q.data', 'Float32Array', 'Float64Array'] },
  { name: 'Int32Array k', call: attn({ k: { data: new Int32Array(224), shape: [2, 2, 7, 8] } }), code: 'DTYPE_MISMATCH', fragments: ['k.data', 'Float32Array', 'Int32Array'] },
  { name: 'plain number[] v', call: attn({ v: { data: new Array(42).fill(0), shape: [2, 2, 7, 3] } }), code: 'DTYPE_MISMATCH', fragments: ['v.data', 'Float32Array', 'Array'] },
  { name: 'q data length ≠ shape product', call: attn({ q: { data: new Float32Array(319), shape: [2, 4, 5, 8] } }), code: 'SHAPE_MISMATCH', fragments: ['q.data has 319 elements', '[2, 4, 5, 8]', 'needs 320'] },
  { name: 'v data length ≠ shape product', call: attn({ v: { data: new Float32Array(43), shape: [2, 2, 7, 3] } }), code: 'SHAPE_MISMATCH', fragments: ['v.data has 43 elements', '[2, 2, 7, 3]', 'needs 84'] },
  { name: 'negative dimension', call: attn({ q: { data: new Float32Array(0), shape: [2, -4, 5, 8] } }), code: 'SHAPE_MISMATCH', fragments: ['q.shape', 'non-negative integers', '[2, -4, 5, 8]'] },
  { name: 'missing q', call: attn({ q: null }), code: 'INVALID_ARGUMENT', fragments: ['q must be a tensor'] },
  { name: 'k without shape', call: attn({ k: { data: new Float32Array(224) } }), code: 'INVALID_ARGUMENT', fragments: ['k.shape'] },
  { name: 'options not an object', call: attn({}, 5), code: 'INVALID_OPTION', fragments: ['options must be an object', '5'] },
  // ── rt.attention: numeric options ──
  { name: 'NaN scale', call: attn({}, { scale: Number.NaN }), code: 'INVALID_OPTION', fragments: ['options.scale', 'finite', 'NaN'] },
  { name: 'Infinity scale', call: attn({}, { scale: Infinity }), code: 'INVALID_OPTION', fragments: ['options.scale', 'Infinity'] },
  { name: '−Infinity scale', call: attn({}, { scale: -Infinity }), code: 'INVALID_OPTION', fragments: ['options.scale', '-Infinity'] },
  { name: 'string scale', call: attn({}, { scale: '0.5' }), code: 'INVALID_OPTION', fragments: ['options.scale', '0.5'] },
  { name: 'negative softcap', call: attn({}, { softcap: -1 }), code: 'INVALID_OPTION', fragments: ['options.softcap', '≥ 0', '-1'] },
  { name: 'NaN softcap', call: attn({}, { softcap: Number.NaN }), code: 'INVALID_OPTION', fragments: ['options.softcap', 'NaN'] },
  { name: 'Infinity softcap', call: attn({}, { softcap: Infinity }), code: 'INVALID_OPTION', fragments: ['options.softcap', 'Infinity'] },
  { name: 'window.left negative', call: attn({}, { window: { left: -1 } }), code: 'INVALID_OPTION', fragments: ['options.window.left', 'integer ≥ 0', '-1'] },
  { name: 'window.right negative', call: attn({}, { window: { right: -3 } }), code: 'INVALID_OPTION', fragments: ['options.window.right', '-3'] },
  { name: 'window.left fractional', call: attn({}, { window: { left: 2.5 } }), code: 'INVALID_OPTION', fragments: ['options.window.left', '2.5'] },
  { name: 'window.right NaN', call: attn({}, { window: { right: Number.NaN } }), code: 'INVALID_OPTION', fragments: ['options.window.right', 'NaN'] },
  { name: 'window not an object', call: attn({}, { window: 3 }), code: 'INVALID_OPTION', fragments: ['options.window must be an object', 'left, right', '3'] },
  { name: "causal 'bottom'", call: attn({}, { causal: 'bottom' }), code: 'INVALID_OPTION', fragments: ['options.causal', "'top-left'", '"bottom"'] },
  { name: 'causal 1', call: attn({}, { causal: 1 }), code: 'INVALID_OPTION', fragments: ['options.causal', 'got 1'] },
  // ── rt.attention: mask ──
  { name: 'mask heads 3 vs 4', call: attn({}, { mask: { data: new Uint8Array(105), shape: [3, 5, 7] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', '[3, 5, 7]', 'does not broadcast', '[2, 4, 5, 7]'] },
  { name: 'mask batch 3 vs 2', call: attn({}, { mask: { data: new Float32Array(105), shape: [3, 1, 5, 7] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', '[3, 1, 5, 7]', '[2, 4, 5, 7]'] },
  { name: 'mask rows 4 vs 5', call: attn({}, { mask: { data: new Uint8Array(28), shape: [4, 7] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', '[4, 7]', '[2, 4, 5, 7]'] },
  { name: 'mask keys 6 vs 7', call: attn({}, { mask: { data: new Uint8Array(30), shape: [5, 6] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', '[5, 6]', 'last dimension', '7 or 1', 'got 6'] },
  { name: 'mask keys 8 vs 7', call: attn({}, { mask: { data: new Uint8Array(8), shape: [8] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', '[8]', '7 or 1', 'got 8'] },
  { name: 'mask of rank 5', call: attn({}, { mask: { data: new Uint8Array(7), shape: [1, 1, 1, 1, 7] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', 'rank 1 to 4', '[1, 1, 1, 1, 7]'] },
  { name: 'mask of rank 0', call: attn({}, { mask: { data: new Uint8Array(1), shape: [] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask', 'rank 1 to 4', 'got []'] },
  { name: 'Int32Array mask', call: attn({}, { mask: { data: new Int32Array(7), shape: [7] } }), code: 'DTYPE_MISMATCH', fragments: ['options.mask.data', 'Uint8Array', 'Int32Array'] },
  { name: 'mask data length ≠ shape product', call: attn({}, { mask: { data: new Uint8Array(6), shape: [7] } }), code: 'SHAPE_MISMATCH', fragments: ['options.mask.data has 6 elements', '[7]'] },
  // ── rt.attention: keyLengths ──
  { name: 'keyLengths of length 1 for batch 2', call: attn({}, { keyLengths: [7] }), code: 'SHAPE_MISMATCH', fragments: ['options.keyLengths', '(2)', 'got 1'] },
  { name: 'keyLengths of length 3 for batch 2', call: attn({}, { keyLengths: new Int32Array([7, 7, 7]) }), code: 'SHAPE_MISMATCH', fragments: ['options.keyLengths', 'got 3'] },
  { name: 'keyLengths above nk', call: attn({}, { keyLengths: [8, 7] }), code: 'INVALID_OPTION', fragments: ['options.keyLengths', '[0, 7]', 'got 8'] },
  { name: 'keyLengths negative', call: attn({}, { keyLengths: [7, -1] }), code: 'INVALID_OPTION', fragments: ['options.keyLengths', '[0, 7]', 'got -1'] },
  { name: 'keyLengths fractional', call: attn({}, { keyLengths: [2.5, 7] }), code: 'INVALID_OPTION', fragments: ['options.keyLengths', 'integers', 'got 2.5'] },
  { name: 'keyLengths not an array', call: attn({}, { keyLengths: 7 }), code: 'INVALID_OPTION', fragments: ['options.keyLengths', 'array of 2 lengths', 'got 7'] },
  // ── rt.attention: out and WasmTensors ──
  { name: 'out of the wrong shape', call: attn({}, { out: f32([2, 4, 5, 4]) }), code: 'SHAPE_MISMATCH', fragments: ['options.out', 'output shape [2, 4, 5, 3]', 'got [2, 4, 5, 4]'] },
  { name: 'out of the wrong rank', call: attn({}, { out: f32([40, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['options.out', '[2, 4, 5, 3]', 'got [40, 3]'] },
  { name: 'WasmTensor out of the wrong shape', call: (rt, fx) => rt.attention(Q, K, V, { out: fx.wrongOut }), code: 'SHAPE_MISMATCH', fragments: ['options.out', '[2, 4, 5, 3]', 'got [2, 4, 5, 4]'] },
  { name: 'Float64Array out', call: attn({}, { out: { data: new Float64Array(120), shape: [2, 4, 5, 3] } }), code: 'DTYPE_MISMATCH', fragments: ['options.out.data', 'Float64Array'] },
  { name: 'q from another runtime', call: (rt, fx) => rt.attention(fx.foreign, K, V), code: 'INVALID_ARGUMENT', fragments: ['q', 'another runtime'] },
  { name: 'disposed k', call: (rt, fx) => rt.attention(Q, fx.disposed, V), code: 'DISPOSED', fragments: ['k', 'disposed'] },
  // ── rt.matmul ──
  { name: 'matmul: a of rank 1', call: (rt) => rt.matmul(f32([4]), f32([4, 2])), code: 'SHAPE_MISMATCH', fragments: ['a must be', 'got [4]'] },
  { name: 'matmul: inner dimensions differ', call: (rt) => rt.matmul(f32([3, 4]), f32([5, 2])), code: 'SHAPE_MISMATCH', fragments: ['b must be [4, N]', 'a [3, 4]', 'got [5, 2]'] },
  { name: 'matmul: transposeB inner dimensions differ', call: (rt) => rt.matmul(f32([3, 4]), f32([2, 5]), { transposeB: true }), code: 'SHAPE_MISMATCH', fragments: ['b must be [N, 4]', 'got [2, 5]'] },
  { name: 'matmul: batch of b ≠ batch of a', call: (rt) => rt.matmul(f32([2, 3, 4]), f32([3, 4, 2])), code: 'SHAPE_MISMATCH', fragments: ["b's batch (3)", "a's (2)"] },
  { name: 'matmul: bias of the wrong size', call: (rt) => rt.matmul(f32([3, 4]), f32([4, 2]), { bias: f32([3]) }), code: 'SHAPE_MISMATCH', fragments: ['options.bias', '[2]', 'got [3]'] },
  { name: 'matmul: out of the wrong shape', call: (rt) => rt.matmul(f32([3, 4]), f32([4, 2]), { out: f32([2, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['options.out', '[3, 2]', 'got [2, 3]'] },
  { name: 'softmax: Float64Array', call: (rt) => rt.softmax({ data: new Float64Array(4), shape: [4] } as never), code: 'DTYPE_MISMATCH', fragments: ['x.data', 'Float64Array'] },
  // ── rt.onnxAttention ──
  { name: 'onnx: 3-D without q_num_heads', call: (rt) => rt.onnxAttention(onnx3, { kv_num_heads: 2 }), code: 'INVALID_OPTION', fragments: ['q_num_heads', 'kv_num_heads', '3-D'] },
  { name: 'onnx: 3-D without any heads', call: (rt) => rt.onnxAttention(onnx3), code: 'INVALID_OPTION', fragments: ['q_num_heads', '3-D'] },
  { name: 'onnx: unknown attribute', call: (rt) => rt.onnxAttention(onnx4, { is_casual: 1 } as never), code: 'INVALID_OPTION', fragments: ['attributes.is_casual is not an attribute of rt.onnxAttention', "did you mean 'is_causal'"] },
  { name: 'onnx: is_causal = 2', call: (rt) => rt.onnxAttention(onnx4, { is_causal: 2 }), code: 'INVALID_OPTION', fragments: ['attributes.is_causal', '0 or 1', 'got 2'] },
  { name: 'onnx: qk_matmul_output_mode = 4', call: (rt) => rt.onnxAttention(onnx4, { qk_matmul_output_mode: 4 }), code: 'INVALID_OPTION', fragments: ['attributes.qk_matmul_output_mode', '0, 1, 2 or 3', 'got 4'] },
  { name: 'onnx: softmax_precision = 2', call: (rt) => rt.onnxAttention(onnx4, { softmax_precision: 2 }), code: 'INVALID_OPTION', fragments: ['attributes.softmax_precision', 'got 2'] },
  { name: 'onnx: negative softcap', call: (rt) => rt.onnxAttention(onnx4, { softcap: -0.5 }), code: 'INVALID_OPTION', fragments: ['attributes.softcap', '-0.5'] },
  { name: 'onnx: NaN scale', call: (rt) => rt.onnxAttention(onnx4, { scale: Number.NaN }), code: 'INVALID_OPTION', fragments: ['attributes.scale', 'NaN'] },
  { name: 'onnx: left_window_size = −2', call: (rt) => rt.onnxAttention(onnx4, { left_window_size: -2 }), code: 'INVALID_OPTION', fragments: ['attributes.left_window_size', '-2'] },
  { name: 'onnx: Q hidden size not divisible by q_num_heads', call: (rt) => rt.onnxAttention({ ...onnx3, Q: f32([2, 5, 30]) }, { q_num_heads: 4, kv_num_heads: 2 }), code: 'SHAPE_MISMATCH', fragments: ['inputs.Q hidden size 30', '[2, 5, 30]', 'q_num_heads = 4'] },
  { name: 'onnx: K hidden size not divisible by kv_num_heads', call: (rt) => rt.onnxAttention({ ...onnx3, K: f32([2, 7, 15]) }, { q_num_heads: 4, kv_num_heads: 2 }), code: 'SHAPE_MISMATCH', fragments: ['inputs.K hidden size 15', '[2, 7, 15]', 'kv_num_heads = 2'] },
  { name: 'onnx: kv_num_heads not dividing q_num_heads', call: (rt) => rt.onnxAttention({ Q: f32([2, 5, 24]), K: f32([2, 7, 16]), V: f32([2, 7, 6]) }, { q_num_heads: 3, kv_num_heads: 2 }), code: 'SHAPE_MISMATCH', fragments: ['q_num_heads (3)', 'kv_num_heads (2)'] },
  { name: 'onnx: mixed ranks', call: (rt) => rt.onnxAttention({ ...onnx4, K: f32([2, 7, 16]) }), code: 'SHAPE_MISMATCH', fragments: ['3-D or all 4-D', 'K [2, 7, 16]'] },
  { name: 'onnx: 4-D q_num_heads contradicting the shape', call: (rt) => rt.onnxAttention(onnx4, { q_num_heads: 2 }), code: 'INVALID_OPTION', fragments: ['attributes.q_num_heads = 2', '(4)'] },
  { name: 'onnx: past_key without past_value', call: (rt) => rt.onnxAttention({ ...onnx4, past_key: f32([2, 2, 3, 8]) }), code: 'INVALID_ARGUMENT', fragments: ['inputs.past_key', 'inputs.past_value', 'together'] },
  { name: 'onnx: past_value without past_key', call: (rt) => rt.onnxAttention({ ...onnx4, past_value: f32([2, 2, 3, 3]) }), code: 'INVALID_ARGUMENT', fragments: ['inputs.past_key', 'inputs.past_value'] },
  { name: 'onnx: past_key of the wrong head size', call: (rt) => rt.onnxAttention({ ...onnx4, past_key: f32([2, 2, 3, 6]), past_value: f32([2, 2, 3, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['inputs.past_key', '[2, 2, 3, 8]', 'got [2, 2, 3, 6]'] },
  { name: 'onnx: past_value of the wrong length', call: (rt) => rt.onnxAttention({ ...onnx4, past_key: f32([2, 2, 3, 8]), past_value: f32([2, 2, 4, 3]) }), code: 'SHAPE_MISMATCH', fragments: ['inputs.past_value', '[2, 2, 3, 3]', 'got [2, 2, 4, 3]'] },
  { name: 'onnx: nonpad_kv_seqlen above the total length', call: (rt) => rt.onnxAttention({ ...onnx4, nonpad_kv_seqlen: { data: new BigInt64Array([8n, 3n]), shape: [2] } }), code: 'INVALID_OPTION', fragments: ['inputs.nonpad_kv_seqlen', '[0, 7]', 'got 8'] },
  { name: 'onnx: nonpad_kv_seqlen negative', call: (rt) => rt.onnxAttention({ ...onnx4, nonpad_kv_seqlen: { data: new Int32Array([3, -1]), shape: [2] } }), code: 'INVALID_OPTION', fragments: ['inputs.nonpad_kv_seqlen', 'got -1'] },
  { name: 'onnx: nonpad_kv_seqlen above past + new', call: (rt) => rt.onnxAttention({ ...onnx4, past_key: f32([2, 2, 3, 8]), past_value: f32([2, 2, 3, 3]), nonpad_kv_seqlen: { data: [11, 3], shape: [2] } }), code: 'INVALID_OPTION', fragments: ['inputs.nonpad_kv_seqlen', '[0, 10]', 'got 11'] },
  { name: 'onnx: nonpad_kv_seqlen of the wrong shape', call: (rt) => rt.onnxAttention({ ...onnx4, nonpad_kv_seqlen: { data: new BigInt64Array([3n, 3n, 3n]), shape: [3] } }), code: 'SHAPE_MISMATCH', fragments: ['inputs.nonpad_kv_seqlen', 'shape [2]', 'got [3]'] },
  { name: 'onnx: attn_mask last dim longer than the total keys', call: (rt) => rt.onnxAttention({ ...onnx4, attn_mask: { data: new Uint8Array(45), shape: [5, 9] } }), code: 'SHAPE_MISMATCH', fragments: ['inputs.attn_mask', '[5, 9]', 'between 1 and 7', 'got 9'] },
  { name: 'onnx: attn_mask longer than past + new', call: (rt) => rt.onnxAttention({ ...onnx4, past_key: f32([2, 2, 3, 8]), past_value: f32([2, 2, 3, 3]), attn_mask: { data: new Float32Array(55), shape: [5, 11] } }), code: 'SHAPE_MISMATCH', fragments: ['inputs.attn_mask', 'between 1 and 10', 'got 11'] },
  { name: 'onnx: attn_mask rows that do not broadcast', call: (rt) => rt.onnxAttention({ ...onnx4, attn_mask: { data: new Uint8Array(21), shape: [3, 7] } }), code: 'SHAPE_MISMATCH', fragments: ['inputs.attn_mask', '[3, 7]', 'does not broadcast'] },
  { name: 'onnx: Float64Array Q', call: (rt) => rt.onnxAttention({ ...onnx4, Q: { data: new Float64Array(320), shape: [2, 4, 5, 8] } as never }), code: 'DTYPE_MISMATCH', fragments: ['inputs.Q.data', 'Float64Array'] },
  { name: 'onnx: inputs not an object', call: (rt) => rt.onnxAttention(null as never), code: 'INVALID_ARGUMENT', fragments: ['inputs must be an object'] },
  { name: 'onnx: foreign WasmTensor V', call: (rt, fx) => rt.onnxAttention({ ...onnx4, V: fx.foreign }), code: 'INVALID_ARGUMENT', fragments: ['inputs.V', 'another runtime'] },
  // ── rt.tensor ──
  { name: 'tensor: values of the wrong length', call: (rt) => rt.tensor([2, 3], new Float32Array(5)), code: 'SHAPE_MISMATCH', fragments: ['values has 5 elements', '[2, 3]', '6'] },
  // The data passed where the shape belongs: the message names the type and length, not 4,096 numbers.
  { name: 'tensor: a typed array as the shape', call: (rt) => rt.tensor(new Float32Array(4096) as unknown as number[]), code: 'SHAPE_MISMATCH', fragments: ['shape', 'Float32Array(4096)'], maxLength: 200 },
  { name: 'tensor: a huge array as the shape', call: (rt) => rt.tensor(Array.from({ length: 5000 }, () => 0.5)), code: 'SHAPE_MISMATCH', fragments: ['shape', '[0.5,0.5', 'characters)'], maxLength: 300 },
  { name: 'tensor: fractional dimension', call: (rt) => rt.tensor([2, 1.5]), code: 'SHAPE_MISMATCH', fragments: ['shape', '[2,1.5]'] },
];

describe.each(ISAS)('errors (%s)', (isa) => {
  const rt = createRuntimeSync({ isa });
  const other = createRuntimeSync({ isa });
  const fx: Fixtures = {
    foreign: other.tensor([2, 4, 5, 8], Q.data),
    disposed: rt.tensor([2, 2, 7, 8], K.data),
    wrongOut: rt.tensor([2, 4, 5, 4]),
  };
  fx.disposed.dispose();
  afterAll(() => {
    rt.dispose();
    other.dispose();
  });

  // warm up: the kernel workspace is reserved once and kept, so count blocks after a first call
  beforeAll(() => expectHealthy(rt));

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const before = arenaStats(rt);
    const error = expectError(() => c.call(rt, fx), c.code, c.fragments);
    if (c.maxLength !== undefined) expect(error.message.length, 'message length').toBeLessThanOrEqual(c.maxLength);
    // A rejected call leaves the arena as it found it (a workspace it grew is given back): the
    // block count never changes, and repeating the failure changes nothing at all.
    const after = arenaStats(rt);
    expect(after.blocks, 'arena blocks after the error').toBe(before.blocks);
    const memory = rt.memoryBytes;
    for (let i = 0; i < 3; i++) expectError(() => c.call(rt, fx), c.code, c.fragments);
    expect(arenaStats(rt), 'arena after repeating the error').toEqual(after);
    expect(rt.memoryBytes).toBe(memory);
    expectHealthy(rt);
    expect(arenaStats(rt), 'arena after a good call').toEqual(after);
  });

  it('1000 failing calls leak nothing and leave the runtime correct', () => {
    for (const c of CASES) expectError(() => c.call(rt, fx), c.code, c.fragments); // warm-up pass
    expectHealthy(rt);
    const before = arenaStats(rt);
    const memory = rt.memoryBytes;
    for (let i = 0; i < 1000; i++) {
      const c = CASES[i % CASES.length];
      expect(() => c.call(rt, fx)).toThrow(AttentionError);
    }
    expect(arenaStats(rt)).toEqual(before);
    expect(rt.memoryBytes).toBe(memory);
    expectHealthy(rt);
    expect(arenaStats(rt)).toEqual(before);
  });

  it('failing calls inside the allocation scope (mask errors after q, k, v are placed) release their blocks', () => {
    // Large q/k/v so that a leak of the placed copies would show in bytes; the mask error is
    // raised only after the inputs were copied into Wasm memory.
    const q = f32([2, 4, 64, 32]);
    const k = f32([2, 2, 65, 32]);
    const v = f32([2, 2, 65, 16]);
    rt.attention(q, k, v); // reserve the workspace for these sizes
    const before = arenaStats(rt);
    for (let i = 0; i < 200; i++) {
      expectError(() => rt.attention(q, k, v, { mask: { data: new Int32Array(65), shape: [65] } as never }), 'DTYPE_MISMATCH', ['options.mask']);
      expectError(() => rt.attention(q, k, v, { mask: { data: new Uint8Array(64), shape: [64] } }), 'SHAPE_MISMATCH', ['options.mask', '65 or 1']);
    }
    expect(arenaStats(rt)).toEqual(before);
    expectHealthy(rt);
  });

  it('a negative scale is accepted (any finite multiplier) and matches the reference', () => {
    // Documented behaviour: options.scale must be finite; its sign is not restricted (ONNX's
    // `scale` attribute is any float). A negative scale flips which keys attend most.
    const got = rt.attention(Q, K, V, { scale: -0.7, causal: 'top-left' }) as Tensor;
    const want = referenceAttention(Q, K, V, { scale: -0.7, causal: 'top-left' });
    expect(mismatch(got.data, want.output, 2e-5, 2e-5)).toBeUndefined();
  });
});

describe('disposed runtime and tensors', () => {
  it('every method of a disposed runtime throws DISPOSED; its tensors too; dispose is idempotent', () => {
    const rt = createRuntimeSync();
    const t = rt.tensor([2, 2], [1, 2, 3, 4]);
    rt.dispose();
    rt.dispose();
    expectError(() => rt.attention(Q, K, V), 'DISPOSED', ['Runtime', 'disposed']);
    expectError(() => rt.onnxAttention(onnx4), 'DISPOSED', ['disposed']);
    expectError(() => rt.matmul(f32([2, 2]), f32([2, 2])), 'DISPOSED', ['disposed']);
    expectError(() => rt.softmax(f32([4])), 'DISPOSED', ['disposed']);
    expectError(() => rt.tensor([1]), 'DISPOSED', ['disposed']);
    expectError(() => rt.memoryBytes, 'DISPOSED', ['disposed']);
    expectError(() => rt.isa, 'DISPOSED', ['disposed']);
    expect(t.isDisposed).toBe(true);
    expectError(() => t.data, 'DISPOSED', ['disposed']);
    expectError(() => t.toArray(), 'DISPOSED', ['disposed']);
  });

  it('a disposed WasmTensor is rejected as input, mask and out, and the runtime stays correct', () => {
    const rt = createRuntimeSync();
    expectHealthy(rt);
    const before = arenaStats(rt);
    const q = rt.tensor([2, 4, 5, 8], Q.data);
    const out = rt.tensor([2, 4, 5, 3]);
    const mask = rt.tensor([7], new Float32Array(7));
    q.dispose();
    out.dispose();
    mask.dispose();
    q.dispose(); // idempotent
    expectError(() => rt.attention(q, K, V), 'DISPOSED', ['q is a disposed WasmTensor']);
    expectError(() => rt.attention(Q, K, V, { out }), 'DISPOSED', ['options.out is a disposed WasmTensor']);
    expectError(() => rt.attention(Q, K, V, { mask }), 'DISPOSED', ['options.mask is a disposed WasmTensor']);
    expectError(() => rt.matmul(q, f32([8, 2])), 'DISPOSED', ['a is a disposed WasmTensor']);
    expectError(() => rt.softmax(q), 'DISPOSED', ['x is a disposed WasmTensor']);
    expectError(() => q.data, 'DISPOSED', ['disposed']);
    expect(arenaStats(rt)).toEqual(before);
    expectHealthy(rt);
    rt.dispose();
  });
});

describe('maxMemoryBytes', () => {
  it('rejects a bad limit', () => {
    expectError(() => createRuntimeSync({ maxMemoryBytes: 0 }), 'INVALID_OPTION', ['options.maxMemoryBytes', 'got 0']);
    expectError(() => createRuntimeSync({ maxMemoryBytes: Number.NaN }), 'INVALID_OPTION', ['options.maxMemoryBytes', 'NaN']);
  });

  it.each(ISAS)('a 2 MiB runtime throws OUT_OF_MEMORY for too-large calls, stays usable, keeps tensors intact (%s)', (isa) => {
    const limit = 2 * 1024 * 1024;
    const values = uniformF32(32, rng(5));
    let succeeded = 0;
    let failed = 0;
    for (const nk of [1536, 1792, 1920, 2048, 16384]) {
      for (const returnWeights of [false, true]) {
        const rt = createRuntimeSync({ isa, maxMemoryBytes: limit });
        const keep = rt.tensor([1, 1, 4, 8], values);
        expectHealthy(rt);
        const before = arenaStats(rt);
        const q = f32([1, 2, 16, 64], nk);
        const k = f32([1, 1, nk, 64], nk + 1);
        const v = f32([1, 1, nk, 64], nk + 2);
        try {
          const r = attentionParts(rt.attention(q, k, v, { returnWeights, causal: true }));
          const want = referenceAttention(q, k, v, { causal: true, returnWeights: true });
          expect(mismatch(r.output.data, want.output, 2e-5, 2e-5)).toBeUndefined();
          expect(r.weights !== undefined).toBe(returnWeights);
          if (r.weights) expect(mismatch(r.weights.data, want.weights!, 2e-5, 2e-5)).toBeUndefined();
          succeeded++;
        } catch (e) {
          expect(e).toBeInstanceOf(AttentionError);
          expect((e as AttentionError).code, (e as Error).message).toBe('OUT_OF_MEMORY');
          expect((e as Error).message).toContain(String(limit));
          failed++;
          // Whether it failed up front or after growing the workspace and placing inputs, a
          // rejected call leaves the arena exactly as it found it.
          expect(arenaStats(rt), `nk ${nk}: arena after the failed call`).toEqual(before);
        }
        expect(rt.memoryBytes).toBeLessThanOrEqual(limit);
        expect(arenaStats(rt).blocks, `nk ${nk}: blocks after the call`).toBe(before.blocks);
        expect(Array.from(keep.data), 'the existing WasmTensor is intact').toEqual(Array.from(values));
        expectHealthy(rt);
        const got = rt.attention(keep, keep, keep, { causal: true }) as Tensor; // and still usable as input
        const t = { data: values, shape: [1, 1, 4, 8] };
        expect(mismatch(got.data, referenceAttention(t, t, t, { causal: true }).output, 2e-5, 2e-5)).toBeUndefined();
        rt.dispose();
      }
    }
    expect(succeeded, 'some calls fit').toBeGreaterThan(0);
    expect(failed, 'some calls do not fit').toBeGreaterThan(0);
  });

  it.each(ISAS)('OUT_OF_MEMORY from matmul, tensor and onnxAttention in a 2 MiB runtime (%s)', (isa) => {
    const rt = createRuntimeSync({ isa, maxMemoryBytes: 2 * 1024 * 1024 });
    const keep = rt.tensor([1, 1, 4, 8], uniformF32(32, rng(6)));
    const kept = keep.toArray();
    expectHealthy(rt);
    const before = arenaStats(rt);
    const big = { Q: f32([1, 1, 4, 64]), K: f32([1, 1, 16384, 64]), V: f32([1, 1, 16384, 64]) };
    expectError(() => rt.matmul(f32([600, 600]), f32([600, 600])), 'OUT_OF_MEMORY', ['2097152']);
    expectError(() => rt.tensor([1024, 1024]), 'OUT_OF_MEMORY', ['2097152']);
    expectError(() => rt.onnxAttention(big), 'OUT_OF_MEMORY', ['2097152']);
    expectError(() => rt.softmax(f32([1024, 1024])), 'OUT_OF_MEMORY', ['2097152']);
    expect(arenaStats(rt).blocks).toBe(before.blocks);
    expect(Array.from(keep.data)).toEqual(Array.from(kept));
    expectHealthy(rt);
    rt.dispose();
  });
});
