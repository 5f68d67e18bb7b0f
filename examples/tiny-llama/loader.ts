// loader.ts — reads a llama2.c checkpoint (the legacy format that llama2.c's run.c reads and
// export.py writes with --version 0, e.g. stories260K.bin) into typed arrays. No dependency on the
// library: plain bytes in, Float32Array views out.
//
// Layout (little-endian):
//   header  7 × int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//           (vocab_size < 0 means the output classifier is NOT shared with the token embedding
//           and is stored at the end as wcls)
//   weights float32, in this order, matrices (out, in) row-major like PyTorch's nn.Linear:
//           token_embedding (vocab, dim) · rms_att (L, dim) · wq (L, dim, dim) ·
//           wk (L, kv_dim, dim) · wv (L, kv_dim, dim) · wo (L, dim, dim) · rms_ffn (L, dim) ·
//           w1 (L, hidden, dim) · w2 (L, dim, hidden) · w3 (L, hidden, dim) · rms_final (dim) ·
//           freq_cis_real (seq_len, head_size/2) · freq_cis_imag (seq_len, head_size/2) (unused:
//           RoPE is recomputed) · [wcls (vocab, dim) when vocab_size < 0]
//   head_size = dim / n_heads, kv_dim = n_kv_heads · head_size.
// The file must be exactly as long as its header says: a shorter file is reported as truncated
// (naming the tensor it ends in), anything else (a longer file, an implausible header, the
// llama2.c version 1/2 exports with magic "ak42", GGUF, a PyTorch zip) as not this format.

/** Why a checkpoint was rejected. */
export type CheckpointErrorCode = 'TRUNCATED' | 'NOT_A_CHECKPOINT' | 'UNSUPPORTED_FORMAT';

/** A checkpoint that cannot be read; `code` says why. */
export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;
  constructor(code: CheckpointErrorCode, message: string) {
    super(message);
    this.name = 'CheckpointError';
    this.code = code;
  }
}

/** The model's shape, from the checkpoint header. */
export interface LlamaConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** The classifier is the token embedding (the header's vocab_size was positive). */
  sharedClassifier: boolean;
  /** dim / nHeads */
  headSize: number;
  /** nKvHeads · headSize */
  kvDim: number;
}

/** One transformer block's weights; matrices (out, in) row-major. */
export interface LlamaLayerWeights {
  rmsAtt: Float32Array; // (dim)
  wq: Float32Array; // (dim, dim)
  wk: Float32Array; // (kvDim, dim)
  wv: Float32Array; // (kvDim, dim)
  wo: Float32Array; // (dim, dim)
  rmsFfn: Float32Array; // (dim)
  w1: Float32Array; // (hidden, dim)
  w2: Float32Array; // (dim, hidden)
  w3: Float32Array; // (hidden, dim)
}

/** A parsed checkpoint: the configuration and views into one float32 copy of the weights. */
export interface LlamaCheckpoint {
  config: LlamaConfig;
  tokenEmbedding: Float32Array; // (vocab, dim)
  layers: LlamaLayerWeights[];
  rmsFinal: Float32Array; // (dim)
  /** (vocab, dim): the token embedding itself when shared */
  classifier: Float32Array;
}

const HEADER_BYTES = 28;
const FIELDS = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
/** Generous upper bounds: a header outside them is not a llama2.c checkpoint. */
const LIMITS: Record<(typeof FIELDS)[number], number> = {
  dim: 65536, hidden_dim: 1 << 20, n_layers: 4096, n_heads: 4096, n_kv_heads: 4096, vocab_size: 1 << 22, seq_len: 1 << 22,
};

const fmtInt = (n: number): string => n.toLocaleString('en-US');

/** The tensors of a configuration in file order, with their float counts. */
function tensorList(c: LlamaConfig): Array<{ name: string; floats: number }> {
  const { dim, hiddenDim: hd, nLayers: L, vocabSize: V, seqLen, headSize, kvDim } = c;
  const list = [
    { name: 'token_embedding', floats: V * dim },
    { name: 'rms_att', floats: L * dim },
    { name: 'wq', floats: L * dim * dim },
    { name: 'wk', floats: L * kvDim * dim },
    { name: 'wv', floats: L * kvDim * dim },
    { name: 'wo', floats: L * dim * dim },
    { name: 'rms_ffn', floats: L * dim },
    { name: 'w1', floats: L * hd * dim },
    { name: 'w2', floats: L * dim * hd },
    { name: 'w3', floats: L * hd * dim },
    { name: 'rms_final', floats: dim },
    { name: 'freq_cis_real', floats: (seqLen * headSize) / 2 },
    { name: 'freq_cis_imag', floats: (seqLen * headSize) / 2 },
  ];
  if (!c.sharedClassifier) list.push({ name: 'wcls', floats: V * dim });
  return list;
}

/** Bytes of a checkpoint with this configuration (header included). */
export function checkpointByteLength(config: LlamaConfig): number {
  return HEADER_BYTES + 4 * tensorList(config).reduce((a, t) => a + t.floats, 0);
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new CheckpointError('NOT_A_CHECKPOINT', `a checkpoint must be an ArrayBuffer or a byte view (Uint8Array, Buffer), got ${Object.prototype.toString.call(data)}`);
}

/** Names a few formats people mistake for llama2.c checkpoints, from their first bytes. */
function foreignFormat(b: Uint8Array): string | undefined {
  const ascii = (n: number) => String.fromCharCode(...b.subarray(0, n));
  if (b.length >= 4 && ascii(4) === 'GGUF') return 'a GGUF file (llama.cpp), not a llama2.c checkpoint';
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4) return 'a ZIP archive (a PyTorch .pt/.pth file?), not a llama2.c checkpoint';
  if (b.length >= 9 && b[8] === 0x7b && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0) return 'a safetensors file, not a llama2.c checkpoint';
  return undefined;
}

/**
 * Parses a llama2.c legacy checkpoint. `name` (e.g. the file name) goes into error messages.
 * Throws CheckpointError: TRUNCATED (shorter than its header says), UNSUPPORTED_FORMAT (llama2.c's
 * version 1/2 exports), NOT_A_CHECKPOINT (anything else that does not fit).
 */
export function parseLlama2cCheckpoint(data: ArrayBuffer | ArrayBufferView, options: { name?: string } = {}): LlamaCheckpoint {
  const name = options.name ?? 'the checkpoint';
  const bytes = bytesOf(data);
  const foreign = foreignFormat(bytes);
  if (foreign) throw new CheckpointError('NOT_A_CHECKPOINT', `${name} is ${foreign}`);
  if (bytes.length < HEADER_BYTES) {
    throw new CheckpointError(
      'TRUNCATED',
      `${name} has ${bytes.length} bytes, fewer than the 28-byte llama2.c header (seven int32): truncated, or not a llama2.c checkpoint`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) === 0x616b3432) {
    const version = view.getInt32(4, true);
    throw new CheckpointError(
      'UNSUPPORTED_FORMAT',
      `${name} is a llama2.c version ${version} export (magic "ak42"); this loader reads the legacy format that run.c reads ` +
        '(llama2.c export.py --version 0)',
    );
  }
  const h = FIELDS.map((_, i) => view.getInt32(4 * i, true));
  const header = FIELDS.map((f, i) => `${f} ${h[i]}`).join(', ');
  const bad = (why: string) => new CheckpointError('NOT_A_CHECKPOINT', `${name} is not a llama2.c checkpoint: its header (${header}) ${why}`);
  FIELDS.forEach((f, i) => {
    const v = f === 'vocab_size' ? Math.abs(h[i]) : h[i];
    if (!(v >= 1 && v <= LIMITS[f])) throw bad(`has ${f} = ${h[i]}, outside [1, ${fmtInt(LIMITS[f])}]`);
  });
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = h;
  if (dim % nHeads !== 0) throw bad(`has dim ${dim} not divisible by n_heads ${nHeads}`);
  if (nKvHeads > nHeads || nHeads % nKvHeads !== 0) throw bad(`has n_kv_heads ${nKvHeads} not dividing n_heads ${nHeads}`);
  const headSize = dim / nHeads;
  if (headSize % 2 !== 0) throw bad(`has an odd head size ${headSize} (RoPE rotates pairs)`);
  const config: LlamaConfig = {
    dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocabRaw), seqLen,
    sharedClassifier: vocabRaw > 0, headSize, kvDim: nKvHeads * headSize,
  };
  const tensors = tensorList(config);
  const expected = checkpointByteLength(config);
  if (bytes.length < expected) {
    let at = HEADER_BYTES;
    let inside = tensors[0].name;
    for (const t of tensors) {
      if (bytes.length < at + 4 * t.floats) {
        inside = t.name;
        break;
      }
      at += 4 * t.floats;
    }
    throw new CheckpointError(
      'TRUNCATED',
      `${name} is truncated: its header (${header}) describes ${fmtInt(expected)} bytes but it has ${fmtInt(bytes.length)} ` +
        `(${fmtInt(expected - bytes.length)} missing; it ends inside ${inside})`,
    );
  }
  if (bytes.length > expected) {
    throw bad(`describes ${fmtInt(expected)} bytes but the file has ${fmtInt(bytes.length)} (${fmtInt(bytes.length - expected)} too many)`);
  }

  // One aligned float32 copy of everything after the header; tensors are views into it.
  const floats = (expected - HEADER_BYTES) / 4;
  const all = new Float32Array(floats);
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] === 1) {
    new Uint8Array(all.buffer).set(bytes.subarray(HEADER_BYTES, expected));
  } else {
    for (let i = 0; i < floats; i++) all[i] = view.getFloat32(HEADER_BYTES + 4 * i, true); // big-endian host
  }
  let offset = 0;
  const take = (n: number): Float32Array => {
    const t = all.subarray(offset, offset + n);
    offset += n;
    return t;
  };
  const { kvDim } = config;
  const tokenEmbedding = take(config.vocabSize * dim);
  const stacked = (per: number) => {
    const block = take(nLayers * per);
    return Array.from({ length: nLayers }, (_, l) => block.subarray(l * per, (l + 1) * per));
  };
  const rmsAtt = stacked(dim);
  const wq = stacked(dim * dim);
  const wk = stacked(kvDim * dim);
  const wv = stacked(kvDim * dim);
  const wo = stacked(dim * dim);
  const rmsFfn = stacked(dim);
  const w1 = stacked(hiddenDim * dim);
  const w2 = stacked(dim * hiddenDim);
  const w3 = stacked(hiddenDim * dim);
  const rmsFinal = take(dim);
  take(seqLen * headSize); // freq_cis_real and freq_cis_imag (unused)
  const classifier = config.sharedClassifier ? tokenEmbedding : take(config.vocabSize * dim);
  const layers = Array.from({ length: nLayers }, (_, l) => ({
    rmsAtt: rmsAtt[l], wq: wq[l], wk: wk[l], wv: wv[l], wo: wo[l], rmsFfn: rmsFfn[l], w1: w1[l], w2: w2[l], w3: w3[l],
  }));
  return { config, tokenEmbedding, layers, rmsFinal, classifier };
}
