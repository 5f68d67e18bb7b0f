// feature-probe.ts — tiny hand-written Wasm modules that tell whether this engine accepts the
// instructions a kernel binary uses, validated instead of the ~40 KB binaries themselves (no
// base64 decode, no full validation at start-up; wasm-feature-detect does the same).
//
// Beyond the MVP, both binaries use SIMD128 and bulk memory (memory.fill / memory.copy); the
// relaxed one adds three relaxed-SIMD instructions: f32x4.relaxed_madd (assembly/simd.ts's
// `madd`), i16x8.relaxed_dot_i8x16_i7x16_s (the int8 kernels) and
// i32x4.relaxed_dot_i8x16_i7x16_add_s (the int8 peak loop); a disassembly of
// dist/wasm/relaxed.wasm lists no other (test/feature-probe.test.ts). Each probe is one function
// () → v128:
//
//   simd128:  i32.const 0, i32.const 0, i32.const 0, memory.fill 0   (bulk memory)
//             i32.const 1, i32x4.splat, i32.const 2, i32x4.splat, f32x4.mul   (SIMD128)
//   relaxed:  the same memory.fill, then three i32x4.splat and f32x4.relaxed_madd; one more splat
//             and i16x8.relaxed_dot_i8x16_i7x16_s; two more and i32x4.relaxed_dot_i8x16_i7x16_add_s
//
// test/feature-probe.test.ts checks that each probe validates exactly when its binary does.

/** A module with one memory and one function () → v128 whose body (before `end`) is `body`. */
function probeModule(body: number[]): Uint8Array<ArrayBuffer> {
  const code = [0x00, ...body, 0x0b]; // no locals, body, end
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, //       type section: 1 type, func () → (v128)
    0x03, 0x02, 0x01, 0x00, //                         function section: 1 function of type 0
    0x05, 0x03, 0x01, 0x00, 0x00, //                   memory section: 1 memory, min 0 pages, no max
    0x0a, code.length + 2, 0x01, code.length, ...code, // code section: 1 body (sizes < 128: one LEB byte)
  ]);
}

const MEMORY_FILL = [0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00]; // i32.const 0 ×3, memory.fill 0
const SPLAT = (n: number) => [0x41, n, 0xfd, 0x11]; //                       i32.const n, i32x4.splat

/** Validates when the engine has SIMD128 and bulk memory (what the simd128 binary needs). */
export const SIMD128_PROBE = probeModule([...MEMORY_FILL, ...SPLAT(1), ...SPLAT(2), 0xfd, 0xe6, 0x01]); // f32x4.mul

/** Validates when the engine also has the relaxed-SIMD instructions the relaxed binary uses. */
export const RELAXED_PROBE = probeModule([
  ...MEMORY_FILL,
  ...SPLAT(1), ...SPLAT(2), ...SPLAT(3), 0xfd, 0x85, 0x02, //  f32x4.relaxed_madd
  ...SPLAT(4), 0xfd, 0x92, 0x02, //                           i16x8.relaxed_dot_i8x16_i7x16_s
  ...SPLAT(5), ...SPLAT(6), 0xfd, 0x93, 0x02, //              i32x4.relaxed_dot_i8x16_i7x16_add_s
]);
