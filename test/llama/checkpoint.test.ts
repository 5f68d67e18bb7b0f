// The llama2.c checkpoint loader (examples/tiny-llama/loader.ts) on the stories260K fixture: its
// provenance (sha256 of the checkpoint and of llama2.c's greedy ids), the header and tensor
// layout, and clear errors for truncated or foreign files.

import { describe, expect, it } from 'vitest';
import { CheckpointError, checkpointByteLength, parseLlama2cCheckpoint } from '../../examples/tiny-llama/loader';
import { CHECKPOINT_SHA256, checkpointBytes, GREEDY_PATH, GREEDY_SHA256, greedyTokens, sha256 } from './fixture';
import { readFileSync } from 'node:fs';

const error = (f: () => unknown): CheckpointError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
};

describe('stories260K fixture', () => {
  it('is the file described in PROVENANCE.md (sha256) and so are the greedy ids', () => {
    const bytes = checkpointBytes();
    expect(bytes.length).toBe(1_056_540);
    expect(sha256(bytes)).toBe(CHECKPOINT_SHA256);
    expect(sha256(readFileSync(GREEDY_PATH))).toBe(GREEDY_SHA256);
    const ids = greedyTokens();
    expect(ids).toHaveLength(256);
    expect(ids.every((t) => Number.isInteger(t) && t >= 0 && t < 512)).toBe(true);
  });

  it('parses: header, shared classifier, tensor views in file order', () => {
    const bytes = checkpointBytes();
    const ck = parseLlama2cCheckpoint(bytes);
    expect(ck.config).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512,
      sharedClassifier: true, headSize: 8, kvDim: 32,
    });
    expect(checkpointByteLength(ck.config)).toBe(bytes.length);
    expect(ck.classifier).toBe(ck.tokenEmbedding);
    expect(ck.layers).toHaveLength(5);
    const floatsAt = (byteOffset: number, n: number) => {
      const copy = new Uint8Array(bytes.subarray(byteOffset, byteOffset + 4 * n));
      return new Float32Array(copy.buffer);
    };
    // Spot checks against raw offsets: embedding row 0, wq of layer 0, w2 of layer 4, rms_final.
    const F = 4;
    const H = 28;
    expect(ck.tokenEmbedding.subarray(0, 8)).toEqual(floatsAt(H, 8));
    const rmsAtt = H + F * 512 * 64;
    const wq = rmsAtt + F * 5 * 64;
    expect(ck.layers[0].rmsAtt).toEqual(floatsAt(rmsAtt, 64));
    expect(ck.layers[0].wq).toEqual(floatsAt(wq, 64 * 64));
    const wk = wq + F * 5 * 64 * 64;
    const wv = wk + F * 5 * 32 * 64;
    const wo = wv + F * 5 * 32 * 64;
    const rmsFfn = wo + F * 5 * 64 * 64;
    const w1 = rmsFfn + F * 5 * 64;
    const w2 = w1 + F * 5 * 172 * 64;
    const w3 = w2 + F * 5 * 64 * 172;
    const rmsFinal = w3 + F * 5 * 172 * 64;
    expect(ck.layers[3].wv).toEqual(floatsAt(wv + F * 3 * 32 * 64, 32 * 64));
    expect(ck.layers[4].w2).toEqual(floatsAt(w2 + F * 4 * 64 * 172, 64 * 172));
    expect(ck.layers[4].w3).toEqual(floatsAt(w3 + F * 4 * 172 * 64, 172 * 64));
    expect(ck.rmsFinal).toEqual(floatsAt(rmsFinal, 64));
    expect(rmsFinal + F * 64 + F * 2 * 512 * 4).toBe(bytes.length); // then freq_cis (unused)
    // An unaligned view and an ArrayBuffer parse the same.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(parseLlama2cCheckpoint(shifted.subarray(1)).rmsFinal).toEqual(ck.rmsFinal);
    expect(parseLlama2cCheckpoint(new Uint8Array(bytes).buffer).rmsFinal).toEqual(ck.rmsFinal);
  });

  it('reads an unshared classifier (negative vocab_size) from the end of the file', () => {
    const bytes = checkpointBytes();
    const wcls = new Float32Array(512 * 64).map((_, i) => i / 1000);
    const file = new Uint8Array(bytes.length + wcls.byteLength);
    file.set(bytes);
    file.set(new Uint8Array(wcls.buffer), bytes.length);
    new DataView(file.buffer).setInt32(20, -512, true);
    const ck = parseLlama2cCheckpoint(file);
    expect(ck.config.sharedClassifier).toBe(false);
    expect(ck.config.vocabSize).toBe(512);
    expect(ck.classifier).toEqual(wcls);
  });
});

describe('checkpoint errors', () => {
  const bytes = checkpointBytes();

  it('truncated files: TRUNCATED, with the expected and actual sizes and the tensor it ends in', () => {
    for (const [length, where] of [[0, ''], [27, ''], [28, 'token_embedding'], [200_000, 'wq'], [500_000, 'w1'], [600_000, 'w2'], [bytes.length - 1, 'freq_cis_imag']] as const) {
      const e = error(() => parseLlama2cCheckpoint(bytes.subarray(0, length), { name: 'stories260K.bin' }));
      expect(e.code, `${length} bytes`).toBe('TRUNCATED');
      expect(e.message).toContain('stories260K.bin');
      if (where) {
        expect(e.message).toContain('1,056,540 bytes');
        expect(e.message).toContain(`has ${length.toLocaleString('en-US')}`);
        expect(e.message).toContain(`ends inside ${where}`);
      } else {
        expect(e.message).toMatch(/fewer than the 28-byte llama2\.c header/);
      }
    }
  });

  it('foreign files: NOT_A_CHECKPOINT (or UNSUPPORTED_FORMAT for llama2.c version 1/2 exports), naming the problem', () => {
    const withHeader = (values: number[], size = 4096) => {
      const b = new Uint8Array(size);
      values.forEach((v, i) => new DataView(b.buffer).setInt32(4 * i, v, true));
      return b;
    };
    const ascii = (s: string, size = 64) => {
      const b = new Uint8Array(size);
      b.set([...s].map((ch) => ch.charCodeAt(0)));
      return b;
    };
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [ascii('GGUF\x03\x00\x00\x00'), 'NOT_A_CHECKPOINT', /GGUF file/],
      [ascii('PK\x03\x04'), 'NOT_A_CHECKPOINT', /ZIP archive/],
      [(() => { const b = ascii('', 64); b[0] = 40; b[8] = 0x7b; return b; })(), 'NOT_A_CHECKPOINT', /safetensors/],
      [withHeader([0x616b3432, 1, 64, 172, 5, 8, 4, 512, 512]), 'UNSUPPORTED_FORMAT', /version 1 export \(magic "ak42"\).*--version 0/],
      [withHeader([64, 172, 5, 0, 4, 512, 512]), 'NOT_A_CHECKPOINT', /n_heads = 0, outside \[1, 4,096\]/],
      [withHeader([-3, 172, 5, 8, 4, 512, 512]), 'NOT_A_CHECKPOINT', /dim = -3/],
      [withHeader([1e6, 172, 5, 8, 4, 512, 512]), 'NOT_A_CHECKPOINT', /dim = 1000000/],
      [withHeader([64, 172, 5, 7, 7, 512, 512]), 'NOT_A_CHECKPOINT', /dim 64 not divisible by n_heads 7/],
      [withHeader([64, 172, 5, 8, 3, 512, 512]), 'NOT_A_CHECKPOINT', /n_kv_heads 3 not dividing n_heads 8/],
      [withHeader([24, 172, 5, 8, 4, 512, 512]), 'NOT_A_CHECKPOINT', /odd head size 3/],
      [new TextEncoder().encode('<!doctype html><html><body>Not found</body></html>'), 'NOT_A_CHECKPOINT', /not a llama2\.c checkpoint: its header \(dim \d+, hidden_dim.*outside \[1, 65,536\]/],
    ];
    for (const [b, code, message] of cases) {
      const e = error(() => parseLlama2cCheckpoint(b, { name: 'x.bin' }));
      expect(e.code, e.message).toBe(code);
      expect(e.message).toMatch(message);
      expect(e.message).toMatch(/^x\.bin /);
    }
    // A valid header with trailing bytes beyond what it describes.
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    const e = error(() => parseLlama2cCheckpoint(longer));
    expect(e.code).toBe('NOT_A_CHECKPOINT');
    expect(e.message).toMatch(/describes 1,056,540 bytes but the file has 1,056,548 \(8 too many\)/);
    expect(() => parseLlama2cCheckpoint('stories260K.bin' as unknown as ArrayBuffer)).toThrow(/must be an ArrayBuffer or a byte view/);
  });
});
