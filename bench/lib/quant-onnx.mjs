// quant-onnx.mjs — the quantized onnxruntime models of the Q-* workloads, built in memory with
// onnx-proto (shared by onnxruntime-web and onnxruntime-node). Weights are initializers (constants,
// as in a model file), so onnxruntime may prepack them at session creation, as our side quantizes
// them once into Wasm memory.
//
//   dqmm        one com.microsoft DynamicQuantizeMatMul: A float, B int8 [K, N], b_scale [N]
//               (what onnxruntime fuses transformers.js's q8 MatMuls into)
//   matInteger  DynamicQuantizeLinear(A) → MatMulInteger(A_q, B, A_zp) → Cast → Mul(A_scale·b_scale):
//               the unfused q8 graph as onnxruntime's quantizer writes it
//   nbits       one com.microsoft MatMulNBits (bits 4, block_size 32, no zero points): q4 models
//   q8Bert      the BERT attention block as transformers.js's q8 graph runs it: three
//               DynamicQuantizeMatMul projections → com.microsoft MultiHeadAttention (packed
//               bias) → DynamicQuantizeMatMul output projection with its bias
//   q8BertParts its two halves apart, for the profile of where the block's time goes: the four
//               DynamicQuantizeMatMul alone (all reading x) and MultiHeadAttention alone

import onnxProto from 'onnx-proto';
import { encode, initializer, intAttr, valueInfo } from './onnx-models.mjs';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const OPSETS = [{ domain: '', version: 21 }, { domain: 'com.microsoft', version: 1 }];

/** Y[M,N] = DynamicQuantizeMatMul(A[M,K], B int8 [K,N], b_scale[N]). */
export function dqmmModel(M, K, N, { codes, scales }) {
  return {
    bytes: encode({
      nodes: [{ opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: ['A', 'B', 'b_scale'], output: ['Y'] }],
      inputs: [valueInfo('A', [M, K])], outputs: [valueInfo('Y', [M, N])], opsets: OPSETS,
      initializers: [initializer('B', [K, N], codes, T.INT8), initializer('b_scale', [N], scales)],
    }),
    input: 'A',
    description: 'one com.microsoft DynamicQuantizeMatMul (int8 B [K, N] and per-column scales as initializers)',
  };
}

/** The unfused q8 MatMul: DynamicQuantizeLinear → MatMulInteger (u8 × s8) → Cast → Mul. */
export function matIntegerModel(M, K, N, { codes, scales }) {
  return {
    bytes: encode({
      nodes: [
        { opType: 'DynamicQuantizeLinear', input: ['A'], output: ['A_q', 'A_scale', 'A_zp'] },
        { opType: 'MatMulInteger', input: ['A_q', 'B', 'A_zp'], output: ['Y_i32'] },
        { opType: 'Cast', input: ['Y_i32'], output: ['Y_f'], attribute: [intAttr('to', T.FLOAT)] },
        { opType: 'Mul', input: ['A_scale', 'b_scale'], output: ['s'] },
        { opType: 'Mul', input: ['Y_f', 's'], output: ['Y'] },
      ],
      inputs: [valueInfo('A', [M, K])], outputs: [valueInfo('Y', [M, N])], opsets: OPSETS,
      initializers: [initializer('B', [K, N], codes, T.INT8), initializer('b_scale', [N], scales)],
    }),
    input: 'A',
    description: 'DynamicQuantizeLinear → MatMulInteger (u8 × s8) → Cast → Mul (graph optimization "basic", so onnxruntime keeps MatMulInteger instead of fusing the chain into DynamicQuantizeMatMul)',
  };
}

/** Y[M,N] = MatMulNBits(A[M,K], B [N, K/32, 16] 4-bit blocks, scales [N·K/32]). */
export function nbitsModel(M, K, N, { blob, scales }, accuracyLevel) {
  return {
    bytes: encode({
      nodes: [{
        opType: 'MatMulNBits', domain: 'com.microsoft', input: ['A', 'B', 'scales'], output: ['Y'],
        attribute: [intAttr('K', K), intAttr('N', N), intAttr('bits', 4), intAttr('block_size', 32), intAttr('accuracy_level', accuracyLevel)],
      }],
      inputs: [valueInfo('A', [M, K])], outputs: [valueInfo('Y', [M, N])], opsets: OPSETS,
      initializers: [initializer('B', [N, K / 32, 16], blob, T.UINT8), initializer('scales', [N * (K / 32)], scales)],
    }),
    input: 'A',
    description: `one com.microsoft MatMulNBits (bits 4, block_size 32, accuracy_level ${accuracyLevel}, no zero points)`,
  };
}

/**
 * The q8 BERT attention block. `q` holds int8 codes and per-column scales of Wq, Wk, Wv, Wo
 * ({ codes [d, d], scales [d] } each); `bqkv` [3d] and `bo` [d] stay float32.
 */
export function q8BertModel({ N, d, H }, q, bqkv, bo) {
  const weights = ['q', 'k', 'v', 'o'].flatMap((p) => [
    initializer(`W${p}`, [d, d], q[`w${p}`].codes, T.INT8),
    initializer(`s${p}`, [d], q[`w${p}`].scales),
  ]);
  return {
    bytes: encode({
      nodes: [
        ...['q', 'k', 'v'].map((p) => ({ opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: ['x', `W${p}`, `s${p}`], output: [p] })),
        { opType: 'MultiHeadAttention', domain: 'com.microsoft', input: ['q', 'k', 'v', 'bqkv'], output: ['a'], attribute: [intAttr('num_heads', H)] },
        { opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: ['a', 'Wo', 'so', '', 'bo'], output: ['y'] },
      ],
      inputs: [valueInfo('x', [1, N, d])], outputs: [valueInfo('y', [1, N, d])], opsets: OPSETS,
      initializers: [...weights, initializer('bqkv', [3 * d], bqkv), initializer('bo', [d], bo)],
    }),
    input: 'x',
    description: '3 × DynamicQuantizeMatMul → com.microsoft MultiHeadAttention (+ packed bias) → DynamicQuantizeMatMul (+ bias); int8 weights with per-column scales',
  };
}

/** The q8 block's parts: `projections` (the four DynamicQuantizeMatMul on x) and `attention` (MultiHeadAttention on q, k, v inputs). */
export function q8BertParts({ N, d, H }, q, bqkv, bo) {
  const weights = ['q', 'k', 'v', 'o'].flatMap((p) => [
    initializer(`W${p}`, [d, d], q[`w${p}`].codes, T.INT8),
    initializer(`s${p}`, [d], q[`w${p}`].scales),
  ]);
  const io = (names) => names.map((n) => valueInfo(n, [1, N, d]));
  return {
    projections: {
      bytes: encode({
        nodes: [
          ...['q', 'k', 'v'].map((p) => ({ opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: ['x', `W${p}`, `s${p}`], output: [p] })),
          { opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: ['x', 'Wo', 'so', '', 'bo'], output: ['y'] },
        ],
        inputs: io(['x']), outputs: io(['q', 'k', 'v', 'y']), opsets: OPSETS,
        initializers: [...weights, initializer('bo', [d], bo)],
      }),
      inputs: ['x'],
    },
    attention: {
      bytes: encode({
        nodes: [{ opType: 'MultiHeadAttention', domain: 'com.microsoft', input: ['q', 'k', 'v', 'bqkv'], output: ['a'], attribute: [intAttr('num_heads', H)] }],
        inputs: io(['q', 'k', 'v']), outputs: io(['a']), opsets: OPSETS,
        initializers: [initializer('bqkv', [3 * d], bqkv)],
      }),
      inputs: ['q', 'k', 'v'],
    },
  };
}
