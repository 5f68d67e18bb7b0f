// ort-web.mjs — onnxruntime-web (wasm backend, one thread) running one ONNX `Attention` node
// (opset 23), built in memory with onnx-proto. A comparison engine for the demo and the bench.

import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** A session computing Y = Attention(Q, K, V) on [1, H, N, D] inputs; `run` returns Y's data. */
export async function ortWebAttentionSession(shape, causal = false) {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  const info = (name) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  });
  const attribute = causal ? [{ name: 'is_causal', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] : [];
  const model = {
    irVersion: 10,
    opsetImport: [{ domain: '', version: 23 }],
    graph: {
      name: 'attention',
      node: [{ opType: 'Attention', input: ['Q', 'K', 'V'], output: ['Y'], attribute }],
      input: [info('Q'), info('K'), info('V')],
      output: [info('Y')],
    },
  };
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  return {
    async run(q, k, v) {
      const feeds = {
        Q: new ort.Tensor('float32', q, shape),
        K: new ort.Tensor('float32', k, shape),
        V: new ort.Tensor('float32', v, shape),
      };
      const { Y } = await session.run(feeds);
      return Y.data;
    },
  };
}
