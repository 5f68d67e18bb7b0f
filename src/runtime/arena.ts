// arena.ts — the TypeScript-owned allocator over the kernel module's linear memory.
//
// Every block starts 16-byte aligned and is followed by at least 16 bytes the caller does not
// own, so SIMD tails may over-read (never over-write) safely. Memory grows on demand (doubling
// while small, then by what is needed plus max(1 MiB, memory / 16); bounded by maxBytes); growth
// detaches every ArrayBuffer view, so this class never hands out
// a view to keep: `f32(ptr, n)` builds a fresh one from the current buffer each time.
// Free blocks are kept sorted by address and coalesced, first-fit.
//
// When growing would pass maxBytes, the owner's reclaimer (setReclaimer) may first give back
// blocks it keeps only for speed (the kernels' reusable workspaces); the allocation is retried
// once after it released something.
//
// Guard mode (a debugging aid, `guardAllocations`): every block is surrounded by 16 guard bytes
// before it and at least 16 after it (the tail pad itself), filled with a pattern; verifyGuards()
// proves that nothing wrote outside any live block (reading the tail pad stays allowed).

import { AttentionError } from './errors';
import { wordIndex, wordsIn } from './bytes';

const ALIGN = 16;
const TAIL_PAD = 16;
/** Guard-mode bytes before each block (the tail pad serves as the guard after it). */
const GUARD = 16;
/** The guard pattern, one 32-bit word repeated. */
const GUARD_WORD = 0xdeadbeef | 0;
const PAGE = 65536;
/** Growth beyond the bytes needed, once memory is past it: 1 MiB, or a 16th of the memory when larger. */
const MIN_GROWTH_STEP = 2 ** 20;
const GROWTH_FRACTION = 1 / 16;
/** Wasm32 linear memory cannot exceed 4 GiB (65536 pages). */
export const WASM_MAX_BYTES = 65536 * PAGE;

interface FreeBlock {
  start: number;
  size: number;
}

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

export class Arena {
  private readonly memory: WebAssembly.Memory;
  private readonly maxBytes: number;
  private readonly free: FreeBlock[] = [];
  private readonly live = new Map<number, number>();
  private liveBytes = 0;
  private readonly guarded: boolean;
  /** user bytes asked for each live block, in guard mode */
  private readonly asked = new Map<number, number>();
  /** gives back idle reservations when memory cannot grow; true when it released something */
  private reclaim: (() => boolean) | undefined;

  constructor(memory: WebAssembly.Memory, heapBase: number, maxBytes: number, guarded = false) {
    this.memory = memory;
    this.guarded = guarded;
    this.maxBytes = Math.min(maxBytes, WASM_MAX_BYTES);
    const start = alignUp(heapBase, ALIGN);
    const end = memory.buffer.byteLength;
    if (end > start) this.free.push({ start, size: end - start });
  }

  /** Current size of linear memory in bytes. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * The current memory buffer, to recognize a caller's view of this memory (compare it, never keep
   * it: growth replaces it and detaches its views).
   */
  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  /** Bytes currently held by live blocks (with their padding). */
  get allocatedBytes(): number {
    return this.liveBytes;
  }

  /** Number of live blocks. */
  get blockCount(): number {
    return this.live.size;
  }

  /**
   * Sets the function called when an allocation would pass maxBytes: it may release blocks kept
   * only for reuse and returns true if it did (the allocation is then tried once more). It must
   * not release a block anyone holds the address of.
   */
  setReclaimer(reclaim: (() => boolean) | undefined): void {
    this.reclaim = reclaim;
  }

  /**
   * Reserves `bytes` bytes (16-byte aligned, with a 16-byte tail pad) and returns the address.
   * Throws OUT_OF_MEMORY when memory cannot grow enough, even after the reclaimer released what
   * it could; nothing else changes in that case.
   */
  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new AttentionError('INVALID_ARGUMENT', `allocation size must be a non-negative finite number, got ${bytes}`);
    }
    const size = alignUp(Math.max(bytes, 1), ALIGN) + TAIL_PAD + (this.guarded ? GUARD : 0);
    let index = this.findFit(size);
    if (index < 0) index = this.makeRoom(size, bytes);
    const block = this.free[index];
    const ptr = block.start;
    if (block.size === size) this.free.splice(index, 1);
    else {
      block.start += size;
      block.size -= size;
    }
    this.live.set(ptr, size);
    this.liveBytes += size;
    if (!this.guarded) return ptr;
    // [guard][user bytes … tail pad, all pattern-filled beyond the user bytes]
    const user = ptr + GUARD;
    new Int32Array(this.memory.buffer, ptr, wordsIn(size)).fill(GUARD_WORD);
    this.live.delete(ptr);
    this.live.set(user, size);
    this.asked.set(user, bytes);
    return user;
  }

  /**
   * Guard mode: throws if a guard word of any live block changed, naming the block and offset.
   * Returns the number of blocks checked (0 when guard mode is off).
   */
  verifyGuards(): number {
    if (!this.guarded) return 0;
    const i32 = new Int32Array(this.memory.buffer);
    for (const [user, size] of this.live) {
      const asked = this.asked.get(user) ?? 0;
      const start = user - GUARD;
      const firstAfter = alignUp(user + asked, 4); // user bytes end; pattern words from here on
      for (let a = start; a < user; a += 4) {
        if (i32[wordIndex(a)] !== GUARD_WORD) throw new AttentionError('MEMORY_CORRUPTION', `guard word ${a - user} bytes before the block at ${user} (${asked} bytes) was overwritten`);
      }
      for (let a = firstAfter; a < start + size; a += 4) {
        if (i32[wordIndex(a)] !== GUARD_WORD) throw new AttentionError('MEMORY_CORRUPTION', `guard word ${a - user - asked} bytes after the block at ${user} (${asked} bytes) was overwritten`);
      }
    }
    return this.live.size;
  }

  /** Returns a block obtained from `alloc`. Releasing an unknown address throws. */
  release(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new AttentionError('INVALID_ARGUMENT', `address ${ptr} is not a live allocation`);
    this.live.delete(ptr);
    this.liveBytes -= size;
    this.asked.delete(ptr);
    this.insertFree(this.guarded ? ptr - GUARD : ptr, size);
  }

  private viewBuffer: ArrayBufferLike | undefined;
  private i32All: Int32Array | undefined;
  private f32All: Float32Array | undefined;

  /**
   * Int32 and Float32 views of all of memory, for writing kernel parameter blocks on hot paths.
   * Cached, and re-derived whenever `memory.buffer` is a different object (growth replaces it),
   * so they are never stale. Index by wordIndex(byte address).
   */
  wordViews(): { i32: Int32Array; f32: Float32Array } {
    const buffer = this.memory.buffer;
    if (buffer !== this.viewBuffer) {
      this.viewBuffer = buffer;
      this.i32All = new Int32Array(buffer);
      this.f32All = new Float32Array(buffer);
    }
    return { i32: this.i32All!, f32: this.f32All! };
  }

  /** A fresh Float32Array view of `length` floats at `ptr`. Do not keep it across allocations. */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /** A fresh Int32Array view of `length` ints at `ptr`. Do not keep it across allocations. */
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  /** A fresh byte view. Do not keep it across allocations. */
  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  /** Index of a free block of `size` bytes after growing memory (or reclaiming, at the limit). */
  private makeRoom(size: number, bytes: number): number {
    try {
      this.grow(size);
    } catch (error) {
      const atLimit = error instanceof AttentionError && error.code === 'OUT_OF_MEMORY';
      if (!atLimit || !this.reclaim?.()) throw error;
      const index = this.findFit(size);
      if (index >= 0) return index;
      this.grow(size);
    }
    const index = this.findFit(size);
    if (index < 0) throw new AttentionError('OUT_OF_MEMORY', `could not reserve ${bytes} bytes after growing memory`);
    return index;
  }

  private findFit(size: number): number {
    for (let i = 0; i < this.free.length; i++) if (this.free[i].size >= size) return i;
    return -1;
  }

  private grow(size: number): void {
    const current = this.memory.buffer.byteLength;
    const last = this.free[this.free.length - 1];
    const tailFree = last && last.start + last.size === current ? last.size : 0;
    const needed = current + size - tailFree;
    if (needed > this.maxBytes) {
      throw new AttentionError(
        'OUT_OF_MEMORY',
        `needs ${needed} bytes of Wasm memory, over the limit of ${this.maxBytes} bytes`,
      );
    }
    // Doubling while small (few growths), then steps of at most max(1 MiB, memory / 16) beyond what
    // is needed, so a model's memory stays within about 6% of its live bytes (doubling left up to
    // 2×, a fixed 4 MiB step 1.2× on a 9 MiB model) in a few dozen growths even for 500 MB.
    const step = Math.max(MIN_GROWTH_STEP, current * GROWTH_FRACTION);
    const target = Math.min(this.maxBytes, Math.max(needed, Math.min(current * 2, current + step)));
    const pages = Math.ceil((target - current) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (cause) {
      throw new AttentionError('OUT_OF_MEMORY', `Wasm memory could not grow by ${pages} pages: ${String(cause)}`);
    }
    this.insertFree(current, pages * PAGE);
  }

  private insertFree(start: number, size: number): void {
    const list = this.free;
    let i = 0;
    while (i < list.length && list[i].start < start) i++;
    list.splice(i, 0, { start, size });
    // coalesce with the next block, then with the previous one
    if (i + 1 < list.length && list[i].start + list[i].size === list[i + 1].start) {
      list[i].size += list[i + 1].size;
      list.splice(i + 1, 1);
    }
    if (i > 0 && list[i - 1].start + list[i - 1].size === list[i].start) {
      list[i - 1].size += list[i].size;
      list.splice(i, 1);
    }
  }
}
