// instantiate.ts — turns the embedded kernel bytes (or a precompiled module) into an instance.
// The only code that touches WebAssembly.*. Works in Node, browsers, Deno, Bun and workerd
// (which forbids compiling bytes at run time: there the host passes a WebAssembly.Module).

import { AttentionError } from './errors';
import { RELAXED_WASM_BASE64, SIMD128_WASM_BASE64 } from './wasm-bytes.generated';

/** Which kernel binary: `relaxed` uses relaxed-SIMD fused multiply-add, `simd128` plain SIMD128. */
export type Isa = 'relaxed' | 'simd128';

/** A global exported by the kernel module (its parameter-block offsets). */
interface ExportedGlobal {
  value: number;
}

/** The raw exports of the kernel module. Only src/kernels.ts calls them. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  isa(): number;
  f32_gemm(params: number): void;
  f32_gemm_workspace_bytes(n: number, k: number): number;
  f32_attn_online(params: number): void;
  f32_attn_weights(params: number): void;
  f32_attn_workspace_bytes(nk: number, dh: number, dv: number): number;
  f32_attn_merge(acc: number, accStride: number, lseAcc: number, part: number, partStride: number, lsePart: number, rows: number, dv: number): void;
  f32_peak_madd(iters: number, seed: number): number;
  // ── exports for positions (issue 4) ──
  // ── exports for long-sequence variants (issue 5) ──
  f32_softmax_rows(x: number, rows: number, cols: number, stride: number): void;
  f32_exp(x: number, y: number, n: number): void;
  [name: string]: unknown;
}

/** Reads an exported constant (parameter-block offset) from the module. */
export function exportedConstant(exports: KernelExports, name: string): number {
  const g = exports[name] as ExportedGlobal | undefined;
  if (!g || typeof g.value !== 'number') throw new AttentionError('UNSUPPORTED', `kernel module lacks the constant ${name}`);
  return g.value;
}

const byteCache = new Map<Isa, Uint8Array>();

/** The embedded bytes of one kernel binary. */
export function kernelBytes(isa: Isa): Uint8Array {
  let bytes = byteCache.get(isa);
  if (!bytes) {
    const b64 = isa === 'relaxed' ? RELAXED_WASM_BASE64 : SIMD128_WASM_BASE64;
    const bin = atob(b64);
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    byteCache.set(isa, bytes);
  }
  return bytes;
}

/** True when this engine validates the binary (relaxed SIMD needs a flag on Node 20). */
export function isaSupported(isa: Isa): boolean {
  try {
    return WebAssembly.validate(kernelBytes(isa) as BufferSource);
  } catch {
    return false;
  }
}

/** The best binary this engine accepts: relaxed when it validates, else simd128. */
export function detectIsa(): Isa {
  if (isaSupported('relaxed')) return 'relaxed';
  if (isaSupported('simd128')) return 'simd128';
  throw new AttentionError('UNSUPPORTED', 'this WebAssembly engine does not support SIMD128 (fixed-width SIMD)');
}

/** Options that pick or supply the kernel binary. */
export interface InstantiateOptions {
  /** Force a binary; by default the best one this engine validates. */
  isa?: Isa;
  /**
   * A precompiled kernel module (e.g. `import mod from 'wasm-attention/wasm/simd128.wasm'` in
   * Cloudflare Workers, which forbid compiling bytes). Its ISA is read from the module itself.
   */
  module?: WebAssembly.Module;
}

function checkForcedIsa(isa: Isa | undefined): Isa {
  if (isa === undefined) return detectIsa();
  if (isa !== 'relaxed' && isa !== 'simd128') {
    throw new AttentionError('INVALID_OPTION', `options.isa must be 'relaxed' or 'simd128', got ${JSON.stringify(isa)}`);
  }
  if (!isaSupported(isa)) {
    throw new AttentionError(
      'UNSUPPORTED',
      `options.isa '${isa}' is not supported by this engine` +
        (isa === 'relaxed' ? ' (Node 20 needs --experimental-wasm-relaxed-simd)' : ''),
    );
  }
  return isa;
}

function asExports(instance: WebAssembly.Instance): KernelExports {
  return instance.exports as unknown as KernelExports;
}

/** Instantiates the kernels asynchronously (every environment). */
export async function instantiateKernels(options: InstantiateOptions = {}): Promise<KernelExports> {
  if (options.module !== undefined) {
    if (!(options.module instanceof WebAssembly.Module)) {
      throw new AttentionError('INVALID_OPTION', 'options.module must be a WebAssembly.Module');
    }
    return asExports(await WebAssembly.instantiate(options.module, {}));
  }
  const isa = checkForcedIsa(options.isa);
  const { instance } = await WebAssembly.instantiate(kernelBytes(isa) as BufferSource, {});
  return asExports(instance);
}

/** Instantiates the kernels synchronously (Node, Deno, Bun; browsers limit sync compiles). */
export function instantiateKernelsSync(options: InstantiateOptions = {}): KernelExports {
  if (options.module !== undefined) {
    if (!(options.module instanceof WebAssembly.Module)) {
      throw new AttentionError('INVALID_OPTION', 'options.module must be a WebAssembly.Module');
    }
    return asExports(new WebAssembly.Instance(options.module, {}));
  }
  const isa = checkForcedIsa(options.isa);
  return asExports(new WebAssembly.Instance(new WebAssembly.Module(kernelBytes(isa) as BufferSource), {}));
}
