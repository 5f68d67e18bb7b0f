// errors.ts — the one error type every public function throws for bad input or exhausted resources.

/** What went wrong, as a stable machine-readable code. */
export type AttentionErrorCode =
  | 'SHAPE_MISMATCH' //  a tensor's rank or dimensions do not fit
  | 'DTYPE_MISMATCH' //  a tensor's element type is not the one expected
  | 'INVALID_ARGUMENT' // a required argument is missing or not a tensor
  | 'INVALID_OPTION' //  an option or attribute is out of range or of the wrong type
  | 'OUT_OF_MEMORY' //   the Wasm memory cannot grow enough (4 GiB or maxMemoryBytes)
  | 'DISPOSED' //        the runtime or tensor was disposed
  | 'CACHE_FULL' //      a KV cache without a window has no room for more tokens
  | 'MEMORY_CORRUPTION' // guard mode found a write outside an allocation (a library bug)
  | 'UNSUPPORTED' //     this environment lacks a needed WebAssembly feature, or a proxy runtime
  //                     was asked for a method whose result lives in Wasm memory
  | 'ABORTED'; //        a proxy runtime's call was aborted through its options.signal

/**
 * Error thrown by every wasm-attention function. `code` is stable; `message` names the argument,
 * what was expected and what was given. After it is thrown the runtime stays usable.
 */
export class AttentionError extends Error {
  /** Machine-readable category. */
  readonly code: AttentionErrorCode;
  /** An error with a stable `code` and a message naming the argument, the expected and the actual value. */
  constructor(code: AttentionErrorCode, message: string) {
    super(message);
    this.name = 'AttentionError';
    this.code = code;
  }
}
// The class keeps its name in minified bundles too (Node prints the constructor's name beside
// error.name: `E [AttentionError]` otherwise), without esbuild's keepNames on every function.
Object.defineProperty(AttentionError, 'name', { value: 'AttentionError' });

/** Formats a shape as `[2, 3, 4]` for messages. */
export function formatShape(shape: ArrayLike<number>): string {
  return `[${Array.from(shape).join(', ')}]`;
}

/**
 * A caller's value for an error message: typed arrays by type and length, else JSON where possible
 * (strings quoted), else String(); cut to FORMAT_LIMIT characters. Never throws (JSON.stringify
 * throws on bigints and cycles, String() on a symbol in a template).
 */
export function formatValue(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    const length = (value as { length?: number }).length;
    return `${Object.prototype.toString.call(value).slice(8, -1)}${length === undefined ? `(${value.byteLength} bytes)` : `(${length})`}`;
  }
  let text: string;
  try {
    // (bigints and the numbers JSON cannot hold — NaN, ±Infinity — shown as they are written in code)
    const json = typeof value === 'number'
      ? String(value)
      : JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    text = json !== undefined ? json : String(value);
  } catch {
    // a cycle, or a value String() refuses
    try {
      text = String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > FORMAT_LIMIT ? `${text.slice(0, FORMAT_LIMIT)}… (${text.length} characters)` : text;
}

/** Longest rendering of a value inside an error message; longer ones are cut. */
const FORMAT_LIMIT = 120;
