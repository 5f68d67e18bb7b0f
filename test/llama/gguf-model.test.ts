// llama2.c's stories260K converted to GGUF (test/helpers/gguf-models.ts) and read back as a model
// (examples/llama/config.ts): the configuration equals the checkpoint's, every tensor holds the
// checkpoint's weights (exactly in F32, within the format's rounding in F16 / Q8_0 / Q4_0, against
// the llama2.c loader's floats), and bad metadata or tensors are named.

import { describe, expect, it } from 'vitest';
import { ggufModelConfig, ggufModelTensors, type GgufModelConfig } from '../../examples/llama/config';
import { GgufError, type GgufValue, openGgufBlob, parseGguf } from '../../examples/llama/gguf';
import { asciiVocabulary, checkpointToGguf, llamaMetadata, type ModelType } from '../helpers/gguf-models';
import { dequantizeQ4_0, dequantizeQ8_0, f16BitsToF32 } from '../helpers/gguf-quantize';
import { type GgufSpec, gv, writeGguf } from '../helpers/gguf-writer';
import { checkpoint } from './fixture';

const STORIES_CONFIG: GgufModelConfig = {
  architecture: 'llama', dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, headSize: 8, kvDim: 32, hiddenDim: 172,
  contextLength: 512, ropeBase: 10000, ropeDim: 8, ropeStyle: 'interleaved', rmsEps: Math.fround(1e-5), vocabSize: 512,
  tiedEmbedding: true, bosTokenId: 1, eosTokenId: 2,
};

/** The checkpoint's float32 weights under their GGUF names. */
function checkpointWeights(): Map<string, Float32Array> {
  const cp = checkpoint();
  const m = new Map<string, Float32Array>([['token_embd.weight', cp.tokenEmbedding], ['output_norm.weight', cp.rmsFinal]]);
  cp.layers.forEach((w, l) => {
    const pairs = [['attn_norm', w.rmsAtt], ['attn_q', w.wq], ['attn_k', w.wk], ['attn_v', w.wv], ['attn_output', w.wo],
      ['ffn_norm', w.rmsFfn], ['ffn_gate', w.w1], ['ffn_up', w.w3], ['ffn_down', w.w2]] as const;
    for (const [name, data] of pairs) m.set(`blk.${l}.${name}.weight`, data);
  });
  return m;
}

const floats = (bytes: Uint8Array): Float32Array => new Float32Array(bytes.slice().buffer);

/** The largest |x| of each 32-value block. */
const blockMax = (x: Float32Array): number[] =>
  Array.from({ length: x.length / 32 }, (_, b) => Math.max(...Array.from(x.subarray(b * 32, b * 32 + 32), Math.abs)));

describe('stories260K as GGUF', () => {
  it.each(['F32', 'F16', 'Q8_0', 'Q4_0'] as ModelType[])('%s: the configuration is the checkpoint\'s and the tensors hold its weights', (type) => {
    const file = parseGguf(writeGguf(checkpointToGguf(checkpoint(), type)), { name: `stories260K-${type}.gguf` });
    const config = ggufModelConfig(file);
    expect(config).toEqual(STORIES_CONFIG);
    const tensors = ggufModelTensors(config, file.tensor);
    expect(tensors.output).toBe(tensors.tokenEmbedding); // tied: no output.weight
    expect(tensors.layers).toHaveLength(5);
    expect(tensors.layers[4].down.name).toBe('blk.4.ffn_down.weight');
    expect(file.tensors).toHaveLength(2 + 9 * 5);
    for (const [name, original] of checkpointWeights()) {
      const t = file.tensor(name)!;
      const matrix = t.dims.length === 2;
      // Norms stay F32; ffn_down's rows of 172 are not whole 32-value blocks: F32 too.
      const expected = !matrix || (type.startsWith('Q') && t.dims[0] % 32 !== 0) ? 'F32' : type;
      expect(t.type.name, name).toBe(expected);
      if (expected === 'F32') {
        expect(floats(t.bytes), name).toEqual(original);
      } else if (expected === 'F16') {
        // Half a unit in the last place of a half: 2^-11 relative (2^-25 absolute below 2^-14).
        const view = new DataView(t.bytes.buffer, t.bytes.byteOffset);
        const bad = original.findIndex((x, i) => !(Math.abs(f16BitsToF32(view.getUint16(2 * i, true)) - x) <= Math.max(Math.abs(x) * 2 ** -11, 2 ** -25)));
        expect(bad, name).toBe(-1);
      } else {
        // Q8_0: half a step of amax/127 (+ the f16 rounding of the scale); Q4_0: one step of amax/8.
        const back = expected === 'Q8_0' ? dequantizeQ8_0(t.bytes) : dequantizeQ4_0(t.bytes);
        const steps = expected === 'Q8_0' ? 127 : 8;
        const bound = blockMax(original).map((m) => (m / steps) * (expected === 'Q8_0' ? 0.5 + 2 ** -4 : 1.01));
        const bad = original.findIndex((x, i) => !(Math.abs(back[i] - x) <= bound[i >> 5] + 1e-12));
        expect(bad, name).toBe(-1);
      }
    }
  });

  it('has an ASCII vocabulary of 512 unique tokens with llama.cpp token types and BOS 1 / EOS 2', () => {
    const file = parseGguf(writeGguf(checkpointToGguf(checkpoint(), 'F32')));
    const tokens = file.metadata.get('tokenizer.ggml.tokens')!.value as string[];
    expect(tokens).toHaveLength(512);
    expect(new Set(tokens).size).toBe(512);
    expect(tokens.every((t) => /^[\x21-\x7e]+$/.test(t))).toBe(true);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(tokens[13]).toBe('<0x0A>');
    const types = file.metadata.get('tokenizer.ggml.token_type')!.value as Int32Array;
    expect(Array.from(types.subarray(0, 5))).toEqual([2, 3, 3, 6, 6]);
    expect(file.metadata.get('tokenizer.ggml.model')).toEqual(gv.str('llama'));
    expect(file.metadata.get('tokenizer.ggml.add_space_prefix')).toEqual(gv.bool(false));
  });

  it('reads the same model lazily from a Blob', async () => {
    const bytes = writeGguf(checkpointToGguf(checkpoint(), 'Q8_0'));
    const lazy = await openGgufBlob(new Blob([bytes]));
    const config = ggufModelConfig(lazy);
    expect(config).toEqual(STORIES_CONFIG);
    const tensors = ggufModelTensors(config, lazy.info);
    const q = await lazy.readTensor(tensors.layers[2].q);
    expect(q.bytes).toEqual(parseGguf(bytes).tensor('blk.2.attn_q.weight')!.bytes);
  });
});

/** A small model spec with edits to its metadata and tensors. */
function variant(edit: { drop?: string[]; set?: Array<[string, GgufValue]>; tensors?: (t: GgufSpec['tensors']) => GgufSpec['tensors'] }): Uint8Array {
  const spec = checkpointToGguf(checkpoint(), 'F32');
  const metadata = new Map(spec.metadata);
  for (const k of edit.drop ?? []) metadata.delete(k);
  for (const [k, v] of edit.set ?? []) metadata.set(k, v);
  return writeGguf({ metadata, tensors: edit.tensors ? edit.tensors(spec.tensors) : spec.tensors });
}

function modelError(bytes: Uint8Array): GgufError {
  try {
    const file = parseGguf(bytes, { name: 'm.gguf' });
    ggufModelTensors(ggufModelConfig(file, { name: 'm.gguf' }), file.tensor, { name: 'm.gguf' });
  } catch (e) {
    if (e instanceof GgufError) return e;
    throw e;
  }
  throw new Error('the model was accepted');
}

describe('model configuration from GGUF metadata', () => {
  it('names missing, mistyped and inconsistent keys', () => {
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [variant({ drop: ['llama.embedding_length'] }), 'MISSING_KEY', /m\.gguf has no metadata 'llama\.embedding_length', which a model needs/],
      [variant({ drop: ['general.architecture'] }), 'MISSING_KEY', /'general\.architecture'/],
      [variant({ set: [['llama.block_count', gv.str('5')]] }), 'INVALID_KEY', /'llama\.block_count' must be a positive integer .*, got string 5/],
      [variant({ set: [['llama.block_count', gv.u32(0)]] }), 'INVALID_KEY', /'llama\.block_count' must be a positive integer .*, got uint32 0/],
      [variant({ set: [['llama.attention.head_count_kv', gv.u32(3)]] }), 'INVALID_KEY', /head_count_kv \(3\) must divide head_count \(8\)/],
      [variant({ set: [['llama.attention.layer_norm_rms_epsilon', gv.f32(-1)]] }), 'INVALID_KEY', /must be a positive finite number, got float32 -1/],
      [variant({ set: [['llama.rope.dimension_count', gv.u32(16)]] }), 'INVALID_KEY', /rope\.dimension_count must be even and at most the head size 8, got 16/],
      [variant({ set: [['tokenizer.ggml.bos_token_id', gv.u32(512)]] }), 'INVALID_KEY', /bos_token_id' must be a token id in \[0, 512\), got uint32 512/],
      [variant({ set: [['general.architecture', gv.str('gpt2')]] }), 'UNSUPPORTED_ARCHITECTURE', /m\.gguf holds a 'gpt2' model; this reader builds llama and qwen2 models/],
      [variant({ tensors: (t) => t.filter((x) => x.name !== 'blk.4.ffn_up.weight') }), 'MISSING_TENSOR', /no tensor 'blk\.4\.ffn_up\.weight', which a llama model needs/],
      [variant({ tensors: (t) => t.map((x) => (x.name === 'blk.1.attn_k.weight' ? { ...x, dims: [32, 64] } : x)) }), 'INVALID_TENSOR',
        /tensor 'blk\.1\.attn_k\.weight' has dims \[32, 64\], expected \[64, 32\]/],
    ];
    for (const [bytes, code, pattern] of cases) {
      const e = modelError(bytes);
      expect(e.code, e.message).toBe(code);
      expect(e.message).toMatch(pattern);
    }
  });

  it('applies llama.cpp\'s defaults and accepts per-layer arrays of equal values', () => {
    const file = parseGguf(variant({
      drop: ['llama.attention.head_count_kv', 'llama.rope.freq_base', 'llama.rope.dimension_count', 'tokenizer.ggml.tokens'],
      set: [['llama.feed_forward_length', gv.i32s([172, 172, 172, 172, 172])]],
      tensors: (t) => t.map((x) => (/attn_[kv]\.weight/.test(x.name) ? { ...x, dims: [64, 64], data: new Float32Array(64 * 64) } : x)),
    }));
    const config = ggufModelConfig(file);
    expect(config).toMatchObject({ nKvHeads: 8, kvDim: 64, ropeBase: 10000, ropeDim: 8, hiddenDim: 172, vocabSize: 512 });
    expect(() => ggufModelConfig(parseGguf(variant({ set: [['llama.feed_forward_length', gv.i32s([172, 100, 172, 172, 172])]] })))).toThrow(
      /'llama\.feed_forward_length' must be a positive integer \(or a per-layer array of equal ones\), got an array of 5 int32/,
    );
  });

  it('reads qwen2 models (rotate-half RoPE, Q/K/V biases) and untied classifiers', () => {
    const qwen = variant({
      set: [...llamaMetadata({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, contextLength: 512 }, 'q')
        .filter(([k]) => k.startsWith('llama.')).map(([k, v]): [string, GgufValue] => [k.replace('llama.', 'qwen2.'), v]),
      ['general.architecture', gv.str('qwen2')]],
      tensors: (t) => [
        ...t,
        { name: 'output.weight', type: 'F32', dims: [64, 512], data: new Float32Array(64 * 512) },
        ...[0, 1, 2, 3, 4].flatMap((l) => [['q', 64], ['k', 32], ['v', 32]].map(([w, n]) => ({
          name: `blk.${l}.attn_${w}.bias`, type: 'F32' as const, dims: [n as number], data: new Float32Array(n as number),
        }))),
      ],
    });
    const file = parseGguf(qwen);
    const config = ggufModelConfig(file);
    expect(config).toMatchObject({ architecture: 'qwen2', ropeStyle: 'halves', tiedEmbedding: false, nKvHeads: 4 });
    const tensors = ggufModelTensors(config, file.tensor);
    expect(tensors.output.name).toBe('output.weight');
    expect(tensors.layers[3].qBias?.dims).toEqual([64]);
    expect(tensors.layers[3].vBias?.dims).toEqual([32]);
  });

  it('the ASCII vocabulary has the byte tokens of ASCII, the printable characters, then "~" pieces', () => {
    const v = asciiVocabulary(300);
    expect(v.tokens[3 + 0x41]).toBe('<0x41>');
    expect(v.tokens[131]).toBe('!');
    expect(v.tokens[131 + 93]).toBe('~');
    expect(v.tokens[225]).toBe('~0');
    expect(v.tokens[299]).toBe(`~${(74).toString(36)}`);
  });
});
