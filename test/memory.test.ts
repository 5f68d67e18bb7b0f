// Wasm memory growth in the middle of a sequence of calls, and runtimes side by side.
//
// Growing a WebAssembly.Memory detaches every view of its old ArrayBuffer. The library promises
// that WasmTensor.data is re-derived on every read and that no call reads through a stale view.
// These tests keep an OLD `.data` view on purpose, force growth with calls whose own allocations
// do not fit (while WasmTensors are inputs, masks and outputs of those very calls), and check:
//   • growth happened: rt.memoryBytes increased and the old view is detached (byteLength 0);
//   • `tensor.data`, read again, still holds the right values;
//   • every result computed during and after growth matches the float64 reference
//     (|got − ref| ≤ 2e-5 + 2e-5·|ref|, inputs in [−2, 2]).
// Two runtimes in one process have separate memories, tensors and lifetimes.

import { describe, expect, it } from 'vitest';
import { AttentionError, createRuntimeSync, type Tensor, type WasmTensor } from '../src/index';
import { arenaStats, ISAS, mismatch, rng, sameValues, uniformF32 } from './helpers/numeric';
import { referenceAttention, referenceMatmul, referenceSoftmax } from './reference/attention';

const TOL = 2e-5;
const f32 = (shape: number[], seed: number): Tensor => ({ data: uniformF32(shape.reduce((p, d) => p * d, 1), rng(seed)), shape });
const copyOf = (t: WasmTensor): Tensor => ({ data: t.toArray(), shape: [...t.shape] });

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = TOL): void {
  const bad = mismatch(got, want, tol, tol);
  expect(bad, `${what}: ${bad}`).toBeUndefined();
}

/** [B, S, H·D] → [B, H, S, D] */
function toBhsd(t: Tensor, heads: number): Tensor {
  const [B, S, HD] = t.shape;
  const D = HD / heads;
  const data = new Float32Array(t.data.length);
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) for (let h = 0; h < heads; h++) for (let d = 0; d < D; d++) {
    data[((b * heads + h) * S + s) * D + d] = t.data[(b * S + s) * HD + h * D + d];
  }
  return { data, shape: [B, heads, S, D] };
}

/** concat along the sequence axis of two [B, H, S, D] tensors */
function concatSeq(a: Tensor, b: Tensor): Tensor {
  const [B, H, Sa, D] = a.shape;
  const Sb = b.shape[2];
  const data = new Float32Array(B * H * (Sa + Sb) * D);
  for (let x = 0; x < B * H; x++) {
    data.set(a.data.subarray(x * Sa * D, (x + 1) * Sa * D), x * (Sa + Sb) * D);
    data.set(b.data.subarray(x * Sb * D, (x + 1) * Sb * D), x * (Sa + Sb) * D + Sa * D);
  }
  return { data, shape: [B, H, Sa + Sb, D] };
}

describe.each(ISAS)('memory growth in the middle of a sequence of calls (%s)', (isa) => {
  it('WasmTensors used as inputs, mask and out of growing calls stay valid; old views detach', () => {
    const rt = createRuntimeSync({ isa });
    const qv = f32([1, 2, 9, 16], 1);
    const kv = f32([1, 1, 9, 16], 2);
    const vv = f32([1, 1, 9, 5], 3);
    const maskRows = new Float32Array([0, -Infinity, 0.5, 0, -1, 0, 0, -Infinity, 2]); // [9, 1]: per query row
    const q = rt.tensor(qv.shape, qv.data);
    const k = rt.tensor(kv.shape, kv.data);
    const v = rt.tensor(vv.shape, vv.data);
    const out = rt.tensor([1, 2, 9, 5]);
    const mask = rt.tensor([9, 1], maskRows);
    const maskT = { data: maskRows, shape: [9, 1] };

    // A: before any growth
    const oldQ = q.data;
    const oldOut = out.data;
    const mem0 = rt.memoryBytes;
    rt.attention(q, k, v, { out, mask, causal: true });
    const wantA = referenceAttention(qv, kv, vv, { mask: maskT, causal: true }).output;
    expectClose(out.data, wantA, 'A');
    const resultA = out.toArray();
    expect(rt.memoryBytes, 'no growth yet').toBe(mem0);
    expect(oldQ.byteLength, 'old view still attached before growth').toBeGreaterThan(0);

    // B: a call whose own allocations force growth, with the WasmTensors q (input), mask and out2
    let nk = 2048;
    let grownTo = mem0;
    for (let step = 0; step < 3; step++) {
      const memBefore = rt.memoryBytes;
      const oldView = q.data;
      nk = Math.max(nk, Math.ceil(memBefore / (16 * 4)) + 64); // K alone is larger than all memory
      const bigK = f32([1, 1, nk, 16], 10 + step);
      const bigV = f32([1, 1, nk, 5], 20 + step);
      const keyMask = new Float32Array(nk);
      for (let j = 0; j < nk; j++) keyMask[j] = j % 5 === 3 ? -Infinity : 0;
      const out2 = rt.tensor([1, 2, 9, 5]);
      const res = rt.attention(q, bigK, bigV, { out: out2, mask: { data: keyMask, shape: [1, 1, 1, nk] }, returnWeights: true, window: { left: 700 } });
      expect(rt.memoryBytes, `step ${step}: memory grew`).toBeGreaterThan(memBefore);
      expect(oldView.byteLength, `step ${step}: the view kept from before is detached`).toBe(0);
      const want = referenceAttention(qv, bigK, bigV, { mask: { data: keyMask, shape: [1, 1, 1, nk] }, returnWeights: true, window: { left: 700 } });
      expect(res.output).toBe(out2);
      expectClose(out2.data, want.output, `step ${step} output`);
      expectClose(res.weights.data, want.weights!, `step ${step} weights`);
      expect(sameValues(q.data, qv.data), `step ${step}: q re-read after growth`).toBeUndefined();
      expect(sameValues(out.data, resultA), `step ${step}: the earlier out keeps its values`).toBeUndefined();
      out2.dispose();
      grownTo = rt.memoryBytes;
      nk *= 2;
    }
    expect(grownTo).toBeGreaterThan(mem0);
    expect(oldQ.byteLength, 'the first view is detached').toBe(0);
    expect(oldOut.byteLength).toBe(0);
    expect(oldQ.length).toBe(0);

    // C: after growth, the small all-WasmTensor call again (fresh views everywhere)
    out.set(new Float32Array(out.size).fill(Number.NaN));
    rt.attention(q, k, v, { out, mask, causal: true });
    expectClose(out.data, wantA, 'C');
    expect(sameValues(k.data, kv.data)).toBeUndefined();
    expect(sameValues(v.data, vv.data)).toBeUndefined();
    expect(sameValues(mask.data, maskRows)).toBeUndefined();

    for (const t of [q, k, v, out, mask]) t.dispose();
    rt.dispose();
  });

  it('matmul and softmax with WasmTensor inputs whose own scratch forces growth', () => {
    const rt = createRuntimeSync({ isa });
    // matmul: resident A and bias, plain B large enough to force growth
    const a = f32([5, 64], 1);
    const bias = f32([300], 2);
    const aT = rt.tensor(a.shape, a.data);
    const biasT = rt.tensor(bias.shape, bias.data);
    const old = aT.data;
    const memBefore = rt.memoryBytes;
    const b = f32([300, 64], 3); // transposeB: [N, K]
    const bigB = f32([2, 64, 4000], 4); // a batched B of 2 MB: its copy forces growth
    const c1 = rt.matmul(aT, b, { transposeB: true, bias: biasT });
    expectClose(c1.data, referenceMatmul(a, b, { transposeB: true, bias }).data, 'matmul before growth', 1e-4);
    const aa = { data: new Float32Array([...a.data, ...a.data]), shape: [2, 5, 64] };
    const aaT = rt.tensor(aa.shape, aa.data);
    const c2 = rt.matmul(aaT, bigB);
    expect(rt.memoryBytes).toBeGreaterThan(memBefore);
    expect(old.byteLength).toBe(0);
    expectClose(c2.data, referenceMatmul(aa, bigB).data, 'batched matmul during growth', 1e-4);
    const c3 = rt.matmul(aT, b, { transposeB: true, bias: biasT });
    expect(sameValues(c3.data, c1.data), 'same product after growth').toBeUndefined();

    // softmax: a resident x so large that the call's own copy forces growth
    const cols = 1000;
    const rows = Math.ceil(rt.memoryBytes / (4 * cols)) + 16; // x is larger than all memory so far
    const x = f32([rows, cols], 5);
    for (let i = 0; i < x.data.length; i += 7) x.data[i] = -Infinity;
    const xT = rt.tensor(x.shape, x.data);
    const memX = rt.memoryBytes;
    const oldX = xT.data;
    const y = rt.softmax(xT);
    expect(rt.memoryBytes, 'softmax grew memory').toBeGreaterThan(memX);
    expect(oldX.byteLength).toBe(0);
    expectClose(y.data, referenceSoftmax(x), 'softmax', 1e-5);
    expect(sameValues(xT.data, x.data), 'softmax input untouched').toBeUndefined();
    rt.dispose();
  });

  it('onnxAttention with 3-D WasmTensors and a past cache, growing between the K and V copies', () => {
    const rt = createRuntimeSync({ isa });
    const B = 1;
    const Hq = 2;
    const Hkv = 1;
    const D = 16;
    const Dv = 8;
    const nq = 3;
    const P = 5;
    const Q3 = f32([B, nq, Hq * D], 1);
    const Qt = rt.tensor(Q3.shape, Q3.data);
    const oldQ = Qt.data;
    let nNew = 512;
    for (let step = 0; step < 3; step++) {
      const memBefore = rt.memoryBytes;
      nNew = Math.max(nNew, Math.ceil(memBefore / (Hkv * D * 4)));
      const K3 = f32([B, nNew, Hkv * D], 2 + step);
      const V3 = f32([B, nNew, Hkv * Dv], 3 + step);
      const pastK = f32([B, Hkv, P, D], 4 + step);
      const pastV = f32([B, Hkv, P, Dv], 5 + step);
      const Kt = rt.tensor(K3.shape, K3.data);
      const Vt = rt.tensor(V3.shape, V3.data);
      const pkT = rt.tensor(pastK.shape, pastK.data);
      const pvT = rt.tensor(pastV.shape, pastV.data);
      const res = rt.onnxAttention(
        { Q: Qt, K: Kt, V: Vt, past_key: pkT, past_value: pvT },
        { q_num_heads: Hq, kv_num_heads: Hkv, is_causal: 1, left_window_size: 300 },
      );
      expect(rt.memoryBytes, `step ${step}: memory grew`).toBeGreaterThan(memBefore);
      expect(oldQ.byteLength).toBe(0);
      const keys = concatSeq(pastK, toBhsd(K3, Hkv));
      const values = concatSeq(pastV, toBhsd(V3, Hkv));
      expect(sameValues(res.present_key.data, keys.data), `step ${step}: present_key`).toBeUndefined();
      expect(sameValues(res.present_value.data, values.data), `step ${step}: present_value`).toBeUndefined();
      // ONNX with a past cache puts query i at position i + P (causal: keys j ≤ i + P). The
      // reference's top-left alignment puts query row r at position r, so prepend P dummy query
      // rows and keep rows P … P + nq − 1.
      const padQ = toBhsd({ data: new Float32Array([...new Float32Array(P * Hq * D), ...Q3.data]), shape: [B, P + nq, Hq * D] }, Hq);
      const shifted = referenceAttention(padQ, keys, values, { causal: 'top-left', window: { left: 300 } });
      const yRef = new Float64Array(B * nq * Hq * Dv); // back to [B, nq, Hq·Dv]
      for (let h = 0; h < Hq; h++) for (let i = 0; i < nq; i++) for (let e = 0; e < Dv; e++) {
        yRef[i * Hq * Dv + h * Dv + e] = shifted.output[(h * (P + nq) + P + i) * Dv + e];
      }
      expect(res.Y.shape).toEqual([B, nq, Hq * Dv]);
      expectClose(res.Y.data, yRef, `step ${step} Y`);
      expect(res.present_key.shape).toEqual([B, Hkv, P + nNew, D]);
      for (const t of [Kt, Vt, pkT, pvT]) t.dispose();
      nNew *= 2;
    }
    expect(sameValues(Qt.data, Q3.data)).toBeUndefined();
    rt.dispose();
  });
});

describe('tensor lifetimes', () => {
  it('creating and disposing tensors reuses the arena (no growth, no live blocks)', () => {
    const rt = createRuntimeSync();
    rt.tensor([256]).dispose();
    const before = arenaStats(rt);
    const memory = rt.memoryBytes;
    for (let i = 0; i < 1000; i++) {
      const t = rt.tensor([256], new Float32Array(256).fill(i));
      expect(t.data[255]).toBe(i);
      t.dispose();
    }
    expect(arenaStats(rt)).toEqual(before);
    expect(rt.memoryBytes).toBe(memory);
    rt.dispose();
  });

  // Regression: the Runtime tracks live WasmTensors (to free them on dispose) and must forget a
  // tensor once it is disposed, or a program that makes one tensor per decoded token grows the
  // JavaScript heap without bound. Reaches into the private field `live` (no public counter).
  it('disposed tensors are not retained by the runtime', () => {
    const rt = createRuntimeSync();
    const live = (rt as unknown as { live: Set<unknown> }).live;
    expect(live).toBeInstanceOf(Set);
    for (let i = 0; i < 1000; i++) rt.tensor([4]).dispose();
    expect(live.size).toBe(0); // got 1000
    rt.dispose();
  });
});

describe('two runtimes in one process', () => {
  it('have separate memories, tensors and lifetimes', () => {
    const isa1 = ISAS[0];
    const isa2 = ISAS[ISAS.length - 1];
    const rt1 = createRuntimeSync({ isa: isa1 });
    const rt2 = createRuntimeSync({ isa: isa2 });
    expect(rt1.isa).toBe(isa1);
    expect(rt2.isa).toBe(isa2);
    const a = f32([1, 2, 7, 8], 1);
    const b = f32([1, 2, 7, 8], 2);
    const t1 = rt1.tensor(a.shape, a.data);
    const t2 = rt2.tensor(b.shape, b.data);
    const old2 = t2.data;
    const mem2 = rt2.memoryBytes;

    // writes to one runtime's memory do not show in the other's
    t1.data.fill(0.25);
    expect(sameValues(t2.data, b.data)).toBeUndefined();
    t1.set(a.data);

    // growing rt1 leaves rt2's memory, and even its old views, alone
    const mem1 = rt1.memoryBytes;
    const huge = rt1.tensor([mem1 / 4 + 1024]);
    expect(rt1.memoryBytes).toBeGreaterThan(mem1);
    expect(rt2.memoryBytes).toBe(mem2);
    expect(old2.byteLength, "rt2's view survives rt1's growth").toBeGreaterThan(0);
    expect(sameValues(old2, b.data)).toBeUndefined();

    // interleaved calls, each correct
    const r1 = rt1.attention(t1, t1, t1, { causal: true }) as Tensor;
    const r2 = rt2.attention(t2, t2, t2, { window: { left: 2, right: 1 } }) as Tensor;
    const r1b = rt1.attention(a, b, b) as Tensor;
    expectClose(r1.data, referenceAttention(a, a, a, { causal: true }).output, 'rt1');
    expectClose(r2.data, referenceAttention(b, b, b, { window: { left: 2, right: 1 } }).output, 'rt2');
    expectClose(r1b.data, referenceAttention(a, b, b).output, 'rt1 plain');

    // a tensor of one runtime is rejected by the other
    expect(() => rt2.attention(t1, t2, t2)).toThrow(AttentionError);
    let thrown: unknown;
    try {
      rt1.attention(t1, t2, t1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AttentionError);
    expect((thrown as AttentionError).code).toBe('INVALID_ARGUMENT');
    expect((thrown as Error).message).toContain('k is a WasmTensor of another runtime');
    const m1 = rt1.tensor([2, 2], [1, 2, 3, 4]);
    const m2 = rt2.tensor([2, 2]);
    expect(() => rt1.matmul(m1, m1, { out: m2 })).toThrow(/options.out is a WasmTensor of another runtime/);
    expect(Array.from(m2.data)).toEqual([0, 0, 0, 0]); // not written
    m2.dispose();

    // disposing rt1 leaves rt2 working and its tensors intact
    const blocks2 = arenaStats(rt2).blocks;
    huge.dispose();
    rt1.dispose();
    expect(t1.isDisposed).toBe(true);
    expect(() => t1.data).toThrow(AttentionError);
    expect(sameValues(t2.data, b.data)).toBeUndefined();
    const r2b = rt2.attention(t2, t2, t2, { window: { left: 2, right: 1 } }) as Tensor;
    expect(sameValues(r2b.data, r2.data)).toBeUndefined();
    expect(arenaStats(rt2).blocks).toBe(blocks2);
    t2.dispose();
    rt2.dispose();
  });
});

describe('growth stays near the live bytes', () => {
  it('a model-like sequence of allocations (40 × 0.75 MiB) ends within max(1 MiB, memory / 16) of what it holds', () => {
    const rt = createRuntimeSync();
    const held: Array<{ dispose(): void }> = [];
    let worst = 0;
    for (let i = 0; i < 40; i++) {
      held.push(rt.tensor([3 * 2 ** 16]));
      const slack = rt.memoryBytes - arenaStats(rt).bytes;
      // Past the doubling phase (4 MiB), memory holds no more than the next growth step beyond need.
      if (rt.memoryBytes > 4 * 2 ** 20) worst = Math.max(worst, slack / Math.max(2 ** 20, rt.memoryBytes / 16));
    }
    // A fixed 4 MiB step leaves up to 4 MiB idle at 10–30 MiB (ratio > 1); the page rounding and the
    // blocks' pads are far below a step.
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1.01);
    for (const t of held) t.dispose();
    rt.dispose();
  });
});
