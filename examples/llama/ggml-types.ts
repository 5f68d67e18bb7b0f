// ggml-types.ts — the tensor element types a GGUF file may hold, with their block layouts
// (ggml's `type_traits`: elements per block and bytes per block), and the byte length of a tensor.
//
// A row of a tensor (ne0 elements, GGUF's first dimension) is stored as ne0 / blockSize blocks of
// typeSize bytes; rows follow each other without padding. The layouts (ggml-common.h):
//   F32   1 element,   4 bytes    F16 / BF16  1 element, 2 bytes
//   Q4_0  32 elements, 18 bytes   { f16 d; u8 qs[16] }        x = (nibble − 8)·d; element j < 16
//                                                              in qs[j]'s low nibble, j ≥ 16 in
//                                                              qs[j − 16]'s high nibble
//   Q8_0  32 elements, 34 bytes   { f16 d; i8 qs[32] }        x = qs·d
//   Q4_K  256 elements, 144 bytes { f16 d, dmin; u8 scales[12]; u8 qs[128] }
//   Q6_K  256 elements, 210 bytes { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }
// and the other legacy and K-quant formats below. Types outside this table (the IQ* codebook
// formats, ternary and FP4 formats) are reported by name as unsupported by the reader.

/** A ggml element type this reader knows the layout of. */
export interface GgmlTypeInfo {
  /** ggml's enum value (`GGML_TYPE_*`), as stored in a GGUF tensor info. */
  id: number;
  /** ggml's name, e.g. `Q8_0`. */
  name: string;
  /** Elements per block: a row's length must be a multiple of it. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/** The ggml types with a known block layout, by name. */
export const GGML_TYPES = {
  F32: { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  F16: { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  Q4_0: { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18 },
  Q4_1: { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20 },
  Q5_0: { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22 },
  Q5_1: { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24 },
  Q8_0: { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34 },
  Q8_1: { id: 9, name: 'Q8_1', blockSize: 32, typeSize: 36 },
  Q2_K: { id: 10, name: 'Q2_K', blockSize: 256, typeSize: 84 },
  Q3_K: { id: 11, name: 'Q3_K', blockSize: 256, typeSize: 110 },
  Q4_K: { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 },
  Q5_K: { id: 13, name: 'Q5_K', blockSize: 256, typeSize: 176 },
  Q6_K: { id: 14, name: 'Q6_K', blockSize: 256, typeSize: 210 },
  Q8_K: { id: 15, name: 'Q8_K', blockSize: 256, typeSize: 292 },
  I8: { id: 24, name: 'I8', blockSize: 1, typeSize: 1 },
  I16: { id: 25, name: 'I16', blockSize: 1, typeSize: 2 },
  I32: { id: 26, name: 'I32', blockSize: 1, typeSize: 4 },
  I64: { id: 27, name: 'I64', blockSize: 1, typeSize: 8 },
  F64: { id: 28, name: 'F64', blockSize: 1, typeSize: 8 },
  BF16: { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
} as const satisfies Record<string, GgmlTypeInfo>;

/** The name of a ggml type with a known layout (`'F32'`, `'Q8_0'`, …). */
export type GgmlTypeName = keyof typeof GGML_TYPES;

const BY_ID = new Map<number, GgmlTypeInfo>(Object.values(GGML_TYPES).map((t) => [t.id, t]));

/** ggml types this reader does not lay out, by id: named in error messages only. */
const UNSUPPORTED_NAMES: Record<number, string> = {
  4: 'Q4_2 (removed from ggml)', 5: 'Q4_3 (removed from ggml)', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS',
  19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 29: 'IQ1_M', 31: 'Q4_0_4_4 (removed)',
  32: 'Q4_0_4_8 (removed)', 33: 'Q4_0_8_8 (removed)', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

/** The layout of ggml type `id`, or undefined if this reader does not know it. */
export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** A ggml type id for messages: `8 (Q8_0)`, `16 (IQ2_XXS)` or `99 (unknown)`. */
export function describeGgmlType(id: number): string {
  return `${id} (${BY_ID.get(id)?.name ?? UNSUPPORTED_NAMES[id] ?? 'unknown'})`;
}

/** The names of the supported types, for messages. */
export const SUPPORTED_GGML_TYPE_NAMES: readonly string[] = Object.keys(GGML_TYPES);

/**
 * Bytes of a tensor of `type` with `elements` elements (the caller has checked that its row length,
 * ne0, is a multiple of the block size, so the rows fill whole blocks).
 */
export function ggmlByteLength(type: GgmlTypeInfo, elements: number): number {
  return (elements / type.blockSize) * type.typeSize;
}
