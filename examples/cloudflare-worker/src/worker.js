// Cloudflare Worker example: POST q, k, v (as flat number arrays) with their shape, get the
// attention output back as JSON. GET answers with usage, limits and the kernel binary in use.
//
// `import ... from 'wasm-attention'` resolves through the package's `workerd` export condition
// (wrangler and `esbuild --conditions=workerd` pick it) to an entry that imports the shipped .wasm
// files as precompiled WebAssembly.Modules: Workers forbid compiling Wasm from bytes at run time.
//
// The body comes from anyone: its size is checked while it is read (never more than the limit is
// read), and every field before a tensor is built — shape entries, element
// counts against array lengths, number types, a cap on the total. A bad body is a 400 with a
// code (BODY_TOO_LARGE, INVALID_JSON, INVALID_BODY, or the library's AttentionError code); any
// other failure is a 500.
import { AttentionError, createRuntime } from 'wasm-attention';

/** Largest body read (bytes). */
const MAX_BODY_BYTES = 1 << 20;
/** Largest q, k or v (float32 elements): all three fit in the body even at 40 characters a number. */
const MAX_ELEMENTS = 1 << 13;

/** One runtime per isolate, created on the first request and reused. */
let runtime;

/** A client error: answered with HTTP 400 and `code`. */
class BadRequest extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * The body as text, reading at most MAX_BODY_BYTES (and one chunk) of it, with or without a
 * Content-Length. (Refusing on a large Content-Length alone answered before the body was read,
 * and clients still sending it saw the connection reset instead of the answer.)
 */
async function readBody(request) {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new BadRequest('BODY_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes, got more`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** A flat array of `count` finite numbers, as float32. */
function numbers(value, name, count) {
  if (!Array.isArray(value)) throw new BadRequest('INVALID_BODY', `${name} must be an array of numbers, got ${typeof value}`);
  if (value.length !== count) throw new BadRequest('INVALID_BODY', `${name} must hold ${count} numbers (the product of shape), got ${value.length}`);
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'number' || !Number.isFinite(value[i])) {
      throw new BadRequest('INVALID_BODY', `${name}[${i}] must be a finite number, got ${JSON.stringify(value[i])}`);
    }
  }
  return Float32Array.from(value);
}

/** The validated request: shape [batch, heads, seq, headDim] (each ≥ 1), q, k, v, causal. */
function parseRequest(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new BadRequest('INVALID_JSON', `the body must be JSON: ${error.message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest('INVALID_BODY', 'the body must be an object { shape, q, k, v, causal? }');
  }
  const { shape, q, k, v, causal = false } = body;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1 && d <= MAX_ELEMENTS)) {
    throw new BadRequest('INVALID_BODY', `shape must be 4 integers [batch, heads, seq, headDim], each from 1 to ${MAX_ELEMENTS}, got ${JSON.stringify(shape)?.slice(0, 100)}`);
  }
  const count = shape.reduce((a, d) => a * d, 1);
  if (count > MAX_ELEMENTS) {
    throw new BadRequest('INVALID_BODY', `shape ${JSON.stringify(shape)} has ${count} elements; at most ${MAX_ELEMENTS} per tensor`);
  }
  if (typeof causal !== 'boolean') throw new BadRequest('INVALID_BODY', `causal must be true or false, got ${JSON.stringify(causal)}`);
  const tensor = (values, name) => ({ data: numbers(values, name, count), shape });
  return { q: tensor(q, 'q'), k: tensor(k, 'k'), v: tensor(v, 'v'), causal };
}

export default {
  async fetch(request) {
    runtime ??= await createRuntime();
    if (request.method !== 'POST') {
      return Response.json({
        usage: 'POST { "shape": [batch, heads, seq, headDim], "q": [...], "k": [...], "v": [...], "causal": false }',
        limits: { bodyBytes: MAX_BODY_BYTES, elementsPerTensor: MAX_ELEMENTS },
        isa: runtime.isa,
      });
    }
    try {
      const { q, k, v, causal } = parseRequest(await readBody(request));
      const y = runtime.attention(q, k, v, { causal });
      return Response.json({ isa: runtime.isa, shape: y.shape, output: Array.from(y.data) });
    } catch (error) {
      if (error instanceof BadRequest || error instanceof AttentionError) {
        return Response.json({ error: error.message, code: error.code }, { status: 400 });
      }
      return Response.json({ error: String(error?.message ?? error), code: 'INTERNAL' }, { status: 500 });
    }
  },
};
