// onnx-models.mjs — the comparison models, built in memory with onnx-proto. Shared by
// onnxruntime-web and onnxruntime-node so both run exactly the same graphs.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT = onnx.AttributeProto.AttributeType.INT;

/** A graph input or output: a float tensor of fixed shape (or `elemType`). */
export const valueInfo = (name, shape, elemType = FLOAT) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
});
/** An integer attribute. */
export const intAttr = (name, i) => ({ name, type: INT, i });
/** A constant tensor (float32 unless `dataType` says otherwise) from a typed array. */
export const initializer = (name, dims, data, dataType = FLOAT) => ({
  name, dims, dataType, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
});

/** The serialized ModelProto of one graph. */
export function encode({ nodes, inputs, outputs, initializers = [], opsets = [{ domain: '', version: 23 }] }) {
  const model = {
    irVersion: 10,
    producerName: 'wasm-attention bench',
    opsetImport: opsets,
    graph: { name: 'bench', node: nodes, input: inputs, output: outputs, initializer: initializers },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Y[M,N] = MatMul(A[M,K], B[K,N]); both are graph inputs (a plain GEMM, no constant to prepack). */
export function matmulModel(M, K, N) {
  return {
    bytes: encode({
      nodes: [{ opType: 'MatMul', input: ['A', 'B'], output: ['Y'] }],
      inputs: [valueInfo('A', [M, K]), valueInfo('B', [K, N])],
      outputs: [valueInfo('Y', [M, N])],
    }),
    shapes: { A: [M, K], B: [K, N] },
    description: 'one MatMul node, A and B as graph inputs',
  };
}

/** Y = Attention(Q, K, V), ONNX opset 23, 4-D [1, H, S, D]; is_causal=1 when causal. */
export function attentionModel(H, Nq, Nk, D, causal) {
  return {
    bytes: encode({
      nodes: [{ opType: 'Attention', input: ['Q', 'K', 'V'], output: ['Y'], attribute: causal ? [intAttr('is_causal', 1)] : [] }],
      inputs: [valueInfo('Q', [1, H, Nq, D]), valueInfo('K', [1, H, Nk, D]), valueInfo('V', [1, H, Nk, D])],
      outputs: [valueInfo('Y', [1, H, Nq, D])],
    }),
    shapes: { Q: [1, H, Nq, D], K: [1, H, Nk, D], V: [1, H, Nk, D] },
    description: `one ONNX Attention node (opset 23${causal ? ', is_causal=1' : ''}), 4-D inputs`,
  };
}

const MS = [{ domain: '', version: 23 }, { domain: 'com.microsoft', version: 1 }];

/**
 * BERT-base attention block with the weights as initializers. Two graphs:
 *   'mha'    : 3 × MatMul (x·Wq, x·Wk, x·Wv) → com.microsoft MultiHeadAttention (+ packed bias) → MatMul Wo → Add bo
 *   'packed' : com.microsoft Attention (x, Wqkv [d,3d], bqkv) → MatMul Wo → Add bo
 */
export function bertModel(variant, { N, d, H }, w) {
  const x = valueInfo('x', [1, N, d]);
  const y = valueInfo('y', [1, N, d]);
  const tail = [
    { opType: 'MatMul', input: ['a', 'Wo'], output: ['t'] },
    { opType: 'Add', input: ['t', 'bo'], output: ['y'] },
  ];
  const outInit = [initializer('Wo', [d, d], w.wo), initializer('bo', [d], w.bo)];
  if (variant === 'packed') {
    return {
      bytes: encode({
        nodes: [
          { opType: 'Attention', domain: 'com.microsoft', input: ['x', 'Wqkv', 'bqkv'], output: ['a'], attribute: [intAttr('num_heads', H)] },
          ...tail,
        ],
        inputs: [x], outputs: [y], opsets: MS,
        initializers: [initializer('Wqkv', [d, 3 * d], w.wqkv), initializer('bqkv', [3 * d], w.bqkv), ...outInit],
      }),
      shapes: { x: [1, N, d] },
      description: 'com.microsoft Attention (packed Wqkv + bias) → MatMul → Add',
    };
  }
  return {
    bytes: encode({
      nodes: [
        { opType: 'MatMul', input: ['x', 'Wq'], output: ['q'] },
        { opType: 'MatMul', input: ['x', 'Wk'], output: ['k'] },
        { opType: 'MatMul', input: ['x', 'Wv'], output: ['v'] },
        { opType: 'MultiHeadAttention', domain: 'com.microsoft', input: ['q', 'k', 'v', 'bqkv'], output: ['a'], attribute: [intAttr('num_heads', H)] },
        ...tail,
      ],
      inputs: [x], outputs: [y], opsets: MS,
      initializers: [
        initializer('Wq', [d, d], w.wq), initializer('Wk', [d, d], w.wk), initializer('Wv', [d, d], w.wv),
        initializer('bqkv', [3 * d], w.bqkv), ...outInit,
      ],
    }),
    shapes: { x: [1, N, d] },
    description: '3 × MatMul → com.microsoft MultiHeadAttention (+ bias) → MatMul → Add',
  };
}
