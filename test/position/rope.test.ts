// rope.test.ts — rotary position embedding: rt.rope against onnxruntime-node's ONNX
// `RotaryEmbedding` (opset 23) and com.microsoft `RotaryEmbedding`, fed the same cos/sin caches;
// against the float64 reference (angles from `base`, positions up to 4096); the relative-position
// property; and the layer with RoPE (rotate-half, interleaved, partial rotary dim, GQA, position
// offsets) against the float64 layer reference.
// Tolerances: vs ORT (same caches, same float32 formula) 2e-6 absolute; vs float64 with our own
// tables 2e-5 + 1e-5·|want| (a float32 angle table at position 4096 is accurate to ~2e-7·4096·θ
// in float64 terms — we compute angles in float64, so only the final rounding remains).

import { afterAll, describe, expect, it } from 'vitest';
import { createRuntimeSync, type Runtime, type Tensor } from '../../src/index';
import { ISAS, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { releaseOrtGraphSessions, runOrtGraph } from '../oracle/ort-graph';
import { referenceMha, refRope } from '../reference/mha';
import { layerWeights, randomInput, randomLayer, refConfig } from '../layers/fixtures';

const runtimes: Runtime[] = ISAS.map((isa) => createRuntimeSync({ isa }));
afterAll(async () => {
  runtimes.forEach((rt) => rt.dispose());
  await releaseOrtGraphSessions();
});

/** float64 cos/sin caches [P, R/2], rounded to float32. */
function caches(P: number, R: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = R / 2;
  const cos = new Float32Array(P * half);
  const sin = new Float32Array(P * half);
  for (let p = 0; p < P; p++) for (let c = 0; c < half; c++) {
    const a = p * Math.pow(base, (-2 * c) / R);
    cos[p * half + c] = Math.cos(a);
    sin[p * half + c] = Math.sin(a);
  }
  return { cos, sin };
}

describe.each(ISAS.map((isa, i) => [isa, i] as const))('RoPE (%s)', (_isa, index) => {
  const rt = runtimes[index];

  it.each([
    { layout: '4d', B: 2, H: 3, S: 5, D: 8, R: 8, interleaved: 0 },
    { layout: '4d', B: 1, H: 2, S: 9, D: 16, R: 6, interleaved: 1 },
    { layout: '3d', B: 2, H: 4, S: 7, D: 6, R: 6, interleaved: 1 },
    { layout: '3d', B: 3, H: 2, S: 3, D: 64, R: 32, interleaved: 0 },
    { layout: '4d', B: 1, H: 1, S: 17, D: 10, R: 2, interleaved: 0 },
  ])('ONNX RotaryEmbedding-23 ($layout, D=$D, rotary=$R, interleaved=$interleaved, position ids)', async (c) => {
    const next = rng(c.S * 31 + c.D);
    const shape = c.layout === '4d' ? [c.B, c.H, c.S, c.D] : [c.B, c.S, c.H * c.D];
    const x = uniformF32(c.B * c.H * c.S * c.D, next);
    const P = 40;
    const { cos, sin } = caches(P, c.R, 10000);
    const ids = BigInt64Array.from({ length: c.B * c.S }, (_, i) => BigInt((i * 7 + 3) % P));
    const ort = await runOrtGraph({
      nodes: [{
        op: 'RotaryEmbedding', inputs: ['x', 'cos', 'sin', 'ids'], outputs: ['y'],
        attributes: { interleaved: c.interleaved, rotary_embedding_dim: c.R, ...(c.layout === '3d' ? { num_heads: c.H } : {}) },
      }],
      inputs: { x: { data: x, shape }, ids: { data: ids, shape: [c.B, c.S] } },
      initializers: { cos: { data: cos, shape: [P, c.R / 2] }, sin: { data: sin, shape: [P, c.R / 2] } },
      outputs: ['y'],
    });
    const got = rt.rope({ data: x, shape }, {
      numHeads: c.H, rotaryDim: c.R, interleaved: c.interleaved === 1,
      cos: { data: cos, shape: [P, c.R / 2] }, sin: { data: sin, shape: [P, c.R / 2] },
      positions: { data: ids, shape: [c.B, c.S] },
    });
    expect(got.shape).toEqual(shape);
    expect(mismatch(got.data, ort.y.data, 2e-6, 0)).toBeUndefined();
    // the same with tables computed from `base` (no explicit caches)
    const own = rt.rope({ data: x, shape }, { numHeads: c.H, rotaryDim: c.R, interleaved: c.interleaved === 1, positions: { data: ids, shape: [c.B, c.S] } });
    expect(mismatch(own.data, ort.y.data, 2e-6, 0)).toBeUndefined();
  });

  it('com.microsoft RotaryEmbedding (3-D, interleaved and not, position ids)', async () => {
    const B = 2, S = 6, H = 2, D = 8;
    const x = uniformF32(B * S * H * D, rng(3));
    const P = 16;
    const { cos, sin } = caches(P, D, 10000);
    const ids = BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % P));
    for (const interleaved of [0, 1]) {
      const ort = await runOrtGraph({
        nodes: [{ op: 'RotaryEmbedding', domain: 'com.microsoft', inputs: ['x', 'ids', 'cos', 'sin'], outputs: ['y'], attributes: { interleaved } }],
        inputs: { x: { data: x, shape: [B, S, H * D] }, ids: { data: ids, shape: [B, S] } },
        initializers: { cos: { data: cos, shape: [P, D / 2] }, sin: { data: sin, shape: [P, D / 2] } },
        outputs: ['y'],
      });
      const got = rt.rope({ data: x, shape: [B, S, H * D] }, { numHeads: H, interleaved: interleaved === 1, positions: { data: ids, shape: [B, S] } });
      expect(mismatch(got.data, ort.y.data, 2e-6, 0)).toBeUndefined();
    }
  });

  it('float64 reference at large positions; per-batch offsets; in place on a WasmTensor', () => {
    const B = 2, H = 2, S = 5, D = 12;
    const x = uniformF32(B * H * S * D, rng(5));
    for (const [interleaved, R, base, offsets] of [[false, 12, 10000, [4090, 17]], [true, 8, 500000, [4090, 17]], [false, 10, 10000, [100000, 8190]]] as const) {
      const got = rt.rope({ data: x, shape: [B, H, S, D] }, { interleaved, rotaryDim: R, base, positions: [...offsets] });
      const want = Float64Array.from(x);
      const pos = Array.from({ length: B * S }, (_, i) => offsets[Math.floor(i / S)] + (i % S));
      refRope(want, B, H, S, D, pos, { rotaryDim: R, base, interleaved });
      expect(mismatch(got.data, want, 2e-5, 1e-5), `offsets ${offsets}`).toBeUndefined();
    }
    const t = rt.tensor([B, H, S, D], x);
    const r = rt.rope(t, { positions: 3, out: t });
    expect(r).toBe(t);
    const want = Float64Array.from(x);
    refRope(want, B, H, S, D, Array.from({ length: B * S }, (_, i) => 3 + (i % S)), { rotaryDim: D, base: 10000, interleaved: false });
    expect(mismatch(t.data, want, 2e-5, 1e-5)).toBeUndefined();
    t.dispose();
  });

  it('rotated q·k depends only on the distance j − i', () => {
    const D = 16;
    const q = uniformF32(D, rng(8));
    const k = uniformF32(D, rng(9));
    const at = (v: Float32Array, p: number): Float32Array => (rt.rope({ data: v, shape: [1, 1, 1, D] }, { positions: p }) as Tensor).data;
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
    for (const d of [0, 1, 5, 37]) {
      const base = dot(at(q, 3), at(k, 3 + d));
      for (const shift of [10, 100, 1000]) expect(Math.abs(dot(at(q, 3 + shift), at(k, 3 + d + shift)) - base)).toBeLessThan(2e-4);
    }
  });

  it.each([
    { H: 4, Hkv: 2, interleaved: false, rotaryDim: undefined, offset: 0 },
    { H: 4, Hkv: 1, interleaved: true, rotaryDim: 4, offset: 0 },
    { H: 2, Hkv: 2, interleaved: false, rotaryDim: 6, offset: 11 },
    { H: 2, Hkv: 1, interleaved: true, rotaryDim: 8, offset: 50000 }, // past the shared table: per-call rows
  ])('layer with RoPE ≡ float64 reference (H=$H Hkv=$Hkv interleaved=$interleaved rotaryDim=$rotaryDim offset=$offset)', (c) => {
    const dModel = 32, Dh = 8, B = 2, S = 9;
    const l = randomLayer(40 + c.H + c.offset, { dModel, numHeads: c.H, numKvHeads: c.Hkv, headDim: Dh });
    const position = { type: 'rope' as const, interleaved: c.interleaved, rotaryDim: c.rotaryDim, base: 1000 };
    const layer = rt.multiHeadAttention({ ...l.shape, position, weights: layerWeights(l, 'torch-separate') });
    const x = randomInput(41, B * S * dModel);
    const y = layer.forward({ data: x, shape: [B, S, dModel] }, { causal: true, positions: c.offset });
    // positions: offset, offset + 1, … for queries and keys alike
    const ref = refConfig(l, { type: 'rope', rotaryDim: c.rotaryDim ?? Dh, base: 1000, interleaved: c.interleaved });
    const want = referenceMha(ref, x, B, S, { causal: true, ropeShift: c.offset }).output;
    expect(mismatch(y.data, want, 3e-5, 1e-4, y.shape)).toBeUndefined();
    layer.dispose();
  });
});
