// instantiate.ts — turns the embedded kernel bytes (or a precompiled module) into an instance.
// The only code that touches WebAssembly.*. Works in Node, browsers, Deno, Bun and workerd
// (which forbids compiling bytes at run time: there the host passes a WebAssembly.Module).

import { AttentionError, formatValue } from './errors';
import { RELAXED_PROBE, SIMD128_PROBE } from './feature-probe';
import { RELAXED_MT_WASM_BASE64, RELAXED_WASM_BASE64, SIMD128_MT_WASM_BASE64, SIMD128_WASM_BASE64 } from './wasm-bytes.generated';

/** Which kernel binary: `relaxed` uses relaxed-SIMD fused multiply-add, `simd128` plain SIMD128. */
export type Isa = 'relaxed' | 'simd128';

/** A global exported by the kernel module (its parameter-block offsets). */
interface ExportedGlobal {
  value: number;
}

/** The raw exports of the kernel module. Only src/kernels/ (and runtime/tasks.ts, the pool's task loop) calls them. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  isa(): number;
  f32_gemm(params: number): void;
  f32_gemm_workspace_bytes(n: number, k: number): number;
  f32_gemm_pack_b(params: number): void;
  f32_gemm_packed_b_bytes(n: number, k: number): number;
  f32_attn_online(params: number): void;
  f32_attn_weights(params: number): void;
  f32_attn_workspace_bytes(nk: number, dh: number, dv: number): number;
  f32_attn_merge(params: number): void;
  f32_peak_madd(iters: number, seed: number): number;
  qs8_attn_online(params: number): void;
  qs8_attn_workspace_bytes(nk: number, dh: number, dv: number): number;
  // ── exports for positions ──
  f32_rope(params: number): void;
  // ── exports for long-sequence variants ──
  f32_randn(params: number): void;
  i32_lsh_buckets(params: number): void;
  i32_counting_sort(params: number): void;
  f32_rows_gather(params: number): void;
  f32_rows_norm(params: number): void;
  f32_lsh_normalize(params: number): void;
  f32_lsh_chunk_mask(params: number): void;
  f32_rows_mean(params: number): void;
  f32_rows_transpose(params: number): void;
  f32_softmax_rows(params: number): void;
  f32_exp(x: number, y: number, n: number): void;
  // ── exports for structured variants ──
  f32_rows_l2_normalize(params: number): void;
  f32_rows_axpy(params: number): void;
  f32_rows_scatter_add(params: number): void;
  f32_rows_bias_scale(params: number): void;
  // ── the worker pool's task loop (tasks.ts) ──
  pool_task_load(dst: number, src: number, bytes: number, wsOffset: number, workspace: number): void;
  [name: string]: unknown;
}

/** Reads an exported constant (parameter-block offset) from the module. */
export function exportedConstant(exports: KernelExports, name: string): number {
  const g = exports[name] as ExportedGlobal | undefined;
  if (!g || typeof g.value !== 'number') throw new AttentionError('UNSUPPORTED', `kernel module lacks the constant ${name}`);
  return g.value;
}

const byteCache = new Map<string, Uint8Array>();

/**
 * Base64 → bytes by the fastest means the engine has: Uint8Array.fromBase64 (recent browsers),
 * Buffer (Node, Bun), else atob and a loop. The loop runs cold, in the interpreter: over the
 * 30 KB of one kernel it took 2–7 ms at start-up in Node, Buffer about 0.3 ms.
 */
export function decodeBase64(b64: string): Uint8Array {
  const U8 = Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array };
  if (typeof U8.fromBase64 === 'function') return U8.fromBase64(b64);
  const NodeBuffer = (globalThis as { Buffer?: { from(s: string, encoding: 'base64'): Uint8Array } }).Buffer;
  if (typeof NodeBuffer?.from === 'function') {
    const b = NodeBuffer.from(b64, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  return decodeBase64Portable(b64);
}

/** Base64 → bytes with atob only (every engine); decodeBase64's fallback. */
export function decodeBase64Portable(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** The embedded bytes of one kernel binary (`shared`: the twin importing a shared memory, for threads). */
export function kernelBytes(isa: Isa, shared = false): Uint8Array {
  const key = `${isa}${shared ? '-mt' : ''}`;
  let bytes = byteCache.get(key);
  if (!bytes) {
    const b64 = isa === 'relaxed'
      ? (shared ? RELAXED_MT_WASM_BASE64 : RELAXED_WASM_BASE64)
      : (shared ? SIMD128_MT_WASM_BASE64 : SIMD128_WASM_BASE64);
    bytes = decodeBase64(b64);
    byteCache.set(key, bytes);
  }
  return bytes;
}

/**
 * Compiled kernel modules, one per binary for the life of the process (or page). Every runtime
 * instantiates the same module, so the kernels are compiled once, and so is V8's optimized code:
 * V8 runs a new module's functions in its baseline tier and recompiles the hot ones in the
 * background (the attention kernel: 11–18 ms of TurboFan here), so the first A1 call of a new
 * module took 42–64 ms instead of 24. Without this cache every new runtime paid that again.
 */
const moduleCache = new Map<string, WebAssembly.Module>();
const pendingModules = new Map<string, Promise<WebAssembly.Module>>();

function compileKernelsSync(isa: Isa, shared = false): WebAssembly.Module {
  const key = `${isa}${shared ? '-mt' : ''}`;
  let module = moduleCache.get(key);
  if (!module) {
    try {
      module = new WebAssembly.Module(kernelBytes(isa, shared) as BufferSource);
    } catch (error) {
      throw compileFailure(isa, error);
    }
    moduleCache.set(key, module);
  }
  return module;
}

async function compileKernels(isa: Isa, shared = false): Promise<WebAssembly.Module> {
  const key = `${isa}${shared ? '-mt' : ''}`;
  const cached = moduleCache.get(key);
  if (cached) return cached;
  let pending = pendingModules.get(key);
  if (!pending) {
    pending = WebAssembly.compile(kernelBytes(isa, shared) as BufferSource).then(
      (module) => {
        moduleCache.set(key, module);
        pendingModules.delete(key);
        return module;
      },
      (error: unknown) => {
        pendingModules.delete(key);
        throw compileFailure(isa, error);
      },
    );
    pendingModules.set(key, pending);
  }
  return pending;
}

const supported = new Map<Isa, boolean>();

/**
 * True when this engine accepts the binary (relaxed SIMD needs a flag on Node 20). Decided by
 * validating a few-dozen-byte probe module with the instructions the binary needs beyond the MVP
 * (feature-probe.ts), not the ~40 KB binary itself; the answer is cached.
 */
export function isaSupported(isa: Isa): boolean {
  const probe = isa === 'relaxed' ? RELAXED_PROBE : isa === 'simd128' ? SIMD128_PROBE : undefined;
  if (probe === undefined) return false;
  let ok = supported.get(isa);
  if (ok === undefined) {
    try {
      ok = WebAssembly.validate(probe);
    } catch {
      ok = false;
    }
    supported.set(isa, ok);
  }
  return ok;
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

export function checkForcedIsa(isa: Isa | undefined): Isa {
  if (isa === undefined) return detectIsa();
  if (isa !== 'relaxed' && isa !== 'simd128') {
    throw new AttentionError('INVALID_OPTION', `options.isa must be 'relaxed' or 'simd128', got ${formatValue(isa)}`);
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

/**
 * Compiling the embedded kernels failed: in a browser, typically a Content-Security-Policy without
 * 'wasm-unsafe-eval'. Reported as UNSUPPORTED (not the engine's CompileError) with the remedy.
 */
function compileFailure(isa: Isa, error: unknown): AttentionError {
  if (error instanceof AttentionError) return error;
  return new AttentionError(
    'UNSUPPORTED',
    `could not compile the ${isa} kernels: ${String(error)}. A page with a Content-Security-Policy must allow ` +
      "script-src 'wasm-unsafe-eval'; hosts that forbid compiling bytes (Cloudflare Workers) must pass a precompiled options.module",
  );
}

/**
 * Instantiating the compiled embedded kernels failed: WebKit compiles bytes under a
 * Content-Security-Policy without 'wasm-unsafe-eval' and refuses only here. Reported like a
 * refused compilation (compileFailure).
 */
async function instantiateEmbedded(isa: Isa, module: WebAssembly.Module, imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  try {
    return await WebAssembly.instantiate(module, imports);
  } catch (error) {
    throw compileFailure(isa, error);
  }
}

function asExports(instance: WebAssembly.Instance): KernelExports {
  return instance.exports as unknown as KernelExports;
}

/** The kernel functions a runtime calls: a module lacking one is not this library's kernel build. */
const KERNEL_FUNCTIONS = [
  'heap_base', 'isa', 'f32_gemm', 'f32_gemm_workspace_bytes', 'f32_gemm_pack_b', 'f32_gemm_packed_b_bytes',
  'f32_attn_online', 'f32_attn_weights', 'f32_attn_workspace_bytes', 'f32_attn_merge', 'f32_rope', 'f32_randn',
  'i32_lsh_buckets', 'i32_counting_sort', 'f32_rows_gather', 'f32_rows_norm', 'f32_lsh_normalize',
  'f32_lsh_chunk_mask', 'f32_rows_mean', 'f32_rows_transpose', 'f32_softmax_rows', 'f32_exp', 'f32_rows_l2_normalize',
  'f32_rows_axpy', 'f32_rows_scatter_add', 'f32_rows_bias_scale',
];

/** `options.module`, which must be a WebAssembly.Module. */
function moduleOption(module: unknown): WebAssembly.Module {
  if (!(module instanceof WebAssembly.Module)) {
    throw new AttentionError('INVALID_OPTION', `options.module must be a WebAssembly.Module (e.g. dist/wasm/relaxed.wasm, precompiled), got ${formatValue(module)}`);
  }
  return module;
}

/** The error for an options.module that is not a kernel module of this library. */
function notKernels(why: string): AttentionError {
  return new AttentionError(
    'INVALID_ARGUMENT',
    `options.module is not a wasm-attention kernel module: it ${why}; pass this version's dist/wasm/relaxed.wasm or dist/wasm/simd128.wasm`,
  );
}

/** The exports of an instance of the caller's module, once every kernel export is there. */
function checkedExports(instance: WebAssembly.Instance): KernelExports {
  const exports = instance.exports as Record<string, unknown>;
  const missing = KERNEL_FUNCTIONS.filter((name) => typeof exports[name] !== 'function');
  if (!(exports.memory instanceof WebAssembly.Memory)) missing.unshift('memory');
  if (missing.length > 0) {
    const shown = missing.length > 6 ? `${missing.slice(0, 6).join(', ')} and ${missing.length - 6} more` : missing.join(', ');
    throw notKernels(`lacks the export${missing.length > 1 ? 's' : ''} ${shown}`);
  }
  return asExports(instance);
}

/** Instantiates the kernels asynchronously (every environment). */
export async function instantiateKernels(options: InstantiateOptions = {}): Promise<KernelExports> {
  if (options.module !== undefined) {
    const module = moduleOption(options.module);
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, {});
    } catch (error) {
      throw notKernels(`could not be instantiated (${String(error)})`);
    }
    return checkedExports(instance);
  }
  const isa = checkForcedIsa(options.isa);
  const module = await compileKernels(isa);
  return asExports(await instantiateEmbedded(isa, module, {}));
}

/** Instantiates the kernels synchronously (Node, Deno, Bun; browsers limit sync compiles). */
export function instantiateKernelsSync(options: InstantiateOptions = {}): KernelExports {
  if (options.module !== undefined) {
    const module = moduleOption(options.module);
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, {});
    } catch (error) {
      throw notKernels(`could not be instantiated (${String(error)})`);
    }
    return checkedExports(instance);
  }
  const isa = checkForcedIsa(options.isa);
  const module = compileKernelsSync(isa);
  try {
    return asExports(new WebAssembly.Instance(module, {}));
  } catch (error) {
    throw compileFailure(isa, error);
  }
}

/** A kernel instance on a shared memory, with what a worker needs to join it. */
export interface SharedKernels {
  exports: KernelExports;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
}

const PAGE = 65536;

/**
 * Instantiates the shared-memory twin of the chosen binary on a new shared memory of at most
 * `maxBytes` (for a worker pool). Throws UNSUPPORTED when shared memory cannot be created.
 */
export async function instantiateSharedKernels(isa: Isa, maxBytes: number): Promise<SharedKernels> {
  const maximum = Math.max(2, Math.min(65536, Math.floor(maxBytes / PAGE)));
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: 2, maximum, shared: true });
  } catch (error) {
    throw new AttentionError('UNSUPPORTED', `shared WebAssembly memory is not available: ${String(error)}`);
  }
  const module = await compileKernels(isa, true);
  const instance = await instantiateEmbedded(isa, module, { env: { memory } });
  return { exports: instance.exports as unknown as KernelExports, module, memory };
}
