// fuzz-cases.ts — the calls test/reliability/fuzz.test.ts draws from (not a test file itself).
//
// One entry per public Runtime method (and, through it, the methods of the objects it returns:
// WasmTensor, PackedMatrix, QuantizedMatrix (fuzz-quant.ts), KVCache, MultiHeadAttention, RecurrentMemoryAttention). Each entry can
//   • valid(ctx)    — make one random, small, valid call (or a short sequence on a returned object)
//                     and check it: against the float64 oracle of test/reference/ where one exists,
//                     else against an identity (e.g. routing with every token in every cluster is
//                     full attention) or a consistency property (determinism, unit norms, …);
//                     q/k/v methods now and then pass one of their inputs (resident) as `out` too;
//   • invalid(ctx)  — build one call that breaks the contract in a known way (rank, shape, dtype,
//                     data length, missing argument, bad option, wrong `out`, disposed or foreign
//                     WasmTensor, a shape spanning more than 4 GiB, …) with the error codes it may
//                     raise;
//   • mutant(ctx)   — a valid call with one option (at any depth) replaced by junk (null, −1, NaN,
//                     ∞, 1.5, 2³¹, strings, objects, arrays, …): it must either succeed or throw an
//                     AttentionError with a known code — never another error type.
// Every public call goes through ctx.call(name, fn) so the test can count calls per API member.
// Inputs are uniform in [−2, 2]; where a variant makes discrete choices from the data (LSH hash
// argmax, top-k tokens by norm) the inputs are multiples of 1/8 or the library's own choices
// are fed to the oracle, so float32 and float64 cannot disagree on a near-tie.

import {
  AttentionError, type AttentionErrorCode, type AttentionPath, type KVCache, Runtime, type Tensor,
  type WasmTensor,
} from '../../src/index';
import { mismatch, uniformF32 } from '../helpers/numeric';
import { layerWeights, randomLayer, refConfig } from '../layers/fixtures';
import { referenceAttention, referenceMatmul, referenceSoftmax } from '../reference/attention';
import { referenceGlobalLocal, topKIndices } from '../reference/global-local';
import { referenceHierarchical } from '../reference/hierarchical';
import { referenceLinformer } from '../reference/linformer';
import { referenceLsh, referenceLshBuckets } from '../reference/lsh';
import { referenceMha, refRope } from '../reference/mha';
import { ReferenceTxl } from '../reference/recurrent-memory';
import { referenceRoutingCentroids } from '../reference/routing';
import { referenceSegmented } from '../reference/segmented';
import { referenceSlidingWindow } from '../reference/sliding-window';
import { quantizedMatrixMethod, quantizeMatrixMethod } from './fuzz-quant';

export type Next = () => number;

/** What a fuzz call gets: the runtime under test, another runtime (for foreign tensors), a PRNG. */
export interface Ctx {
  rt: Runtime;
  foreign: Runtime;
  next: Next;
  /** Runs one public call, counted under `name` (e.g. 'attention', 'kvCache.step'). */
  call<T>(name: string, fn: () => T): T;
}

export interface Invalid {
  label: string;
  call: () => unknown;
  codes: readonly AttentionErrorCode[];
  /** a fragment the message must contain (the argument's name) */
  mentions?: string;
  /** resources to free after the call (disposed/foreign tensors made for it) */
  cleanup?: () => void;
}

export interface FuzzMethod {
  /** the Runtime method */
  name: string;
  valid(ctx: Ctx): void;
  invalid(ctx: Ctx): Invalid;
  mutant(ctx: Ctx): { label: string; call: () => unknown; cleanup?: () => void };
}

/** Every code a call may legitimately throw (MEMORY_CORRUPTION never is: it is a library bug). */
export const KNOWN_CODES: readonly AttentionErrorCode[] = [
  'SHAPE_MISMATCH', 'DTYPE_MISMATCH', 'INVALID_ARGUMENT', 'INVALID_OPTION', 'OUT_OF_MEMORY', 'DISPOSED', 'CACHE_FULL', 'UNSUPPORTED',
];

// ── small helpers ──

export const int = (next: Next, lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
export const pick = <T>(next: Next, xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
const chance = (next: Next, p: number): boolean => next() < p;
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A random float32 tensor in [−2, 2] (multiples of 1/8 with `quantized`). */
export function T(shape: number[], next: Next, quantized = false): Tensor {
  const data = uniformF32(size(shape), next);
  if (quantized) for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i] * 8) / 8;
  return { data, shape };
}

const ATOL = 2e-5;
const RTOL = 2e-5;

/** Throws a descriptive Error when got and want differ beyond atol + rtol·|want|. */
export function check(what: string, got: ArrayLike<number>, want: ArrayLike<number>, atol = ATOL, rtol = RTOL, shape?: readonly number[]): void {
  const bad = mismatch(got, want, atol, rtol, shape);
  if (bad) throw new Error(`${what}: ${bad}`);
}

function expectShape(what: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) throw new Error(`${what}: shape [${got}] ≠ [${want}]`);
}

/** Heads [query, kv] for MHA / GQA / MQA. */
const HEADS: Array<[number, number]> = [[1, 1], [2, 1], [2, 2], [4, 2], [3, 1]];
const SEQ = [1, 2, 3, 4, 5, 7, 8, 9];
const DIM = [1, 2, 3, 4, 5, 8];

interface Qkv {
  B: number; hq: number; hkv: number; nq: number; nk: number; dh: number; dv: number;
  q: Tensor; k: Tensor; v: Tensor;
}

/** Now and then a longer sequence, so kernel tiles (4 queries × 64 keys) and their tails are fuzzed too. */
const LONG_SEQ = [16, 17, 33, 63, 64, 65];

function qkv(next: Next, self: boolean, quantized = false, mha = false): Qkv {
  const seq = chance(next, 0.08) ? LONG_SEQ : SEQ;
  const B = int(next, 1, 2);
  const [hq, hkv0] = pick(next, HEADS);
  const hkv = mha ? hq : hkv0;
  const nq = pick(next, seq);
  const nk = self ? nq : pick(next, seq);
  const dh = pick(next, DIM);
  const dv = pick(next, DIM);
  return {
    B, hq, hkv, nq, nk, dh, dv,
    q: T([B, hq, nq, dh], next, quantized), k: T([B, hkv, nk, dh], next, quantized), v: T([B, hkv, nk, dv], next, quantized),
  };
}

/** Key lengths in [0, nk] for `batch` entries. */
const lengths = (next: Next, batch: number, nk: number): number[] => Array.from({ length: batch }, () => int(next, 0, nk));

/**
 * Replaces `q`, `k` or `v` by a resident WasmTensor of the same values (sometimes), so zero-copy
 * inputs are fuzzed too. Returns the tensors to dispose.
 */
function maybeResident(ctx: Ctx, t: Tensor): { t: Tensor | WasmTensor; owned?: WasmTensor } {
  if (!chance(ctx.next, 0.15)) return { t };
  const w = ctx.call('tensor', () => ctx.rt.tensor(t.shape, t.data));
  return { t: w, owned: w };
}

// ── junk for mutants and invalid options ──

const JUNK: unknown[] = [
  null, -1, 0, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 31, 1e9, -0, 'x', '2', true, false, {}, [], [Number.NaN], [-1, 2],
  { data: new Float32Array(1), shape: [1] }, { data: new Float32Array(2), shape: [1] }, () => 1, Symbol('junk'), 10n,
];

const isTensorLike = (x: unknown): boolean => typeof x === 'object' && x !== null && 'data' in (x as object) && ArrayBuffer.isView((x as { data: unknown }).data);

/** Every path to a leaf (or a tensor, or a small array) inside a plain options object. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || isTensorLike(value) || ArrayBuffer.isView(value)) return [prefix];
  const out: string[][] = prefix.length ? [prefix] : [];
  for (const key of Object.keys(value as object)) out.push(...paths((value as Record<string, unknown>)[key], [...prefix, key]));
  return out;
}

function withPath(value: unknown, path: string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as object) };
  copy[path[0]] = withPath((value as Record<string, unknown>)[path[0]], path.slice(1), replacement);
  return copy;
}

/** The options with one random key (at any depth; or a new unknown key) replaced by junk. */
export function mutateOptions(next: Next, options: object): { options: unknown; label: string } {
  const all = paths(options);
  const junk = pick(next, JUNK);
  const show = typeof junk === 'symbol' || typeof junk === 'bigint' ? String(junk) : typeof junk === 'function' ? 'function' : JSON.stringify(junk);
  if (all.length === 0 || chance(next, 0.1)) {
    const whole = chance(next, 0.5);
    return whole ? { options: junk, label: `options = ${show}` } : { options: { ...options, unknownOption: junk }, label: `options.unknownOption = ${show}` };
  }
  const path = pick(next, all);
  return { options: withPath(options, path, junk), label: `options.${path.join('.')} = ${show}` };
}

// ── the generic contract breaks of a (q, k, v, options) call ──

type Invoke = (q: unknown, k: unknown, v: unknown, options: unknown) => unknown;

interface QkvCall {
  q: Tensor; k: Tensor; v: Tensor;
  options: Record<string, unknown>;
  outShape: number[];
  invoke: Invoke;
  /** the method takes `out` */
  hasOut?: boolean;
  /** the method validates `scale` (every variant does) */
  hasScale?: boolean;
  /** k is not read (LSH with shared QK): pass null, and break only q, v and options */
  kIgnored?: boolean;
}

const reshaped = (t: Tensor, shape: number[]): Tensor => ({ data: t.data, shape });
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function qkvInvalid(ctx: Ctx, c: QkvCall, name: string): Invalid {
  const { next } = ctx;
  const [B, hq, nq, dh] = c.q.shape;
  const [, hkv, nk, dv] = c.v.shape;
  const o = c.options;
  const run = (q: unknown, k: unknown, v: unknown, options: unknown = o) => () => ctx.call(name, () => c.invoke(q, c.kIgnored && k === c.k ? null : k, v, options));
  const kinds = 15;
  let kind = int(next, 0, kinds - 1);
  if (c.kIgnored && [1, 4, 10, 13].includes(kind)) kind = 0;
  switch (kind) {
    case 0: return { label: 'q of rank 3', call: run(reshaped(c.q, [B * hq, nq, dh]), c.k, c.v), codes: ['SHAPE_MISMATCH'], mentions: 'q' };
    case 1: return { label: "k's head size ≠ q's", call: run(c.q, T([B, hkv, nk, dh + 1], next), c.v), codes: ['SHAPE_MISMATCH'], mentions: 'k' };
    case 2: return { label: "v's batch ≠ q's", call: run(c.q, c.k, T([B + 1, hkv, nk, dv], next)), codes: ['SHAPE_MISMATCH'], mentions: 'v' };
    case 3: return { label: 'q of Float64Array', call: run({ data: Float64Array.from(c.q.data), shape: c.q.shape }, c.k, c.v), codes: ['DTYPE_MISMATCH'], mentions: 'q' };
    case 4: return { label: 'k.data one element short', call: run(c.q, { data: c.k.data.subarray(0, c.k.data.length - 1), shape: c.k.shape }, c.v), codes: ['SHAPE_MISMATCH'], mentions: 'k' };
    case 5: return { label: 'v missing', call: run(c.q, c.k, pick(next, [null, undefined, 3, 'v'])), codes: ['INVALID_ARGUMENT'], mentions: 'v' };
    case 6: {
      const bad = pick(next, [-1, 1.5, Number.NaN, -Infinity]);
      return { label: `q.shape holding ${bad}`, call: run({ data: c.q.data, shape: [B, hq, bad, dh] }, c.k, c.v), codes: ['SHAPE_MISMATCH'], mentions: 'q' };
    }
    case 7: {
      if (c.hasScale === false) return qkvInvalid(ctx, c, name);
      const bad = pick(next, [Number.NaN, Infinity, -Infinity, '0.5', null]);
      return { label: `options.scale = ${String(bad)}`, call: run(c.q, c.k, c.v, { ...o, scale: bad }), codes: ['INVALID_OPTION'], mentions: 'scale' };
    }
    case 8: {
      if (c.hasOut === false) return qkvInvalid(ctx, c, name);
      const wrong = [...c.outShape];
      wrong[wrong.length - 1] += 1;
      return { label: 'options.out of the wrong shape', call: run(c.q, c.k, c.v, { ...o, out: T(wrong, next) }), codes: ['SHAPE_MISMATCH'], mentions: 'out' };
    }
    case 9: {
      const t = ctx.call('tensor', () => ctx.rt.tensor(c.q.shape, c.q.data));
      ctx.call('tensor.dispose', () => t.dispose());
      return { label: 'q a disposed WasmTensor', call: run(t, c.k, c.v), codes: ['DISPOSED'], mentions: 'q' };
    }
    case 10: {
      const t = ctx.call('tensor', () => ctx.foreign.tensor(c.k.shape, c.k.data));
      return { label: "k a WasmTensor of another runtime", call: run(c.q, t, c.v), codes: ['INVALID_ARGUMENT'], mentions: 'another runtime', cleanup: () => t.dispose() };
    }
    case 11: {
      const bad = pick(next, [7, 'fast', true]);
      return { label: `options = ${String(bad)}`, call: run(c.q, c.k, c.v, bad), codes: ['INVALID_OPTION', 'INVALID_ARGUMENT'], mentions: 'options' };
    }
    case 12: {
      // Empty tensors whose other dimensions claim more than a wasm32 memory can index.
      const huge = pick(next, [2 ** 31, 2 ** 32 + 4, 2 ** 40, 1e300]);
      return { label: `q of shape [${huge}, ${hq}, 0, ${dh}]`, call: run({ data: new Float32Array(0), shape: [huge, hq, 0, dh] }, c.k, c.v), codes: ['OUT_OF_MEMORY'], mentions: 'q' };
    }
    case 13: return { label: 'k without data', call: run(c.q, { shape: c.k.shape }, c.v), codes: ['INVALID_ARGUMENT'], mentions: 'k' };
    default: return { label: 'q.shape a string', call: run({ data: c.q.data, shape: '1,2,3,4' }, c.k, c.v), codes: ['INVALID_ARGUMENT'], mentions: 'q' };
  }
}

function qkvMutant(ctx: Ctx, c: QkvCall, name: string): { label: string; call: () => unknown } {
  const m = mutateOptions(ctx.next, c.options);
  return { label: m.label, call: () => ctx.call(name, () => c.invoke(c.q, c.kIgnored ? null : c.k, c.v, m.options)) };
}

/** Builds a FuzzMethod from a generator of valid (q, k, v, options) calls and their check. */
function qkvMethod(name: string, gen: (ctx: Ctx) => QkvCall & { check(result: unknown): void }): FuzzMethod {
  return {
    name,
    valid(ctx) {
      const c = gen(ctx);
      const owned: WasmTensor[] = [];
      const place = (t: Tensor) => {
        const r = maybeResident(ctx, t);
        if (r.owned) owned.push(r.owned);
        return r.t;
      };
      try {
        let out: WasmTensor | undefined;
        const options = { ...c.options };
        // Aliasing: now and then out is one of the inputs (resident), whose old values the check uses.
        let aliased: 'q' | 'k' | 'v' | undefined;
        if (c.hasOut !== false && chance(ctx.next, 0.1)) {
          const candidates = (['q', 'k', 'v'] as const).filter((n) => !(n === 'k' && c.kIgnored) && sameShape(c[n].shape, c.outShape));
          if (candidates.length > 0 && chance(ctx.next, 0.5)) {
            aliased = pick(ctx.next, candidates);
            out = ctx.call('tensor', () => ctx.rt.tensor(c[aliased!].shape, c[aliased!].data));
          } else out = ctx.call('tensor', () => ctx.rt.tensor(c.outShape));
          owned.push(out);
          options.out = out;
        }
        const input = (n: 'q' | 'k' | 'v') => (n === aliased ? out! : place(c[n]));
        const result = ctx.call(name, () => c.invoke(input('q'), c.kIgnored ? null : input('k'), input('v'), options));
        c.check(result);
        if (out) {
          const r = result as { output?: unknown };
          if ((r.output ?? result) !== out) throw new Error(`${name}: the result is not the WasmTensor given as out`);
        }
      } finally {
        for (const t of owned) ctx.call('tensor.dispose', () => t.dispose());
      }
    },
    invalid: (ctx) => qkvInvalid(ctx, gen(ctx), name),
    mutant: (ctx) => qkvMutant(ctx, gen(ctx), name),
  };
}

const dataOf = (r: unknown): Float32Array => ((r as { output?: Tensor }).output ?? (r as Tensor)).data;

// ── the methods ──

const attentionMethod = qkvMethod('attention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, false);
  const options: Record<string, unknown> = {};
  if (chance(next, 0.5)) options.causal = pick(next, [true, 'bottom-right', 'top-left', false]);
  if (chance(next, 0.3)) options.window = chance(next, 0.5) ? { left: int(next, 0, 6) } : { left: int(next, 0, 6), right: int(next, 0, 6) };
  if (chance(next, 0.3)) options.keyLengths = lengths(next, c.B, c.nk);
  if (chance(next, 0.2)) options.softcap = pick(next, [0, 2.5, 30]);
  if (chance(next, 0.2)) options.scale = pick(next, [0.1, 0.5, -0.7]) / Math.sqrt(c.dh);
  if (chance(next, 0.35)) {
    const rank = int(next, 1, 4);
    const full = [c.B, c.hq, c.nq, c.nk];
    const shape = full.slice(4 - rank).map((d, i) => (i < rank - 1 && chance(next, 0.5) ? 1 : d));
    options.mask = chance(next, 0.5)
      ? { data: Uint8Array.from({ length: size(shape) }, () => (next() < 0.75 ? 1 : 0)), shape }
      : { data: Float32Array.from({ length: size(shape) }, () => (next() < 0.2 ? -Infinity : next() * 4 - 2)), shape };
  }
  const returnWeights = chance(next, 0.2);
  if (returnWeights) options.returnWeights = true;
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.attention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check(result) {
      const want = referenceAttention(c.q, c.k, c.v, { ...options, returnWeights } as never);
      check('attention output', dataOf(result), want.output);
      if (returnWeights) check('attention weights', (result as { weights: Tensor }).weights.data, want.weights!);
    },
  };
});

/** [B, H, S, D] → [B, S, H·D] */
function toBsh(t: Tensor): Tensor {
  const [B, H, S, D] = t.shape;
  const data = new Float32Array(t.data.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) {
    data[((b * S + s) * H + h) * D + d] = t.data[((b * H + h) * S + s) * D + d];
  }
  return { data, shape: [B, S, H * D] };
}

function concatSeq(a: Tensor, b: Tensor): Tensor {
  const [B, H, Sa, D] = a.shape;
  const Sb = b.shape[2];
  const data = new Float32Array(B * H * (Sa + Sb) * D);
  for (let x = 0; x < B * H; x++) {
    data.set(a.data.subarray(x * Sa * D, (x + 1) * Sa * D), x * (Sa + Sb) * D);
    data.set(b.data.subarray(x * Sb * D, (x + 1) * Sb * D), x * (Sa + Sb) * D + Sa * D);
  }
  return { data, shape: [B, H, Sa + Sb, D] };
}

interface OnnxCase {
  inputs: Record<string, unknown>;
  attributes: Record<string, unknown>;
  want: Float64Array;
  presentK: Tensor;
  three: boolean;
}

function onnxCase(next: Next): OnnxCase {
  const c = qkv(next, false);
  const past = chance(next, 0.3) ? int(next, 1, 4) : 0;
  const causal = chance(next, 0.4) && (past > 0 || c.nq === c.nk) && c.nk === c.nq;
  const three = chance(next, 0.4);
  const pastK = past ? T([c.B, c.hkv, past, c.dh], next) : undefined;
  const pastV = past ? T([c.B, c.hkv, past, c.dv], next) : undefined;
  const keys = pastK ? concatSeq(pastK, c.k) : c.k;
  const values = pastV ? concatSeq(pastV, c.v) : c.v;
  const mask = chance(next, 0.3) ? { data: Uint8Array.from({ length: c.nq * keys.shape[2] }, () => (next() < 0.8 ? 1 : 0)), shape: [c.nq, keys.shape[2]] } : undefined;
  const want = referenceAttention(c.q, keys, values, { causal: causal ? 'bottom-right' : false, mask }).output;
  const inputs: Record<string, unknown> = three ? { Q: toBsh(c.q), K: toBsh(c.k), V: toBsh(c.v) } : { Q: c.q, K: c.k, V: c.v };
  if (pastK) Object.assign(inputs, { past_key: pastK, past_value: pastV });
  if (mask) inputs.attn_mask = mask;
  const attributes: Record<string, unknown> = {};
  if (causal) attributes.is_causal = 1;
  if (three || chance(next, 0.3)) Object.assign(attributes, { q_num_heads: c.hq, kv_num_heads: c.hkv });
  // Y of a 3-D call is [B, nq, H·Dv]: the same numbers as 4-D, reordered.
  const wantY = three ? Float64Array.from(toBsh({ data: Float32Array.from(want), shape: [c.B, c.hq, c.nq, c.dv] }).data) : want;
  return { inputs, attributes, want: three ? Float64Array.from(wantY) : want, presentK: keys, three };
}

const onnxMethod: FuzzMethod = {
  name: 'onnxAttention',
  valid(ctx) {
    const c = onnxCase(ctx.next);
    const r = ctx.call('onnxAttention', () => ctx.rt.onnxAttention(c.inputs as never, c.attributes as never));
    // (3-D outputs hold the same float32 values; the float64 oracle rounded to float32 for the reorder)
    check('onnxAttention Y', r.Y.data, c.want, c.three ? 3e-5 : ATOL, RTOL);
    check('onnxAttention present_key', r.present_key.data, c.presentK.data, 0, 0);
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = onnxCase(next);
    const run = (inputs: unknown, attributes: unknown = c.attributes, options?: unknown) => () => ctx.call('onnxAttention', () => ctx.rt.onnxAttention(inputs as never, attributes as never, options as never));
    const Q = c.inputs.Q as Tensor;
    switch (int(next, 0, 9)) {
      case 0: return { label: 'inputs null', call: run(null), codes: ['INVALID_ARGUMENT'], mentions: 'inputs' };
      case 1: return { label: 'unknown attribute', call: run(c.inputs, { ...c.attributes, is_casual: 1 }), codes: ['INVALID_OPTION'], mentions: 'is_casual' };
      case 2: return { label: 'is_causal = 2', call: run(c.inputs, { ...c.attributes, is_causal: 2 }), codes: ['INVALID_OPTION'], mentions: 'is_causal' };
      case 3: return { label: 'Q of rank 2', call: run({ ...c.inputs, Q: reshaped(Q, [Q.shape[0], Q.data.length / Q.shape[0]]) }), codes: ['SHAPE_MISMATCH'], mentions: 'Q' };
      case 4: return { label: 'K Float64Array', call: run({ ...c.inputs, K: { data: Float64Array.from((c.inputs.K as Tensor).data), shape: (c.inputs.K as Tensor).shape } }), codes: ['DTYPE_MISMATCH'], mentions: 'K' };
      case 5: return { label: 'qk_matmul_output_mode = 7', call: run(c.inputs, { ...c.attributes, qk_matmul_output_mode: 7 }), codes: ['INVALID_OPTION'], mentions: 'qk_matmul_output_mode' };
      case 6: return { label: 'scale NaN', call: run(c.inputs, { ...c.attributes, scale: Number.NaN }), codes: ['INVALID_OPTION'], mentions: 'scale' };
      case 7: return { label: 'options null', call: run(c.inputs, c.attributes, null), codes: ['INVALID_OPTION'], mentions: 'options' };
      case 8: return { label: 'attn_mask Int32Array', call: run({ ...c.inputs, attn_mask: { data: new Int32Array(4), shape: [4] } }), codes: ['DTYPE_MISMATCH', 'SHAPE_MISMATCH'], mentions: 'attn_mask' };
      default: return { label: 'V missing', call: run({ ...c.inputs, V: undefined }), codes: ['INVALID_ARGUMENT'], mentions: 'V' };
    }
  },
  mutant(ctx) {
    const c = onnxCase(ctx.next);
    const which = ctx.next();
    if (which < 0.5) {
      const m = mutateOptions(ctx.next, { ...c.attributes, left_window_size: -1, softcap: 0 });
      return { label: `attributes: ${m.label}`, call: () => ctx.call('onnxAttention', () => ctx.rt.onnxAttention(c.inputs as never, m.options as never)) };
    }
    const m = mutateOptions(ctx.next, { qkMatmulOutput: false });
    return { label: `options: ${m.label}`, call: () => ctx.call('onnxAttention', () => ctx.rt.onnxAttention(c.inputs as never, c.attributes as never, m.options as never)) };
  },
};

interface MatmulCase { a: Tensor; b: Tensor; options: Record<string, unknown>; want: Float64Array; outShape: number[] }

function matmulCase(next: Next): MatmulCase {
  const batched = chance(next, 0.3);
  const batch = int(next, 1, 3);
  const m = pick(next, [1, 2, 3, 4, 5, 9, 17]);
  const k = pick(next, [1, 2, 3, 7, 8, 9, 33]);
  const n = pick(next, [1, 3, 4, 8, 9, 17]);
  const transposeB = chance(next, 0.5);
  const a = T(batched ? [batch, m, k] : [m, k], next);
  const bShape = transposeB ? [n, k] : [k, n];
  const b = T(batched && chance(next, 0.5) ? [batch, ...bShape] : bShape, next);
  const options: Record<string, unknown> = {};
  if (transposeB) options.transposeB = true;
  const bias = chance(next, 0.4) ? T([n], next) : undefined;
  if (bias) options.bias = bias;
  return { a, b, options, want: referenceMatmul(a, b, { transposeB, bias }).data, outShape: batched ? [batch, m, n] : [m, n] };
}

const MATMUL_TOL = 1e-4;

const matmulMethod: FuzzMethod = {
  name: 'matmul',
  valid(ctx) {
    const c = matmulCase(ctx.next);
    const owned: WasmTensor[] = [];
    const options = { ...c.options };
    let a: Tensor | WasmTensor = c.a;
    if (chance(ctx.next, 0.2)) owned.push((a = ctx.call('tensor', () => ctx.rt.tensor(c.a.shape, c.a.data))));
    if (chance(ctx.next, 0.1)) owned.push((options.out = ctx.call('tensor', () => ctx.rt.tensor(c.outShape))) as WasmTensor);
    try {
      const r = ctx.call('matmul', () => ctx.rt.matmul(a, c.b, options));
      check('matmul', r.data, c.want, MATMUL_TOL, MATMUL_TOL);
    } finally {
      for (const t of owned) ctx.call('tensor.dispose', () => t.dispose());
    }
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = matmulCase(next);
    const run = (a: unknown, b: unknown, o: unknown = c.options) => () => ctx.call('matmul', () => ctx.rt.matmul(a as Tensor, b as Tensor, o as never));
    const [r0, r1] = c.b.shape.slice(-2);
    switch (int(next, 0, 8)) {
      case 0: return { label: 'a of rank 1', call: run(reshaped(c.a, [c.a.data.length]), c.b), codes: ['SHAPE_MISMATCH'], mentions: 'a' };
      case 1: return { label: 'inner dimensions differ', call: run(c.a, T([...c.b.shape.slice(0, -2), r0 + 1, r1 + 1], next)), codes: ['SHAPE_MISMATCH'], mentions: 'b' };
      case 2: return { label: 'bias of the wrong size', call: run(c.a, c.b, { ...c.options, bias: T([c.outShape[c.outShape.length - 1] + 1], next) }), codes: ['SHAPE_MISMATCH'], mentions: 'bias' };
      case 3: return { label: 'transposeB a string', call: run(c.a, c.b, { ...c.options, transposeB: 'yes' }), codes: ['INVALID_OPTION'], mentions: 'transposeB' };
      case 4: return { label: 'b Int32Array', call: run(c.a, { data: new Int32Array(c.b.data.length), shape: c.b.shape }), codes: ['DTYPE_MISMATCH'], mentions: 'b' };
      case 5: return { label: 'options null', call: run(c.a, c.b, null), codes: ['INVALID_OPTION'], mentions: 'options' };
      case 6: return { label: 'result of 2^32 elements', call: run({ data: new Float32Array(0), shape: [65536, 0] }, { data: new Float32Array(0), shape: [0, 65536] }, {}), codes: ['OUT_OF_MEMORY'], mentions: 'result' };
      case 7: return { label: 'out of the wrong shape', call: run(c.a, c.b, { ...c.options, out: T([...c.outShape.slice(0, -1), c.outShape[c.outShape.length - 1] + 2], next) }), codes: ['SHAPE_MISMATCH'], mentions: 'out' };
      default: return { label: 'a null', call: run(null, c.b), codes: ['INVALID_ARGUMENT'], mentions: 'a' };
    }
  },
  mutant(ctx) {
    const c = matmulCase(ctx.next);
    const m = mutateOptions(ctx.next, c.options);
    return { label: m.label, call: () => ctx.call('matmul', () => ctx.rt.matmul(c.a, c.b, m.options as never)) };
  },
};

const packMatrixMethod: FuzzMethod = {
  name: 'packMatrix',
  valid(ctx) {
    const c = matmulCase(ctx.next);
    const b2 = c.b.shape.length === 3 ? { data: c.b.data.subarray(0, size(c.b.shape.slice(1))), shape: c.b.shape.slice(1) } : c.b;
    const transposeB = c.options.transposeB === true;
    const packed = ctx.call('packMatrix', () => ctx.rt.packMatrix(b2, { transposeB }));
    try {
      const r = ctx.call('matmul', () => ctx.rt.matmul(c.a, packed, c.options.bias ? { bias: c.options.bias as Tensor } : {}));
      check('matmul(packMatrix)', r.data, referenceMatmul(c.a, b2, { transposeB, bias: c.options.bias as Tensor | undefined }).data, MATMUL_TOL, MATMUL_TOL);
      if (chance(ctx.next, 0.2)) {
        // a packed B rejects transposeB (it was fixed when packing)
        expectCode(() => ctx.call('matmul', () => ctx.rt.matmul(c.a, packed, { transposeB })), ['INVALID_OPTION']);
      }
    } finally {
      ctx.call('packedMatrix.dispose', () => packed.dispose());
    }
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = matmulCase(next);
    switch (int(next, 0, 4)) {
      case 0: return { label: 'b of rank 3', call: () => ctx.call('packMatrix', () => ctx.rt.packMatrix(T([2, 2, 2], next))), codes: ['SHAPE_MISMATCH'], mentions: 'b' };
      case 1: return { label: 'options null', call: () => ctx.call('packMatrix', () => ctx.rt.packMatrix(c.b, null as never)), codes: ['INVALID_OPTION'], mentions: 'options' };
      case 2: {
        const p = ctx.call('packMatrix', () => ctx.rt.packMatrix(T([3, 4], next)));
        ctx.call('packedMatrix.dispose', () => p.dispose());
        return { label: 'a disposed PackedMatrix', call: () => ctx.call('matmul', () => ctx.rt.matmul(T([2, 3], next), p)), codes: ['DISPOSED'], mentions: 'b' };
      }
      case 3: {
        const p = ctx.call('packMatrix', () => ctx.foreign.packMatrix(T([3, 4], next)));
        return { label: 'a PackedMatrix of another runtime', call: () => ctx.call('matmul', () => ctx.rt.matmul(T([2, 3], next), p)), codes: ['INVALID_ARGUMENT'], mentions: 'another runtime', cleanup: () => p.dispose() };
      }
      default: return { label: 'b of shape [2^33, 0]', call: () => ctx.call('packMatrix', () => ctx.rt.packMatrix({ data: new Float32Array(0), shape: [2 ** 33, 0] }, { transposeB: true })), codes: ['OUT_OF_MEMORY'], mentions: 'b' };
    }
  },
  mutant(ctx) {
    const c = matmulCase(ctx.next);
    const b2 = c.b.shape.length === 3 ? { data: c.b.data.subarray(0, size(c.b.shape.slice(1))), shape: c.b.shape.slice(1) } : c.b;
    const m = mutateOptions(ctx.next, { transposeB: c.options.transposeB === true });
    return {
      label: m.label,
      call: () => {
        const p = ctx.call('packMatrix', () => ctx.rt.packMatrix(b2, m.options as never));
        ctx.call('packedMatrix.dispose', () => p.dispose());
      },
    };
  },
};

const softmaxMethod: FuzzMethod = {
  name: 'softmax',
  valid(ctx) {
    const { next } = ctx;
    const rank = int(next, 1, 3);
    const shape = Array.from({ length: rank }, () => pick(next, [1, 2, 3, 5, 8, 9]));
    const x = T(shape, next);
    for (let i = 0; i < x.data.length; i++) if (next() < 0.15) x.data[i] = -Infinity;
    const r = ctx.call('softmax', () => ctx.rt.softmax(x));
    check('softmax', r.data, referenceSoftmax(x), 1e-6, 1e-5);
  },
  invalid(ctx) {
    const { next } = ctx;
    switch (int(next, 0, 3)) {
      case 0: return { label: 'x of rank 0', call: () => ctx.call('softmax', () => ctx.rt.softmax({ data: new Float32Array(1), shape: [] })), codes: ['SHAPE_MISMATCH'], mentions: 'x' };
      case 1: return { label: 'x Uint8Array', call: () => ctx.call('softmax', () => ctx.rt.softmax({ data: new Uint8Array(4), shape: [4] } as never)), codes: ['DTYPE_MISMATCH'], mentions: 'x' };
      case 2: return { label: 'x of shape [2^33, 0]', call: () => ctx.call('softmax', () => ctx.rt.softmax({ data: new Float32Array(0), shape: [2 ** 33, 0] })), codes: ['OUT_OF_MEMORY'], mentions: 'x' };
      default: return { label: 'x undefined', call: () => ctx.call('softmax', () => ctx.rt.softmax(undefined as never)), codes: ['INVALID_ARGUMENT'], mentions: 'x' };
    }
  },
  mutant(ctx) {
    const junk = pick(ctx.next, JUNK);
    return { label: `softmax(${typeof junk})`, call: () => ctx.call('softmax', () => ctx.rt.softmax(junk as never)) };
  },
};

const tensorMethod: FuzzMethod = {
  name: 'tensor',
  valid(ctx) {
    const { next } = ctx;
    const shape = Array.from({ length: int(next, 0, 4) }, () => int(next, 0, 5));
    const values = T(shape, next).data;
    const t = ctx.call('tensor', () => (chance(next, 0.3) ? ctx.rt.tensor(shape) : ctx.rt.tensor(shape, values)));
    try {
      const fresh = T(shape, next).data;
      ctx.call('tensor.set', () => t.set(fresh));
      const copy = ctx.call('tensor.toArray', () => t.toArray());
      check('tensor round trip', copy, fresh, 0, 0);
      expectShape('tensor', t.shape, shape);
    } finally {
      ctx.call('tensor.dispose', () => t.dispose());
    }
    if (!t.isDisposed) throw new Error('tensor.isDisposed false after dispose');
    expectCode(() => ctx.call('tensor.data', () => t.data), ['DISPOSED']);
  },
  invalid(ctx) {
    const { next } = ctx;
    switch (int(next, 0, 6)) {
      case 0: return { label: 'shape [2^20, 2^12]', call: () => ctx.call('tensor', () => ctx.rt.tensor([2 ** 20, 2 ** 12])), codes: ['OUT_OF_MEMORY'], mentions: 'tensor' };
      case 1: return { label: 'shape [2^40, 0]', call: () => ctx.call('tensor', () => ctx.rt.tensor([2 ** 40, 0])), codes: ['OUT_OF_MEMORY'], mentions: 'tensor' };
      case 2: return { label: 'negative dimension', call: () => ctx.call('tensor', () => ctx.rt.tensor([2, -1])), codes: ['SHAPE_MISMATCH'], mentions: 'shape' };
      case 3: return { label: 'values of the wrong length', call: () => ctx.call('tensor', () => ctx.rt.tensor([2, 3], new Float32Array(5))), codes: ['SHAPE_MISMATCH'], mentions: 'values' };
      case 4: return { label: 'shape of a bigint', call: () => ctx.call('tensor', () => ctx.rt.tensor([2, 10n as never])), codes: ['SHAPE_MISMATCH'], mentions: 'shape' };
      case 5: return { label: 'values null', call: () => ctx.call('tensor', () => ctx.rt.tensor([2], null as never)), codes: ['INVALID_ARGUMENT'], mentions: 'values' };
      default: {
        const t = ctx.call('tensor', () => ctx.rt.tensor([3]));
        return { label: 'set() of the wrong length', call: () => ctx.call('tensor.set', () => t.set([1, 2])), codes: ['SHAPE_MISMATCH'], mentions: 'tensor.set', cleanup: () => t.dispose() };
      }
    }
  },
  mutant(ctx) {
    const junk = pick(ctx.next, JUNK);
    const asShape = chance(ctx.next, 0.5);
    return {
      label: `tensor(${asShape ? 'shape' : '[2], values'} = ${typeof junk})`,
      call: () => {
        const t = ctx.call('tensor', () => (asShape ? ctx.rt.tensor(junk as never) : ctx.rt.tensor([2], junk as never)));
        t.dispose();
      },
    };
  },
};

function expectCode(fn: () => unknown, codes: readonly AttentionErrorCode[]): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof AttentionError && codes.includes(e.code)) return;
    throw new Error(`expected AttentionError ${codes.join('/')}, got ${String(e)}`);
  }
  throw new Error(`expected AttentionError ${codes.join('/')}, got no error`);
}

// ── layers ──

interface MhaCase {
  l: ReturnType<typeof randomLayer>;
  config: Record<string, unknown>;
  x: Float32Array;
  B: number;
  S: number;
  dModel: number;
  forward: Record<string, unknown>;
  ref: Parameters<typeof referenceMha>[4];
}

function mhaCase(next: Next): MhaCase {
  const kvHeads = int(next, 1, 2);
  const H = kvHeads * int(next, 1, 2);
  const Dh = int(next, 1, 4) * (chance(next, 0.5) ? 2 : 1);
  const dModel = H * Dh + int(next, 0, 1);
  const bias = chance(next, 0.5);
  const l = randomLayer(int(next, 1, 1e6), { dModel, numHeads: H, numKvHeads: kvHeads, headDim: Dh, bias });
  const layout = pick(next, ['torch-separate', 'torch-fused', 'onnx-separate', 'onnx-fused'] as const);
  const B = int(next, 1, 2);
  const S = pick(next, [1, 2, 3, 5, 8]);
  const x = uniformF32(B * S * dModel, next, -1.5, 1.5);
  const forward: Record<string, unknown> = {};
  const ref: Parameters<typeof referenceMha>[4] = {};
  if (chance(next, 0.4)) {
    forward.causal = true;
    ref.causal = true;
  }
  if (chance(next, 0.3)) {
    const m = new Uint8Array(B * S).map(() => (next() < 0.3 ? 1 : 0));
    forward.keyPaddingMask = { data: m, shape: [B, S] };
    ref.keyPaddingMask = m;
  }
  return { l, config: { dModel, numHeads: H, numKvHeads: kvHeads, headDim: Dh, bias, weights: layerWeights(l, layout) }, x, B, S, dModel, forward, ref };
}

const mhaMethod: FuzzMethod = {
  name: 'multiHeadAttention',
  valid(ctx) {
    const c = mhaCase(ctx.next);
    const layer = ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention(c.config as never));
    try {
      const y = ctx.call('multiHeadAttention.forward', () => layer.forward({ data: c.x, shape: [c.B, c.S, c.dModel] }, c.forward)) as Tensor;
      check('multiHeadAttention.forward', y.data, referenceMha(refConfig(c.l), c.x, c.B, c.S, c.ref).output, 5e-5, 2e-4);
    } finally {
      ctx.call('multiHeadAttention.dispose', () => layer.dispose());
    }
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = mhaCase(next);
    const weights = c.config.weights as Record<string, unknown>;
    switch (int(next, 0, 5)) {
      case 0: return { label: 'numHeads 0', call: () => ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention({ ...c.config, numHeads: 0 } as never)), codes: ['INVALID_OPTION'], mentions: 'numHeads' };
      case 1: return { label: 'config null', call: () => ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention(null as never)), codes: ['INVALID_OPTION', 'INVALID_ARGUMENT'] };
      case 2: return { label: 'out weight of the wrong shape', call: () => ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention({ ...c.config, weights: { ...weights, out: T([c.dModel + 1, c.dModel + 2], next) } } as never)), codes: ['SHAPE_MISMATCH'], mentions: 'out' };
      case 3:
      case 4: {
        const layer = ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention(c.config as never));
        const bad = int(next, 0, 2);
        const x = bad === 0 ? { data: c.x, shape: [1, c.B, c.S, c.dModel] } : bad === 1 ? { data: new Float64Array(c.x), shape: [c.B, c.S, c.dModel] } : { data: c.x.subarray(1), shape: [c.B, c.S, c.dModel] };
        return { label: `forward(x) ${['of rank 4', 'Float64Array', 'one short'][bad]}`, call: () => ctx.call('multiHeadAttention.forward', () => layer.forward(x as never)), codes: ['SHAPE_MISMATCH', 'DTYPE_MISMATCH'], mentions: 'x', cleanup: () => layer.dispose() };
      }
      default: {
        const layer = ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention(c.config as never));
        ctx.call('multiHeadAttention.dispose', () => layer.dispose());
        return { label: 'forward on a disposed layer', call: () => ctx.call('multiHeadAttention.forward', () => layer.forward({ data: c.x, shape: [c.B, c.S, c.dModel] })), codes: ['DISPOSED'] };
      }
    }
  },
  mutant(ctx) {
    const c = mhaCase(ctx.next);
    if (chance(ctx.next, 0.5)) {
      const { weights, ...rest } = c.config;
      const m = mutateOptions(ctx.next, rest);
      const config = typeof m.options === 'object' && m.options !== null ? { ...(m.options as object), weights } : m.options;
      return {
        label: `config: ${m.label}`,
        call: () => {
          const layer = ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention(config as never));
          layer.dispose();
        },
      };
    }
    const layer = ctx.call('multiHeadAttention', () => ctx.rt.multiHeadAttention(c.config as never));
    const m = mutateOptions(ctx.next, { ...c.forward, needWeights: false, averageWeights: true });
    return { label: `forward: ${m.label}`, call: () => ctx.call('multiHeadAttention.forward', () => layer.forward({ data: c.x, shape: [c.B, c.S, c.dModel] }, m.options as never)), cleanup: () => layer.dispose() };
  },
};

/** A linear or ring KV cache and the full token history it must behave like. */
interface CacheModel {
  cache: KVCache;
  B: number; hkv: number; d: number; dv: number; maxLength: number; window?: number;
  /** history per batch entry: [time][head] rows */
  keys: Float32Array[][][];
  values: Float32Array[][][];
}

function historyTensor(rows: Float32Array[][][], B: number, H: number, from: number, to: number, d: number): Tensor {
  const n = to - from;
  const data = new Float32Array(B * H * n * d);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < n; t++) data.set(rows[b][from + t][h], ((b * H + h) * n + t) * d);
  return { data, shape: [B, H, n, d] };
}

function pushHistory(model: CacheModel, k: Tensor, v: Tensor): void {
  const n = k.shape[2];
  for (let b = 0; b < model.B; b++) for (let t = 0; t < n; t++) {
    model.keys[b].push(Array.from({ length: model.hkv }, (_, h) => k.data.slice(((b * model.hkv + h) * n + t) * model.d, ((b * model.hkv + h) * n + t + 1) * model.d)));
    model.values[b].push(Array.from({ length: model.hkv }, (_, h) => v.data.slice(((b * model.hkv + h) * n + t) * model.dv, ((b * model.hkv + h) * n + t + 1) * model.dv)));
  }
}

const kvCacheMethod: FuzzMethod = {
  name: 'kvCache',
  valid(ctx) {
    const { next } = ctx;
    const B = int(next, 1, 3);
    const hkv = int(next, 1, 2);
    const group = int(next, 1, 2);
    const d = pick(next, DIM);
    const dv = chance(next, 0.5) ? d : pick(next, DIM);
    const maxLength = int(next, 2, 12);
    const window = chance(next, 0.3) ? int(next, 1, maxLength) : undefined;
    const cache = ctx.call('kvCache', () => ctx.rt.kvCache({ heads: hkv, headDim: d, valueDim: dv, maxLength, window, batch: B }));
    const model: CacheModel = { cache, B, hkv, d, dv, maxLength, window, keys: Array.from({ length: B }, () => []), values: Array.from({ length: B }, () => []) };
    try {
      const ops = int(next, 1, 4);
      for (let op = 0; op < ops; op++) {
        const len = model.keys[0].length;
        const room = window === undefined ? maxLength - len : 8;
        const kind = room <= 0 ? pick(next, ['attend', 'truncate', 'reset', 'reorder', 'full']) : pick(next, ['step', 'step', 'append', 'attend', 'truncate', 'reorder', 'reset']);
        if (kind === 'step' || kind === 'append') {
          const n = int(next, 1, Math.min(room, 5));
          const k = T([B, hkv, n, d], next);
          const v = T([B, hkv, n, dv], next);
          if (kind === 'append') {
            ctx.call('kvCache.append', () => cache.append(k, v));
            pushHistory(model, k, v);
          } else {
            const q = T([B, hkv * group, n, d], next);
            const y = ctx.call('kvCache.step', () => cache.step(q, k, v));
            pushHistory(model, k, v);
            const total = model.keys[0].length;
            const want = referenceAttention(q, historyTensor(model.keys, B, hkv, 0, total, d), historyTensor(model.values, B, hkv, 0, total, dv), {
              causal: true, window: window === undefined ? undefined : { left: window - 1 },
            }).output;
            check('kvCache.step', y.data, want);
          }
        } else if (kind === 'attend') {
          const nq = int(next, 1, 3);
          const q = T([B, hkv * group, nq, d], next);
          const y = ctx.call('kvCache.attend', () => cache.attend(q, { causal: false }));
          const total = model.keys[0].length;
          const kept = Math.min(total, window ?? total);
          // A ring buffer places the queries after the cache (position total + i, as new tokens
          // would be) and keeps its window: row i sees cached positions j > total + i − window.
          const mask = window === undefined ? undefined : {
            data: Uint8Array.from({ length: nq * kept }, (_, x) => (total - kept + (x % kept) > total + Math.floor(x / kept) - window ? 1 : 0)),
            shape: [nq, kept],
          };
          const want = referenceAttention(q, historyTensor(model.keys, B, hkv, total - kept, total, d), historyTensor(model.values, B, hkv, total - kept, total, dv), { mask }).output;
          check('kvCache.attend', y.data, want);
          const keys = ctx.call('kvCache.keys', () => cache.keys());
          check('kvCache.keys', keys.data, historyTensor(model.keys, B, hkv, total - kept, total, d).data, 0, 0);
        } else if (kind === 'truncate') {
          const total = model.keys[0].length;
          const wrapped = window !== undefined && total > window;
          const to = wrapped ? total : int(next, 0, total);
          ctx.call('kvCache.truncate', () => cache.truncate(to));
          for (let b = 0; b < B; b++) {
            model.keys[b].length = to;
            model.values[b].length = to;
          }
        } else if (kind === 'reorder') {
          const idx = Array.from({ length: B }, () => int(next, 0, B - 1));
          ctx.call('kvCache.reorder', () => cache.reorder(idx));
          model.keys = idx.map((s) => model.keys[s].map((row) => row.map((x) => x.slice())));
          model.values = idx.map((s) => model.values[s].map((row) => row.map((x) => x.slice())));
        } else if (kind === 'reset') {
          ctx.call('kvCache.reset', () => cache.reset());
          model.keys = Array.from({ length: B }, () => []);
          model.values = Array.from({ length: B }, () => []);
        } else {
          // full: one more token must throw CACHE_FULL and change nothing
          expectCode(() => ctx.call('kvCache.append', () => cache.append(T([B, hkv, 1, d], next), T([B, hkv, 1, dv], next))), ['CACHE_FULL']);
        }
        const vals = ctx.call('kvCache.values', () => cache.values());
        const total = model.keys[0].length;
        const kept = Math.min(total, window ?? total);
        check('kvCache.values', vals.data, historyTensor(model.values, B, hkv, total - kept, total, dv).data, 0, 0);
        if (cache.length !== kept) throw new Error(`kvCache.length ${cache.length}, want ${kept}`);
      }
    } finally {
      ctx.call('kvCache.dispose', () => cache.dispose());
    }
  },
  invalid(ctx) {
    const { next } = ctx;
    const make = (o: Record<string, unknown>) => ctx.call('kvCache', () => ctx.rt.kvCache(o as never));
    switch (int(next, 0, 7)) {
      case 0: return { label: 'heads 0', call: () => make({ heads: 0, headDim: 4, maxLength: 4 }), codes: ['INVALID_OPTION'], mentions: 'heads' };
      case 1: return { label: 'window > maxLength', call: () => make({ heads: 1, headDim: 4, maxLength: 4, window: 5 }), codes: ['INVALID_OPTION'], mentions: 'window' };
      case 2: return { label: 'maxLength 2^30 × headDim 2^20', call: () => make({ heads: 1, headDim: 2 ** 20, maxLength: 2 ** 30 }), codes: ['OUT_OF_MEMORY'], mentions: 'kvCache' };
      case 3: {
        const cache = make({ heads: 1, headDim: 2, maxLength: 2 });
        return { label: 'append past maxLength', call: () => ctx.call('kvCache.append', () => cache.append(T([1, 1, 3, 2], next), T([1, 1, 3, 2], next))), codes: ['CACHE_FULL'], mentions: 'full', cleanup: () => cache.dispose() };
      }
      case 4: {
        const cache = make({ heads: 2, headDim: 2, maxLength: 4 });
        return { label: 'step with q heads not a multiple', call: () => ctx.call('kvCache.step', () => cache.step(T([1, 3, 1, 2], next), T([1, 2, 1, 2], next), T([1, 2, 1, 2], next))), codes: ['SHAPE_MISMATCH'], mentions: 'q', cleanup: () => cache.dispose() };
      }
      case 5: {
        const cache = make({ heads: 1, headDim: 2, maxLength: 4, batch: 2 });
        return { label: 'reorder index out of range', call: () => ctx.call('kvCache.reorder', () => cache.reorder([0, 2])), codes: ['INVALID_ARGUMENT'], mentions: 'indices', cleanup: () => cache.dispose() };
      }
      case 6: {
        const cache = make({ heads: 1, headDim: 2, maxLength: 4 });
        return { label: 'truncate beyond the length', call: () => ctx.call('kvCache.truncate', () => cache.truncate(3)), codes: ['INVALID_ARGUMENT'], mentions: 'length', cleanup: () => cache.dispose() };
      }
      default: {
        const cache = make({ heads: 1, headDim: 2, maxLength: 4 });
        ctx.call('kvCache.dispose', () => cache.dispose());
        return { label: 'step on a disposed cache', call: () => ctx.call('kvCache.step', () => cache.step(T([1, 1, 1, 2], next), T([1, 1, 1, 2], next), T([1, 1, 1, 2], next))), codes: ['DISPOSED'] };
      }
    }
  },
  mutant(ctx) {
    const { next } = ctx;
    const base = { heads: 2, headDim: 3, valueDim: 2, maxLength: 6, window: 4, batch: 2 };
    if (chance(next, 0.5)) {
      const m = mutateOptions(next, base);
      return { label: `kvCache: ${m.label}`, call: () => ctx.call('kvCache', () => ctx.rt.kvCache(m.options as never)).dispose() };
    }
    const cache = ctx.call('kvCache', () => ctx.rt.kvCache(base));
    const m = mutateOptions(next, { causal: true, scale: 0.5, softcap: 0, returnWeights: false, keyPaddingMask: { data: new Uint8Array(2 * 2), shape: [2, 2] } });
    const q = T([2, 4, 2, 3], next);
    return {
      label: `step: ${m.label}`,
      call: () => ctx.call('kvCache.step', () => cache.step(q, T([2, 2, 2, 3], next), T([2, 2, 2, 2], next), m.options as never)),
      cleanup: () => cache.dispose(),
    };
  },
};

interface RopeCase { x: Tensor; options: Record<string, unknown>; want: Float64Array }

function ropeCase(next: Next): RopeCase {
  const B = int(next, 1, 2);
  const H = int(next, 1, 3);
  const S = pick(next, [1, 2, 3, 5, 8]);
  const D = 2 * int(next, 1, 4);
  const rotaryDim = 2 * int(next, 1, D / 2);
  const interleaved = chance(next, 0.5);
  const base = pick(next, [100, 10000]);
  const three = chance(next, 0.4);
  const x4 = T([B, H, S, D], next);
  const options: Record<string, unknown> = { rotaryDim, interleaved, base };
  let pos: number[];
  const kind = int(next, 0, 2);
  if (kind === 0) {
    const off = int(next, 0, 20);
    if (off) options.positions = off;
    pos = Array.from({ length: B * S }, (_, i) => off + (i % S));
  } else if (kind === 1) {
    const offs = Array.from({ length: B }, () => int(next, 0, 20));
    options.positions = offs;
    pos = Array.from({ length: B * S }, (_, i) => offs[Math.floor(i / S)] + (i % S));
  } else {
    pos = Array.from({ length: B * S }, () => int(next, 0, 30));
    options.positions = { data: Int32Array.from(pos), shape: [B, S] };
  }
  const want = Float64Array.from(x4.data);
  refRope(want, B, H, S, D, pos, { rotaryDim, base, interleaved });
  if (three) {
    options.numHeads = H;
    return { x: toBsh(x4), options, want: Float64Array.from(toBsh({ data: Float32Array.from(want), shape: [B, H, S, D] }).data) };
  }
  return { x: x4, options, want };
}

const ropeMethod: FuzzMethod = {
  name: 'rope',
  valid(ctx) {
    const c = ropeCase(ctx.next);
    const y = ctx.call('rope', () => ctx.rt.rope(c.x, c.options as never));
    check('rope', y.data, c.want, 2e-5, 2e-5);
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = ropeCase(next);
    switch (int(next, 0, 4)) {
      case 0: return { label: 'odd rotaryDim', call: () => ctx.call('rope', () => ctx.rt.rope(c.x, { ...c.options, rotaryDim: 3 } as never)), codes: ['INVALID_OPTION'], mentions: 'rotaryDim' };
      case 1: return { label: 'x of rank 2', call: () => ctx.call('rope', () => ctx.rt.rope(reshaped(c.x, [c.x.shape[0], c.x.data.length / c.x.shape[0]]), c.options as never)), codes: ['SHAPE_MISMATCH', 'INVALID_OPTION'], mentions: 'x' };
      case 2: return { label: 'negative position offset', call: () => ctx.call('rope', () => ctx.rt.rope(c.x, { ...c.options, positions: -3 } as never)), codes: ['INVALID_OPTION', 'INVALID_ARGUMENT'], mentions: 'positions' };
      case 3: return { label: 'x of shape [2^33, 1, 0, 4]', call: () => ctx.call('rope', () => ctx.rt.rope({ data: new Float32Array(0), shape: [2 ** 33, 1, 0, 4] })), codes: ['OUT_OF_MEMORY'], mentions: 'x' };
      default: return { label: 'cos without sin', call: () => ctx.call('rope', () => ctx.rt.rope(c.x, { ...c.options, cos: T([40, (c.options.rotaryDim as number) / 2], next) } as never)), codes: ['INVALID_OPTION', 'INVALID_ARGUMENT'], mentions: 'sin' };
    }
  },
  mutant(ctx) {
    const c = ropeCase(ctx.next);
    const m = mutateOptions(ctx.next, c.options);
    return { label: m.label, call: () => ctx.call('rope', () => ctx.rt.rope(c.x, m.options as never)) };
  },
};

// ── long-sequence variants ──

const slidingMethod = qkvMethod('slidingWindowAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, false);
  const causal = pick(next, [false, false, true, 'top-left'] as const);
  const left = int(next, 0, 6);
  const right = causal ? 0 : int(next, 0, 6);
  const dilation = int(next, 1, 3);
  const keyLengths = chance(next, 0.3) ? lengths(next, c.B, c.nk) : undefined;
  const symmetric = !causal && left === right && chance(next, 0.5);
  const options: Record<string, unknown> = { window: symmetric ? left : { left, right }, dilation, causal };
  if (keyLengths) options.keyLengths = keyLengths;
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.slidingWindowAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check: (r) => check('slidingWindowAttention', dataOf(r), referenceSlidingWindow(c.q, c.k, c.v, { left, right, dilation, causal, keyLengths })),
  };
});

function norms(t: Tensor, b: number, h: number): number[] {
  const [, H, n, D] = t.shape;
  return Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += t.data[((b * H + h) * n + i) * D + d] ** 2;
    return s;
  });
}

const globalLocalMethod = qkvMethod('globalLocalAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, true, true);
  const n = c.nq;
  const causal = chance(next, 0.3);
  const left = int(next, 0, 4);
  const right = causal ? 0 : int(next, 0, 4);
  const dilation = int(next, 1, 2);
  const count = int(next, 0, n);
  let global: unknown;
  let G: (b: number, h: number) => readonly number[] = () => [];
  const kind = int(next, 0, 4);
  if (kind === 0) {
    const list = topKIndices(Array.from({ length: n }, () => next()), count);
    global = list;
    G = () => list;
  } else if (kind === 1) {
    const lists = Array.from({ length: c.B }, () => topKIndices(Array.from({ length: n }, () => next()), int(next, 0, n)));
    global = { indices: lists };
    G = (b) => lists[b];
  } else if (kind === 2) {
    const scores = T([c.B, c.hq, n], next, true);
    global = { count, scores };
    G = (b, h) => topKIndices(scores.data.subarray((b * c.hq + h) * n, (b * c.hq + h + 1) * n), count);
  } else if (kind === 3) {
    global = { count, by: 'query-norm' };
    G = (b, h) => topKIndices(norms(c.q, b, h), count);
  } else {
    global = { count, by: 'key-norm' };
    G = (b, h) => topKIndices(norms(c.k, b, Math.floor(h / (c.hq / c.hkv))), count);
  }
  const random = chance(next, 0.3) ? { blockSize: int(next, 1, 3), blocks: int(next, 0, 2), seed: int(next, 0, 100) } : undefined;
  const options: Record<string, unknown> = { window: { left, right }, dilation, causal, global };
  if (random) options.random = random;
  return {
    ...c, options, outShape: [c.B, c.hq, n, c.dv],
    invoke: (q, k, v, o) => rt.globalLocalAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check: (r) => check('globalLocalAttention', dataOf(r), referenceGlobalLocal(c.q, c.k, c.v, { left, right, dilation, causal, global: G, random })),
  };
});

const segmentedMethod = qkvMethod('segmentedAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, true);
  const S = int(next, 1, c.nq + 1);
  const options = { segmentLength: S, overlap: int(next, 0, S - 1), summaries: chance(next, 0.5), causal: chance(next, 0.4) };
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.segmentedAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check: (r) => check('segmentedAttention', dataOf(r), referenceSegmented(c.q, c.k, c.v, options)),
  };
});

const linformerMethod = qkvMethod('linformerAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, true);
  const kd = int(next, 1, c.nq);
  const shared = chance(next, 0.3);
  const keyLengths = chance(next, 0.3) ? lengths(next, c.B, c.nq).map((x) => Math.max(1, x)) : undefined;
  const seed = int(next, 0, 1000);
  const own = chance(next, 0.4);
  const { e, f } = ctx.call('linformerProjections', () => rt.linformerProjections({ length: c.nq, k: kd, seed, shared }));
  const options: Record<string, unknown> = own ? (shared ? { e, shared: true } : { e, f }) : { k: kd, seed, shared };
  if (keyLengths) options.keyLengths = keyLengths;
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.linformerAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check: (r) => check('linformerAttention', dataOf(r), referenceLinformer(c.q, c.k, c.v, { e, f, keyLengths })),
  };
});

/** Repeats kv heads up to `hq` heads (for hashing keys as the query heads see them). */
function expandHeads(t: Tensor, hq: number): Tensor {
  const [B, H, n, D] = t.shape;
  if (H === hq) return t;
  const g = hq / H;
  const data = new Float32Array(B * hq * n * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < hq; h++) data.set(t.data.subarray((b * H + Math.floor(h / g)) * n * D, (b * H + Math.floor(h / g) + 1) * n * D), (b * hq + h) * n * D);
  return { data, shape: [B, hq, n, D] };
}

const lshMethod = qkvMethod('lshAttention', (ctx) => {
  const { next, rt } = ctx;
  const shared = chance(next, 0.3);
  const c = qkv(next, true, false, shared); // shared QK: v has q's heads
  const buckets = pick(next, [1, 2, 4, 6, 8]);
  const rounds = int(next, 1, 3);
  const chunkLength = int(next, 1, 5);
  const causal = chance(next, 0.4);
  const seed = int(next, 0, 1000);
  const keyLengths = !shared && chance(next, 0.3) ? lengths(next, c.B, c.nq) : undefined;
  const options: Record<string, unknown> = { buckets, rounds, chunkLength, sharedQK: shared, causal, seed };
  if (keyLengths) options.keyLengths = keyLengths;
  const k = shared ? null : c.k;
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv], kIgnored: shared,
    invoke: (q, kk, v, o) => rt.lshAttention(q as Tensor, kk as Tensor | null, v as Tensor, o as never),
    check(r) {
      // The oracle hashes with the library's own bucket ids (argmax near-ties cannot flip it).
      const hash = { buckets, rounds, seed };
      const queryBuckets = ctx.call('lshHash', () => rt.lshHash(c.q, hash)).data;
      const keyBuckets = k ? ctx.call('lshHash', () => rt.lshHash(expandHeads(k, c.hq), { ...hash, keyLengths })).data : undefined;
      check('lshAttention', dataOf(r), referenceLsh(c.q, k, c.v, { queryBuckets, keyBuckets, rounds, chunkLength, sharedQK: shared, causal, keyLengths }));
    },
  };
});

const lshHashMethod: FuzzMethod = {
  name: 'lshHash',
  valid(ctx) {
    const { next, rt } = ctx;
    const B = int(next, 1, 2);
    const H = int(next, 1, 3);
    const n = pick(next, SEQ);
    const D = pick(next, DIM);
    const buckets = pick(next, [2, 4, 8, [2, 4], [4, 2]] as const);
    const rounds = int(next, 1, 3);
    const seed = int(next, 0, 1000);
    const keyLengths = chance(next, 0.3) ? lengths(next, B, n) : undefined;
    const x = T([B, H, n, D], next);
    const got = ctx.call('lshHash', () => rt.lshHash(x, { buckets: buckets as number | number[], rounds, seed, keyLengths }));
    const rotations = ctx.call('lshRotations', () => rt.lshRotations({ headDim: D, buckets: buckets as number | number[], rounds, seed, heads: H }));
    const halves = Array.isArray(buckets) ? buckets.map((b) => b / 2) : undefined;
    const want = referenceLshBuckets(x, rotations, keyLengths, halves);
    expectShape('lshHash', got.shape, [B, H, rounds, n]);
    for (let i = 0; i < want.buckets.length; i++) {
      // float32 vs float64 may pick differently only on a near-tie of the rotated coordinates
      if (got.data[i] !== want.buckets[i] && !(want.margins[i] < 1e-4)) throw new Error(`lshHash at ${i}: ${got.data[i]}, want ${want.buckets[i]} (margin ${want.margins[i]})`);
    }
    const again = ctx.call('lshRotations', () => rt.lshRotations({ headDim: D, buckets: buckets as number | number[], rounds, seed, heads: H }));
    check('lshRotations is deterministic', again.data, rotations.data, 0, 0);
  },
  invalid(ctx) {
    const { next, rt } = ctx;
    const x = T([1, 2, 5, 4], next);
    switch (int(next, 0, 4)) {
      case 0: return { label: 'odd buckets', call: () => ctx.call('lshHash', () => rt.lshHash(x, { buckets: 5 })), codes: ['INVALID_OPTION'], mentions: 'buckets' };
      case 1: return { label: 'rounds 0', call: () => ctx.call('lshHash', () => rt.lshHash(x, { buckets: 4, rounds: 0 })), codes: ['INVALID_OPTION'], mentions: 'rounds' };
      case 2: return { label: 'lshRotations headDim 0', call: () => ctx.call('lshRotations', () => rt.lshRotations({ headDim: 0, buckets: 2 })), codes: ['INVALID_OPTION'], mentions: 'headDim' };
      case 3: return { label: 'lshRotations of 2^46 floats', call: () => ctx.call('lshRotations', () => rt.lshRotations({ headDim: 2 ** 16, buckets: 2 ** 16, rounds: 2 ** 15 })), codes: ['OUT_OF_MEMORY', 'INVALID_OPTION'] };
      default: return { label: 'x of rank 3', call: () => ctx.call('lshHash', () => rt.lshHash(reshaped(x, [2, 5, 4]), { buckets: 4 })), codes: ['SHAPE_MISMATCH'], mentions: 'x' };
    }
  },
  mutant(ctx) {
    const { next, rt } = ctx;
    const x = T([2, 2, 5, 4], next);
    if (chance(next, 0.5)) {
      const m = mutateOptions(next, { headDim: 4, buckets: [2, 4], rounds: 2, seed: 3, heads: 2 });
      return { label: `lshRotations: ${m.label}`, call: () => ctx.call('lshRotations', () => rt.lshRotations(m.options as never)) };
    }
    const m = mutateOptions(next, { buckets: 4, rounds: 2, seed: 1, keyLengths: [3, 5] });
    return { label: `lshHash: ${m.label}`, call: () => ctx.call('lshHash', () => rt.lshHash(x, m.options as never)) };
  },
};

// ── structured variants ──

const hierarchicalMethod = qkvMethod('hierarchicalAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, true);
  const depth = Math.min(int(next, 1, 2), Math.ceil(Math.log2(c.nq)) + 1); // at most ⌈log2 n⌉ + 1 levels
  const levels: Array<number | number[]> = [];
  const bounds: number[][] = [];
  let units = c.nq;
  for (let l = 0; l < depth; l++) {
    const b = [0];
    while (b[b.length - 1] < units) b.push(Math.min(units, b[b.length - 1] + int(next, 1, 3)));
    bounds.push(b);
    levels.push(b);
    units = b.length - 1;
  }
  const aggregate = pick(next, ['mean', 'max'] as const);
  const combine = pick(next, ['mean', 'sum'] as const);
  const options = { levels, aggregate, combine, levelScale: 0.5 };
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.hierarchicalAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check(r) {
      const got = r as { output: Tensor; document: Tensor };
      const want = referenceHierarchical(c.q, c.k, c.v, { bounds, aggregate, combine, levelScale: 0.5 });
      check('hierarchicalAttention output', got.output.data, want.output);
      check('hierarchicalAttention document', got.document.data, want.document);
    },
  };
});

const routingMethod = qkvMethod('routingAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, chance(next, 0.5));
  const causal = c.nq === c.nk && chance(next, 0.4);
  const clusters = int(next, 1, Math.min(4, c.B * (c.nq + c.nk))); // at most the k-means samples
  // Identity: every cluster holds every query and key (w = n, kw = nk), so each is full
  // attention and their average is too, whatever the routing decided.
  const options: Record<string, unknown> = { clusters, windowSize: c.nq, keyWindowSize: c.nk, causal, seed: int(next, 0, 100) };
  if (chance(next, 0.3)) options.centroids = T([c.hq, clusters, c.dh], next);
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.routingAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check: (r) => check('routingAttention (every token in every cluster)', dataOf(r), referenceAttention(c.q, c.k, c.v, { causal }).output, 5e-5, 5e-5),
  };
});

const routingCentroidsMethod: FuzzMethod = {
  name: 'routingCentroids',
  valid(ctx) {
    const { next, rt } = ctx;
    const c = qkv(next, false);
    const clusters = int(next, 1, Math.min(5, c.B * c.nq)); // at most the samples of the q-only call below
    const seed = int(next, 0, 100);
    const withK = chance(next, 0.5);
    // iterations 0: the seeded picks of normalized samples (no assignment step to near-tie on)
    const got = ctx.call('routingCentroids', () => rt.routingCentroids(c.q, withK ? c.k : null, { clusters, seed, iterations: 0 }));
    const want = referenceRoutingCentroids(c.q, withK ? c.k : null, { clusters, seed, iterations: 0 });
    check('routingCentroids', got.data, Float64Array.from(want.flatMap((m) => m.flatMap((r) => Array.from(r)))), 1e-5, 1e-5);
    const iterated = ctx.call('routingCentroids', () => rt.routingCentroids(c.q, null, { clusters, seed, iterations: 3 }));
    expectShape('routingCentroids', iterated.shape, [c.hq, clusters, c.dh]);
    for (let r = 0; r < c.hq * clusters; r++) {
      let s = 0;
      for (let d = 0; d < c.dh; d++) s += iterated.data[r * c.dh + d] ** 2;
      if (!(Math.abs(Math.sqrt(s) - 1) < 1e-4) && s !== 0) throw new Error(`routingCentroids row ${r} has norm ${Math.sqrt(s)}`);
    }
  },
  invalid(ctx) {
    const { next, rt } = ctx;
    const q = T([1, 2, 5, 4], next);
    switch (int(next, 0, 2)) {
      case 0: return { label: 'clusters 0', call: () => ctx.call('routingCentroids', () => rt.routingCentroids(q, null, { clusters: 0 })), codes: ['INVALID_OPTION'], mentions: 'clusters' };
      case 1: return { label: 'k of another head size', call: () => ctx.call('routingCentroids', () => rt.routingCentroids(q, T([1, 2, 5, 3], next), { clusters: 2 })), codes: ['SHAPE_MISMATCH'], mentions: 'k' };
      default: return { label: 'options missing', call: () => ctx.call('routingCentroids', () => rt.routingCentroids(q, null, undefined as never)), codes: ['INVALID_OPTION'], mentions: 'options' };
    }
  },
  mutant(ctx) {
    const q = T([1, 2, 5, 4], ctx.next);
    const m = mutateOptions(ctx.next, { clusters: 2, seed: 1, iterations: 2 });
    return { label: m.label, call: () => ctx.call('routingCentroids', () => ctx.rt.routingCentroids(q, null, m.options as never)) };
  },
};

const routedMethod = qkvMethod('routedAttention', (ctx) => {
  const { next, rt } = ctx;
  const c = qkv(next, true);
  const left = int(next, 0, 3);
  const right = int(next, 0, 3);
  const paths: AttentionPath[] = [{ type: 'full' }, { type: 'window', window: { left, right } }, { type: 'full', causal: true }];
  const P = int(next, 1, 3);
  const used = paths.slice(0, P);
  const routeHeads = chance(next, 0.5) ? c.hq : 1;
  const routes = T([c.B, routeHeads, c.nq, P], next);
  for (let i = 0; i < routes.data.length; i++) routes.data[i] = Math.abs(routes.data[i]);
  const outs = [
    referenceAttention(c.q, c.k, c.v).output,
    referenceSlidingWindow(c.q, c.k, c.v, { left, right }),
    referenceAttention(c.q, c.k, c.v, { causal: true }).output,
  ].slice(0, P);
  const options: Record<string, unknown> = { paths: used, routes };
  return {
    ...c, options, outShape: [c.B, c.hq, c.nq, c.dv],
    invoke: (q, k, v, o) => rt.routedAttention(q as Tensor, k as Tensor, v as Tensor, o as never),
    check(r) {
      const want = new Float64Array(c.B * c.hq * c.nq * c.dv);
      for (let b = 0; b < c.B; b++) for (let h = 0; h < c.hq; h++) for (let i = 0; i < c.nq; i++) for (let p = 0; p < P; p++) {
        const w = routes.data[((b * routeHeads + (routeHeads === 1 ? 0 : h)) * c.nq + i) * P + p];
        for (let e = 0; e < c.dv; e++) want[((b * c.hq + h) * c.nq + i) * c.dv + e] += w * outs[p][((b * c.hq + h) * c.nq + i) * c.dv + e];
      }
      check('routedAttention', dataOf(r), want, 5e-5, 5e-5);
    },
  };
});

interface TxlCase { config: Record<string, unknown>; ref: ReferenceTxl; B: number; H: number; dh: number; dv: number }

function txlCase(next: Next): TxlCase {
  const B = int(next, 1, 2);
  const H = int(next, 1, 2);
  const dh = pick(next, [1, 2, 4]);
  const dv = pick(next, [1, 3, 4]);
  const M = pick(next, [0, 1, 3, 6]);
  const dModel = pick(next, [2, 4]);
  const W = chance(next, 0.5) ? T([H * dh, dModel], next) : undefined;
  const u = chance(next, 0.5) ? T([H, dh], next) : undefined;
  const vb = chance(next, 0.5) ? T([H, dh], next) : undefined;
  const sameLength = M > 0 && chance(next, 0.3);
  const clampLen = pick(next, [0, 2]);
  const config = { heads: H, headDim: dh, valueDim: dv, memoryLength: M, batch: B, positionWeights: W, rWBias: u, rRBias: vb, sameLength, clampLen };
  const ref = new ReferenceTxl({ heads: H, headDim: dh, valueDim: dv, memoryLength: M, batch: B, positionWeights: W, u: u?.data, v: vb?.data, sameLength, clampLen });
  return { config, ref, B, H, dh, dv };
}

const recurrentMethod: FuzzMethod = {
  name: 'recurrentMemoryAttention',
  valid(ctx) {
    const { next } = ctx;
    const c = txlCase(next);
    const mem = ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention(c.config as never));
    try {
      for (let s = int(next, 1, 3); s > 0; s--) {
        const n = int(next, 1, 5);
        const q = T([c.B, c.H, n, c.dh], next);
        const k = T([c.B, c.H, n, c.dh], next);
        const v = T([c.B, c.H, n, c.dv], next);
        const update = chance(next, 0.8);
        const got = ctx.call('recurrentMemoryAttention.forward', () => mem.forward(q, k, v, { update }));
        check('recurrentMemoryAttention.forward', got.data, c.ref.forward(q, k, v, update));
      }
    } finally {
      ctx.call('recurrentMemoryAttention.dispose', () => mem.dispose());
    }
  },
  invalid(ctx) {
    const { next } = ctx;
    const c = txlCase(next);
    switch (int(next, 0, 3)) {
      case 0: return { label: 'heads 0', call: () => ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention({ ...c.config, heads: 0 } as never)), codes: ['INVALID_OPTION'], mentions: 'heads' };
      case 1: return { label: 'rWBias of the wrong shape', call: () => ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention({ ...c.config, rWBias: T([c.H + 1, c.dh], next) } as never)), codes: ['SHAPE_MISMATCH'], mentions: 'rWBias' };
      case 2: {
        const mem = ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention(c.config as never));
        return { label: 'forward with k of another head size', call: () => ctx.call('recurrentMemoryAttention.forward', () => mem.forward(T([c.B, c.H, 2, c.dh], next), T([c.B, c.H, 2, c.dh + 1], next), T([c.B, c.H, 2, c.dv], next))), codes: ['SHAPE_MISMATCH'], mentions: 'k', cleanup: () => mem.dispose() };
      }
      default: {
        const mem = ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention(c.config as never));
        ctx.call('recurrentMemoryAttention.dispose', () => mem.dispose());
        return { label: 'forward after dispose', call: () => ctx.call('recurrentMemoryAttention.forward', () => mem.forward(T([c.B, c.H, 2, c.dh], next), T([c.B, c.H, 2, c.dh], next), T([c.B, c.H, 2, c.dv], next))), codes: ['DISPOSED'] };
      }
    }
  },
  mutant(ctx) {
    const { next } = ctx;
    const c = txlCase(next);
    if (chance(next, 0.5)) {
      const m = mutateOptions(next, c.config);
      return { label: `config: ${m.label}`, call: () => ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention(m.options as never)).dispose() };
    }
    const mem = ctx.call('recurrentMemoryAttention', () => ctx.rt.recurrentMemoryAttention(c.config as never));
    const m = mutateOptions(next, { update: true });
    return {
      label: `forward: ${m.label}`,
      call: () => ctx.call('recurrentMemoryAttention.forward', () => mem.forward(T([c.B, c.H, 2, c.dh], next), T([c.B, c.H, 2, c.dh], next), T([c.B, c.H, 2, c.dv], next), m.options as never)),
      cleanup: () => mem.dispose(),
    };
  },
};

/**
 * Every method the fuzz test knows, by Runtime method name. A method of the Runtime missing here
 * fails the test's coverage check (so a new public method cannot go unfuzzed). `lshRotations`
 * and `linformerProjections` are exercised inside lshHash and linformerAttention.
 */
export const METHODS: FuzzMethod[] = [
  attentionMethod, onnxMethod, matmulMethod, packMatrixMethod, quantizeMatrixMethod, quantizedMatrixMethod, softmaxMethod,
  tensorMethod, mhaMethod, kvCacheMethod,
  ropeMethod, slidingMethod, globalLocalMethod, segmentedMethod, linformerMethod, lshMethod, lshHashMethod,
  hierarchicalMethod, routingMethod, routingCentroidsMethod, routedMethod, recurrentMethod,
];

/** Runtime methods covered by another entry (called from it, counted under their own name). */
export const COVERED_INSIDE: Record<string, string> = {
  lshRotations: 'lshHash',
  linformerProjections: 'linformerAttention',
};

/** Runtime methods that are not operations (lifecycle and internals). */
const NOT_OPERATIONS = new Set(['constructor', 'attachPool', 'liveKernels', 'operation', 'dispose']);

/**
 * The Runtime's public methods, read from its prototype chain — Runtime and the CoreRuntime it
 * extends — so a new method on either must be fuzzed.
 */
export function runtimeMethods(): string[] {
  const names = new Set<string>();
  for (let proto = Runtime.prototype as object; proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name)!;
      if (typeof d.value === 'function' && !NOT_OPERATIONS.has(name)) names.add(name);
    }
  }
  return [...names];
}
