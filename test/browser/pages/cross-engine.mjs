// The cross-engine check's computation, one file run unchanged by the page (cross-engine.html, in
// each browser) and by Node (test/browser/cross-engine.test.ts): fixed seeded attentions through
// the engine's default binary, through forced simd128 and, where it validates, forced relaxed.
// Outputs travel as base64 of the Float32Array's bytes, so the test compares bits.

/** The cases: a full attention with ragged tiles, a causal one, a decode step (one query). */
export const CASES = [
  { name: 'full', shape: [1, 3, 67, 32], kvLength: 67, causal: false, seed: 11 },
  { name: 'causal', shape: [1, 2, 130, 64], kvLength: 130, causal: true, seed: 12 },
  { name: 'decode', shape: [1, 4, 1, 64], kvLength: 300, causal: false, seed: 13 },
];

/** mulberry32: the same seeded numbers in every JavaScript engine. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** q [B, H, Nq, D], k and v [B, H, kvLength, D] of a case: uniform in [−1, 1) from its seed. */
export function caseInputs({ shape, kvLength, seed }) {
  const random = seededRandom(seed);
  const [b, h, n, d] = shape;
  const fill = (rows) => {
    const data = new Float32Array(b * h * rows * d);
    for (let i = 0; i < data.length; i++) data[i] = random() * 2 - 1;
    return { data, shape: [b, h, rows, d] };
  };
  return { q: fill(n), k: fill(kvLength), v: fill(kvLength) };
}

/** Base64 of a Float32Array's bytes (little-endian everywhere this runs). */
export function toBase64(f32) {
  const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Every case on a runtime made by `createRuntime(options)`: { isa, outputs: { [case]: base64 } }. */
async function runAll(createRuntime, options) {
  const rt = await createRuntime(options);
  try {
    const outputs = {};
    for (const c of CASES) {
      const { q, k, v } = caseInputs(c);
      outputs[c.name] = toBase64(rt.attention(q, k, v, { causal: c.causal }).data);
    }
    return { isa: rt.isa, outputs };
  } finally {
    rt.dispose();
  }
}

/**
 * The cases through the default binary, forced simd128 and (when `isaSupported('relaxed')`)
 * forced relaxed: { default, simd128, relaxed? }. With `runLowPrecision` (case.mjs of the
 * environment tests, copied beside this file), also its low-precision outputs per binary:
 * lowPrecision: { simd128, relaxed? }.
 */
export async function runCrossEngine({ createRuntime, isaSupported }, runLowPrecision = undefined) {
  const result = { default: await runAll(createRuntime), simd128: await runAll(createRuntime, { isa: 'simd128' }) };
  if (isaSupported('relaxed')) result.relaxed = await runAll(createRuntime, { isa: 'relaxed' });
  if (runLowPrecision) {
    result.lowPrecision = { simd128: await runLowPrecision(createRuntime, { isa: 'simd128' }) };
    if (isaSupported('relaxed')) result.lowPrecision.relaxed = await runLowPrecision(createRuntime, { isa: 'relaxed' });
  }
  return result;
}
