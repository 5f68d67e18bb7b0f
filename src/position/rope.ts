// rope.ts — rotary position embedding (Su et al., "RoFormer", 2021): rotates pairs of query/key
// features by position-dependent angles, so q·k depends on positions only through j − i.
//
//   θ_c = base^(−2c/R) for c < R/2 (R = rotary dims, even, ≤ head size); angle = position·θ_c
//   rotate-half (GPT-NeoX, LLaMA, ONNX default):  pairs (x[c], x[c + R/2])
//   interleaved (GPT-J, RoFormer, ONNX interleaved=1): pairs (x[2c], x[2c + 1])
//   (x1, x2) → (x1·cos − x2·sin, x1·sin + x2·cos); features R … head size − 1 pass through.
//
// Angles and cos/sin are computed in float64 and rounded once to float32: a (positions, R/2) table
// in Wasm memory shared by a layer's calls (grown by doubling up to 8192 positions); a call with
// positions beyond that gets its own rows, so memory stays O(call). The rotation itself is the
// f32_rope kernel (assembly/rope.ts), in place on any strided [rows, heads, dim] block, so the
// multi-head layer rotates Q and K inside its projection buffer without copying them.
//
// rt.rope(x, options) is also a standalone op with the ONNX RotaryEmbedding (opset 23) contract:
// x [B, H, S, D] or [B, S, H·D] (numHeads), explicit cos/sin caches and position ids optional.

import type { Kernels } from '../kernels/instance';
import { ropeKernels } from '../kernels/rope';
import { AttentionError, f32At, f32Bytes, formatShape } from '../runtime/index';
import {
  asNumber, checkElementCount, outputBlock, Scope, type Tensor, type TensorLike, type TensorView, viewData, viewOut, viewTensor,
  type WasmTensor, writeOut,
} from '../tensor';
import { assertLive, optionKeys, readOptions } from '../attention/options';

/** RoPE parameters shared by the layer config and rt.rope. */
export interface RopeParameters {
  /** Rotated features per head (even, ≤ head size). Default: the whole head. */
  rotaryDim?: number;
  /** Frequency base. Default 10000. */
  base?: number;
  /** Pairs (2c, 2c+1) (GPT-J) instead of (c, c + rotaryDim/2) (GPT-NeoX / LLaMA). Default false. */
  interleaved?: boolean;
}

/** Options of `rt.rope`. */
export interface RopeOptions extends RopeParameters {
  /** Heads of a 3-D [batch, seq, heads·headDim] input (required for 3-D, checked for 4-D). */
  numHeads?: number;
  /**
   * Positions: a number (offset of the first token, default 0, e.g. the cache length when
   * decoding), one offset per batch entry, or position ids [batch, seq] (Int32Array,
   * BigInt64Array or number[]; shape [seq] is shared by every batch entry).
   */
  positions?: number | ArrayLike<number> | {
    /** Position ids, row-major. */
    readonly data: ArrayLike<number | bigint>;
    /** [batch, seq] or [seq]. */
    readonly shape?: readonly number[];
    /** [batch, seq] or [seq] (onnxruntime's name). */
    readonly dims?: readonly number[] };
  /** Explicit cos cache [maxPosition + 1, rotaryDim/2] (ONNX `cos_cache`); with `sin`, replaces `base`. */
  cos?: TensorLike;
  /** Explicit sin cache [maxPosition + 1, rotaryDim/2] (ONNX `sin_cache`). */
  sin?: TensorLike;
  /**
   * Write the result here: a WasmTensor (zero-copy) or a Tensor of x's shape, read once. It may be
   * `x` itself (the rotation is elementwise: a WasmTensor that is also `x` rotates in place).
   */
  out?: WasmTensor | Tensor;
}

/** Validated RoPE parameters. */
export interface RopeSpec {
  rotaryDim: number;
  base: number;
  interleaved: boolean;
}

export function checkRopeParameters(p: RopeParameters, headDim: number, name: string): RopeSpec {
  const rotaryDim = p.rotaryDim ?? headDim - (headDim % 2);
  if (typeof rotaryDim !== 'number' || !Number.isInteger(rotaryDim) || rotaryDim < 0 || rotaryDim % 2 !== 0 || rotaryDim > headDim) {
    throw new AttentionError('INVALID_OPTION', `${name}.rotaryDim must be an even integer in [0, headDim = ${headDim}], got ${String(p.rotaryDim)}`);
  }
  if (p.rotaryDim === undefined && headDim % 2 !== 0) {
    throw new AttentionError('INVALID_OPTION', `${name}.rotaryDim must be given for an odd head size (${headDim}): RoPE rotates pairs`);
  }
  const base = p.base ?? 10000;
  if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) {
    throw new AttentionError('INVALID_OPTION', `${name}.base must be a positive number, got ${String(p.base)}`);
  }
  const interleaved = p.interleaved ?? false;
  if (typeof interleaved !== 'boolean') {
    throw new AttentionError('INVALID_OPTION', `${name}.interleaved must be a boolean, got ${String(p.interleaved)}`);
  }
  return { rotaryDim, base, interleaved };
}

/**
 * cos/sin tables (positions, rotaryDim/2) in Wasm memory for one RoPE spec, grown on demand
 * (doubling), owned by a layer (or a call) and freed by `dispose`.
 */
export class RopeTables {
  readonly spec: RopeSpec;
  private readonly kernels: Kernels;
  private cosPtr = 0;
  private sinPtr = 0;
  private positions = 0;

  constructor(kernels: Kernels, spec: RopeSpec) {
    this.kernels = kernels;
    this.spec = spec;
  }

  get half(): number {
    return this.spec.rotaryDim / 2;
  }

  /** Makes positions [0, count) available; returns { cos, sin } pointers. */
  ensure(count: number): { cos: number; sin: number } {
    if (count > this.positions) {
      const next = Math.max(count, 2 * this.positions, 64);
      const half = this.half;
      checkElementCount(next * half, 'RoPE tables');
      const arena = this.kernels.arena;
      const c = arena.alloc(f32Bytes(Math.max(1, next * half)));
      let s: number;
      try {
        s = arena.alloc(f32Bytes(Math.max(1, next * half)));
      } catch (e) {
        arena.release(c);
        throw e;
      }
      this.release();
      const inv = new Float64Array(half);
      for (let i = 0; i < half; i++) inv[i] = Math.pow(this.spec.base, (-2 * i) / this.spec.rotaryDim);
      const cv = arena.f32(c, next * half);
      for (let p = 0; p < next; p++) for (let i = 0; i < half; i++) cv[p * half + i] = Math.cos(p * inv[i]);
      const sv = arena.f32(s, next * half);
      for (let p = 0; p < next; p++) for (let i = 0; i < half; i++) sv[p * half + i] = Math.sin(p * inv[i]);
      this.cosPtr = c;
      this.sinPtr = s;
      this.positions = next;
    }
    return { cos: this.cosPtr, sin: this.sinPtr };
  }

  /**
   * Tables and per-row table indices for one call's positions (allocated in `scope`). Positions
   * below TABLE_LIMIT use the shared table (grown once); beyond it the call gets its own rows, so
   * memory stays O(call) however far decoding goes.
   */
  forPositions(scope: Scope, positions: Int32Array): { cos: number; sin: number; half: number; positions: number } {
    const arena = this.kernels.arena;
    const n = positions.length;
    const half = this.half;
    let maxPos = 0;
    for (const p of positions) maxPos = Math.max(maxPos, p);
    const idx = scope.alloc(Math.max(1, n), 'RoPE positions');
    if (maxPos < RopeTables.TABLE_LIMIT) {
      const { cos, sin } = this.ensure(maxPos + 1);
      arena.i32(idx, n).set(positions);
      return { cos, sin, half, positions: idx };
    }
    const cos = scope.alloc(Math.max(1, n * half), 'RoPE cos rows');
    const sin = scope.alloc(Math.max(1, n * half), 'RoPE sin rows');
    const inv = new Float64Array(half);
    for (let i = 0; i < half; i++) inv[i] = Math.pow(this.spec.base, (-2 * i) / this.spec.rotaryDim);
    const cv = arena.f32(cos, n * half);
    const sv = arena.f32(sin, n * half);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < half; i++) {
        cv[r * half + i] = Math.cos(positions[r] * inv[i]);
        sv[r * half + i] = Math.sin(positions[r] * inv[i]);
      }
    }
    const iv = arena.i32(idx, n);
    for (let r = 0; r < n; r++) iv[r] = r;
    return { cos, sin, half, positions: idx };
  }

  /** Positions served from the shared table; larger ones get per-call rows. */
  static readonly TABLE_LIMIT = 8192;

  private release(): void {
    if (this.cosPtr) this.kernels.arena.release(this.cosPtr);
    if (this.sinPtr) this.kernels.arena.release(this.sinPtr);
    this.cosPtr = 0;
    this.sinPtr = 0;
    this.positions = 0;
  }

  dispose(): void {
    this.release();
  }
}

/** A strided block of rows × heads × headDim in Wasm memory to rotate in place. */
export interface RopeTarget {
  ptr: number;
  rows: number;
  rowStride: number;
  heads: number;
  headStride: number;
}

/**
 * Rotates `target` in place; `positionsPtr` holds one i32 position per row (all < table size,
 * ensured by the caller through tables.ensure).
 */
export function applyRope(kernels: Kernels, tables: { cos: number; sin: number; half: number }, spec: RopeSpec, target: RopeTarget, positionsPtr: number): void {
  if (spec.rotaryDim === 0 || target.rows === 0 || target.heads === 0) return;
  ropeKernels(kernels).apply({
    x: target.ptr, rows: target.rows, rowStride: target.rowStride, heads: target.heads, headStride: target.headStride,
    rotaryDim: spec.rotaryDim, interleaved: spec.interleaved,
    cos: tables.cos, sin: tables.sin, tableStride: tables.half, positions: positionsPtr,
  });
}

const F32 = [Float32Array] as const;

/** Per-row positions [batch·seq] from the `positions` option (validated). */
export function resolvePositions(value: RopeOptions['positions'], batch: number, seq: number, name: string): Int32Array {
  const out = new Int32Array(batch * seq);
  const check = (p: number, where: string): number => {
    if (!Number.isInteger(p) || p < 0 || p > 2 ** 30) {
      throw new AttentionError('INVALID_OPTION', `${name}${where} must be a non-negative integer position, got ${String(p)}`);
    }
    return p;
  };
  if (value === undefined || typeof value === 'number') {
    const offset = check(value ?? 0, '');
    if (out.length === 0) return out; // no rows (batch may claim any count)
    for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) out[b * seq + s] = offset + s;
    return out;
  }
  if (Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    const list = value as ArrayLike<number>;
    if (list.length !== batch) {
      throw new AttentionError('SHAPE_MISMATCH', `${name} as per-batch offsets must hold ${batch} entries (one per batch entry), got ${list.length}; pass position ids as { data, shape: [${batch}, ${seq}] }`);
    }
    for (let b = 0; b < batch; b++) {
      const offset = check(asNumber(list[b]), `[${b}]`);
      for (let s = 0; s < seq; s++) out[b * seq + s] = offset + s;
    }
    return out;
  }
  if (typeof value === 'object' && value !== null && 'data' in value) {
    const shape = Array.from((value.shape ?? value.dims ?? []) as ArrayLike<number>);
    const data = value.data;
    const shared = shape.length === 1 && shape[0] === seq;
    const full = shape.length === 2 && shape[0] === batch && shape[1] === seq;
    if ((!shared && !full) || data.length !== shape.reduce((a, d) => a * d, 1)) {
      throw new AttentionError('SHAPE_MISMATCH', `${name} (position ids) must be [${batch}, ${seq}] or [${seq}], got ${formatShape(shape)} with ${data.length} values`);
    }
    if (out.length === 0) return out;
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < seq; s++) {
        const i = shared ? s : b * seq + s;
        out[b * seq + s] = check(asNumber(data[i]), `.data[${i}]`);
      }
    }
    return out;
  }
  throw new AttentionError('INVALID_OPTION', `${name} must be a number, per-batch offsets or position ids { data, shape }, got ${String(value)}`);
}

/** rt.rope: RoPE on [B, H, S, D] or [B, S, H·D] (ONNX RotaryEmbedding semantics). */
const ROPE_KEYS = optionKeys<RopeOptions>({
  rotaryDim: true, base: true, interleaved: true, numHeads: true, positions: true, cos: true, sin: true, out: true,
});

export function rope(kernels: Kernels, xIn: TensorLike, optionsIn: RopeOptions = {}): Tensor {
  const arena = kernels.arena;
  const options = readOptions<RopeOptions>(optionsIn, ROPE_KEYS, 'options', 'rt.rope');
  const x = viewTensor(xIn, 'x', F32, arena);
  let batch: number, heads: number, seq: number, headDim: number, layout: { rowStride: number; headStride: number; batchStride: number; rowsContiguous: boolean };
  if (x.shape.length === 4) {
    [batch, heads, seq, headDim] = x.shape;
    if (options.numHeads !== undefined && options.numHeads !== heads) {
      throw new AttentionError('SHAPE_MISMATCH', `options.numHeads (${String(options.numHeads)}) disagrees with x [batch, heads, seq, headDim] = ${formatShape(x.shape)}`);
    }
    layout = { rowStride: headDim, headStride: seq * headDim, batchStride: heads * seq * headDim, rowsContiguous: false };
  } else if (x.shape.length === 3) {
    const nh = options.numHeads;
    if (typeof nh !== 'number' || !Number.isInteger(nh) || nh <= 0) {
      throw new AttentionError('INVALID_OPTION', `options.numHeads must be a positive integer for a 3-D x [batch, seq, heads·headDim], got ${String(nh)}`);
    }
    [batch, seq] = x.shape;
    const hidden = x.shape[2];
    if (hidden % nh !== 0) {
      throw new AttentionError('SHAPE_MISMATCH', `x hidden size ${hidden} (shape ${formatShape(x.shape)}) is not divisible by options.numHeads = ${nh}`);
    }
    heads = nh;
    headDim = hidden / nh;
    layout = { rowStride: hidden, headStride: headDim, batchStride: seq * hidden, rowsContiguous: true };
  } else {
    throw new AttentionError('SHAPE_MISMATCH', `x must be 4-D [batch, heads, seq, headDim] or 3-D [batch, seq, heads·headDim], got ${formatShape(x.shape)}`);
  }
  const spec = checkRopeParameters(options, headDim, 'options');
  const half = spec.rotaryDim / 2;
  const positions = resolvePositions(options.positions, batch, seq, 'options.positions');
  let maxPos = 0;
  for (const p of positions) maxPos = Math.max(maxPos, p);
  const explicit = options.cos !== undefined || options.sin !== undefined;
  let cosView: TensorView | undefined;
  let sinView: TensorView | undefined;
  if (explicit) {
    if (options.cos === undefined || options.sin === undefined) {
      throw new AttentionError('INVALID_ARGUMENT', 'options.cos and options.sin must be given together');
    }
    cosView = viewTensor(options.cos, 'options.cos', F32, arena);
    sinView = viewTensor(options.sin, 'options.sin', F32, arena);
    for (const [v, n] of [[cosView, 'options.cos'], [sinView, 'options.sin']] as const) {
      if (v.shape.length !== 2 || v.shape[1] !== half || v.shape[0] <= maxPos) {
        throw new AttentionError('SHAPE_MISMATCH', `${n} must be [positions > ${maxPos}, rotaryDim/2 = ${half}], got ${formatShape(v.shape)}`);
      }
    }
    if (cosView.shape[0] !== sinView.shape[0]) {
      throw new AttentionError('SHAPE_MISMATCH', `options.cos ${formatShape(cosView.shape)} and options.sin ${formatShape(sinView.shape)} must have the same shape`);
    }
  }
  const size = x.shape.reduce((a, d) => a * d, 1);
  checkElementCount(size, 'x');
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', x.shape, arena, "x's shape");
  if (size === 0) return out?.result ?? { data: new Float32Array(0), shape: [...x.shape] };
  const scope = new Scope(arena);
  const tables = explicit ? undefined : new RopeTables(kernels, spec);
  try {
    // The caller's getters have run: the runtime and every resident tensor must still be alive.
    assertLive(kernels, { x: xIn, 'options.cos': options.cos, 'options.sin': options.sin, 'options.out': options.out });
    let cos: number, sin: number, posPtr: number;
    if (tables) ({ cos, sin, positions: posPtr } = tables.forPositions(scope, positions));
    else {
      cos = scope.place(cosView!);
      sin = scope.place(sinView!);
      posPtr = scope.alloc(Math.max(1, positions.length), 'positions');
      arena.i32(posPtr, positions.length).set(positions);
    }
    // Work on the output block: copy x there unless rotating a WasmTensor in place (rope is
    // elementwise, so `out` = x needs no temporary; cos and sin are read throughout).
    const ptr = outputBlock(scope, out, size, 'output', [cosView, sinView]);
    if (!(x.resident && x.resident.ptr === ptr)) arena.f32(ptr, size).set(viewData(x));
    const table = { cos, sin, half };
    for (let b = 0; b < batch; b++) {
      const base = f32At(ptr, b * layout.batchStride);
      if (layout.rowsContiguous) {
        applyRope(kernels, table, spec, { ptr: base, rows: seq, rowStride: layout.rowStride, heads, headStride: layout.headStride }, f32At(posPtr, b * seq));
      } else {
        // [B, H, S, D]: each head's rows are contiguous; rotate head by head with the batch's positions.
        for (let h = 0; h < heads; h++) {
          applyRope(kernels, table, spec, { ptr: f32At(base, h * layout.headStride), rows: seq, rowStride: layout.rowStride, heads: 1, headStride: 0 }, f32At(posPtr, b * seq));
        }
      }
    }
    return writeOut(arena, out, ptr, x.shape);
  } finally {
    tables?.dispose();
    scope.close();
  }
}
