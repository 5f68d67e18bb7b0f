// options-fuzz.test.ts — seeded fuzz families for how every public method reads its options,
// driven by the valid calls of test/reliability/fuzz-cases.ts (every method of the Runtime and of
// the objects it returns), on a simd128 runtime with guardAllocations (a write outside any
// allocation throws MEMORY_CORRUPTION):
//   pollution    Object.prototype holds every option key of every method (random junk values)
//                during each library call: results are bit-identical to the same calls unpolluted
//                (and still match the float64 references the cases check);
//   getters      every options object (nested ones too) is replaced by one whose properties are
//                counting getters: each is read exactly once, results bit-identical;
//   unknown keys one options object (at any depth) gets a misspelled or made-up key: the call
//                throws INVALID_OPTION naming it, and nothing leaks;
//   re-entrancy  a getter of one option disposes the runtime, the object whose method runs (a
//                cache, a layer, a memory) or a WasmTensor argument (and allocates a tensor of the
//                same size, filled with a sentinel, in its place): the call throws DISPOSED,
//                live tensors keep their data, and a later valid call is exact.
// OPTIONS_FUZZ_SEED=<seed> reproduces a run (the default seed is fixed: the test is deterministic);
// OPTIONS_FUZZ_STEPS sets the steps per family.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionError, CoreRuntime, createRuntimeSync, KVCache, MultiHeadAttention, RecurrentMemoryAttention, Runtime, WasmTensor, attentionVariants,
} from '../../src/index';
import { arenaStats, rng, sameValues } from '../helpers/numeric';
import { type Ctx, METHODS } from './fuzz-cases';

const SEED = Number(process.env.OPTIONS_FUZZ_SEED ?? 424242);
const STEPS = Number(process.env.OPTIONS_FUZZ_STEPS ?? 8 * METHODS.length);

/** Every option key of every method (and of their nested option objects). */
const OPTION_KEYS = [
  'K', 'Q', 'V', 'aggregate', 'attn_mask', 'averageWeights', 'base', 'batch', 'bias', 'bidirectional', 'blockSize', 'blocks',
  'buckets', 'by', 'cache', 'causal', 'centroids', 'chunkLength', 'clampLen', 'clusters', 'combine', 'context', 'cos', 'count',
  'dModel', 'dilation', 'e', 'emaDecay', 'embeddings', 'f', 'format', 'global', 'guardAllocations', 'headDim', 'heads', 'indices',
  'input', 'interleaved', 'is_causal', 'isa', 'iterations', 'k', 'kBias', 'kdim', 'key', 'keyLengths', 'keyPaddingMask',
  'keyWindowSize', 'kv_num_heads', 'layout', 'left', 'left_window_size', 'length', 'levelScale', 'levels', 'mask', 'maxDistance',
  'maxLength', 'maxMemoryBytes', 'maxRelative', 'memoryLength', 'module', 'needWeights', 'nonpad_kv_seqlen', 'numBuckets',
  'numHeads', 'numKvHeads', 'offset', 'out', 'outBias', 'over', 'overlap', 'packWeights', 'past_key', 'past_value', 'paths',
  'position', 'positionWeights', 'positions', 'q', 'qBias', 'q_num_heads', 'qkMatmulOutput', 'qk_matmul_output_mode', 'qkv',
  'qkvBias', 'query', 'rRBias', 'rWBias', 'random', 'returnCentroids', 'returnRoutes', 'returnWeights', 'right',
  'right_window_size', 'rotaryDim', 'rotations', 'rounds', 'router', 'routes', 'sameLength', 'scale', 'scores', 'seed',
  'segmentLength', 'shared', 'sharedQK', 'sin', 'slopes', 'softcap', 'softmax_precision', 'summaries', 'symmetric', 'threads',
  'transposeB', 'type', 'unscaled', 'update', 'v', 'vBias', 'valueDim', 'value', 'vdim', 'weights', 'window', 'windowSize', 'workerUrl',
];

const JUNK = (): unknown[] => [
  true, false, 0, 1, 2, -1, 0.5, 3.5, 'x', 'mean', 'full', [0], [1, 2], {}, { left: 0, right: 0 }, { data: new Float32Array(1), shape: [1] },
  { data: new Uint8Array(1), shape: [1] }, null,
];

/** Every method that takes options: [prototype, method, indices of its options arguments]. */
const OPTION_METHODS: Array<[object, string, number[]]> = [
  [CoreRuntime.prototype, 'attention', [3]], [CoreRuntime.prototype, 'onnxAttention', [0, 1, 2]],
  [CoreRuntime.prototype, 'matmul', [2]], [CoreRuntime.prototype, 'packMatrix', [1]],
  ...(['multiHeadAttention', 'kvCache', 'linformerProjections', 'lshRotations', 'recurrentMemoryAttention'] as const).map((m) => [Runtime.prototype, m, [0]] as [object, string, number[]]),
  ...(['rope', 'lshHash'] as const).map((m) => [Runtime.prototype, m, [1]] as [object, string, number[]]),
  [Runtime.prototype, 'routingCentroids', [2]],
  // every variant of the registry but full attention (above)
  ...attentionVariants().filter((v) => v.method !== 'attention').map((v) => [Runtime.prototype, v.method, [3]] as [object, string, number[]]),
  [KVCache.prototype, 'step', [3]], [KVCache.prototype, 'attend', [1]],
  [MultiHeadAttention.prototype, 'forward', [1]], [MultiHeadAttention.prototype, 'projectContext', [0]],
  [RecurrentMemoryAttention.prototype, 'forward', [3]],
];

/** What one patched call sees: the object whose method runs, the method, and its arguments. */
interface CallSite {
  self: unknown;
  method: string;
  args: unknown[];
}

/**
 * Runs `fn` with every method of OPTION_METHODS wrapped: each plain-object options argument is
 * passed through `transform` first, and the outermost library call runs inside `around`
 * (restored afterwards, whatever happens).
 */
function withOptions<R>(
  transform: (options: object, site: CallSite) => object, fn: () => R, around: <T>(call: () => T) => T = (call) => call(),
): R {
  const saved = OPTION_METHODS.map(([proto, name]) => (proto as Record<string, unknown>)[name] as (...a: unknown[]) => unknown);
  let depth = 0;
  OPTION_METHODS.forEach(([proto, name, indices], i) => {
    const original = saved[i];
    (proto as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      const site = { self: this, method: name, args };
      const next = args.map((a, j) => (indices.includes(j) && isOptionsObject(a) ? transform(a, site) : a));
      const call = () => original.apply(this, next);
      depth++;
      try {
        return depth === 1 ? around(call) : call();
      } finally {
        depth--;
      }
    };
  });
  try {
    return fn();
  } finally {
    OPTION_METHODS.forEach(([proto, name], i) => {
      (proto as Record<string, unknown>)[name] = saved[i];
    });
  }
}

/** A plain options object (not a tensor-like, not a WasmTensor or other class instance). */
function isOptionsObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype && !('data' in x);
}

/** Every number a result holds (typed arrays, WasmTensors read now, shapes), for bitwise comparison. */
function numbers(result: unknown, out: number[] = [], depth = 0): number[] {
  if (depth > 6 || result === null || result === undefined) return out;
  if (typeof result === 'number') out.push(result);
  else if (result instanceof WasmTensor) out.push(...(result.isDisposed ? [Number.NaN] : Array.from(result.data)), ...result.shape);
  else if (ArrayBuffer.isView(result)) out.push(...Array.from(result as unknown as ArrayLike<number>, Number));
  else if (Array.isArray(result)) for (const x of result) numbers(x, out, depth + 1);
  else if (typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    for (const key of Object.keys(result).sort()) numbers((result as Record<string, unknown>)[key], out, depth + 1);
  }
  return out;
}

describe('options fuzz: pollution, getters, unknown keys, re-entrancy', () => {
  let rt: Runtime;
  let foreign: Runtime;
  beforeAll(() => {
    rt = createRuntimeSync({ isa: 'simd128', maxMemoryBytes: 256 * 1024 * 1024, guardAllocations: true });
    foreign = createRuntimeSync({ isa: 'simd128' });
  });
  afterAll(() => {
    rt.dispose();
    foreign.dispose();
  });

  const ctxOf = (r: Runtime, seed: number, call: Ctx['call']): Ctx => ({ rt: r, foreign, next: rng(seed), call });
  const plainCall: Ctx['call'] = (_name, fn) => fn();

  /** Runs the valid call of method `m` with `seed`, recording every library result through `around`. */
  function record(r: Runtime, m: (typeof METHODS)[number], seed: number, around: <T>(fn: () => T) => T = (fn) => fn()): number[] {
    const seen: number[] = [];
    m.valid(ctxOf(r, seed, (_name, fn) => {
      const result = around(fn);
      numbers(result, seen);
      return result;
    }));
    return seen;
  }

  it(`pollution: every option key on Object.prototype changes nothing (${STEPS} seeded steps from seed ${SEED})`, () => {
    const next = rng(SEED);
    for (let step = 0; step < STEPS; step++) {
      const m = METHODS[step % METHODS.length];
      const seed = 1 + Math.floor(next() * 2 ** 30);
      const junk = JUNK();
      const values = OPTION_KEYS.map(() => junk[Math.floor(next() * junk.length)]);
      const where = `${m.name}, data seed ${seed}`;
      const plain = record(rt, m, seed);
      const proto = Object.prototype as Record<string, unknown>;
      // polluted only while a library method runs (the cases' own code reads options too)
      const polluted = <T>(call: () => T): T => {
        try {
          OPTION_KEYS.forEach((key, i) => {
            proto[key] = values[i];
          });
          return call();
        } finally {
          for (const key of OPTION_KEYS) delete proto[key];
        }
      };
      const dirty = withOptions((options) => options, () => record(rt, m, seed), polluted);
      expect(Object.keys(proto)).toEqual([]);
      expect(sameValues(dirty, plain), where).toBeUndefined();
    }
    // createRuntimeSync too: its options are read the same way
    const proto = Object.prototype as Record<string, unknown>;
    let made: Runtime | undefined;
    try {
      for (const key of OPTION_KEYS) proto[key] = 'junk';
      made = createRuntimeSync({ isa: 'simd128' });
    } finally {
      for (const key of OPTION_KEYS) delete proto[key];
    }
    expect(made.threads).toBe(1);
    made.dispose();
  });

  it(`getters: every option (at any depth) is read exactly once and results are unchanged (${STEPS} steps)`, () => {
    const next = rng(SEED + 1);
    for (let step = 0; step < STEPS; step++) {
      const m = METHODS[step % METHODS.length];
      const seed = 1 + Math.floor(next() * 2 ** 30);
      const where = `${m.name}, data seed ${seed}`;
      const plain = record(rt, m, seed);
      const reads = new Map<string, number>();
      const counted = (value: unknown, path: string): unknown => {
        if (Array.isArray(value)) return value.map((x, i) => counted(x, `${path}[${i}]`));
        if (!isOptionsObject(value)) return value;
        const out = {};
        for (const key of Object.keys(value)) {
          const inner = counted(value[key], `${path}.${key}`);
          reads.set(`${path}.${key}`, 0);
          Object.defineProperty(out, key, {
            enumerable: true,
            get: () => {
              reads.set(`${path}.${key}`, reads.get(`${path}.${key}`)! + 1);
              return inner;
            },
          });
        }
        return out;
      };
      let calls = 0;
      const wrapped = withOptions((options, site) => counted(options, `${site.method}#${calls++}`) as object, () => record(rt, m, seed));
      expect(sameValues(wrapped, plain), where).toBeUndefined();
      for (const [key, n] of reads) expect(n, `${where}: ${key} read ${n} times`).toBe(1);
    }
  });

  it(`unknown keys: a misspelled or made-up key at any depth throws INVALID_OPTION naming it, nothing leaks (${STEPS} steps)`, () => {
    const next = rng(SEED + 2);
    let rejected = 0;
    for (let step = 0; step < STEPS; step++) {
      const m = METHODS[step % METHODS.length];
      const seed = 1 + Math.floor(next() * 2 ** 30);
      let injected: string | undefined;
      const misspell = (key: string): string => {
        const r = next();
        if (key.length > 2 && r < 0.25) {
          const i = Math.floor(next() * (key.length - 1));
          const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
          if (swapped !== key) return swapped;
        }
        if (r < 0.5) return `${key}s`;
        if (r < 0.75) return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) + (/[A-Z]/.test(key) ? '' : '_x');
        return `zz${Math.floor(next() * 1000)}`;
      };
      const inject = (options: Record<string, unknown>): Record<string, unknown> => {
        // choose a plain object inside the options (the options themselves or a nested one)
        const nodes: Array<Record<string, unknown>> = [];
        const walk = (o: unknown, depth: number): void => {
          if (depth > 4) return;
          if (Array.isArray(o)) o.forEach((x) => walk(x, depth + 1));
          else if (isOptionsObject(o)) {
            nodes.push(o);
            for (const key of Object.keys(o)) if (key !== 'out') walk(o[key], depth + 1);
          }
        };
        const copy = structuredCopy(options);
        walk(copy, 0);
        const node = nodes[Math.floor(next() * nodes.length)];
        const keys = Object.keys(node);
        const base = keys.length > 0 && next() < 0.8 ? keys[Math.floor(next() * keys.length)] : 'option';
        let key = misspell(base);
        while (Object.hasOwn(node, key) || OPTION_KEYS.includes(key)) key = `${key}z`;
        node[key] = 1;
        injected = key;
        return copy;
      };
      const before = arenaStats(rt);
      let thrown: unknown;
      try {
        withOptions((options) => (injected === undefined ? inject(options as Record<string, unknown>) : options), () => m.valid(ctxOf(rt, seed, plainCall)));
      } catch (e) {
        thrown = e;
      }
      const where = `${m.name}, data seed ${seed}, key ${injected}`;
      expect(arenaStats(rt).blocks, `${where}: arena blocks`).toBe(before.blocks);
      if (injected === undefined) continue; // the method's valid call passed no options object
      expect(thrown, `${where}: expected INVALID_OPTION`).toBeInstanceOf(AttentionError);
      expect((thrown as AttentionError).code, `${where}: ${(thrown as Error).message}`).toBe('INVALID_OPTION');
      expect((thrown as Error).message, where).toContain(injected);
      rejected++;
      record(rt, m, seed); // the runtime still computes correct results (the case checks them)
    }
    expect(rejected).toBeGreaterThan(STEPS / 2);
  });

  it(`re-entrancy: a getter that disposes the runtime, the cache/layer/memory or a tensor argument makes the call fail with DISPOSED before anything is written (${STEPS} steps)`, () => {
    const next = rng(SEED + 3);
    let failed = 0;
    for (let step = 0; step < STEPS; step++) {
      const m = METHODS[step % METHODS.length];
      const seed = 1 + Math.floor(next() * 2 ** 30);
      const r = createRuntimeSync({ isa: 'simd128', maxMemoryBytes: 64 * 1024 * 1024, guardAllocations: true });
      const bystanders = [r.tensor([37], new Float32Array(37).map((_, i) => i * 0.25 - 3)), r.tensor([5, 3])];
      const before = bystanders.map((t) => t.toArray());
      let victim: string | undefined;
      let squatter: { t: WasmTensor; sentinel: Float32Array } | undefined;
      const choice = next();
      const arm = (options: object, site: CallSite): object => {
        const keys = Object.keys(options);
        if (victim !== undefined || keys.length === 0) return options;
        const tensors = [...site.args, (options as Record<string, unknown>).out].filter((a): a is WasmTensor => a instanceof WasmTensor && !a.isDisposed);
        const self = site.self instanceof KVCache || site.self instanceof MultiHeadAttention || site.self instanceof RecurrentMemoryAttention ? site.self : undefined;
        let action: () => void;
        if (tensors.length > 0 && choice < 0.5) {
          const t = tensors[Math.floor(next() * tensors.length)];
          victim = `a WasmTensor argument of ${site.method}`;
          action = () => {
            const shape = [...t.shape];
            t.dispose();
            const sentinel = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(7.5);
            squatter = { t: r.tensor(shape, sentinel), sentinel };
          };
        } else if (self && choice < 0.8) {
          victim = `the ${self.constructor.name} of ${site.method}`;
          action = () => self.dispose();
        } else {
          victim = `the runtime, in ${site.method}`;
          action = () => r.dispose();
        }
        const key = keys[Math.floor(next() * keys.length)];
        const out = { ...options } as Record<string, unknown>;
        const value = out[key];
        let done = false;
        Object.defineProperty(out, key, {
          enumerable: true,
          get() {
            if (!done) action();
            done = true;
            return value;
          },
        });
        return out;
      };
      let thrown: unknown;
      try {
        withOptions(arm, () => m.valid(ctxOf(r, seed, plainCall)));
      } catch (e) {
        thrown = e;
      }
      const where = `${m.name}, data seed ${seed}, victim ${victim}`;
      if (victim !== undefined) {
        expect(thrown, `${where}: expected DISPOSED`).toBeInstanceOf(AttentionError);
        expect((thrown as AttentionError).code, `${where}: ${(thrown as Error).message}`).toBe('DISPOSED');
        failed++;
        let alive = true;
        try {
          void r.memoryBytes;
        } catch {
          alive = false;
        }
        if (alive) {
          bystanders.forEach((t, i) => expect(sameValues(t.data, before[i]), `${where}: bystander ${i}`).toBeUndefined());
          if (squatter && !squatter.t.isDisposed) expect(sameValues(squatter.t.data, squatter.sentinel), `${where}: the tensor in the freed block`).toBeUndefined();
          // a later valid call on the same runtime is exact (the case checks it against float64)
          m.valid(ctxOf(r, seed + 1, plainCall));
        }
      }
      r.dispose();
    }
    expect(failed).toBeGreaterThan(STEPS / 2);
  });
});

/** A copy of an options tree: plain objects and arrays copied, everything else (tensors, caches) shared. */
function structuredCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(structuredCopy) as T;
  if (isOptionsObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = key === 'out' ? value[key] : structuredCopy(value[key]);
    return out as T;
  }
  return value;
}
