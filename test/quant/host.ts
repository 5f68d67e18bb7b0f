// host.ts — a minimal host for calling the raw kernel exports of the built binaries
// (dist/wasm/{simd128,relaxed}.wasm) from tests and benchmarks: a bump allocator above heap_base()
// whose blocks are followed by guard bytes (checked after each call), parameter blocks written
// through the module's exported field offsets, and typed copies in and out.
//
// Deliberately independent of src/ (the runtime's Arena and kernels.ts are being reshaped
// elsewhere): these tests check the kernel layer itself.

import { readFileSync } from 'node:fs';

export type Isa = 'simd128' | 'relaxed';

/** Bytes of sentinel after every allocation (kernels may over-read 16 bytes, never write). */
const GUARD = 64;
const SENTINEL = 0xa5;

/** One compiled module per binary for the whole process. */
const modules = new Map<Isa, WebAssembly.Module>();

export function kernelModule(isa: Isa): WebAssembly.Module {
  let mod = modules.get(isa);
  if (!mod) {
    mod = new WebAssembly.Module(readFileSync(new URL(`../../dist/wasm/${isa}.wasm`, import.meta.url)));
    modules.set(isa, mod);
  }
  return mod;
}

type Exports = Record<string, unknown> & { memory: WebAssembly.Memory; heap_base(): number };

export class KernelHost {
  readonly exports: Exports;
  private top = 0;
  private blocks: Array<[number, number]> = [];

  constructor(readonly isa: Isa, module: WebAssembly.Module = kernelModule(isa)) {
    this.exports = new WebAssembly.Instance(module, {}).exports as Exports;
    this.reset();
  }

  /** Forgets every allocation (the next ones reuse the memory). */
  reset(): void {
    this.top = (this.exports.heap_base() + 63) & ~63;
    this.blocks = [];
  }

  /** Value of an exported i32 constant (a parameter-block offset). */
  constant(name: string): number {
    const g = this.exports[name];
    if (!(g instanceof WebAssembly.Global)) throw new Error(`no exported constant ${name}`);
    return g.value as number;
  }

  /** Calls an exported kernel function. */
  call(name: string, ...args: number[]): number {
    const f = this.exports[name];
    if (typeof f !== 'function') throw new Error(`no exported function ${name}`);
    return (f as (...a: number[]) => number)(...args);
  }

  /** A 16-byte aligned block of `bytes` bytes (contents: `fill`), followed by guard bytes. */
  alloc(bytes: number, fill = 0): number {
    const p = (this.top + 15) & ~15;
    const end = p + bytes + GUARD;
    const need = end - this.exports.memory.buffer.byteLength;
    if (need > 0) this.exports.memory.grow(Math.ceil(need / 65536));
    new Uint8Array(this.exports.memory.buffer, p, bytes).fill(fill);
    new Uint8Array(this.exports.memory.buffer, p + bytes, GUARD).fill(SENTINEL);
    this.blocks.push([p, bytes]);
    this.top = end;
    return p;
  }

  /** Number of guard bytes (after every block) that no longer hold the sentinel. */
  guardDamage(): number {
    const mem = new Uint8Array(this.exports.memory.buffer);
    let n = 0;
    for (const [p, bytes] of this.blocks) for (let i = p + bytes; i < p + bytes + GUARD; i++) if (mem[i] !== SENTINEL) n++;
    return n;
  }

  bytes(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, ptr, n);
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.exports.memory.buffer, ptr, n);
  }

  /** Copies typed data into a new block. */
  put(data: ArrayBufferView): number {
    const p = this.alloc(data.byteLength);
    this.bytes(p, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return p;
  }

  /**
   * A parameter block of `${prefix}PARAMS_BYTES` bytes with the i32 fields `${prefix}${NAME}` set
   * (pointers and sizes; the others 0), at the offsets the module exports.
   */
  params(prefix: string, fields: Record<string, number>): number {
    const p = this.alloc(this.constant(`${prefix}PARAMS_BYTES`));
    const view = new DataView(this.exports.memory.buffer);
    for (const [name, value] of Object.entries(fields)) view.setInt32(p + this.constant(`${prefix}${name}`), value, true);
    return p;
  }
}
