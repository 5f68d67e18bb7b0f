// routed.ts — rt.routedAttention: a learned routing matrix W_r gives each token a probability
// distribution over attention paths (variants of this library over the same q, k, v); the output
// is the mixture. (Clustering attention, one of the paths, is routing.ts.)
//
// P paths, each an attention of the library over the same q, k, v (full, window, global-local,
// segmented, LSH, Linformer, clustering). A routing matrix W_r turns token i into
//     π_i = softmax(x_i·W_r + b) ∈ Δ^P       x_i = q_i of the head (W_r: [headDim, P] or
//                                            [heads, headDim, P]), or options.router.input[b, i]
//                                            (W_r: [inputDim, P], shared by every head)
// (or the caller's `routes`), and the output is the mixture  y_i = Σ_p π_{i,p}·O^(p)_i.
// over: 'heads' routes over the heads of one path instead: π_i ∈ Δ^H from the token's
// concatenated query heads (W_r: [heads·headDim, heads]) or router.input, and
// y_i = Σ_h π_{i,h}·O_{h,i} ([batch, 1, n, valueDim]).
// A path whose weight is 0 for every token is not computed, so a one-hot route is that path alone.
// Layout: one `layout` for the call; q, k, v and the output are in it, and every path runs with it
// on the same resident tensors (read in place through strides, no transposing copy); the routes
// stay [batch, heads, n, P].
// Reference: the mixture-of-experts gating of N. Shazeer et al., "Outrageously Large Neural
// Networks: The Sparsely-Gated Mixture-of-Experts Layer" (ICLR 2017) applied to attention paths,
// as in "Mixture of Attention Heads" (X. Zhang et al., EMNLP 2022) for routing over heads.


import type { Kernels } from '../kernels/instance';
import { gemmKernels } from '../kernels/gemm';
import { rowKernels } from '../kernels/rows';
import { softmaxKernels } from '../kernels/softmax';
import { AttentionError, f32At, f32Bytes, formatShape, formatValue } from '../runtime/index';
import {
  outputBlock, type Tensor, type TensorLike, type TensorView, viewData, viewOut, viewTensor, WasmTensor, writeOut,
} from '../tensor';
import { headAt, layoutOf, shapeIn, type TensorLayout } from './head-layout';
import { observeUnits } from './heads-observer';
import { assertPreparedLive, headLayoutOf, prepare, Scope } from './long-common';
import { booleanOption, optionKeys, readOptions } from './options';
import { type AttentionPath, pathTypeList, readPath } from './path-options';
import { variantOfPath } from './variants';

export type { AttentionPath } from './path-options';

const F32 = [Float32Array] as const;

// ── routing over paths ────────────────────────────────────────────────────────────────────────

/** The routing matrix of `rt.routedAttention`: π_i = softmax(x_i·W_r + b). */
export interface Router {
  /**
   * W_r. Paths: [headDim, P] or [heads, headDim, P] (x = the head's query), or [inputDim, P] with
   * `input`. Heads: [heads·headDim, heads] (x = the token's concatenated query heads), or
   * [inputDim, heads] with `input`.
   */
  weights: TensorLike;
  /** b: [P] (or [heads, P] with per-head weights); entries may be −∞ (that route is never taken). Default 0. */
  bias?: TensorLike;
  /** x: [batch, n, inputDim], the token representations to route (shared by every head). Default: the queries. */
  input?: TensorLike;
}

/** Options of `rt.routedAttention`. */
export interface RoutedOptions {
  /**
   * The attention paths (≥ 1; exactly 1 with over: 'heads'). Each runs with the call's `layout`; a
   * path of its own `layout` is INVALID_OPTION (every path reads the same q, k, v).
   */
  paths: readonly AttentionPath[];
  /** Route over the paths (default) or over the heads of the one path. */
  over?: 'paths' | 'heads';
  /** The routing matrix (required unless `routes` is given). */
  router?: Router;
  /** Explicit route weights instead of a router: [batch, heads or 1, n, P] (over heads: [batch, 1, n, heads]); finite, ≥ 0. */
  routes?: TensorLike;
  /** Also return the route probabilities. Default false. */
  returnRoutes?: boolean;
  /**
   * `'bhsd'` (default): q, k, v and the output are [batch, heads, seq, dim]; `'bshd'`: [batch,
   * seq, heads, dim] (PyTorch batch_first, flash-attn), read in place through strides by the
   * router and by every path. Routes (given or returned) stay [batch, heads or 1, n, P].
   */
  layout?: 'bhsd' | 'bshd';
  /** Multiplier of Q·Kᵀ in every path. Default 1/√headDim. */
  scale?: number;
  /**
   * Write the output here: a WasmTensor (zero-copy) or a Tensor of the output shape. Read once. It
   * may be (or overlap) an input: the output is then computed into a temporary block and copied
   * into `out` at the end.
   */
  out?: WasmTensor | Tensor;
}

/** `rt.routedAttention` with `returnRoutes: true`. */
export interface RoutedResult {
  /** The mixture, [batch, heads, n, valueDim] (over heads: [batch, 1, n, valueDim]; in the call's layout). */
  output: Tensor;
  /** π: [batch, heads, n, P] (router on the queries), or [batch, 1, n, P] (router input, or over heads). */
  routes: Tensor;
}

export const ROUTED_KEYS = optionKeys<RoutedOptions>({
  paths: true, over: true, router: true, routes: true, returnRoutes: true, layout: true, scale: true, out: true,
});
const ROUTER_KEYS = optionKeys<Router>({ weights: true, bias: true, input: true });

/** The WasmTensors among the paths' options (one level deep: `global.scores` too), by name. */
function pathTensors(paths: readonly AttentionPath[]): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  paths.forEach((path, i) => {
    for (const [key, value] of Object.entries(path)) {
      if (value instanceof WasmTensor) found[`options.paths[${i}].${key}`] = value;
      else if (typeof value === 'object' && value !== null) {
        for (const [inner, x] of Object.entries(value)) if (x instanceof WasmTensor) found[`options.paths[${i}].${key}.${inner}`] = x;
      }
    }
  });
  return found;
}

/**
 * Runs path `path` with q, k, v resident, into the resident tensor `out`, all in `layout`: its
 * variant's runner from the registry.
 */
function runPath(
  kernels: Kernels, path: AttentionPath, i: number, q: WasmTensor, k: WasmTensor, v: WasmTensor, out: WasmTensor, scale: number, layout: TensorLayout,
): void {
  try {
    const variant = variantOfPath(path.type);
    if (variant === undefined) { // readPath admits only the registry's path types
      throw new AttentionError('INVALID_OPTION', `options.paths[${i}].type must be one of ${pathTypeList(', ')}, got ${formatValue(path.type)}`);
    }
    const { type, ...own } = path as AttentionPath & Record<string, unknown>;
    void type;
    const options = { ...(variant.asPath ? variant.asPath(own) : own), layout, scale, out };
    variant.run(kernels, q, variant.pathIgnoresK?.(own) ? null : k, v, options as never);
  } catch (e) {
    if (e instanceof AttentionError && e.code !== 'ABORTED' && !e.message.startsWith(`options.paths[${i}]`)) {
      throw new AttentionError(e.code, `options.paths[${i}] (${String(path.type)}): ${e.message}`);
    }
    throw e;
  }
}

export function routedAttention(
  kernels: Kernels,
  qIn: TensorLike,
  kIn: TensorLike,
  vIn: TensorLike,
  raw: RoutedOptions,
): Tensor | RoutedResult {
  if (raw === undefined) throw new AttentionError('INVALID_OPTION', 'routedAttention needs options with paths and a router, got undefined');
  const options = readOptions<RoutedOptions>(raw, ROUTED_KEYS, 'options', 'rt.routedAttention');
  const arena = kernels.arena;
  const over = options.over ?? 'paths';
  if (over !== 'paths' && over !== 'heads') throw new AttentionError('INVALID_OPTION', `options.over must be 'paths' or 'heads', got ${formatValue(over)}`);
  // Validate the shapes (and `out` against the mixture's shape, checked below) through prepare.
  const p = prepare(kernels, qIn, kIn, vIn, { scale: options.scale, out: undefined, layout: options.layout }, 'routedAttention');
  const layout = p.layout;
  const { batch: B, qHeads: H, nq, dh, dv } = p.dims;
  const pathsIn = options.paths;
  if (!Array.isArray(pathsIn) || pathsIn.length === 0) {
    throw new AttentionError('INVALID_OPTION', `options.paths must be a non-empty array of attention paths ({ type: 'full' | 'window' | … }), got ${Array.isArray(pathsIn) ? '[]' : String(pathsIn)}`);
  }
  const paths = Array.from(pathsIn as unknown[], (path, i) => readPath(path, i));
  if (over === 'heads' && paths.length !== 1) {
    throw new AttentionError('INVALID_OPTION', `options.paths must hold exactly one path when routing over heads (options.over = 'heads'), got ${paths.length}`);
  }
  const P = over === 'heads' ? H : paths.length;
  const outHeads = over === 'heads' ? 1 : H;
  const outShape = shapeIn(layout, B, outHeads, nq, dv);
  const out = options.out === undefined ? undefined : viewOut(options.out, 'options.out', outShape, arena);
  const returnRoutes = booleanOption(options.returnRoutes, 'options.returnRoutes', false);

  // Routes: explicit, or a router (W_r, bias, input) validated here.
  let routesView: TensorView<Float32Array> | undefined;
  let routeHeads = 1; // heads dimension of π (H: per-head router on the queries)
  let wView: TensorView<Float32Array> | undefined;
  let bView: TensorView<Float32Array> | undefined;
  let xView: TensorView<Float32Array> | undefined;
  let wPerHead = false;
  let inDim = 0;
  if (options.routes !== undefined) {
    if (options.router !== undefined) throw new AttentionError('INVALID_OPTION', 'options.routes and options.router exclude each other: give one, got both');
    routesView = viewTensor(options.routes, 'options.routes', F32, arena);
    const s = routesView.shape;
    const ok = s.length === 4 && s[0] === B && (s[1] === 1 || (over === 'paths' && s[1] === H)) && s[2] === nq && s[3] === P;
    if (!ok) {
      throw new AttentionError('SHAPE_MISMATCH', `options.routes must have shape [${B}, ${over === 'paths' ? `${H} or 1` : '1'}, ${nq}, ${P}] (batch, heads, n, ${over === 'paths' ? 'paths' : 'heads'}), got ${formatShape(s)}`);
    }
    routeHeads = s[1];
    const data = viewData(routesView);
    for (let i = 0; i < data.length; i++) {
      if (!(data[i] >= 0) || !Number.isFinite(data[i])) {
        throw new AttentionError('INVALID_OPTION', `options.routes must hold finite weights ≥ 0, got ${data[i]} at index ${i}`);
      }
    }
  } else {
    if (typeof options.router !== 'object' || options.router === null || Array.isArray(options.router)) {
      throw new AttentionError('INVALID_OPTION', `options.router must be { weights, bias?, input? } (or give options.routes), got ${String(options.router)}`);
    }
    const r = readOptions<Router>(options.router, ROUTER_KEYS, 'options.router', 'rt.routedAttention');
    wView = viewTensor(r.weights, 'options.router.weights', F32, arena);
    const ws = wView.shape;
    if (r.input !== undefined) {
      xView = viewTensor(r.input, 'options.router.input', F32, arena);
      const xs = xView.shape;
      if (xs.length !== 3 || xs[0] !== B || xs[1] !== nq) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.input must have shape [batch, n, inputDim] = [${B}, ${nq}, inputDim], got ${formatShape(xs)}`);
      }
      inDim = xs[2];
      if (ws.length !== 2 || ws[0] !== inDim || ws[1] !== P) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.weights (W_r) must have shape [inputDim, ${over === 'paths' ? 'paths' : 'heads'}] = [${inDim}, ${P}], got ${formatShape(ws)}`);
      }
    } else if (over === 'heads') {
      inDim = H * dh;
      if (ws.length !== 2 || ws[0] !== inDim || ws[1] !== P) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.weights (W_r) must have shape [heads·headDim, heads] = [${inDim}, ${P}] to route each token's concatenated query heads over the heads, got ${formatShape(ws)}`);
      }
    } else {
      inDim = dh;
      routeHeads = H;
      wPerHead = ws.length === 3;
      const ok = (ws.length === 2 && ws[0] === dh && ws[1] === P) || (ws.length === 3 && ws[0] === H && ws[1] === dh && ws[2] === P);
      if (!ok) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.weights (W_r) must have shape [headDim, paths] = [${dh}, ${P}] or [heads, headDim, paths] = [${H}, ${dh}, ${P}], got ${formatShape(ws)}`);
      }
    }
    const wData = viewData(wView);
    for (let i = 0; i < wData.length; i++) {
      if (!Number.isFinite(wData[i])) throw new AttentionError('INVALID_OPTION', `options.router.weights must hold finite values, got ${wData[i]} at index ${i}`);
    }
    if (r.bias !== undefined) {
      bView = viewTensor(r.bias, 'options.router.bias', F32, arena);
      const bs = bView.shape;
      const ok = (bs.length === 1 && bs[0] === P) || (wPerHead && bs.length === 2 && bs[0] === H && bs[1] === P);
      if (!ok) {
        throw new AttentionError('SHAPE_MISMATCH', `options.router.bias must have shape [${P}]${wPerHead ? ` or [${H}, ${P}]` : ''}, got ${formatShape(bs)}`);
      }
      const bData = viewData(bView);
      const rows = bs.length === 2 ? H : 1;
      for (let r0 = 0; r0 < rows; r0++) {
        let any = false;
        for (let c = 0; c < P; c++) {
          const x = bData[r0 * P + c];
          if (Number.isNaN(x) || x === Infinity) throw new AttentionError('INVALID_OPTION', `options.router.bias must hold finite values or −∞, got ${x} at index ${r0 * P + c}`);
          if (x !== -Infinity) any = true;
        }
        if (!any) throw new AttentionError('INVALID_OPTION', `options.router.bias${rows > 1 ? `[${r0}]` : ''} must leave at least one route open (not all −∞)`);
      }
    }
  }

  assertPreparedLive(kernels, p, options.out, {
    'options.routes': routesView?.resident, 'options.router.weights': wView?.resident, 'options.router.bias': bView?.resident,
    'options.router.input': xView?.resident, ...pathTensors(paths),
  });
  const routesEmpty = !returnRoutes || B * routeHeads * nq * P === 0;
  if (B * outHeads * nq * dv === 0 && routesEmpty) {
    // Nothing to compute: no path runs and no router product is taken per (batch, head).
    const output = out?.result ?? { data: new Float32Array(0), shape: outShape };
    return returnRoutes ? { output, routes: { data: new Float32Array(0), shape: [B, routeHeads, nq, P] } } : output;
  }
  const scope = new Scope(arena);
  try {
    const qp = scope.place(p.q);
    const kp = scope.place(p.k!);
    const vp = scope.place(p.v);
    const op = outputBlock(scope, out, B * outHeads * nq * dv, 'output', [p.q, p.k, p.v, routesView, wView, bView, xView]);
    const Lq = headLayoutOf(p, qp, H, nq, dh); // the router reads the query heads through their row stride
    // π: [B, routeHeads, nq, P] in the arena.
    const pi = scope.alloc(B * routeHeads * nq * P, 'routes');
    if (routesView) {
      arena.f32(pi, B * routeHeads * nq * P).set(viewData(routesView));
    } else {
      gemmKernels(kernels).reserve(P, inDim);
      const wp = scope.place(wView!);
      const bp = bView ? scope.place(bView) : 0;
      const bRow = bView && bView.shape.length === 2 ? P : 0;
      if (xView) {
        const xp = scope.place(xView);
        gemmKernels(kernels).run({ a: xp, lda: inDim, b: wp, ldb: P, c: pi, ldc: P, bias: bp, m: B * nq, n: P, k: inDim, transB: false, accumulate: false });
      } else if (over === 'heads') {
        // x_i = concatenated query heads: row i of head h (q[b, h, i, :] in bhsd), i.e. column block h of W_r.
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            gemmKernels(kernels).run({
              a: headAt(Lq, b, h), lda: Lq.rowStride, b: f32At(wp, h * dh * P), ldb: P, c: f32At(pi, b * nq * P), ldc: P,
              bias: h === 0 ? bp : 0, m: nq, n: P, k: dh, transB: false, accumulate: h > 0,
            });
          }
        }
      } else {
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            gemmKernels(kernels).run({
              a: headAt(Lq, b, h), lda: Lq.rowStride, b: wp + (wPerHead ? f32Bytes(h * dh * P) : 0), ldb: P,
              c: f32At(pi, (b * H + h) * nq * P), ldc: P, bias: bp ? f32At(bp, h * bRow) : 0, m: nq, n: P, k: dh, transB: false, accumulate: false,
            });
          }
        }
      }
      softmaxKernels(kernels).rows({ x: pi, rows: B * routeHeads * nq, cols: P, stride: P });
    }
    const size = B * outHeads * nq * dv;
    if (dv > 0 && nq > 0) {
      const qT = p.q.resident ?? new WasmTensor(arena, p.q.shape, qp);
      const kT = p.k!.resident ?? new WasmTensor(arena, p.k!.shape, kp);
      const vT = p.v.resident ?? new WasmTensor(arena, p.v.shape, vp);
      const pathOut = scope.alloc(B * H * nq * dv, 'path output');
      const oT = new WasmTensor(arena, shapeIn(layout, B, H, nq, dv), pathOut);
      // The path's output and the mixture, in the call's layout.
      const [Lp, Lo] = [layoutOf(layout, pathOut, H, nq, dv), layoutOf(layout, op, outHeads, nq, dv)];
      arena.f32(op, size).fill(0);
      // Units: (path, batch, head); a path's own loop reports within its B·H units.
      const pathUnits = B * H;
      const tick = observeUnits((over === 'heads' ? 1 : P) * pathUnits);
      if (over === 'heads') {
        tick?.(0, pathUnits);
        runPath(kernels, paths[0], 0, qT, kT, vT, oT, p.scale, layout);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            rowKernels(kernels).axpy({ dst: headAt(Lo, b, 0), dstStride: Lo.rowStride, src: headAt(Lp, b, h), srcStride: Lp.rowStride, idx: 0, w: f32At(pi, (b * nq * P + h)), wStride: P, c: 1, n: nq, d: dv });
          }
        }
      } else {
        for (let path = 0; path < P; path++) {
          const w0 = arena.f32(pi, B * routeHeads * nq * P);
          let used = false;
          for (let r = path; r < w0.length; r += P) {
            if (w0[r] !== 0) {
              used = true;
              break;
            }
          }
          if (!used) continue;
          tick?.(path * pathUnits, pathUnits);
          runPath(kernels, paths[path], path, qT, kT, vT, oT, p.scale, layout);
          for (let b = 0; b < B; b++) {
            for (let h = 0; h < H; h++) {
              const wh = routeHeads === 1 ? 0 : h;
              rowKernels(kernels).axpy({ dst: headAt(Lo, b, h), dstStride: Lo.rowStride, src: headAt(Lp, b, h), srcStride: Lp.rowStride, idx: 0, w: f32At(pi, ((b * routeHeads + wh) * nq * P + path)), wStride: P, c: 1, n: nq, d: dv });
            }
          }
        }
      }
    }
    const output = writeOut(arena, out, op, outShape);
    if (!returnRoutes) return output;
    return { output, routes: { data: arena.f32(pi, B * routeHeads * nq * P).slice(), shape: [B, routeHeads, nq, P] } };
  } finally {
    scope.close();
  }
}
