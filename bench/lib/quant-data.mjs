// quant-data.mjs — the quantized weights the onnxruntime peers read, computed in JavaScript from the
// workloads' float32 B [K, N] (row-major), once per workload:
//
//   int8 per output column (DynamicQuantizeMatMul / MatMulInteger B [K, N], b_scale [N]):
//     s_j = f32(max_k |B[k][j]| / 127);  q = clamp(round-half-even(B / s_j), −127, 127)
//     — the rule rt.quantizeMatrix(b, { type: 'int8' }) applies, so both engines multiply the same
//     codes.
//   MatMulNBits, bits 4, block_size 32, no zero points (onnxruntime then uses 8): B [N, K/32, 16]
//     bytes, byte t of a block holds element 2t in its low nibble and 2t + 1 in its high nibble;
//     scales [N · K/32]. Per block, as ggml's q4_0: d = (the x of largest |x|) / −8,
//     q = min(15, trunc(x / d + 8.5)), value = (q − 8) · d. The same bytes go to
//     rt.quantizedMatrix({ type: 'matmulnbits' }), so our row and onnxruntime's read identical data.
//
// Speed is what these serve; the accuracy of each format is the library's tests' business.

const f32 = Math.fround;

function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** int8 codes [K, N] and N scales, one per output column. */
export function int8Columns(b, K, N) {
  const codes = new Int8Array(K * N);
  const scales = new Float32Array(N);
  const amax = new Float64Array(N);
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) amax[j] = Math.max(amax[j], Math.abs(b[k * N + j]));
  for (let j = 0; j < N; j++) scales[j] = f32(amax[j] / 127);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < N; j++) {
      const s = scales[j];
      codes[k * N + j] = s === 0 ? 0 : Math.max(-127, Math.min(127, roundHalfEven(b[k * N + j] / s)));
    }
  }
  return { codes, scales };
}

/** MatMulNBits 4-bit blocks of 32 along K: { blob: Uint8Array [N · K/32 · 16], scales: Float32Array [N · K/32] }. */
export function matmulNBits4(b, K, N) {
  if (K % 32) throw new Error(`matmulNBits4: K must be a multiple of 32, got ${K}`);
  const nb = K / 32;
  const blob = new Uint8Array(N * nb * 16);
  const scales = new Float32Array(N * nb);
  const q = new Uint8Array(32);
  for (let j = 0; j < N; j++) {
    for (let blk = 0; blk < nb; blk++) {
      let amax = 0;
      let max = 0;
      for (let t = 0; t < 32; t++) {
        const x = b[(blk * 32 + t) * N + j];
        if (Math.abs(x) > amax) {
          amax = Math.abs(x);
          max = x;
        }
      }
      const d = f32(max / -8);
      const id = d ? f32(1 / d) : 0;
      for (let t = 0; t < 32; t++) q[t] = Math.min(15, Math.trunc(f32(f32(b[(blk * 32 + t) * N + j] * id) + 8.5)));
      const at = (j * nb + blk) * 16;
      for (let t = 0; t < 16; t++) blob[at + t] = q[2 * t] | (q[2 * t + 1] << 4);
      scales[j * nb + blk] = d;
    }
  }
  return { blob, scales };
}

/** Bᵀ [N, K] of a row-major B [K, N]. */
export function transpose(b, K, N) {
  const t = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) t[j * K + k] = b[k * N + j];
  return t;
}
