// packed.ts — a matrix packed once into the GEMM kernel's panel layout, for B operands used many
// times (layer weights): rt.matmul(a, packed) then skips the per-call packing of B.

import type { Kernels } from '../kernels/instance';
import { gemmKernels } from '../kernels/gemm';
import { AttentionError, formatShape } from '../runtime/index';
import { Scope, type TensorLike, viewTensor } from '../tensor';
import { assertLive, booleanOption, optionKeys, readOptions } from '../attention/options';

/**
 * B of a product A·B (or A·Bᵀ), resident in Wasm memory in the kernel's panel layout. Made by
 * `rt.packMatrix`; pass it as `b` to `rt.matmul`. `dispose()` frees it.
 */
export class PackedMatrix {
  /** Depth of the product (rows of B, or columns of Bᵀ). */
  readonly k: number;
  /** Output columns of the product. */
  readonly n: number;
  /** @internal */
  readonly ptr: number;
  /** @internal */
  readonly kernels: Kernels;
  private disposed = false;

  /** @internal made by packMatrix */
  constructor(kernels: Kernels, ptr: number, k: number, n: number) {
    this.kernels = kernels;
    this.ptr = ptr;
    this.k = k;
    this.n = n;
  }

  /** True once `dispose()` ran. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the Wasm memory; using it afterwards throws DISPOSED. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kernels.arena.release(this.ptr);
  }

  /** @internal */
  assertLive(name: string): void {
    if (this.disposed) throw new AttentionError('DISPOSED', `${name} is a disposed PackedMatrix`);
  }
}

/** Options of `rt.packMatrix`. */
export interface PackMatrixOptions {
  /** `b` is [N, K] and the product is A·Bᵀ (a PyTorch nn.Linear weight). Default false: [K, N]. */
  transposeB?: boolean;
}

const PACK_KEYS = optionKeys<PackMatrixOptions>({ transposeB: true });

export function packMatrix(kernels: Kernels, bIn: TensorLike, options: PackMatrixOptions = {}): PackedMatrix {
  const transposeB = readOptions<PackMatrixOptions>(options, PACK_KEYS, 'options', 'rt.packMatrix').transposeB;
  const b = viewTensor(bIn, 'b', [Float32Array], kernels.arena);
  const transB = booleanOption(transposeB, 'options.transposeB', false);
  if (b.shape.length !== 2) throw new AttentionError('SHAPE_MISMATCH', `b must be 2-D (${transB ? '[N, K]' : '[K, N]'}), got ${formatShape(b.shape)}`);
  const [r, c] = b.shape;
  const k = transB ? c : r;
  const n = transB ? r : c;
  assertLive(kernels, { b: bIn });
  const scope = new Scope(kernels.arena);
  let dst = 0;
  try {
    dst = kernels.arena.alloc(gemmKernels(kernels).packedBytes(n, k));
    const bp = scope.place(b);
    if (n * k > 0) gemmKernels(kernels).pack({ b: bp, ldb: c, transB, n, k, dst }); // empty: no panel to walk
  } catch (error) {
    if (dst) kernels.arena.release(dst);
    throw error;
  } finally {
    scope.close();
  }
  return new PackedMatrix(kernels, dst, k, n);
}
