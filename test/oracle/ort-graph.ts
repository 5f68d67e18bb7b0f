/**
 * A small onnxruntime-node oracle for whole graphs (several nodes, several domains).
 *
 * test/oracle/ort-attention.ts serves the one ONNX `Attention` node; the layer tests need more:
 * com.microsoft `Attention` (fused input projection) followed by the output projection
 * (MatMul + Add), com.microsoft `MultiHeadAttention` fed by three projection MatMuls, and the
 * ONNX `RotaryEmbedding` (opset 23) and com.microsoft `RotaryEmbedding` operators. This module
 * builds such a model in memory with `onnx-proto` (weights as initializers, the rest as graph
 * inputs), loads it into an onnxruntime-node CPU session (one intra-op thread) and runs it.
 *
 * Opset imports: the default domain at 23 (unless given) and com.microsoft at 1. IR version 11
 * (as in ort-attention.ts). Sessions are cached by the serialized model, so repeated runs of the
 * same graph with new input values reuse one session. Outputs are copied to float32 arrays.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const { onnx } = onnxProto;

/** A tensor given to the graph (input or initializer). */
export interface GraphTensor {
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
  shape: number[];
}

/** One node: op type, domain ('' or 'com.microsoft'), input and output names, attributes. */
export interface GraphNode {
  op: string;
  domain?: '' | 'com.microsoft';
  inputs: string[];
  outputs: string[];
  /** int (integer numbers), float (numbers written with `{ f: x }`) or int list attributes */
  attributes?: Record<string, number | { f: number } | number[]>;
}

export interface GraphSpec {
  nodes: GraphNode[];
  /** runtime inputs by name */
  inputs: Record<string, GraphTensor>;
  /** constant weights by name */
  initializers?: Record<string, GraphTensor>;
  /** output names to fetch */
  outputs: string[];
  /** default-domain opset (23) */
  opset?: number;
}

const IR_VERSION = 11;

function elemType(t: GraphTensor): number {
  if (t.data instanceof Float32Array) return onnx.TensorProto.DataType.FLOAT;
  if (t.data instanceof Int32Array) return onnx.TensorProto.DataType.INT32;
  if (t.data instanceof BigInt64Array) return onnx.TensorProto.DataType.INT64;
  return onnx.TensorProto.DataType.BOOL;
}

function initializer(name: string, t: GraphTensor): OnnxTypes.ITensorProto {
  const base = { name, dims: t.shape, dataType: elemType(t) };
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  return { ...base, rawData: bytes };
}

function attribute(name: string, value: number | { f: number } | number[]): OnnxTypes.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if (typeof value === 'object') return { name, type: A.FLOAT, f: value.f };
  return { name, type: A.INT, i: value };
}

/** Serializes the graph into an ONNX model. */
export function buildGraphModel(spec: GraphSpec): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'wasm-attention-test-oracle',
    opsetImport: [
      { domain: '', version: spec.opset ?? 23 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'graph_oracle',
      node: spec.nodes.map((n, i) => ({
        opType: n.op,
        domain: n.domain ?? '',
        name: `node${i}`,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: Object.entries(spec.initializers ?? {}).map(([k, t]) => initializer(k, t)),
      input: Object.entries(spec.inputs).map(([name, t]) => ({
        name,
        type: { tensorType: { elemType: elemType(t), shape: { dim: t.shape.map((d) => ({ dimValue: d })) } } },
      })),
      output: spec.outputs.map((name) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } })),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

const sessions = new Map<string, Promise<InferenceSession>>();

function modelKey(bytes: Uint8Array): string {
  // FNV-1a over the bytes plus the length: a cache key, not a security hash.
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return `${bytes.length}:${h}`;
}

function ortTensor(t: GraphTensor): Tensor {
  if (t.data instanceof Float32Array) return new Tensor('float32', t.data, t.shape);
  if (t.data instanceof Int32Array) return new Tensor('int32', t.data, t.shape);
  if (t.data instanceof BigInt64Array) return new Tensor('int64', t.data, t.shape);
  return new Tensor('bool', t.data, t.shape);
}

/** Runs the graph on onnxruntime-node (CPU, one thread); returns the requested float outputs. */
export async function runOrtGraph(spec: GraphSpec): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const bytes = buildGraphModel(spec);
  const key = modelKey(bytes);
  let s = sessions.get(key);
  if (!s) {
    s = InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 4 });
    s.catch(() => sessions.delete(key));
    sessions.set(key, s);
  }
  const session = await s;
  const feeds: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(spec.inputs)) feeds[name] = ortTensor(t);
  const out = await session.run(feeds, spec.outputs);
  const result: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const name of spec.outputs) {
    const t = out[name];
    if (!t) throw new Error(`ORT returned no ${name}`);
    result[name] = { data: Float32Array.from(t.data as Float32Array), shape: t.dims.map(Number) };
  }
  return result;
}

/** Drops the cached sessions. */
export async function releaseOrtGraphSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.allSettled(all.map(async (s) => (await s).release()));
}
