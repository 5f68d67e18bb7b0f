// Seeded fuzz families of hostile tensors, each a few hundred random small calls of rt.attention,
// rt.onnxAttention, rt.matmul, rt.softmax, rt.tensor and tensor.set, on a one-thread and a
// two-thread runtime:
//   proxy      a Proxy over one argument's typed array (or over a WasmTensor)   → INVALID_ARGUMENT
//   lying      a Float32Array subclass whose length, byteOffset, subarray and iterator lie
//              → the true elements are used; a true length that differs → SHAPE_MISMATCH
//   realm      typed arrays made in another vm context                           → accepted
//   detach     one argument's buffer transferred, before the call or by a later argument's getter
//   shrink     one argument's resizable buffer shrunk by a later argument's getter → INVALID_ARGUMENT
//   getter     data and shape getters answering junk on a second read           → read once, exact
//   alias      out is one of the inputs: the same WasmTensor or the same array  → exact
// A call that succeeds must match the float64 reference (test/reference/); one that fails must
// throw an AttentionError with the family's code naming the argument. After every call no arena
// block leaked and a sentinel WasmTensor is unchanged; every few calls an attention is checked.
// FUZZ_SEED=<n> reproduces a run (the seed is printed).

import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionError, type AttentionErrorCode, createRuntime, createRuntimeSync, type Runtime, type Tensor, type WasmTensor,
} from '../../src/index';
import { arenaStats, mismatch, rng, uniformF32 } from '../helpers/numeric';
import { referenceAttention, referenceMatmul, referenceSoftmax } from '../reference/attention';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS_PER_FAMILY = 400;
const workerUrl = new URL('../../dist/worker.js', import.meta.url);

type Next = () => number;
const int = (next: Next, lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
const pick = <T>(next: Next, xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const random = (shape: number[], next: Next): Tensor => ({ data: uniformF32(size(shape), next), shape });

const FAMILIES = ['proxy', 'lying', 'realm', 'detach', 'shrink', 'getter', 'alias'] as const;
type Family = typeof FAMILIES[number];

/** One argument of a call: its plain value and the name the error message must use. */
interface Slot {
  key: string;
  name: string;
  tensor: Tensor;
  /** read by the method before `trigger` (a later argument whose getter may attack it) */
  beforeTrigger: boolean;
}

/** A random valid call: its tensor arguments, how to run it, and the float64 reference. */
interface Call {
  method: string;
  slots: Slot[];
  /** the slot whose data getter attacks an earlier slot (detach / shrink families) */
  trigger?: string;
  /** slots out may alias (same shape as the result) */
  aliasable: string[];
  hasOut: boolean;
  run(rt: Runtime, args: Record<string, unknown>): unknown;
  want: ArrayLike<number>;
  atol: number;
}

function attentionCall(next: Next, big: boolean): Call {
  const B = int(next, 1, 2);
  const H = pick(next, [1, 2]);
  const n = big ? pick(next, [64, 100]) : int(next, 1, 9);
  const d = pick(next, [1, 3, 4, 8]);
  const q = random([B, H, n, d], next);
  const k = random([B, H, n, d], next);
  const v = random([B, H, n, d], next);
  const mask = { data: Uint8Array.from({ length: n }, () => (next() < 0.8 ? 1 : 0)), shape: [n] };
  const causal = next() < 0.5;
  return {
    method: 'attention',
    slots: [
      { key: 'q', name: 'q', tensor: q, beforeTrigger: true },
      { key: 'k', name: 'k', tensor: k, beforeTrigger: true },
      { key: 'v', name: 'v', tensor: v, beforeTrigger: true },
      { key: 'mask', name: 'options.mask', tensor: mask as unknown as Tensor, beforeTrigger: false },
    ],
    trigger: 'mask',
    aliasable: ['q', 'k', 'v'],
    hasOut: true,
    run: (rt, a) => rt.attention(a.q as Tensor, a.k as Tensor, a.v as Tensor, { causal, mask: a.mask as Tensor, ...(a.out ? { out: a.out as Tensor } : {}) }),
    want: referenceAttention(q, k, v, { causal, mask }).output,
    atol: 2e-5,
  };
}

function onnxCall(next: Next): Call {
  const B = int(next, 1, 2);
  const H = pick(next, [1, 2]);
  const n = int(next, 1, 9);
  const d = pick(next, [1, 4, 5]);
  const Q = random([B, H, n, d], next);
  const K = random([B, H, n, d], next);
  const V = random([B, H, n, d], next);
  const mask = { data: Uint8Array.from({ length: n }, () => (next() < 0.8 ? 1 : 0)), shape: [n] };
  return {
    method: 'onnxAttention',
    slots: [
      { key: 'Q', name: 'inputs.Q', tensor: Q, beforeTrigger: true },
      { key: 'K', name: 'inputs.K', tensor: K, beforeTrigger: true },
      { key: 'V', name: 'inputs.V', tensor: V, beforeTrigger: true },
      { key: 'attn_mask', name: 'inputs.attn_mask', tensor: mask as unknown as Tensor, beforeTrigger: false },
    ],
    trigger: 'attn_mask',
    aliasable: [],
    hasOut: false,
    run: (rt, a) => rt.onnxAttention({ Q: a.Q as Tensor, K: a.K as Tensor, V: a.V as Tensor, attn_mask: a.attn_mask as Tensor }).Y,
    want: referenceAttention(Q, K, V, { mask }).output,
    atol: 2e-5,
  };
}

function matmulCall(next: Next, big: boolean): Call {
  const batched = next() < 0.3;
  const m = big ? pick(next, [64, 130]) : int(next, 1, 9);
  const k = next() < 0.5 ? m : int(next, 1, 9);
  const n = next() < 0.5 ? k : int(next, 1, 9);
  const a = random(batched ? [2, m, k] : [m, k], next);
  const b = random([k, n], next);
  const bias = random([n], next);
  const aliasable = [...(k === n ? ['a'] : []), ...(!batched && m === k && k === n ? ['b'] : [])];
  return {
    method: 'matmul',
    slots: [
      { key: 'a', name: 'a', tensor: a, beforeTrigger: true },
      { key: 'b', name: 'b', tensor: b, beforeTrigger: true },
      { key: 'bias', name: 'options.bias', tensor: bias, beforeTrigger: false },
    ],
    trigger: 'bias',
    aliasable,
    hasOut: true,
    run: (rt, x) => rt.matmul(x.a as Tensor, x.b as Tensor, { bias: x.bias as Tensor, ...(x.out ? { out: x.out as Tensor } : {}) }),
    want: referenceMatmul(a, b, { bias }).data,
    atol: 1e-4,
  };
}

function softmaxCall(next: Next): Call {
  const x = random([int(next, 1, 3), int(next, 1, 9)], next);
  return {
    method: 'softmax',
    slots: [{ key: 'x', name: 'x', tensor: x, beforeTrigger: false }],
    aliasable: [],
    hasOut: false,
    run: (rt, a) => rt.softmax(a.x as Tensor),
    want: referenceSoftmax(x),
    atol: 1e-6,
  };
}

function tensorCall(next: Next, viaSet: boolean): Call {
  const values = random([int(next, 1, 12)], next);
  return {
    method: viaSet ? 'tensor.set' : 'tensor',
    slots: [{ key: 'values', name: viaSet ? 'tensor.set(values)' : 'values', tensor: values, beforeTrigger: false }],
    aliasable: [],
    hasOut: false,
    run: (rt, a) => {
      const data = (a.values as { data: unknown }).data;
      const t = viaSet ? rt.tensor(values.shape) : rt.tensor(values.shape, data as Float32Array);
      try {
        if (viaSet) t.set(data as Float32Array);
        return { data: t.toArray(), shape: values.shape };
      } finally {
        t.dispose();
      }
    },
    want: values.data,
    atol: 0,
  };
}

/** A Float32Array subclass that lies about everything a careless reader would ask. */
class Lying extends Float32Array {}
Object.defineProperty(Lying.prototype, 'subarray', { value: () => new Float32Array(1) });
Object.defineProperty(Lying.prototype, Symbol.iterator, { value: [7, 7][Symbol.iterator] });
Object.defineProperty(Lying.prototype, 'byteOffset', { get: () => 4 });
function lying(values: ArrayLike<number>, claimed: number, extra: number): Float32Array {
  const t = new Lying(values.length + extra);
  t.set(Array.from(values));
  Object.defineProperty(t, 'length', { value: claimed });
  return t;
}

const realm = vm.createContext({});
function foreign(data: Float32Array | Uint8Array): Float32Array {
  const made = vm.runInContext(`new ${data.constructor.name}(${data.length})`, realm) as Float32Array;
  for (let i = 0; i < data.length; i++) made[i] = data[i];
  return made;
}

type ResizableBuffer = ArrayBuffer & { resize(n: number): void };
function resizableCopy(data: Float32Array | Uint8Array): { data: Float32Array | Uint8Array; buffer: ResizableBuffer } {
  const bytes = Math.max(data.byteLength, 4);
  const buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ResizableBuffer)(bytes, { maxByteLength: bytes });
  const copy = new (data.constructor as Float32ArrayConstructor)(buffer, 0, data.length);
  copy.set(data);
  return { data: copy, buffer };
}

const copyOf = (d: Float32Array | Uint8Array): Float32Array | Uint8Array => d.slice();

interface Plan {
  args: Record<string, unknown>;
  /** expected failure (code and fragments), or undefined when the call must succeed */
  fails?: { code: AttentionErrorCode; fragments: string[] };
  /** where the result is when out aliases an input */
  result?: () => ArrayLike<number>;
  owned: WasmTensor[];
}

/** Applies one family's attack to a random argument of the call. */
function attack(rt: Runtime, call: Call, family: Family, next: Next): Plan {
  const args: Record<string, unknown> = {};
  for (const s of call.slots) args[s.key] = { data: copyOf(s.tensor.data), shape: s.tensor.shape };
  const owned: WasmTensor[] = [];
  const slot = pick(next, call.slots);
  const data = slot.tensor.data as Float32Array | Uint8Array;
  const isValues = call.method === 'tensor' || call.method === 'tensor.set';
  const dataName = isValues ? slot.name : `${slot.name}.data`;
  switch (family) {
    case 'proxy': {
      if (!isValues && slot.tensor.data instanceof Float32Array && next() < 0.3) {
        const t = rt.tensor(slot.tensor.shape, slot.tensor.data);
        owned.push(t);
        args[slot.key] = new Proxy(t, {});
        return { args, owned, fails: { code: 'INVALID_ARGUMENT', fragments: [slot.name, 'WasmTensor'] } };
      }
      args[slot.key] = { data: new Proxy(copyOf(data), {}), shape: slot.tensor.shape };
      return { args, owned, fails: { code: 'INVALID_ARGUMENT', fragments: [dataName, 'Proxy'] } };
    }
    case 'lying': {
      if (!(data instanceof Float32Array)) return { args, owned };
      const extra = next() < 0.3 ? int(next, 1, 3) : 0;
      args[slot.key] = { data: lying(data, data.length, extra), shape: slot.tensor.shape };
      return extra === 0 ? { args, owned } : { args, owned, fails: { code: 'SHAPE_MISMATCH', fragments: [`${dataName.replace(/\.data$/, '')}`, `${data.length + extra} elements`] } };
    }
    case 'realm':
      for (const s of call.slots) if (next() < 0.7) args[s.key] = { data: foreign(s.tensor.data as Float32Array), shape: s.tensor.shape };
      return { args, owned };
    case 'detach':
    case 'shrink': {
      const victims = call.slots.filter((s) => s.beforeTrigger);
      const before = victims.length === 0 || (family === 'detach' && next() < 0.4);
      const victim = before ? slot : pick(next, victims);
      const vName = isValues ? victim.name : `${victim.name}.data`;
      const made = resizableCopy(victim.tensor.data as Float32Array);
      args[victim.key] = { data: made.data, shape: victim.tensor.shape };
      const strike = () => (family === 'detach' ? structuredClone(made.buffer, { transfer: [made.buffer] }) : made.buffer.resize(made.buffer.byteLength - 4));
      if (before) strike();
      else {
        const trigger = call.slots.find((s) => s.key === call.trigger)!;
        const triggerData = copyOf(trigger.tensor.data);
        args[trigger.key] = { get data() { strike(); return triggerData; }, shape: trigger.tensor.shape };
      }
      return { args, owned, fails: { code: 'INVALID_ARGUMENT', fragments: [vName] } };
    }
    case 'getter': {
      const first = copyOf(data);
      let reads = 0;
      let shapeReads = 0;
      args[slot.key] = isValues
        ? { data: first, shape: slot.tensor.shape }
        : {
          get data() { reads++; return reads === 1 ? first : new Float32Array(1); },
          get shape() { shapeReads++; return shapeReads === 1 ? slot.tensor.shape : [1, 1, 1, 1, 1]; },
        };
      return { args, owned };
    }
    case 'alias': {
      if (!call.hasOut || call.aliasable.length === 0) return { args, owned };
      const key = pick(next, call.aliasable);
      const input = call.slots.find((s) => s.key === key)!;
      if (next() < 0.7) {
        const t = rt.tensor(input.tensor.shape, input.tensor.data);
        owned.push(t);
        args[key] = t;
        args.out = t;
        return { args, owned, result: () => t.data };
      }
      const shared = { data: Float32Array.from(input.tensor.data), shape: input.tensor.shape };
      args[key] = shared;
      args.out = shared;
      return { args, owned, result: () => shared.data };
    }
  }
}

describe('fuzz: hostile tensors (proxies, lying lengths, other realms, detached and shrinking buffers, getters, aliasing)', () => {
  const runtimes: Array<{ label: string; rt: Runtime }> = [];
  const sentinels = new Map<Runtime, { t: WasmTensor; values: Float32Array }>();
  beforeAll(async () => {
    runtimes.push({ label: '1 thread', rt: createRuntimeSync({ maxMemoryBytes: 64 * 1024 * 1024 }) });
    runtimes.push({ label: '2 threads', rt: await createRuntime({ threads: 2, workerUrl }) });
    for (const { rt } of runtimes) {
      const values = uniformF32(32, rng(7));
      sentinels.set(rt, { t: rt.tensor([32], values), values });
    }
  });
  afterAll(() => {
    for (const { rt } of runtimes) rt.dispose();
  });

  it.each(FAMILIES)('family %s: exact results or typed errors, no leak, nothing else changed', (family) => {
    const seed = (SEED + FAMILIES.indexOf(family) * 7919) >>> 0;
    console.log(`[hostile-tensors] ${family}: seed ${seed} (FUZZ_SEED=${SEED})`);
    const next = rng(seed);
    const outcomes = { ok: 0, rejected: 0 };
    for (let step = 0; step < STEPS_PER_FAMILY; step++) {
      const { label, rt } = pick(next, runtimes);
      const big = family === 'alias' && label === '2 threads' && next() < 0.3;
      const kind = family === 'alias' ? pick(next, [0, 2]) : int(next, 0, 5); // aliasing needs an out
      const call = kind === 0 ? attentionCall(next, big) : kind === 1 ? onnxCall(next) : kind === 2 ? matmulCall(next, big)
        : kind === 3 ? softmaxCall(next) : tensorCall(next, kind === 5);
      // warm-up: workspaces reserved lazily on a first call stay
      call.run(rt, Object.fromEntries(call.slots.map((s) => [s.key, s.tensor])));
      const where = `${family} step ${step} (${call.method} on ${label}, seed ${seed})`;
      const before = arenaStats(rt);
      const plan = attack(rt, call, family, next);
      let result: unknown;
      let thrown: unknown;
      try {
        result = call.run(rt, plan.args);
      } catch (e) {
        thrown = e;
      }
      const got = thrown === undefined ? Float32Array.from(plan.result ? plan.result() : (result as Tensor).data) : undefined;
      for (const t of plan.owned) t.dispose();
      const after = arenaStats(rt);
      expect(after, `${where}: arena blocks/bytes changed (a leak)`).toEqual(before);
      const sentinel = sentinels.get(rt)!;
      expect(mismatch(sentinel.t.data, sentinel.values, 0, 0), `${where}: another tensor changed`).toBeUndefined();
      if (plan.fails) {
        expect(thrown, `${where}: expected an AttentionError ${plan.fails.code}, got ${String(thrown)}`).toBeInstanceOf(AttentionError);
        const err = thrown as AttentionError;
        expect(err.code, `${where}: ${err.message}`).toBe(plan.fails.code);
        for (const f of plan.fails.fragments) expect(err.message, where).toContain(f);
        outcomes.rejected++;
      } else {
        expect(thrown, `${where}: ${String(thrown)}`).toBeUndefined();
        expect(mismatch(got!, call.want, call.atol, 2e-5), where).toBeUndefined();
        outcomes.ok++;
      }
      if (step % 25 === 0) {
        const health = attentionCall(next, false);
        const got = health.run(rt, Object.fromEntries(health.slots.map((s) => [s.key, s.tensor]))) as Tensor;
        expect(mismatch(got.data, health.want, 2e-5, 2e-5), `${where}: the next valid call`).toBeUndefined();
      }
    }
    console.log(`[hostile-tensors] ${family}: ${outcomes.ok} exact, ${outcomes.rejected} rejected`);
    expect(outcomes.ok + outcomes.rejected).toBe(STEPS_PER_FAMILY);
  });
});
