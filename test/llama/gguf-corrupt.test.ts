// The GGUF reader (examples/llama/gguf.ts) on damaged files: every truncation, bit flips and
// overwritten bytes all over the header, and each kind of impossible field, give a GgufError with
// the right code and a message that says where — never another exception, a hang or a huge
// allocation.

import { describe, expect, it } from 'vitest';
import { GgufError, type GgufErrorCode, openGgufBlob, parseGguf } from '../../examples/llama/gguf';
import { checkpointBytes } from './fixture';
import { type GgufSpec, gv, writeGguf } from '../helpers/gguf-writer';

const CODES: GgufErrorCode[] = ['NOT_GGUF', 'UNSUPPORTED_VERSION', 'TRUNCATED', 'UNSUPPORTED_VALUE_TYPE', 'UNSUPPORTED_TENSOR_TYPE', 'CORRUPT'];

/** The GgufError `parse` throws (fails the test if it throws anything else or nothing). */
function rejection(parse: () => unknown): GgufError {
  try {
    parse();
  } catch (e) {
    if (e instanceof GgufError) return e;
    throw new Error(`expected a GgufError, got ${String(e)}`);
  }
  throw new Error('expected a GgufError, but the file was accepted');
}

/** Parses, and returns the GgufError's code, or 'ok'. Anything else thrown fails the test. */
function outcome(bytes: Uint8Array): GgufErrorCode | 'ok' {
  try {
    parseGguf(bytes);
    return 'ok';
  } catch (e) {
    if (e instanceof GgufError) return e.code;
    throw new Error(`a ${(e as Error)?.constructor?.name} escaped the reader: ${String(e)}`);
  }
}

const SAMPLE: GgufSpec = {
  metadata: [
    ['general.architecture', gv.str('llama')],
    ['llama.block_count', gv.u32(1)],
    ['tokenizer.ggml.tokens', gv.strings(['<unk>', '<s>', '</s>', 'a'])],
    ['tokenizer.ggml.scores', gv.f32s([0, 0, 0, -1])],
    ['flag', gv.bool(true)],
    ['big', gv.u64(12345678901234n)],
  ],
  tensors: [
    { name: 'norm', type: 'F32', dims: [8], data: new Float32Array(8).fill(1) },
    { name: 'q8', type: 'Q8_0', dims: [32, 2], data: new Float32Array(64).fill(0.5) },
    { name: 'q4', type: 'Q4_0', dims: [32, 1], data: new Float32Array(32).fill(-0.25) },
  ],
};

/** A file with one metadata key 'a' (u8) and one F32 tensor 't' [8, 2]: fields at fixed bytes. */
const TINY = (): Uint8Array => writeGguf({ metadata: [['a', gv.u8(1)]], tensors: [{ name: 't', type: 'F32', dims: [8, 2], data: new Float32Array(16) }] });
// 0 magic · 4 version · 8 tensor count · 16 kv count · 24 key length · 32 'a' · 33 value type ·
// 37 value · 38 name length · 46 't' · 47 n_dims · 51 ne0 · 59 ne1 · 67 type · 71 offset · 96 data
const at = { version: 4, tensorCount: 8, kvCount: 16, keyLength: 24, valueType: 33, nameLength: 38, nDims: 47, ne0: 51, type: 67, offset: 71 };

function patched(bytes: Uint8Array, edit: (v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

describe('truncated GGUF files', () => {
  it('every prefix that cuts the header, metadata, tensor infos, padding or any tensor data is TRUNCATED', () => {
    const bytes = writeGguf(SAMPLE);
    const file = parseGguf(bytes);
    const dataEnd = Math.max(...file.tensors.map((t) => t.fileOffset + t.byteLength));
    for (let length = 0; length < bytes.length; length++) {
      const code = outcome(bytes.subarray(0, length));
      // Past the last tensor's data only the final padding is missing: nothing is lost.
      expect(code, `prefix of ${length} bytes`).toBe(length < dataEnd ? 'TRUNCATED' : 'ok');
    }
  });

  it('messages say which part the file ends in', () => {
    const bytes = writeGguf(SAMPLE);
    const file = parseGguf(bytes);
    const cut = (n: number) => rejection(() => parseGguf(bytes.subarray(0, n), { name: 'model.gguf' })).message;
    expect(cut(2)).toMatch(/model\.gguf has 2 bytes, fewer than the 4-byte GGUF magic/);
    expect(cut(12)).toMatch(/model\.gguf is truncated.*tensor count/);
    // Counts are checked against the bytes left before anything is read: a cut right after them
    // reads as a count that cannot fit.
    expect(cut(40)).toMatch(/truncated or corrupt: the header's tensor count at byte 8 is 3, needing at least 75 more bytes, but the file has 24 left \(it ends at byte 40\)/);
    expect(cut(108)).toMatch(/truncated: the length of metadata key 2 at byte 102 needs 8 bytes but the file has 6 left \(it ends at byte 108\)/);
    expect(cut(120)).toMatch(/truncated or corrupt: the length of metadata key 2 at byte 102 is 21, needing at least 21 more bytes, but the file has 10 left/);
    expect(cut(file.dataOffset - 20)).toMatch(/tensor info 2 \('q4'\)/);
    expect(cut(file.tensor('q8')!.fileOffset + 10)).toMatch(/tensor 'q8' \(Q8_0 \[32, 2\], 68 bytes\) at byte \d+ ends at \d+, past the end of the file/);
  });

  it('a truncated Blob is rejected the same way when read lazily', async () => {
    const bytes = writeGguf(SAMPLE);
    for (const length of [0, 3, 20, 100, parseGguf(bytes).dataOffset + 40]) {
      await expect(openGgufBlob(new Blob([bytes.subarray(0, length)]))).rejects.toMatchObject({ name: 'GgufError', code: 'TRUNCATED' });
    }
  });
});

describe('corrupted GGUF files', () => {
  it('no bit flip anywhere in the header makes the reader throw anything but a GgufError', () => {
    const bytes = writeGguf(SAMPLE);
    const end = parseGguf(bytes).dataOffset;
    const seen = new Set<string>();
    for (let i = 0; i < end; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const code = outcome(patched(bytes, (v) => v.setUint8(i, v.getUint8(i) ^ (1 << bit))));
        seen.add(code);
        if (code !== 'ok') expect(CODES).toContain(code);
      }
    }
    // Flips hit magic, version, counts, lengths, value and tensor types, dims and offsets.
    for (const code of ['ok', 'NOT_GGUF', 'UNSUPPORTED_VERSION', 'TRUNCATED', 'UNSUPPORTED_VALUE_TYPE', 'UNSUPPORTED_TENSOR_TYPE', 'CORRUPT']) expect(seen).toContain(code);
  });

  it('huge counts and lengths written over every header position are rejected without allocating them', () => {
    const bytes = writeGguf(SAMPLE);
    const end = parseGguf(bytes).dataOffset;
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i + 8 <= end; i++) {
      for (const value of [0xffffffffffffffffn, 0x7fffffffn, 0x10000000n, 0x00ffffffffffffffn]) {
        const code = outcome(patched(bytes, (v) => v.setBigUint64(i, value, true)));
        if (code !== 'ok') expect(CODES).toContain(code);
      }
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });

  it('a string array claiming 2^28 items, a 2^40-byte string or 2^40 tensors is TRUNCATED at once', () => {
    const arrayCount = 24 + 8 + 'general.architecture'.length + 4 + 8 + 5 + 8 + 'llama.block_count'.length + 4 + 4 + 8 + 'tokenizer.ggml.tokens'.length + 4 + 4;
    const bytes = writeGguf(SAMPLE);
    expect(new DataView(bytes.buffer).getBigUint64(arrayCount, true)).toBe(4n);
    for (const [position, value, pattern] of [
      [arrayCount, 2n ** 28n, /item count of metadata 'tokenizer\.ggml\.tokens' at byte \d+ is 268,435,456/],
      [24, 2n ** 40n, /length of metadata key 0 at byte 24 is 1,099,511,627,776/],
      [at.tensorCount, 2n ** 40n, /tensor count at byte 8 is 1,099,511,627,776/],
    ] as const) {
      const e = rejection(() => parseGguf(patched(bytes, (v) => v.setBigUint64(position, value, true))));
      expect(e.code).toBe('TRUNCATED');
      expect(e.message).toMatch(pattern);
      expect(e.message).toMatch(/truncated or corrupt/);
    }
  });

  it('counts beyond 2^53 are CORRUPT', () => {
    const e = rejection(() => parseGguf(patched(TINY(), (v) => v.setBigUint64(at.kvCount, 2n ** 63n, true))));
    expect(e.code).toBe('CORRUPT');
    expect(e.message).toMatch(/metadata count at byte 16 is 9,223,372,036,854,775,808, beyond any file/);
  });

  it('a wrong magic is NOT_GGUF, naming what the file starts with (a llama2.c checkpoint too)', () => {
    const e = rejection(() => parseGguf(patched(TINY(), (v) => v.setUint8(3, 0x47)), { name: 'x.gguf' }));
    expect(e.code).toBe('NOT_GGUF');
    expect(e.message).toBe('x.gguf is not a GGUF file: it starts with "GGUG" (0x47554747), not "GGUF"');
    expect(rejection(() => parseGguf(checkpointBytes())).code).toBe('NOT_GGUF');
  });

  it.each([
    [0, /GGUF version 0/],
    [1, /version 1 \(GGUF v1 is obsolete/],
    [4, /GGUF version 4; this reader reads versions 2 and 3/],
    [0x03000000, /big-endian GGUF file/],
  ])('version %i is UNSUPPORTED_VERSION', (version, pattern) => {
    const e = rejection(() => parseGguf(patched(TINY(), (v) => v.setUint32(at.version, version, true))));
    expect(e.code).toBe('UNSUPPORTED_VERSION');
    expect(e.message).toMatch(pattern);
  });

  it('an unknown metadata value type, or an array of arrays, is UNSUPPORTED_VALUE_TYPE', () => {
    let e = rejection(() => parseGguf(patched(TINY(), (v) => v.setUint32(at.valueType, 13, true))));
    expect(e.code).toBe('UNSUPPORTED_VALUE_TYPE');
    expect(e.message).toMatch(/metadata 'a' at byte 33 has value type 13; GGUF defines 0–12/);
    const withArray = writeGguf({ metadata: [['a', { type: 'array', itemType: 'uint8', value: Uint8Array.of(1) }]], tensors: [] });
    e = rejection(() => parseGguf(patched(withArray, (v) => v.setUint32(37, 9, true))));
    expect(e.code).toBe('UNSUPPORTED_VALUE_TYPE');
    expect(e.message).toMatch(/metadata 'a' at byte 37 is an array of arrays/);
  });

  it('a tensor type without a known layout is UNSUPPORTED_TENSOR_TYPE, named', () => {
    for (const [type, name] of [[16, 'IQ2_XXS'], [99, 'unknown']] as const) {
      const e = rejection(() => parseGguf(patched(TINY(), (v) => v.setUint32(at.type, type, true))));
      expect(e.code).toBe('UNSUPPORTED_TENSOR_TYPE');
      expect(e.message).toContain(`tensor info 0 ('t') at byte 67 has ggml type ${type} (${name}); this reader knows F32, F16, Q4_0`);
    }
  });

  it('impossible fields of a complete file are CORRUPT, each with its reason', () => {
    const tiny = TINY();
    const cases: Array<[Uint8Array, RegExp]> = [
      [patched(tiny, (v) => v.setUint32(at.nDims, 5, true)), /tensor info 0 \('t'\) at byte 47 has 5 dims; ggml tensors have at most 4/],
      [patched(tiny, (v) => v.setBigUint64(at.offset, 4n, true)), /tensor 't' has data offset 4, not a multiple of the alignment 32/],
      [patched(tiny, (v) => v.setUint32(at.type, 8, true)), /'t'\) is Q8_0 with rows of 8 elements, not a multiple of its 32-element block/],
      [patched(tiny, (v) => [0, 8].forEach((d) => v.setBigUint64(at.ne0 + d, 2n ** 30n, true))), /'t'\) has dims \[1073741824, 1073741824\], more than 2\^53 elements/],
      [writeGguf({ metadata: [['', gv.u8(1)]], tensors: [] }), /metadata key 0 at byte 24 is empty/],
      [writeGguf({ metadata: [['general.alignment', gv.u64(32n)]], tensors: [] }), /general\.alignment must be a uint32 power of two, got uint64 32/],
      [writeGguf({ metadata: [['general.alignment', gv.u32(48)]], tensors: [] }), /general\.alignment must be a uint32 power of two, got uint32 48/],
      [writeGguf({ metadata: [], tensors: [{ name: 'x', type: 'F32', dims: [8], data: new Float32Array(8) }, { name: 'x', type: 'F32', dims: [8], data: new Float32Array(8) }] }), /tensor info 1 at byte \d+ repeats the name 'x'/],
    ];
    const twoKeys = writeGguf({ metadata: [['a', gv.u8(1)], ['b', gv.u8(2)]], tensors: [] });
    cases.push([patched(twoKeys, (v) => v.setUint8(24 + 8 + 1 + 4 + 1 + 8, 0x61)), /metadata key 1 \('a'\) at byte 38 repeats an earlier key/]);
    // Two F32 [8] tensors 't' (offset 0) and 'u' (offset 32); 'u' moved onto 't'.
    const two = writeGguf({ metadata: [], tensors: ['t', 'u'].map((name) => ({ name, type: 'F32' as const, dims: [8], data: new Float32Array(8) })) });
    cases.push([patched(two, (v) => v.setBigUint64(24 + 33 + 25, 0n, true)), /tensor '(t|u)' at byte \d+ overlaps tensor '(t|u)'/]);
    for (const [bytes, pattern] of cases) {
      const e = rejection(() => parseGguf(bytes));
      expect(e.code).toBe('CORRUPT');
      expect(e.message).toMatch(pattern);
    }
  });

  it('data offsets past the end are TRUNCATED, naming the tensor', () => {
    const e = rejection(() => parseGguf(patched(TINY(), (v) => v.setBigUint64(at.offset, 1024n, true))));
    expect(e.code).toBe('TRUNCATED');
    expect(e.message).toMatch(/tensor 't' \(F32 \[8, 2\], 64 bytes\) at byte 1,120 ends at 1,184, past the end of the file \(160 bytes\)/);
  });

  it('a value that is not bytes is rejected by type', () => {
    expect(rejection(() => parseGguf('GGUF' as unknown as Uint8Array)).message).toMatch(/must be an ArrayBuffer or a byte view.*\[object String\]/);
  });
});
