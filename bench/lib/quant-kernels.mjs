// quant-kernels.mjs — timing of the low-precision kernels against the f32 ones, one thread, raw
// kernel exports of dist/wasm/{simd128,relaxed}.wasm (run `npm run build` first):
//
//   node --experimental-wasm-relaxed-simd bench/lib/quant-kernels.mjs [--quick] [--no-ort] [--only=peak|gemm|matvec]
//
// Workloads (ops = 2·m·n·k): GEMM 128×768×2304 and 512³ — int8 W8A8 (qd8_f32_qc8w_gemm, packed
// weights) in both binaries (simd128: i32x4.dot_i16x8_s; relaxed: i16x8.relaxed_dot_i8x16_i7x16_s),
// f32 (f32_gemm, weights packed once), and onnxruntime-web's DynamicQuantizeMatMul (wasm, 1
// thread, the same int8 weights, in this process) unless --no-ort; matrix-vector 1×4096×4096 and
// 1×768×2304 — int8, GGUF q8_0, q4_0, MatMulNBits 4-bit, f16 weights (Bᵀ in place), f32 (Bᵀ in
// place) — in G op/s and GB/s of weights; and the peak loops (f32_peak_madd, qs8_peak_*).
// Each case: warm-up, then samples interleaved round-robin across the cases of a workload (so
// machine noise hits all alike); each sample repeats the call to last ≥ 40 ms. Two clocks:
// wall time (performance.now) and this thread's CPU time (process.cpuUsage().user): on a shared
// machine the CPU-time median is the steadier figure; both medians are printed.

import { readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url);
const args = new Set(process.argv.slice(2));
const only = [...args].find((a) => a.startsWith('--only='))?.slice(7);
const QUICK = args.has('--quick');
const SAMPLES = QUICK ? 5 : 11;
const SAMPLE_MS = QUICK ? 20 : 40;

// ── a minimal host: bump allocation above heap_base, parameter blocks by exported offsets ──

class Host {
  constructor(isa) {
    this.isa = isa;
    const module = new WebAssembly.Module(readFileSync(new URL(`dist/wasm/${isa}.wasm`, ROOT)));
    this.e = new WebAssembly.Instance(module, {}).exports;
    this.top = (this.e.heap_base() + 63) & ~63;
  }
  alloc(bytes) {
    const p = (this.top + 63) & ~63;
    this.top = p + bytes + 64;
    const need = this.top - this.e.memory.buffer.byteLength;
    if (need > 0) this.e.memory.grow(Math.ceil(need / 65536));
    new Uint8Array(this.e.memory.buffer, p, bytes).fill(0);
    return p;
  }
  put(view) {
    const p = this.alloc(view.byteLength);
    new Uint8Array(this.e.memory.buffer, p, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return p;
  }
  params(prefix, fields) {
    const p = this.alloc(this.e[`${prefix}PARAMS_BYTES`].value);
    const v = new DataView(this.e.memory.buffer);
    for (const [k, val] of Object.entries(fields)) v.setInt32(p + this.e[`${prefix}${k}`].value, val, true);
    return p;
  }
}

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const next = rng(1);
const gaussian = (n) => Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
const bytes = (n) => Uint8Array.from({ length: n }, () => (next() * 256) | 0);
const int8 = (n) => Int8Array.from({ length: n }, () => Math.round(Math.max(-127, Math.min(127, (next() - 0.5) * 200))));
const f16Bits = (n) => Uint16Array.from({ length: n }, () => 0x2000 + ((next() * 0x1800) | 0) + (next() < 0.5 ? 0x8000 : 0)); // |w| in [2⁻⁷, 0.5)
const blocksWithF16Scales = (n, k, blockBytes) => {
  const b = bytes(n * (k / 32) * blockBytes);
  for (let t = 0; t < n * (k / 32); t++) b.set([0x00, 0x24], t * blockBytes); // d = 2⁻⁶
  return b;
};

// ── cases: each returns { name, run, ops, weightBytes } on its own instance ──

function int8Gemm(isa, m, n, k, w, a) {
  const h = new Host(isa);
  const packed = h.alloc(h.e.qc8w_gemm_packed_b_bytes(n, k));
  h.e.qc8w_gemm_pack_b(h.params('QPACK_', {
    B: h.put(w), LDB: n, N: n, K: k, SCALE: h.put(new Float32Array(n).fill(0.01)), SCALE_STRIDE: 1, DST: packed,
  }));
  const p = h.params('QGEMM_', {
    A: h.put(a), LDA: k, B: packed, C: h.alloc(m * n * 4), LDC: n, M: m, N: n, K: k,
    WORKSPACE: h.alloc(h.e.qd8_f32_qc8w_gemm_workspace_bytes(m, k)),
  });
  return { run: () => h.e.qd8_f32_qc8w_gemm(p), weightBytes: h.e.qc8w_gemm_packed_b_bytes(n, k) };
}

function f32Gemm(isa, m, n, k, wf, a, { transB = false, packed = true } = {}) {
  const h = new Host(isa);
  const b = h.put(wf);
  let B = b;
  if (packed) {
    B = h.alloc(h.e.f32_gemm_packed_b_bytes(n, k));
    h.e.f32_gemm_pack_b(h.params('GEMM_PACK_', { B: b, LDB: transB ? k : n, TRANS_B: transB ? 1 : 0, N: n, K: k, DST: B }));
  }
  const p = h.params('GEMM_', {
    A: h.put(a), LDA: k, B, LDB: transB ? k : n, C: h.alloc(m * n * 4), LDC: n, M: m, N: n, K: k,
    TRANS_B: transB ? 1 : 0, WORKSPACE: h.alloc(h.e.f32_gemm_workspace_bytes(n, k)), B_PACKED: packed ? 1 : 0,
  });
  return { run: () => h.e.f32_gemm(p), weightBytes: n * k * 4 };
}

function blockGemm(isa, format, m, n, k, w, a, extra = {}) {
  const h = new Host(isa);
  const p = h.params('QB_', {
    A: h.put(a), LDA: k, W: h.put(w), C: h.alloc(m * n * 4), LDC: n, M: m, N: n, K: k,
    WORKSPACE: h.alloc(h.e.qd8_f32_qb_gemm_workspace_bytes(m, k)),
    SCALES: extra.scales ? h.put(extra.scales) : 0,
  });
  const fn = h.e[`qd8_f32_${format}_gemm`];
  return { run: () => fn(p), weightBytes: w.byteLength + (extra.scales?.byteLength ?? 0) };
}

function f16Gemm(isa, m, n, k, w, a) {
  const h = new Host(isa);
  const p = h.params('GEMM_', {
    A: h.put(a), LDA: k, B: h.put(w), LDB: k, C: h.alloc(m * n * 4), LDC: n, M: m, N: n, K: k, TRANS_B: 1,
    WORKSPACE: h.alloc(h.e.f32_f16w_gemm_workspace_bytes(n, k)),
  });
  return { run: () => h.e.f32_f16w_gemm(p), weightBytes: n * k * 2 };
}

async function ortDynamicQuantizeMatMul(m, n, k, w, a) {
  const ort = await import('onnxruntime-web');
  const { default: onnxProto } = await import('onnx-proto');
  const { onnx } = onnxProto;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  const T = onnx.TensorProto.DataType;
  const vi = (name, shape) => ({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
  const init = (name, dims, dataType, view) => ({ name, dims, dataType, rawData: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) });
  const model = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 10, producerName: 'wasm-attention bench', opsetImport: [{ domain: '', version: 21 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'dqmm',
      node: [{ opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', input: ['A', 'B', 'b_scale'], output: ['Y'] }],
      input: [vi('A', [m, k])], output: [vi('Y', [m, n])],
      initializer: [init('B', [k, n], T.INT8, w), init('b_scale', [n], T.FLOAT, new Float32Array(n).fill(0.01))],
    },
  })).finish();
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', a, [m, k]) };
  return { run: () => session.run(feeds), async: true, weightBytes: n * k };
}

// ── timing ──

const cpuMs = () => process.cpuUsage().user / 1000;

async function measure(cases) {
  for (const c of cases) {
    const t0 = performance.now();
    let runs = 0;
    while (performance.now() - t0 < (QUICK ? 150 : 500) || runs < 3) {
      if (c.async) await c.run();
      else c.run();
      runs++;
    }
    c.reps = Math.max(1, Math.ceil(SAMPLE_MS / ((performance.now() - t0) / runs)));
    c.wall = [];
    c.cpu = [];
  }
  for (let s = 0; s < SAMPLES; s++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + s) % cases.length];
      const w0 = performance.now();
      const c0 = cpuMs();
      for (let r = 0; r < c.reps; r++) {
        if (c.async) await c.run();
        else c.run();
      }
      c.cpu.push((cpuMs() - c0) / c.reps);
      c.wall.push((performance.now() - w0) / c.reps);
    }
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  for (const c of cases) {
    c.wallMs = med(c.wall);
    c.cpuMs = med(c.cpu);
  }
  return cases;
}

const fmt = (x, d = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));

async function gemmWorkload(m, n, k) {
  const a = gaussian(m * k);
  const w = int8(k * n);
  const wf = Float32Array.from(w, (v) => v * 0.01);
  const cases = [
    { name: 'int8 W8A8, simd128 (dot_i16x8)', ...int8Gemm('simd128', m, n, k, w, a) },
    { name: 'int8 W8A8, relaxed (relaxed dot)', ...int8Gemm('relaxed', m, n, k, w, a) },
    { name: 'f32, simd128', ...f32Gemm('simd128', m, n, k, wf, a) },
    { name: 'f32, relaxed', ...f32Gemm('relaxed', m, n, k, wf, a) },
  ];
  if (!args.has('--no-ort')) {
    try {
      cases.push({ name: 'onnxruntime-web DynamicQuantizeMatMul', ...(await ortDynamicQuantizeMatMul(m, n, k, w, a)) });
    } catch (e) {
      console.log(`(onnxruntime-web skipped: ${e.message})`);
    }
  }
  await measure(cases);
  const ops = 2 * m * n * k;
  const f32 = cases.find((c) => c.name === 'f32, relaxed');
  console.log(`\nGEMM ${m}×${k}×${n} (m×k×n), ${ops / 1e6} M ops; G op/s (median; CPU-time median); × f32 relaxed (CPU time)`);
  for (const c of cases) {
    console.log(`  ${c.name.padEnd(40)} ${fmt(ops / c.wallMs / 1e6).padStart(6)}  (${fmt(ops / c.cpuMs / 1e6).padStart(6)})  ${(f32.cpuMs / c.cpuMs).toFixed(2)}×`);
  }
  return cases;
}

async function matvecWorkload(n, k) {
  const a = gaussian(k);
  const nb = k / 32;
  const qb4wScales = new Float32Array(n * nb).fill(0.01);
  const wf = Float32Array.from(int8(n * k), (v) => v * 0.01);
  const cases = [];
  for (const isa of ['simd128', 'relaxed']) {
    cases.push(
      { name: `int8 (packed), ${isa}`, ...int8Gemm(isa, 1, n, k, int8(k * n), a) },
      { name: `q8_0, ${isa}`, ...blockGemm(isa, 'q8_0', 1, n, k, blocksWithF16Scales(n, k, 34), a) },
      { name: `q4_0, ${isa}`, ...blockGemm(isa, 'q4_0', 1, n, k, blocksWithF16Scales(n, k, 18), a) },
      { name: `MatMulNBits 4-bit, ${isa}`, ...blockGemm(isa, 'qb4w', 1, n, k, bytes(n * nb * 16), a, { scales: qb4wScales }) },
      { name: `f16 (Bᵀ in place), ${isa}`, ...f16Gemm(isa, 1, n, k, f16Bits(n * k), a) },
      { name: `f32 (Bᵀ in place), ${isa}`, ...f32Gemm(isa, 1, n, k, wf, a, { transB: true, packed: false }) },
    );
  }
  await measure(cases);
  const ops = 2 * n * k;
  const f32 = cases.find((c) => c.name === 'f32 (Bᵀ in place), relaxed');
  console.log(`\nmatrix-vector 1×${k}×${n}; G op/s (median; CPU-time median), weight GB/s (CPU time), × f32 relaxed (CPU time)`);
  for (const c of cases) {
    console.log(`  ${c.name.padEnd(40)} ${fmt(ops / c.wallMs / 1e6).padStart(6)}  (${fmt(ops / c.cpuMs / 1e6).padStart(6)})  ${fmt(c.weightBytes / c.cpuMs / 1e6).padStart(5)} GB/s  ${(f32.cpuMs / c.cpuMs).toFixed(2)}×`);
  }
  return cases;
}

async function peakWorkload() {
  const iters = 2_000_000;
  const cases = [];
  for (const isa of ['simd128', 'relaxed']) {
    const h = new Host(isa);
    cases.push({ name: `f32_peak_madd, ${isa}`, run: () => h.e.f32_peak_madd(iters, 1e-7), ops: iters * 64 });
    cases.push({ name: `qs8_peak_dot_i16x8, ${isa}`, run: () => h.e.qs8_peak_dot_i16x8(iters, 1), ops: iters * 128 });
    if (isa === 'relaxed') {
      cases.push({ name: 'qs8_peak_relaxed_dot_add, relaxed', run: () => h.e.qs8_peak_relaxed_dot_add(iters, 1), ops: iters * 256 });
      cases.push({ name: 'qs8_peak_relaxed_dot, relaxed', run: () => h.e.qs8_peak_relaxed_dot(iters, 1), ops: iters * 256 });
    }
  }
  await measure(cases);
  console.log('\npeak loops (8 independent chains, no memory traffic); G op/s (median; CPU-time median)');
  for (const c of cases) console.log(`  ${c.name.padEnd(40)} ${fmt(c.ops / c.wallMs / 1e6).padStart(6)}  (${fmt(c.ops / c.cpuMs / 1e6).padStart(6)})`);
}

console.log(`quant-kernels bench: node ${process.version}, ${SAMPLES} samples per case, ${new Date().toISOString()}`);
if (!only || only === 'peak') await peakWorkload();
if (!only || only === 'gemm') {
  await gemmWorkload(128, 2304, 768);
  await gemmWorkload(512, 512, 512);
}
if (!only || only === 'matvec') {
  await matvecWorkload(4096, 4096);
  await matvecWorkload(2304, 768);
}
