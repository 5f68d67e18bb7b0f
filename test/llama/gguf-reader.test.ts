// The GGUF reader (examples/llama/gguf.ts) on files from the writer (test/helpers/gguf-writer.ts):
// every metadata value type comes back with its type and value, every tensor with its type, dims,
// row-major shape, aligned offset and the exact bytes written; from memory and lazily from a Blob.

import { describe, expect, it } from 'vitest';
import { GGML_TYPES } from '../../examples/llama/ggml-types';
import { type GgufValue, openGgufBlob, parseGguf } from '../../examples/llama/gguf';
import { encodeTensor, type GgufSpec, gv, writeGguf } from '../helpers/gguf-writer';

/** Seeded values in (−1, 1). */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const EVERY_VALUE: Array<[string, GgufValue]> = [
  ['general.architecture', gv.str('llama')],
  ['u8', gv.u8(255)],
  ['i8', gv.i8(-128)],
  ['u16', gv.u16(65535)],
  ['i16', gv.i16(-32768)],
  ['u32', gv.u32(4294967295)],
  ['i32', gv.i32(-2147483648)],
  ['f32', gv.f32(Math.fround(0.1))],
  ['f64', gv.f64(0.1)],
  ['u64', gv.u64(18446744073709551615n)],
  ['i64', gv.i64(-9223372036854775808n)],
  ['true', gv.bool(true)],
  ['false', gv.bool(false)],
  ['empty string', gv.str('')],
  ['unicode ▁ key é', gv.str('naïve ▁ 中文 🦙')],
  ['strings', gv.strings(['', 'a', '<0x0A>', '▁the'])],
  ['empty array', gv.strings([])],
  ['u8s', { type: 'array', itemType: 'uint8', value: Uint8Array.of(0, 1, 255) }],
  ['i8s', { type: 'array', itemType: 'int8', value: Int8Array.of(-128, 0, 127) }],
  ['u16s', { type: 'array', itemType: 'uint16', value: Uint16Array.of(0, 65535) }],
  ['i16s', { type: 'array', itemType: 'int16', value: Int16Array.of(-32768, 32767) }],
  ['u32s', { type: 'array', itemType: 'uint32', value: Uint32Array.of(0, 4294967295) }],
  ['i32s', gv.i32s([-1, 0, 2147483647])],
  ['f32s', gv.f32s([0.5, -0, Infinity])],
  ['f64s', { type: 'array', itemType: 'float64', value: Float64Array.of(Math.PI, -1e300) }],
  ['u64s', { type: 'array', itemType: 'uint64', value: BigUint64Array.of(0n, 2n ** 64n - 1n) }],
  ['i64s', { type: 'array', itemType: 'int64', value: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n) }],
  ['bools', { type: 'array', itemType: 'bool', value: [true, false, true] }],
];

/** Tensors of every written type, 1–4 dims, and raw K-quant bytes. */
function tensorSpecs(): GgufSpec['tensors'] {
  return [
    { name: 'f32.1d', type: 'F32', dims: [7], data: seeded(7, 1) },
    { name: 'f16.2d', type: 'F16', dims: [5, 3], data: seeded(15, 2) },
    { name: 'q8.2d', type: 'Q8_0', dims: [64, 3], data: seeded(192, 3) },
    { name: 'q4.3d', type: 'Q4_0', dims: [32, 2, 2], data: seeded(128, 4) },
    { name: 'f32.4d', type: 'F32', dims: [2, 3, 1, 2], data: seeded(12, 5) },
    { name: 'q4k', type: 'Q4_K', dims: [256, 2], bytes: Uint8Array.from({ length: 288 }, (_, i) => i * 7) },
    { name: 'q6k', type: 'Q6_K', dims: [512, 1], bytes: Uint8Array.from({ length: 420 }, (_, i) => i * 13) },
    { name: 'empty', type: 'F32', dims: [0, 4], data: new Float32Array(0) },
  ];
}

describe('GGUF round trip (writer → reader)', () => {
  it.each([2, 3])('reads back every metadata type and value (version %i)', (version) => {
    const file = parseGguf(writeGguf({ metadata: EVERY_VALUE, tensors: [], version }));
    expect(file.version).toBe(version);
    expect(file.alignment).toBe(32);
    expect([...file.metadata.entries()]).toEqual(EVERY_VALUE);
    expect(file.tensors).toEqual([]);
  });

  it.each([32, 64, 1])('reads back tensors of every type with their dims, shapes, aligned offsets and exact bytes (alignment %i)', (alignment) => {
    const specs = tensorSpecs();
    const bytes = writeGguf({ metadata: [['general.architecture', gv.str('llama')]], tensors: specs, alignment });
    const file = parseGguf(bytes);
    expect(file.alignment).toBe(alignment);
    if (alignment !== 32) expect(file.metadata.get('general.alignment')).toEqual(gv.u32(alignment));
    expect(file.dataOffset % alignment).toBe(0);
    expect(file.tensors.map((t) => t.name)).toEqual(specs.map((s) => s.name));
    for (const spec of specs) {
      const t = file.tensor(spec.name)!;
      expect(t.type).toEqual(GGML_TYPES[spec.type]);
      expect(t.dims).toEqual(spec.dims);
      expect(t.shape).toEqual([...spec.dims].reverse());
      expect(t.elements).toBe(spec.dims.reduce((a, b) => a * b, 1));
      expect((t.fileOffset - file.dataOffset) % alignment).toBe(0);
      const expected = spec.bytes instanceof Uint8Array ? spec.bytes : encodeTensor(spec.type, spec.data as Float32Array);
      expect(t.byteLength).toBe(expected.length);
      expect(t.bytes).toEqual(expected);
      // A view into the file, not a copy.
      expect(t.bytes.buffer).toBe(bytes.buffer);
    }
    expect(file.tensor('absent')).toBeUndefined();
  });

  it('reads an ArrayBuffer, a Uint8Array at an offset and a Node Buffer alike', () => {
    const bytes = writeGguf({ metadata: EVERY_VALUE, tensors: tensorSpecs() });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const a = parseGguf(bytes.slice().buffer);
    for (const other of [parseGguf(shifted.subarray(3)), parseGguf(Buffer.from(bytes))]) {
      expect([...other.metadata]).toEqual([...a.metadata]);
      expect(other.tensors.map((t) => [t.name, t.fileOffset, Array.from(t.bytes)])).toEqual(a.tensors.map((t) => [t.name, t.fileOffset, Array.from(t.bytes)]));
    }
  });

  it('reads lazily from a Blob: the header first (growing the read when it exceeds 1 MiB), then each tensor by slicing', async () => {
    // 120,000 tokens of 10–15 bytes: a 2 MB header, more than the first 1 MiB read.
    const tokens = Array.from({ length: 120_000 }, (_, i) => `token-${i}`);
    const spec: GgufSpec = { metadata: [...EVERY_VALUE, ['tokenizer.ggml.tokens', gv.strings(tokens)]], tensors: tensorSpecs() };
    const bytes = writeGguf(spec);
    expect(bytes.length).toBeGreaterThan(2 << 20);
    const fromMemory = parseGguf(bytes);
    const lazy = await openGgufBlob(new Blob([bytes]));
    expect(lazy.dataOffset).toBe(fromMemory.dataOffset);
    expect([...lazy.metadata]).toEqual([...fromMemory.metadata]);
    for (const t of fromMemory.tensors) {
      const info = lazy.info(t.name)!;
      expect(info.fileOffset).toBe(t.fileOffset);
      expect((await lazy.readTensor(info)).bytes).toEqual(t.bytes);
    }
  });
});
