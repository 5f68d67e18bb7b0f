// quant-kinds.mjs — constructors of the quantized workloads: int8 GEMM (`qgemm`), matrix-vector
// products in every weight format (`qmatvec`) and the BERT attention block with int8 weights
// (`qbert`). Each brings its own setups (no engine knows these kinds) and returns `variants`: one
// result row per format or graph, all timed round-robin in one process by the CLI —
//
//   wasm-attention   int8 / q8_0 / q4_0 / f16 through rt.quantizeMatrix + rt.matmul, MatMulNBits
//                    bytes through rt.quantizedMatrix, and f32 (weights packed or resident once)
//                    as the baseline; the block with rt.multiHeadAttention({ weightType })
//   onnxruntime-*    DynamicQuantizeMatMul, MatMulInteger, MatMulNBits and the q8 BERT graph
//                    (lib/quant-onnx.mjs), on the same int8 codes / 4-bit blocks as ours
//                    (lib/quant-data.mjs)
//
// Inputs and the float64 reference are the float32 kinds' (lib/kinds.mjs): the error column is
// then each format's quantization error plus rounding. A row whose error exceeds its format's
// tolerance times max |reference| fails: a misread matrix gives errors of the output's own size.
// Q-A3's 1-thread rows also carry a profile of the block's parts (lib/quant-profile.mjs) for the
// explanation of its target (lib/quant-explain.mjs).

import { bert, gemm } from './kinds.mjs';
import { int8Columns, matmulNBits4, transpose } from './quant-data.mjs';
import { dqmmModel, matIntegerModel, nbitsModel, q8BertModel, q8BertParts } from './quant-onnx.mjs';
import { ortBlockProfile, oursBlockProfile } from './quant-profile.mjs';
import { median, Skip } from './util.mjs';

let lib;
const loadLib = async () => (lib ??= await import('../../dist/index.js'));

function lazy(make) {
  let v;
  return () => (v ??= make());
}

/** max |err| / max |reference| above which a row is wrong, not merely quantized. */
const TOLERANCE = {
  f32: 1e-3, f16: 1e-2, int8: 0.1, q8_0: 0.1, q4_0: 0.3, matmulnbits: 0.3,
  DynamicQuantizeMatMul: 0.1, MatMulInteger: 0.1, MatMulNBits: 0.3, 'q8 graph': 0.1,
};

/**
 * Sets `p.check` (max |err| vs float64, as the CLI reports it) for output `read()` of `variant`.
 * Ours must stay within the format's tolerance. A peer's row is kept whatever its error (its
 * arithmetic is not ours to judge; onnxruntime-web running the same model bytes is what checks
 * the models are built right), and the note says when it is above the format's (`p.checkNote`).
 */
function attachCheck(p, w, variant, read, peer = undefined) {
  const scale = lazy(() => w.reference().values.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
  p.check = async () => {
    const e = w.error(await read());
    const rel = e / scale();
    if (!peer && !(rel <= TOLERANCE[variant])) {
      throw new Error(`${variant} output is wrong: max |err| ${e.toExponential(2)} > ${TOLERANCE[variant]} × max |reference| ${scale().toFixed(3)}`);
    }
    if (rel > TOLERANCE[variant]) p.checkNote = `max |err| is ${(rel * 100).toFixed(0)}% of max |reference|, above the ${TOLERANCE[variant] * 100}% expected of ${variant}${peer === 'onnxruntime-node' ? U8S8 : ''}`;
    return e;
  };
  return p;
}

// Measured on this machine's AVX2 CPU (no AVX-512 VNNI) with Q-G3's shape: the same model with
// 7-bit weight codes gives max |err| 0.14 instead of 7.1 (onnxruntime-web: 0.22 with 8 bits).
const U8S8 = ' — onnxruntime\'s x86 u8×s8 kernel sums byte pairs into saturating 16-bit lanes (VPMADDUBSW) when the CPU has no VNNI, and full-range int8 weights overflow them (onnxruntime\'s quantization guide advises reduce_range there); with 7-bit weight codes its error falls below onnxruntime-web\'s (checked separately on this machine), so this is its arithmetic, not a wiring error';

/** Only 1-thread rows of our f32 and of onnxruntime-web get a ratio column (the rest is in --json). */
const ratioColumns = (r) => r.threads === 1 && (r.family === 'onnxruntime-web' || (r.family === 'wasm-attention' && r.variant === 'f32'));

/** Median ms of `run` after two warm-up calls, `n` calls. */
async function quickTime(run, n = 3) {
  for (let i = 0; i < 2; i++) await run();
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

// ── wasm-attention ───────────────────────────────────────────────────────────────────────────

/**
 * Setup of our engine: `build(rt)` returns [variant, () => prepared] pairs; a variant that throws
 * becomes a failed row, the others still run. One runtime per engine (binary × threads).
 */
function ours(build) {
  return async (engine) => {
    const { createRuntime, createRuntimeSync } = await loadLib();
    const rt = engine.threads > 1 ? await createRuntime({ isa: engine.isa, threads: engine.threads }) : createRuntimeSync({ isa: engine.isa });
    try {
      const variants = [];
      for (const [variant, make] of build(rt)) {
        try {
          variants.push({ variant, ...(await make()) });
        } catch (error) {
          variants.push({ variant, error });
        }
      }
      return { variants, dispose: () => rt.dispose() };
    } catch (e) {
      rt.dispose();
      throw e;
    }
  };
}

/** One product C = A·B on our side: `b` a QuantizedMatrix, PackedMatrix or resident Bᵀ. */
function product(rt, w, variant, at, b, { M, K, N }, { transposeB = false, note } = {}) {
  const c = rt.tensor([M, N]);
  const options = transposeB ? { out: c, transposeB } : { out: c };
  return attachCheck({
    run: () => rt.matmul(at, b, options),
    weightBytes: b.type ? b.bytes : K * N * 4,
    note,
  }, w, variant, () => c.data);
}

/**
 * Our f32 decode baseline: the faster, timed here, of B packed once (rt.packMatrix) and Bᵀ resident
 * (rt.tensor [N, K], transposeB: the layout decode kernels read row by row).
 */
async function fastestF32(rt, w, at, b, dims) {
  const pb = rt.packMatrix({ data: b, shape: [dims.K, dims.N] });
  const bt = rt.tensor([dims.N, dims.K], transpose(b, dims.K, dims.N));
  const packed = product(rt, w, 'f32', at, pb, dims);
  const resident = product(rt, w, 'f32', at, bt, dims, { transposeB: true });
  const [tp, tr] = [await quickTime(packed.run), await quickTime(resident.run)];
  const [best, other] = tp <= tr ? [packed, 'Bᵀ resident'] : [resident, 'packed'];
  (tp <= tr ? bt : pb).dispose(); // the slower one's weights
  best.note = `${tp <= tr ? 'B packed once (rt.packMatrix)' : 'Bᵀ resident (rt.tensor [N, K], transposeB)'}: faster here than ${other} (${Math.min(tp, tr).toFixed(2)} vs ${Math.max(tp, tr).toFixed(2)} ms)`;
  return best;
}

// ── onnxruntime ──────────────────────────────────────────────────────────────────────────────

/**
 * Setup of an onnxruntime engine: `variants` are { variant, models: () => [model, …], overrides?,
 * weightBytes?, profile?(engine, run) }; of several candidate models of one variant the fastest at
 * preparation is kept (a fair peer). The input is `input()` with shape `shape`.
 */
function ortSetup(w, variants, input, shape) {
  return async (engine) => {
    const sessions = [];
    const list = [];
    for (const v of variants) {
      try {
        const tried = [];
        for (const model of v.models()) {
          const { ort, session } = await engine.session(model.bytes, v.overrides);
          sessions.push(session);
          const feeds = { [model.input]: new ort.Tensor('float32', input(), shape) };
          tried.push({ model, session, feeds, ms: await quickTime(() => session.run(feeds)) });
        }
        tried.sort((x, y) => x.ms - y.ms);
        for (const t of tried.slice(1)) {
          sessions.splice(sessions.indexOf(t.session), 1);
          await t.session.release();
        }
        const { model, session, feeds } = tried[0];
        const out = session.outputNames[0];
        const why = tried.length > 1 ? ` (faster here than ${tried.slice(1).map((t) => `${t.model.description.match(/accuracy_level \d/)?.[0] ?? t.model.description}: ${tried[0].ms.toFixed(2)} vs ${t.ms.toFixed(2)} ms`).join('; ')})` : '';
        const run = () => session.run(feeds);
        list.push(attachCheck({
          variant: v.variant,
          note: `${model.description}${why}`,
          run,
          settleMs: engine.settleMs,
          weightBytes: v.weightBytes,
          profile: v.profile && engine.threads === 1 ? await v.profile(engine, run) : undefined,
        }, w, v.variant, async () => (await session.run(feeds))[out].data, engine.family));
      } catch (error) {
        if (error instanceof Skip) {
          for (const s of sessions) await s.release();
          throw error; // the engine's thread count is fixed in this process: one skipped row
        }
        list.push({ variant: v.variant, error });
      }
    }
    return { variants: list, dispose: async () => { for (const s of sessions) await s.release(); } };
  };
}

const ORT = ['onnxruntime-web', 'onnxruntime-node'];
const bothOrt = (make) => Object.fromEntries(ORT.map((f) => [f, make]));

// ── workload constructors ────────────────────────────────────────────────────────────────────

/** int8 GEMM A[M,K]·B[K,N]: our int8 and f32 against DynamicQuantizeMatMul and MatMulInteger. */
export function qgemm({ id, order, title, M, K, N, seed, targets }) {
  const base = gemm({ id, title, M, K, N, seed });
  const dims = { M, K, N };
  const codes = lazy(() => int8Columns(base.inputs().b, K, N));
  return {
    ...base, order, kind: 'qgemm', unit: 'G op/s', targets, ratioColumns,
    workText: `${((2 * M * N * K) / 1e9).toFixed(3)} G op per call (2·M·N·K; a multiply-add is 2 ops, int8 or float); weights constant, quantized or packed once`,
    setup: {
      'wasm-attention': ours((rt) => {
        const { a, b } = base.inputs();
        const at = rt.tensor([M, K], a);
        const bt = { data: b, shape: [K, N] };
        return [
          ['int8', () => product(rt, base, 'int8', at, rt.quantizeMatrix(bt, { type: 'int8' }), dims, { note: 'rt.quantizeMatrix(b, { type: "int8" }) once, then rt.matmul(a, qb, { out })' })],
          ['f32', () => product(rt, base, 'f32', at, rt.packMatrix(bt), dims, { note: 'rt.packMatrix(b) once, then rt.matmul(a, pb, { out })' })],
        ];
      }),
      ...bothOrt(ortSetup(base, [
        { variant: 'DynamicQuantizeMatMul', models: () => [dqmmModel(M, K, N, codes())], weightBytes: K * N + 4 * N },
        { variant: 'MatMulInteger', models: () => [matIntegerModel(M, K, N, codes())], overrides: { graphOptimizationLevel: 'basic' }, weightBytes: K * N + 4 * N },
      ], () => base.inputs().a, [M, K])),
    },
  };
}

/** Matrix-vector 1×K·K×N in every weight format against our f32 and MatMulNBits / DynamicQuantizeMatMul. */
export function qmatvec({ id, order, title, K, N, seed, targets }) {
  const base = gemm({ id, title, M: 1, K, N, seed });
  const dims = { M: 1, K, N };
  const codes = lazy(() => int8Columns(base.inputs().b, K, N));
  const nbits = lazy(() => matmulNBits4(base.inputs().b, K, N));
  const formats = ['int8', 'q8_0', 'q4_0', 'f16'];
  return {
    ...base, order, kind: 'qmatvec', unit: 'G op/s', targets, ratioColumns, weightRate: true,
    workText: `${((2 * N * K) / 1e6).toFixed(1)} M op per call (2·K·N); memory-bound: the "weights" column gives the bytes each format reads per call and the rate`,
    setup: {
      'wasm-attention': ours((rt) => {
        const { a, b } = base.inputs();
        const at = rt.tensor([1, K], a);
        const bt = { data: b, shape: [K, N] };
        return [
          ...formats.map((type) => [type, () => product(rt, base, type, at, rt.quantizeMatrix(bt, { type }), dims, { note: `rt.quantizeMatrix(b, { type: "${type}" }) once, then rt.matmul(a, qb, { out })` })]),
          ['matmulnbits', () => {
            const { blob, scales } = nbits();
            const qb = rt.quantizedMatrix({ type: 'matmulnbits', shape: [N, K], data: blob, scales });
            return product(rt, base, 'matmulnbits', at, qb, dims, { note: 'rt.quantizedMatrix({ type: "matmulnbits" }) on the bytes onnxruntime\'s MatMulNBits reads' });
          }],
          ['f32', () => fastestF32(rt, base, at, b, dims)],
        ];
      }),
      ...bothOrt(ortSetup(base, [
        { variant: 'MatMulNBits', models: () => [0, 4].map((level) => nbitsModel(1, K, N, nbits(), level)), weightBytes: N * (K / 32) * 20 },
        { variant: 'DynamicQuantizeMatMul', models: () => [dqmmModel(1, K, N, codes())], weightBytes: K * N + 4 * N },
      ], () => base.inputs().a, [1, K])),
    },
  };
}

/** BERT attention block with int8 weights (and f32) against onnxruntime's q8 graph. */
export function qbert({ id, order, title, N, d, H, seed, targets }) {
  const base = bert({ id, title, N, d, H, seed });
  const codes = lazy(() => {
    const t = base.inputs();
    return Object.fromEntries(['wq', 'wk', 'wv', 'wo'].map((k) => [k, int8Columns(t[k], d, d)]));
  });
  return {
    ...base, order, kind: 'qbert', targets, ratioColumns,
    setup: {
      'wasm-attention': ours((rt) => {
        const t = base.inputs();
        const x = rt.tensor([1, N, d], t.x);
        const weights = {
          format: 'onnx', qkv: { data: t.wqkv, shape: [d, 3 * d] }, qkvBias: { data: t.bqkv, shape: [3 * d] },
          out: { data: t.wo, shape: [d, d] }, outBias: { data: t.bo, shape: [d] },
        };
        const layer = (weightType) => async () => {
          const l = rt.multiHeadAttention({ dModel: d, numHeads: H, weights, weightType });
          const y = rt.tensor([1, N, d]);
          const run = () => l.forward(x, { out: y });
          return attachCheck({
            run,
            profile: weightType === 'int8' && rt.threads === 1 ? await oursBlockProfile(rt, t, { N, d, H }, run) : undefined,
            note: `rt.multiHeadAttention({ weightType: '${weightType}' }): ${weightType === 'int8' ? 'the four projections quantized once (int8, per output column), activations per row on the fly' : 'weights packed into GEMM panels once'}`,
          }, base, weightType, () => y.data);
        };
        return [['int8', layer('int8')], ['f32', layer('f32')]];
      }),
      ...bothOrt(ortSetup(base, [
        {
          variant: 'q8 graph',
          models: () => [q8BertModel({ N, d, H }, codes(), base.inputs().bqkv, base.inputs().bo)],
          profile: (engine, run) => ortBlockProfile(engine, q8BertParts({ N, d, H }, codes(), base.inputs().bqkv, base.inputs().bo), base.inputs().x, { N, d }, run),
        },
      ], () => base.inputs().x, [1, N, d])),
    },
  };
}
