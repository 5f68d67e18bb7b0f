// tiny-llama.mjs — shared pieces of the LM-* workloads (bench/workloads/tiny-llama.mjs): llama2.c's
// stories260K checkpoint and greedy ids (test/fixtures/stories260K), the model of
// examples/tiny-llama compiled from TypeScript in memory with esbuild, a plain-JavaScript
// transcription of llama2.c's run.c forward pass, and a driver for a user-provided run.c.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, Skip } from './util.mjs';

export const FIXTURE_DIR = path.join(ROOT, 'test', 'fixtures', 'stories260K');
export const CHECKPOINT = path.join(FIXTURE_DIR, 'stories260K.bin');
export const BOS = 1;

let greedy;
/** The 256 ids llama2.c's run.c generates greedily from BOS. */
export function greedyTokens() {
  return (greedy ??= readFileSync(path.join(FIXTURE_DIR, 'greedy-tokens.txt'), 'utf8').trim().split(/\s+/).map(Number));
}

/** The 64-token prefill prompt: BOS and the first 63 greedy ids (its next token is greedy[63]). */
export const prefillPrompt = () => [BOS, ...greedyTokens().slice(0, 63)];

let modelModule;
/**
 * examples/tiny-llama/{model,loader}.ts (and examples/llama's LlamaModel, for the weight and
 * KV-cache formats) as one ES module, bundled in memory by esbuild and
 * imported from a data: URL (the model imports only types from the package; no file is written).
 */
export async function loadModelModule() {
  if (!modelModule) {
    const { build } = await import('esbuild');
    const out = await build({
      stdin: { contents: "export * from './model.ts'; export * from './loader.ts'; export { LlamaModel } from '../llama/model.ts'; export { weightsFromCheckpoint } from '../llama/weights.ts';", resolveDir: path.join(ROOT, 'examples', 'tiny-llama'), loader: 'ts', sourcefile: 'tiny-llama.ts' },
      bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', write: false, logLevel: 'warning',
    });
    modelModule = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
  }
  return modelModule;
}

let parsed;
export async function checkpoint() {
  const { parseLlama2cCheckpoint } = await loadModelModule();
  return (parsed ??= parseLlama2cCheckpoint(readFileSync(CHECKPOINT), { name: 'stories260K.bin' }));
}

// ── plain JavaScript: run.c's forward pass, loop for loop, on Float32Arrays ──────────────────────

/** A plain-JavaScript llama2.c model (run.c's `forward` transcribed; float32 storage, float64 arithmetic). */
export function plainLlama(ck) {
  const c = ck.config;
  const { dim, hiddenDim: hidden, headSize: hs, kvDim, nHeads, nKvHeads, seqLen, vocabSize } = c;
  const keys = ck.layers.map(() => new Float32Array(seqLen * kvDim));
  const values = ck.layers.map(() => new Float32Array(seqLen * kvDim));
  const x = new Float32Array(dim), xb = new Float32Array(dim), xb2 = new Float32Array(dim);
  const q = new Float32Array(dim), k = new Float32Array(kvDim), v = new Float32Array(kvDim);
  const hb = new Float32Array(hidden), hb2 = new Float32Array(hidden), att = new Float32Array(seqLen);
  const logits = new Float32Array(vocabSize);
  const rmsnorm = (o, xs, w) => {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += xs[j] * xs[j];
    const s = 1 / Math.sqrt(ss / dim + 1e-5);
    for (let j = 0; j < dim; j++) o[j] = w[j] * (s * xs[j]);
  };
  const matmul = (o, xs, w, n, d) => {
    for (let i = 0; i < d; i++) {
      let val = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) val += w[row + j] * xs[j];
      o[i] = val;
    }
  };
  const kvMul = nHeads / nKvHeads;
  return {
    forward(token, pos) {
      x.set(ck.tokenEmbedding.subarray(token * dim, (token + 1) * dim));
      for (let l = 0; l < c.nLayers; l++) {
        const w = ck.layers[l];
        rmsnorm(xb, x, w.rmsAtt);
        matmul(q, xb, w.wq, dim, dim);
        matmul(k, xb, w.wk, dim, kvDim);
        matmul(v, xb, w.wv, dim, kvDim);
        for (let i = 0; i < dim; i += 2) {
          const val = pos * Math.pow(10000, -(i % hs) / hs);
          const fcr = Math.cos(val);
          const fci = Math.sin(val);
          const rotn = i < kvDim ? 2 : 1; // q and k, or q only
          for (let r = 0; r < rotn; r++) {
            const vec = r === 0 ? q : k;
            const v0 = vec[i];
            const v1 = vec[i + 1];
            vec[i] = v0 * fcr - v1 * fci;
            vec[i + 1] = v0 * fci + v1 * fcr;
          }
        }
        keys[l].set(k, pos * kvDim);
        values[l].set(v, pos * kvDim);
        const kc = keys[l];
        const vc = values[l];
        for (let h = 0; h < nHeads; h++) {
          const qo = h * hs;
          const ko = Math.floor(h / kvMul) * hs;
          let max = -Infinity;
          for (let t = 0; t <= pos; t++) {
            let s = 0;
            for (let i = 0; i < hs; i++) s += q[qo + i] * kc[t * kvDim + ko + i];
            att[t] = s / Math.sqrt(hs);
            if (att[t] > max) max = att[t];
          }
          let sum = 0;
          for (let t = 0; t <= pos; t++) sum += (att[t] = Math.exp(att[t] - max));
          for (let i = 0; i < hs; i++) xb[qo + i] = 0;
          for (let t = 0; t <= pos; t++) {
            const a = att[t] / sum;
            for (let i = 0; i < hs; i++) xb[qo + i] += a * vc[t * kvDim + ko + i];
          }
        }
        matmul(xb2, xb, w.wo, dim, dim);
        for (let i = 0; i < dim; i++) x[i] += xb2[i];
        rmsnorm(xb, x, w.rmsFfn);
        matmul(hb, xb, w.w1, dim, hidden);
        matmul(hb2, xb, w.w3, dim, hidden);
        for (let i = 0; i < hidden; i++) hb[i] = (hb[i] / (1 + Math.exp(-hb[i]))) * hb2[i];
        matmul(xb, hb, w.w2, hidden, dim);
        for (let i = 0; i < dim; i++) x[i] += xb[i];
      }
      rmsnorm(x, x, ck.rmsFinal);
      matmul(logits, x, ck.classifier, dim, vocabSize);
      return logits;
    },
  };
}

// ── llama2.c's run.c, built from a copy the user provides ────────────────────────────────────

export const RUN_C_HELP =
  'set LLAMA2C_RUN_C=/path/to/llama2.c/run.c (a copy of https://github.com/karpathy/llama2.c; the bench builds it with `gcc -O3 -o run run.c -lm` and runs it on stories260K.bin)';

let runC;
/**
 * Builds $LLAMA2C_RUN_C once per process with gcc -O3 and writes the tokenizer run.c insists on
 * (it exits with "couldn't load tokenizer.bin" without one). $LLAMA2C_TOKENIZER may name the real
 * tok512.bin of stories260K; otherwise a stand-in vocabulary is written: 512 pieces "[id]" (id 0,
 * <unk>, is " ", the dummy prefix run.c's encoder looks up), so run.c prints the ids it generates
 * and the bench checks them against greedy-tokens.txt. Pieces only change printing and prompt
 * encoding, never the forward pass. Throws Skip without a run.c or a compiler.
 */
export function llama2c() {
  if (runC) return runC;
  const source = process.env.LLAMA2C_RUN_C;
  if (!source) throw new Skip(`not measured: no run.c provided — ${RUN_C_HELP}`);
  if (!existsSync(source)) throw new Skip(`not measured: LLAMA2C_RUN_C=${source} does not exist`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llama2c-'));
  const binary = path.join(dir, 'run');
  const cc = process.env.CC || 'gcc';
  const args = ['-O3', '-o', binary, source, '-lm'];
  const made = spawnSync(cc, args, { encoding: 'utf8', timeout: 120_000 });
  if (made.error || made.status !== 0) {
    throw new Skip(`not measured: \`${cc} ${args.join(' ')}\` failed: ${(made.error?.message ?? made.stderr).trim().split('\n').slice(-2).join(' ')}`);
  }
  const ccVersion = spawnSync(cc, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? cc;
  let tokenizer = process.env.LLAMA2C_TOKENIZER;
  const idTokenizer = !tokenizer;
  if (idTokenizer) {
    tokenizer = path.join(dir, 'tokenizer-ids.bin');
    const pieces = Array.from({ length: 512 }, (_, i) => Buffer.from(i === 0 ? ' ' : `[${i}]`));
    const parts = [Buffer.from(new Int32Array([Math.max(...pieces.map((p) => p.length))]).buffer)];
    for (const p of pieces) parts.push(Buffer.from(new Float32Array([0]).buffer), Buffer.from(new Int32Array([p.length]).buffer), p);
    writeFileSync(tokenizer, Buffer.concat(parts));
  }
  // Results name the source by its hash, never by a path of this machine.
  const sourceHash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  runC = { binary, tokenizer, idTokenizer, source: `$LLAMA2C_RUN_C, sha256 ${sourceHash}…`, compile: `${cc} -O3 -o run run.c -lm`, ccVersion };
  return runC;
}

/**
 * Runs the built run.c `runs` times with `extra` arguments (greedy: -t 0). Returns the aggregate
 * tokens/s — run.c's own timer (milliseconds, from after its first forward call to the end;
 * "achieved tok/s: X" over pos − 1 tokens) summed over runs: Σ tokens / Σ time, which stays
 * unbiased where one run lasts only a few milliseconds — and the first run's stdout.
 */
export function timeRunC(extra, tokens, runs) {
  const r = llama2c();
  let totalMs = 0;
  let first;
  const rates = [];
  for (let i = 0; i < runs; i++) {
    const p = spawnSync(r.binary, [CHECKPOINT, '-z', r.tokenizer, '-t', '0', ...extra], { encoding: 'utf8', timeout: 60_000 });
    if (p.error || p.status !== 0) throw new Error(`run.c failed: ${(p.error?.message ?? p.stderr).trim().split('\n').slice(-2).join(' ')}`);
    const m = /achieved tok\/s: ([\d.]+|inf)/.exec(p.stderr);
    if (!m) throw new Error(`run.c printed no "achieved tok/s" line: ${p.stderr.trim().slice(0, 200)}`);
    const rate = m[1] === 'inf' ? Infinity : Number(m[1]);
    rates.push(rate);
    totalMs += (1000 * tokens) / rate; // 0 when run.c measured 0 ms (inf)
    first ??= p.stdout;
  }
  return { value: (tokens * runs) / (totalMs / 1000), rates, stdout: first };
}

/** The ids in run.c's output with the stand-in tokenizer ("[461][461]…"). */
export const idsFromRunC = (stdout) => [...stdout.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
