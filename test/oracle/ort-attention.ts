/**
 * ONNX Runtime oracle for the ONNX `Attention` operator.
 *
 * Builds a one-node ONNX model (domain "", opset 23 by default) in memory with
 * `onnx-proto`, loads it into an onnxruntime-node CPU `InferenceSession`, runs it,
 * and returns float32 outputs. Tests use it as an independent reference to compare
 * our WebAssembly implementation against. Sessions are cached per
 * (opset, input dtypes/shapes, attributes, requested outputs) so that repeated
 * property-based runs stay fast.
 *
 * Helpers: `ortAttentionLimitation()` says (synchronously) whether a call falls outside
 * what ORT can serve as an oracle for, with the reason; `ortLowestToNegInf()` undoes
 * ORT's -FLT_MAX convention for masked scores; `ortAttentionAvailable(opset)` checks
 * that a session can be created at all. The oracle is float32 only.
 *
 * ── What onnxruntime-node 1.30.0 (CPU EP) supports for Attention ─────────────────────
 * Found by probing this package with throwaway scripts (not kept):
 *
 * - Opsets: Attention exists at opset 23 and 24 (21/22: "No Op registered"). Models
 *   importing opset 25 or 26 load, but ORT 1.30's newest Attention schema is 24, so the
 *   Attention-25 attributes `left_window_size` / `right_window_size` are rejected
 *   ("Unrecognized attribute"), even at their default -1: no sliding windows at all.
 * - Types: float32 (this oracle). ORT also runs float16 Attention; not exposed here.
 * - Layouts: 4-D [B, H, S, D] and 3-D [B, S, H*D] (3-D needs q_num_heads and
 *   kv_num_heads); Q, K, V of the same rank; V's head size may differ from Q/K's.
 *   4-D Q with contradicting q_num_heads/kv_num_heads attributes is rejected.
 * - GQA / MQA: any q_num_heads that is a multiple of kv_num_heads (incl. 1), 3-D and 4-D.
 * - scale: must be > 0 (0 and negative are rejected). Default 1/sqrt(head size).
 * - softcap: > 0 applies c*tanh(x/c) before the mask; <= 0 means off (as the reference).
 * - is_causal: 1 = causal. Top-left aligned without cache (also for S > T); bottom-right
 *   with past_key (offset = past length) and with nonpad_kv_seqlen (offset =
 *   nonpad[b] - S; rows left with no key give zeros). Values other than 0/1 (2, -1) run
 *   as NON-causal, while the numpy reference treats any non-zero as causal.
 *   Exception (found by test/onnx-differential.test.ts): with a non-empty past_key, one
 *   query row (S = 1) and more than one new key (kv_sequence_length > 1), ORT drops the
 *   causal mask and the query sees all P + L keys; the reference lets it see keys
 *   0..P only. (S = 1 with L = 1 is the usual decode step; there the two agree.)
 * - attn_mask: float (additive) or bool (true = attend), shapes [S, T], [1|Hq, S, T],
 *   [1|B, 1|Hq, S, T] (head axis counts query heads under GQA). Rejected: rank 1,
 *   size-1 broadcast on the query axis ([1, T], [B, 1, 1, T] ...), and a last dim other
 *   than total_sequence_length (the reference pads a shorter mask with -inf / false).
 * - Fully masked rows (float -inf row, all-false bool row, empty causal/nonpad row):
 *   Y = 0 and probabilities 0, never NaN, as the conformance outputs expect. NaN in a
 *   mask propagates.
 * - past_key / past_value: both or neither; present_* = concat(past, new) on axis 2;
 *   an empty past (P = 0) works. ORT refuses to run with a past but without the
 *   present_key output ("does not support past_key provided and present_key being
 *   null"), so this oracle always requests present_* when a past is given.
 * - nonpad_kv_seqlen: opset 24 only (schema error at 23); int64 [B]; values must be in
 *   [0, T] (else rejected); cannot be combined with past_key/past_value (rejected);
 *   0 gives zero rows. Works with is_causal, masks, GQA and 3-D inputs.
 * - qk_matmul_output_mode: 0..3 all run (4 is rejected); output shape [B, Hq, S, T].
 *   Mode 0 with softcap returns the scores BEFORE softcap (the spec's "Q*K^T"), while
 *   the onnx/reference/ops/op_attention.py we read returns them after softcap (no
 *   conformance case covers this). Mode 2: positions removed by is_causal, a bool mask or
 *   nonpad_kv_seqlen hold -FLT_MAX (-3.4028235e38) where the reference has -inf (a
 *   float-mask -inf stays -inf). Mode 3: probabilities, 0 where masked.
 * - softmax_precision: accepted with any value tried (0, 1, 10, 11, 16) at 23 and 24;
 *   no effect on float32 results.
 * - Also rejected: kv_sequence_length 0, batch size 0, head sizes of Q and K differing,
 *   q_num_heads not a multiple of kv_num_heads.
 *
 * ── Agreement with the ONNX conformance cases ───────────────────────────────────────
 * test/fixtures/onnx-attention (87 cases, numpy reference outputs): the 82
 * float32 cases were run through this oracle, all checked outputs compared at 1e-4 abs.
 * - 69 agree (worst difference 2.4e-7).
 * - 2 agree except for the -FLT_MAX convention above (84 masked scores each; Y,
 *   present_* and all finite scores agree to 2.4e-7):
 *     test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_causal
 *     test_attention_4d_with_past_and_present_qk_matmul_bias_4d_mask_causal
 * - 11 rejected by ORT:
 *     10 opset-25 window cases (left/right_window_size unknown): test_attention_3d_local_window,
 *       test_attention_bidirectional_window, test_attention_local_window,
 *       test_attention_local_window_default, test_attention_local_window_ext_cache_rank2_mask,
 *       test_attention_local_window_ext_cache_rank3_head_mask,
 *       test_attention_local_window_ext_cache_rank4_batch_mask,
 *       test_attention_local_window_gqa_rank4_mask, test_attention_local_window_rank1_boolean_mask,
 *       test_attention_local_window_with_past
 *     test_attention_4d_diff_heads_mask4d_padded_kv: mask [2,3,4,4] shorter than T = 6
 *       ("inconsistent total_sequence_length").
 * - 5 float16 cases not run (float32 oracle): test_attention_24_qk_matmul_output_mode3_softmax_precision,
 *   test_attention_4d_fp16, test_attention_4d_gqa_causal_nonpad_decode_fp16,
 *   test_attention_4d_gqa_with_past_and_present_fp16, test_attention_local_window_ext_cache_float16_mask.
 * So ORT is a usable oracle for: opset 23/24, 3-D/4-D, MHA/GQA/MQA, scale, softcap,
 * causal (incl. cache offsets), float/bool masks of full query length and full T, past/
 * present, nonpad_kv_seqlen, and all four qk_matmul_output modes (mode 2 via
 * ortLowestToNegInf; mode 0 only without softcap). It is not one for windows (opset
 * 25), short or query-broadcast masks, rank-1 masks, or is_causal with a past, one
 * query row and several new keys.
 * ort-attention.selftest.test.ts re-checks these results on every run, and pins the
 * less obvious behaviours above (past without present, -FLT_MAX scores, mode 0 with
 * softcap, is_causal = 2, causal single-query with past, rejected mask shapes, windows).
 */
// onnx-proto is CommonJS: Node's ESM loader only exposes its default export at run time.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const { onnx } = onnxProto;

/** One input tensor. `bool` data is one byte per element (0 or 1). */
export interface OrtTensorIn {
  data: Float32Array | Uint8Array | BigInt64Array;
  shape: number[];
  dtype: 'float32' | 'bool' | 'int64';
}

/** Operator inputs; optional ones may be omitted (they become empty-name inputs). */
export interface OrtAttentionInputs {
  Q: OrtTensorIn;
  K: OrtTensorIn;
  V: OrtTensorIn;
  attn_mask?: OrtTensorIn;
  past_key?: OrtTensorIn;
  past_value?: OrtTensorIn;
  nonpad_kv_seqlen?: OrtTensorIn;
}

/** Operator attributes; an `undefined` attribute is not written to the node. */
export interface OrtAttentionAttributes {
  is_causal?: number;
  scale?: number;
  softcap?: number;
  q_num_heads?: number;
  kv_num_heads?: number;
  qk_matmul_output_mode?: number;
  softmax_precision?: number;
  /** Attention-25 only: ORT 1.30 rejects it (see the header); kept so such calls reach ORT. */
  left_window_size?: number;
  /** Attention-25 only: ORT 1.30 rejects it (see the header); kept so such calls reach ORT. */
  right_window_size?: number;
}

export interface OrtAttentionOptions {
  /** ONNX opset of the default domain; 23 unless given. */
  opset?: number;
  /** Request `present_key` / `present_value` outputs. */
  wantPresent?: boolean;
  /** Request the `qk_matmul_output` output. */
  wantQk?: boolean;
}

export interface OrtTensorOut {
  data: Float32Array;
  shape: number[];
}

export interface OrtAttentionOutputs {
  Y: OrtTensorOut;
  present_key?: OrtTensorOut;
  present_value?: OrtTensorOut;
  qk_matmul_output?: OrtTensorOut;
}

/** Operator input order; the node's input list follows it. */
const INPUT_NAMES = ['Q', 'K', 'V', 'attn_mask', 'past_key', 'past_value', 'nonpad_kv_seqlen'] as const;

const INT_ATTRIBUTES = [
  'is_causal',
  'q_num_heads',
  'kv_num_heads',
  'qk_matmul_output_mode',
  'softmax_precision',
  'left_window_size',
  'right_window_size',
] as const;
const FLOAT_ATTRIBUTES = ['scale', 'softcap'] as const;

const ELEM_TYPE: Record<OrtTensorIn['dtype'], number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  bool: onnx.TensorProto.DataType.BOOL,
  int64: onnx.TensorProto.DataType.INT64,
};

/**
 * IR version written into the model. Opset 23/24 belong to IR version 11 (ONNX 1.18+);
 * ORT 1.30 accepts it. (The enum in onnx-proto 8.0.1 stops at 8, so it is a literal.)
 */
const IR_VERSION = 11;

/**
 * ORT 1.30 CPU refuses to run with `past_key` but no `present_key` output
 * ("The implementation does not support past_key provided and present_key being null"),
 * so the present outputs are always produced when a past is given; they are only
 * returned to the caller when `wantPresent` is set.
 */
function needsPresent(inputs: OrtAttentionInputs, opts: OrtAttentionOptions): boolean {
  return !!opts.wantPresent || inputs.past_key !== undefined || inputs.past_value !== undefined;
}

/** Describes a float-typed graph output with an unknown shape. */
function floatOutput(name: string): OnnxTypes.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } };
}

/** Serialises a one-node Attention model for the given input signature and attributes. */
export function buildAttentionModel(
  inputs: OrtAttentionInputs,
  attributes: OrtAttentionAttributes,
  opts: OrtAttentionOptions = {},
): Uint8Array {
  const opset = opts.opset ?? 23;

  // Node inputs: present ones by name, omitted ones as "", trailing omitted ones dropped.
  const nodeInputs: string[] = INPUT_NAMES.map((n) => (inputs[n] ? n : ''));
  while (nodeInputs.length > 0 && nodeInputs[nodeInputs.length - 1] === '') nodeInputs.pop();

  const present = needsPresent(inputs, opts);
  const nodeOutputs = [
    'Y',
    present ? 'present_key' : '',
    present ? 'present_value' : '',
    opts.wantQk ? 'qk_matmul_output' : '',
  ];
  while (nodeOutputs[nodeOutputs.length - 1] === '') nodeOutputs.pop();

  const attribute: OnnxTypes.IAttributeProto[] = [];
  for (const name of INT_ATTRIBUTES) {
    const v = attributes[name];
    if (v !== undefined) attribute.push({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  }
  for (const name of FLOAT_ATTRIBUTES) {
    const v = attributes[name];
    if (v !== undefined) attribute.push({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v });
  }

  const graphInputs: OnnxTypes.IValueInfoProto[] = [];
  for (const name of INPUT_NAMES) {
    const t = inputs[name];
    if (!t) continue;
    graphInputs.push({
      name,
      type: {
        tensorType: {
          elemType: ELEM_TYPE[t.dtype],
          shape: { dim: t.shape.map((d) => ({ dimValue: d })) },
        },
      },
    });
  }

  const model: OnnxTypes.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'wasm-attention-test-oracle',
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'attention_oracle',
      node: [{ opType: 'Attention', domain: '', name: 'attention', input: nodeInputs, output: nodeOutputs, attribute }],
      input: graphInputs,
      output: nodeOutputs.filter((n) => n !== '').map(floatOutput),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Cache key: everything that changes the model, nothing that only changes input values. */
function sessionKey(inputs: OrtAttentionInputs, attributes: OrtAttentionAttributes, opts: OrtAttentionOptions): string {
  const sig = INPUT_NAMES.map((n) => {
    const t = inputs[n];
    return t ? `${t.dtype}[${t.shape.join(',')}]` : '-';
  });
  const attrs = [...INT_ATTRIBUTES, ...FLOAT_ATTRIBUTES].map((n) => {
    const v = attributes[n];
    // Float attributes are stored as float32 in the model, so key on the float32 value.
    return v === undefined ? '-' : String(Math.fround(v));
  });
  const present = needsPresent(inputs, opts) ? 1 : 0;
  return [opts.opset ?? 23, sig.join(';'), attrs.join(';'), present, opts.wantQk ? 1 : 0].join('|');
}

const sessions = new Map<string, Promise<InferenceSession>>();

const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  // Fatal only: ORT would otherwise print every rejected run to stderr, and the same
  // message is already carried by the thrown error.
  logSeverityLevel: 4,
  intraOpNumThreads: 1,
};

function getSession(
  inputs: OrtAttentionInputs,
  attributes: OrtAttentionAttributes,
  opts: OrtAttentionOptions,
): Promise<InferenceSession> {
  const key = sessionKey(inputs, attributes, opts);
  let s = sessions.get(key);
  if (!s) {
    s = InferenceSession.create(buildAttentionModel(inputs, attributes, opts), SESSION_OPTIONS);
    // Do not cache failures: a rejected creation should be reported again, not memoised.
    s.catch(() => sessions.delete(key));
    sessions.set(key, s);
  }
  return s;
}

function toOrtTensor(t: OrtTensorIn): Tensor {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new Error(`tensor data has ${t.data.length} elements, shape [${t.shape.join(',')}] needs ${n}`);
  }
  switch (t.dtype) {
    case 'float32':
      if (!(t.data instanceof Float32Array)) throw new Error('float32 tensor needs Float32Array data');
      return new Tensor('float32', t.data, t.shape);
    case 'bool':
      if (!(t.data instanceof Uint8Array)) throw new Error('bool tensor needs Uint8Array data');
      return new Tensor('bool', t.data, t.shape);
    case 'int64':
      if (!(t.data instanceof BigInt64Array)) throw new Error('int64 tensor needs BigInt64Array data');
      return new Tensor('int64', t.data, t.shape);
  }
}

function fromOrtTensor(t: Tensor | undefined, name: string): OrtTensorOut {
  if (!t) throw new Error(`ORT returned no ${name}`);
  if (t.type !== 'float32') throw new Error(`ORT returned ${name} of type ${t.type}, expected float32`);
  // Copy: the returned buffer belongs to ORT's output tensor.
  return { data: Float32Array.from(t.data as Float32Array), shape: t.dims.map(Number) };
}

/**
 * Runs ONNX `Attention` through onnxruntime-node (CPU) and returns its outputs.
 * Throws ORT's own error if ORT rejects the model or the inputs.
 */
export async function runOrtAttention(
  inputs: OrtAttentionInputs,
  attributes: OrtAttentionAttributes = {},
  opts: OrtAttentionOptions = {},
): Promise<OrtAttentionOutputs> {
  const session = await getSession(inputs, attributes, opts);
  const feeds: Record<string, Tensor> = {};
  for (const name of INPUT_NAMES) {
    const t = inputs[name];
    if (t) feeds[name] = toOrtTensor(t);
  }
  const out = await session.run(feeds);
  const result: OrtAttentionOutputs = { Y: fromOrtTensor(out['Y'], 'Y') };
  if (opts.wantPresent) {
    result.present_key = fromOrtTensor(out['present_key'], 'present_key');
    result.present_value = fromOrtTensor(out['present_value'], 'present_value');
  }
  if (opts.wantQk) result.qk_matmul_output = fromOrtTensor(out['qk_matmul_output'], 'qk_matmul_output');
  return result;
}

/**
 * Whether this ORT build can create an Attention session at `opset` (tiny 4-D
 * Q/K/V model). Use it to assert an expectation, not to skip tests silently.
 */
export async function ortAttentionAvailable(opset = 23): Promise<boolean> {
  const t = (): OrtTensorIn => ({ data: new Float32Array(2), shape: [1, 1, 1, 2], dtype: 'float32' });
  try {
    await runOrtAttention({ Q: t(), K: t(), V: t() }, {}, { opset });
    return true;
  } catch {
    return false;
  }
}

/** The largest finite float32; ORT writes its negative where the reference has -inf. */
export const FLOAT32_LOWEST = -3.4028234663852886e38;

/**
 * Maps ORT's "masked" score (-FLT_MAX) to -Infinity, in a copy. ORT 1.30 fills positions
 * removed by `is_causal`, a boolean `attn_mask` or `nonpad_kv_seqlen` with -FLT_MAX in
 * `qk_matmul_output` mode 2, where the ONNX reference has -inf (a float `attn_mask` entry
 * of -inf stays -inf). Apply this to mode-2 output before comparing with the reference.
 */
export function ortLowestToNegInf(data: Float32Array): Float32Array {
  return data.map((x) => (x === FLOAT32_LOWEST ? -Infinity : x));
}

/**
 * Why ORT 1.30 CPU cannot serve as the oracle for this call, or `undefined` if it can.
 * Covers the limitations found by probing (see the header): inputs ORT rejects, and
 * attribute values where ORT runs but departs from the ONNX reference. The -FLT_MAX
 * masked-score convention is not a limitation: undo it with `ortLowestToNegInf`. Use it to keep
 * generated inputs inside the oracle's region (or to assert a known limitation), never
 * to skip a test silently. It does not re-validate inputs the ONNX spec itself forbids
 * beyond what ORT checks.
 */
export function ortAttentionLimitation(
  inputs: OrtAttentionInputs,
  attributes: OrtAttentionAttributes = {},
  opts: OrtAttentionOptions = {},
): string | undefined {
  const opset = opts.opset ?? 23;
  const { Q, K, attn_mask: mask, past_key, past_value, nonpad_kv_seqlen: nonpad } = inputs;
  if (opset < 23) return `Attention does not exist before opset 23 (got ${opset})`;
  if (attributes.left_window_size !== undefined || attributes.right_window_size !== undefined) {
    return 'left_window_size/right_window_size (Attention-25) are unknown to ORT 1.30, whose newest Attention schema is 24';
  }
  if (Q.shape.length !== K.shape.length) return 'Q and K must have the same rank';
  const rank3 = Q.shape.length === 3;
  if (rank3 && (attributes.q_num_heads === undefined || attributes.kv_num_heads === undefined)) {
    return '3-D inputs need q_num_heads and kv_num_heads';
  }
  const batch = Q.shape[0]!;
  const qSeq = Q.shape[rank3 ? 1 : 2]!;
  const qHeads = rank3 ? attributes.q_num_heads! : Q.shape[1]!;
  const kvHeads = rank3 ? attributes.kv_num_heads! : K.shape[1]!;
  const kvSeq = K.shape[rank3 ? 1 : 2]!;
  const total = kvSeq + (past_key ? past_key.shape[2]! : 0);
  if (!rank3 && attributes.q_num_heads !== undefined && attributes.q_num_heads !== qHeads) {
    return 'q_num_heads disagrees with the 4-D Q shape';
  }
  if (!rank3 && attributes.kv_num_heads !== undefined && attributes.kv_num_heads !== kvHeads) {
    return 'kv_num_heads disagrees with the 4-D K shape';
  }
  const qHeadSize = rank3 ? Q.shape[2]! / qHeads : Q.shape[3]!;
  const kHeadSize = rank3 ? K.shape[2]! / kvHeads : K.shape[3]!;
  if (qHeadSize !== kHeadSize) return 'Q and K head sizes differ';
  if (batch === 0) return 'ORT rejects batch size 0';
  if (kvSeq === 0) return 'ORT rejects a kv_sequence_length of 0';
  if (qHeads % kvHeads !== 0) return 'q_num_heads must be a multiple of kv_num_heads';
  if ((past_key === undefined) !== (past_value === undefined)) return 'past_key and past_value must be given together';
  if (mask) {
    const ms = mask.shape;
    if (ms.length < 2 || ms.length > 4) return `ORT accepts 2-D to 4-D attn_mask only (got rank ${ms.length})`;
    if (ms[ms.length - 2] !== qSeq) {
      return 'ORT does not broadcast attn_mask over the query axis: its dim -2 must equal q_sequence_length';
    }
    if (ms[ms.length - 1] !== total) {
      return 'ORT requires attn_mask last dim == total_sequence_length (the reference pads a shorter mask with -inf/false)';
    }
    if (ms.length >= 3 && ms[ms.length - 3] !== 1 && ms[ms.length - 3] !== qHeads) {
      return 'attn_mask head dim must be 1 or q_num_heads';
    }
    if (ms.length === 4 && ms[0] !== 1 && ms[0] !== batch) return 'attn_mask batch dim must be 1 or batch_size';
  }
  if (nonpad) {
    if (opset < 24) return 'nonpad_kv_seqlen needs opset 24';
    if (past_key) return 'ORT rejects nonpad_kv_seqlen together with past_key/past_value';
    for (const v of nonpad.data as BigInt64Array) {
      if (v < 0n || v > BigInt(total)) return `ORT rejects nonpad_kv_seqlen outside [0, ${total}]`;
    }
  }
  if (attributes.scale !== undefined && !(attributes.scale > 0)) return 'ORT rejects scale <= 0';
  const causal = attributes.is_causal;
  if (causal !== undefined && causal !== 0 && causal !== 1) {
    return 'is_causal other than 0/1: ORT treats it as 0, the numpy reference as 1';
  }
  if (causal === 1 && past_key && past_key.shape[2]! > 0 && qSeq === 1 && kvSeq > 1) {
    return (
      'is_causal with a non-empty past, q_sequence_length 1 and kv_sequence_length > 1: ORT drops the ' +
      'causal mask (the query sees all keys), the reference lets it see keys 0..past_length only'
    );
  }
  const mode = attributes.qk_matmul_output_mode ?? 0;
  if (![0, 1, 2, 3].includes(mode)) return 'qk_matmul_output_mode must be 0..3';
  if (opts.wantQk && mode === 0 && (attributes.softcap ?? 0) > 0) {
    return 'qk_matmul_output mode 0 with softcap: ORT returns the scores before softcap, the numpy reference after it';
  }
  return undefined;
}

/** Drops all cached sessions (releasing their native resources). */
export async function releaseOrtSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.allSettled(all.map(async (s) => (await s).release()));
}
