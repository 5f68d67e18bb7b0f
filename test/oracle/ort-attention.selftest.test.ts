/**
 * Self-test of the onnxruntime-node Attention oracle (./ort-attention.ts).
 *
 * Runs the ONNX `Attention` conformance cases (numpy reference outputs) through the
 * oracle and asserts agreement within 1e-4 absolute on every output the case checks.
 * This proves the oracle itself is right before other tests trust it.
 *
 * Cases the oracle cannot serve are listed by name in KNOWN_LIMITATIONS, each with its
 * reason, and are not skipped silently: their own tests assert that the limitation
 * still holds exactly as described (ORT still rejects them, or still differs only in
 * the described way), so the list cannot go stale unnoticed.
 *
 * Case directory: $ONNX_CONFORMANCE_DIR, else the repository's copy test/fixtures/onnx-attention
 * (../fixtures/onnx-attention/ relative to this file), loaded and decoded by
 * ../helpers/onnx-cases.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type CaseTensor,
  type ConformanceCase,
  CONFORMANCE_DIR,
  decodeTensor,
  INPUT_ORDER,
  isFloat16Case,
  loadConformanceCases,
  OUTPUT_ORDER,
} from '../helpers/onnx-cases.js';
import {
  FLOAT32_LOWEST,
  ortAttentionAvailable,
  ortAttentionLimitation,
  ortLowestToNegInf,
  runOrtAttention,
  type OrtAttentionAttributes,
  type OrtAttentionInputs,
  type OrtAttentionOutputs,
  type OrtTensorIn,
} from './ort-attention.js';

const TOLERANCE = 1e-4;

type Limitation =
  /** The case uses float16 tensors; the oracle is float32-only. */
  | { kind: 'float16'; reason: string }
  /** ORT refuses the model or the inputs; `error` matches its message. */
  | { kind: 'rejected'; reason: string; error: RegExp }
  /** ORT agrees except that qk_matmul_output holds -FLT_MAX where the reference has -inf. */
  | { kind: 'masked-score-lowest'; reason: string };

const WINDOW_REASON =
  'opset-25 left_window_size/right_window_size: ORT 1.30 has no Attention-25 schema ' +
  '(opset 25 resolves to Attention-24) and rejects the attribute';
const windowRejected = (): Limitation => ({
  kind: 'rejected',
  reason: WINDOW_REASON,
  error: /Unrecognized attribute: left_window_size/,
});
const float16 = (): Limitation => ({ kind: 'float16', reason: 'float16 tensors; the oracle runs float32 only' });
const maskedLowest = (): Limitation => ({
  kind: 'masked-score-lowest',
  reason:
    'qk_matmul_output_mode 2 with is_causal: ORT writes -FLT_MAX at causally masked scores where ' +
    'the reference has -inf (Y, present_* and every finite score agree)',
});

/** Every conformance case the oracle does not reproduce within 1e-4, by name, with why. */
const KNOWN_LIMITATIONS: Record<string, Limitation> = {
  // Not float32.
  test_attention_24_qk_matmul_output_mode3_softmax_precision: float16(),
  test_attention_4d_fp16: float16(),
  test_attention_4d_gqa_causal_nonpad_decode_fp16: float16(),
  test_attention_4d_gqa_with_past_and_present_fp16: float16(),
  test_attention_local_window_ext_cache_float16_mask: float16(),

  // Rejected by ORT.
  test_attention_3d_local_window: windowRejected(),
  test_attention_bidirectional_window: windowRejected(),
  test_attention_local_window: windowRejected(),
  test_attention_local_window_default: windowRejected(),
  test_attention_local_window_ext_cache_rank2_mask: windowRejected(),
  test_attention_local_window_ext_cache_rank3_head_mask: windowRejected(),
  test_attention_local_window_ext_cache_rank4_batch_mask: windowRejected(),
  test_attention_local_window_gqa_rank4_mask: windowRejected(),
  test_attention_local_window_rank1_boolean_mask: windowRejected(),
  test_attention_local_window_with_past: windowRejected(),
  test_attention_4d_diff_heads_mask4d_padded_kv: {
    kind: 'rejected',
    reason:
      'attn_mask [2,3,4,4] is shorter than the 6 keys; the reference pads it with -inf, ' +
      'ORT requires the mask last dim to equal total_sequence_length',
    error: /inconsistent total_sequence_length/,
  },

  // Agree except for the representation of masked scores.
  test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_causal: maskedLowest(),
  test_attention_4d_with_past_and_present_qk_matmul_bias_4d_mask_causal: maskedLowest(),
};

// ---------------------------------------------------------------------------------------
// Turning cases into oracle calls

const KNOWN_ATTRIBUTES = new Set<string>([
  'is_causal',
  'scale',
  'softcap',
  'q_num_heads',
  'kv_num_heads',
  'qk_matmul_output_mode',
  'softmax_precision',
  'left_window_size',
  'right_window_size',
]);

/** A case tensor as an oracle input (float32, int64 or bool only: the oracle is float32). */
function toOracleTensor(t: CaseTensor): OrtTensorIn {
  switch (t.dtype) {
    case 'float32':
    case 'int64':
    case 'bool':
      return { data: decodeTensor(t), shape: t.shape, dtype: t.dtype } as OrtTensorIn;
    default:
      throw new Error(`${t.name}: dtype ${t.dtype} is not supported by the float32 oracle`);
  }
}

/** Oracle call arguments reproducing a conformance case. */
function oracleCall(c: ConformanceCase) {
  const inputs: Partial<Record<(typeof INPUT_ORDER)[number], OrtTensorIn>> = {};
  c.inputs.forEach((t, i) => {
    if (t) inputs[INPUT_ORDER[i]!] = toOracleTensor(t);
  });
  const attributes: OrtAttentionAttributes = { ...c.attributes };
  const opts = {
    opset: c.opset,
    wantPresent: !!(c.outputs[1] || c.outputs[2]),
    wantQk: !!c.outputs[3],
  };
  return { inputs: inputs as OrtAttentionInputs, attributes, opts };
}

const cases: ConformanceCase[] = loadConformanceCases();
const agreeing = cases.filter((c) => !(c.name in KNOWN_LIMITATIONS));
const limited = cases.filter((c) => c.name in KNOWN_LIMITATIONS);

// ---------------------------------------------------------------------------------------
// Comparison

/** Largest absolute difference; NaN must meet NaN and infinities must match exactly. */
function maxAbsDiff(got: Float32Array, want: Float32Array): { diff: number; at: number } {
  let diff = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) && Number.isNaN(b)) continue;
      return { diff: Infinity, at: i };
    }
    if (a === b) continue; // covers equal infinities
    const d = Math.abs(a - b);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

/** Asserts every output the case checks, after `map` is applied to ORT's qk output. */
function expectOutputsAgree(
  c: ConformanceCase,
  out: OrtAttentionOutputs,
  mapQk: (a: Float32Array) => Float32Array = (a) => a,
): void {
  OUTPUT_ORDER.forEach((name, k) => {
    const want = c.outputs[k];
    if (!want) return;
    const got = out[name];
    expect(got, `${name} missing`).toBeDefined();
    expect(got!.shape, `${name} shape`).toEqual(want.shape);
    const wantData = decodeTensor(want) as Float32Array;
    const gotData = name === 'qk_matmul_output' ? mapQk(got!.data) : got!.data;
    expect(gotData.length, `${name} length`).toBe(wantData.length);
    const { diff, at } = maxAbsDiff(gotData, wantData);
    expect(diff, `${name}[${at}]: got ${gotData[at]}, want ${wantData[at]}`).toBeLessThanOrEqual(TOLERANCE);
  });
}

// ---------------------------------------------------------------------------------------

describe('ORT Attention oracle: conformance-case inventory', () => {
  it('finds the conformance cases', () => {
    expect(cases.length, `no cases in ${CONFORMANCE_DIR}`).toBeGreaterThan(0);
    for (const c of cases) expect(c.op).toBe('Attention');
  });

  it('knows every attribute the cases use (none is dropped on the way to ORT)', () => {
    for (const c of cases) {
      for (const a of Object.keys(c.attributes)) expect(KNOWN_ATTRIBUTES.has(a), `${c.name}: ${a}`).toBe(true);
    }
  });

  it('lists only float16 cases as float16 and every float16 case as a limitation', () => {
    for (const c of cases) {
      const isF16 = KNOWN_LIMITATIONS[c.name]?.kind === 'float16';
      expect(isF16, c.name).toBe(isFloat16Case(c));
    }
  });

  // With an overridden directory the case set may legitimately differ.
  it.runIf(process.env['ONNX_CONFORMANCE_DIR'] === undefined)('has no stale names in KNOWN_LIMITATIONS', () => {
    const names = new Set(cases.map((c) => c.name));
    for (const name of Object.keys(KNOWN_LIMITATIONS)) expect(names.has(name), name).toBe(true);
  });

  it('can create Attention sessions at opsets 23 and 24', async () => {
    expect(await ortAttentionAvailable(23)).toBe(true);
    expect(await ortAttentionAvailable(24)).toBe(true);
  });
});

describe('ORT Attention oracle agrees with the ONNX reference (float32, 1e-4 abs)', () => {
  it.each(agreeing.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { inputs, attributes, opts } = oracleCall(c);
    expect(ortAttentionLimitation(inputs, attributes, opts)).toBeUndefined();
    expectOutputsAgree(c, await runOrtAttention(inputs, attributes, opts));
  });
});

describe('ORT Attention oracle: known limitations still hold as described', () => {
  it.each(limited.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const lim = KNOWN_LIMITATIONS[c.name]!;
    if (lim.kind === 'float16') {
      expect(isFloat16Case(c)).toBe(true);
      return;
    }
    const { inputs, attributes, opts } = oracleCall(c);
    if (lim.kind === 'rejected') {
      expect(ortAttentionLimitation(inputs, attributes, opts), lim.reason).toBeDefined();
      await expect(runOrtAttention(inputs, attributes, opts)).rejects.toThrow(lim.error);
      return;
    }
    // masked-score-lowest: everything agrees once -FLT_MAX is read as -inf, and ORT
    // really does put -FLT_MAX exactly where the reference has -inf.
    expect(ortAttentionLimitation(inputs, attributes, opts)).toBeUndefined();
    const out = await runOrtAttention(inputs, attributes, opts);
    expectOutputsAgree(c, out, ortLowestToNegInf);
    const want = decodeTensor(c.outputs[3]!) as Float32Array;
    const got = out.qk_matmul_output!.data;
    let negInf = 0;
    for (let i = 0; i < want.length; i++) {
      if (want[i] === -Infinity) {
        negInf++;
        expect(got[i], `qk_matmul_output[${i}]`).toBe(FLOAT32_LOWEST);
      }
    }
    expect(negInf, 'the case has masked scores').toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------
// Behaviours documented in the oracle's header that no conformance case pins down.

/** Deterministic float32 tensor with values in [-1, 1). */
function tensor(shape: number[], seed: number): OrtTensorIn {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { data, shape, dtype: 'float32' };
}

const qkv = (): OrtAttentionInputs => ({ Q: tensor([1, 2, 3, 4], 1), K: tensor([1, 2, 5, 4], 2), V: tensor([1, 2, 5, 4], 3) });

describe('ORT Attention oracle: documented ORT 1.30 behaviours', () => {
  it('runs with a past even when present_* is not requested (oracle requests it internally)', async () => {
    const inputs = { ...qkv(), past_key: tensor([1, 2, 2, 4], 4), past_value: tensor([1, 2, 2, 4], 5) };
    const out = await runOrtAttention(inputs, { is_causal: 1 });
    expect(out.Y.shape).toEqual([1, 2, 3, 4]);
    expect(out.present_key).toBeUndefined();
    const withPresent = await runOrtAttention(inputs, { is_causal: 1 }, { wantPresent: true });
    expect(withPresent.Y.data).toEqual(out.Y.data);
    expect(withPresent.present_key!.shape).toEqual([1, 2, 7, 4]);
  });

  it('rejects rank-1, query-broadcast and short masks, as ortAttentionLimitation predicts', async () => {
    for (const shape of [[5], [1, 5], [1, 1, 1, 5], [3, 4]]) {
      const inputs = { ...qkv(), attn_mask: tensor(shape, 6) };
      expect(ortAttentionLimitation(inputs), `mask [${shape}]`).toBeDefined();
      await expect(runOrtAttention(inputs), `mask [${shape}]`).rejects.toThrow();
    }
  });

  it('rejects the opset-25 window attributes', async () => {
    await expect(runOrtAttention(qkv(), { left_window_size: -1 }, { opset: 25 })).rejects.toThrow(
      /Unrecognized attribute: left_window_size/,
    );
  });

  it('mode 2: bool-masked scores are -FLT_MAX, float -inf mask entries stay -inf', async () => {
    const boolMask = new Uint8Array(15).fill(1);
    boolMask[0] = 0;
    const floatMask = new Float32Array(15);
    floatMask[0] = -Infinity;
    const b = await runOrtAttention(
      { ...qkv(), attn_mask: { data: boolMask, shape: [3, 5], dtype: 'bool' } },
      { qk_matmul_output_mode: 2 },
      { wantQk: true },
    );
    const f = await runOrtAttention(
      { ...qkv(), attn_mask: { data: floatMask, shape: [3, 5], dtype: 'float32' } },
      { qk_matmul_output_mode: 2 },
      { wantQk: true },
    );
    expect(b.qk_matmul_output!.data[0]).toBe(FLOAT32_LOWEST);
    expect(f.qk_matmul_output!.data[0]).toBe(-Infinity);
    expect(ortLowestToNegInf(b.qk_matmul_output!.data)).toEqual(f.qk_matmul_output!.data);
  });

  it('a fully masked row gives Y = 0, not NaN', async () => {
    const mask = new Float32Array(15);
    mask.fill(-Infinity, 0, 5); // query row 0 sees no key
    const out = await runOrtAttention({ ...qkv(), attn_mask: { data: mask, shape: [3, 5], dtype: 'float32' } });
    expect(Array.from(out.Y.data.subarray(0, 4))).toEqual([0, 0, 0, 0]);
  });

  it('mode 0 with softcap returns scores before softcap', async () => {
    const one = (v: number[], shape: number[]): OrtTensorIn => ({ data: Float32Array.from(v), shape, dtype: 'float32' });
    const inputs = { Q: one([3, 0], [1, 1, 1, 2]), K: one([3, 0, 0, 3], [1, 1, 2, 2]), V: one([1, 2, 3, 4], [1, 1, 2, 2]) };
    const attrs = { scale: 1, softcap: 1, qk_matmul_output_mode: 0 };
    const out = await runOrtAttention(inputs, attrs, { wantQk: true });
    expect(Array.from(out.qk_matmul_output!.data)).toEqual([9, 0]); // not tanh(9) ≈ 1
    expect(ortAttentionLimitation(inputs, attrs, { wantQk: true })).toBeDefined();
  });

  it('is_causal with a past, one query row and several new keys runs as non-causal', async () => {
    // Reference: query 0 sits at position P = 2 and sees keys 0..2 of 5; ORT lets it see all 5.
    const inputs = {
      Q: tensor([1, 1, 1, 4], 1),
      K: tensor([1, 1, 3, 4], 2),
      V: tensor([1, 1, 3, 4], 3),
      past_key: tensor([1, 1, 2, 4], 4),
      past_value: tensor([1, 1, 2, 4], 5),
    };
    const opts = { wantQk: true };
    expect(ortAttentionLimitation(inputs, { is_causal: 1 }, opts)).toBeDefined();
    const causal = await runOrtAttention(inputs, { is_causal: 1, qk_matmul_output_mode: 3 }, opts);
    const plain = await runOrtAttention(inputs, { is_causal: 0, qk_matmul_output_mode: 3 }, opts);
    expect(causal.Y.data).toEqual(plain.Y.data);
    expect(Array.from(causal.qk_matmul_output!.data, (p) => p > 0)).toEqual([true, true, true, true, true]);
    // With as many new keys as queries (the usual decode step) the causal mask is applied.
    const decode = { ...inputs, K: tensor([1, 1, 1, 4], 2), V: tensor([1, 1, 1, 4], 3) };
    expect(ortAttentionLimitation(decode, { is_causal: 1 }, opts)).toBeUndefined();
    const twoRows = { ...inputs, Q: tensor([1, 1, 2, 4], 1) };
    expect(ortAttentionLimitation(twoRows, { is_causal: 1 }, opts)).toBeUndefined();
    const rows = await runOrtAttention(twoRows, { is_causal: 1, qk_matmul_output_mode: 3 }, opts);
    expect(Array.from(rows.qk_matmul_output!.data, (p) => p > 0)).toEqual(
      [true, true, true, false, false, true, true, true, true, false],
    );
  });

  it('is_causal = 2 runs as non-causal', async () => {
    const plain = await runOrtAttention(qkv(), { is_causal: 0 });
    const two = await runOrtAttention(qkv(), { is_causal: 2 });
    const causal = await runOrtAttention(qkv(), { is_causal: 1 });
    expect(two.Y.data).toEqual(plain.Y.data);
    expect(causal.Y.data).not.toEqual(plain.Y.data);
  });
});
