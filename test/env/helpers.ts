// Shared by the environment tests: install the package as a user gets it (npm pack of the built
// dist/, extracted into a temporary node_modules), run a program with a time limit, find a free
// loopback port, and the expected result of the case in fixtures/case.mjs (float64 reference).

import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceAttention } from '../reference/attention';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const bin = (name: string): string => join(root, 'node_modules', '.bin', name);

/**
 * The npm installed with node (npm-cli.js beside the node binary), else the one npm_execpath
 * names. Not `npm` on PATH, nor npm_execpath first: inside npm scripts PATH starts with
 * node_modules/.bin, where a dev dependency (@as-pect/cli) installs an old npm 6 that lacks
 * `npm pack --pack-destination`, and nested `npm run` commands then run that npm.
 */
export function npmCli(): string {
  const candidates = [
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    process.env.npm_execpath ?? '',
  ];
  const found = candidates.find((p) => /npm-cli\.js$/.test(p) && existsSync(p));
  if (!found) throw new Error('cannot find npm-cli.js beside node (or in npm_execpath)');
  return found;
}

/** A temporary project with the packed package installed as node_modules/wasm-attention. */
export interface Install {
  /** the project folder (fixtures are copied here) */
  dir: string;
  /** node_modules/wasm-attention inside it */
  packageDir: string;
  /** removes the folder */
  cleanup(): void;
}

/**
 * Packs the built package with `npm pack` (so only what "files" ships is there), extracts it into
 * a fresh temporary folder's node_modules and copies the fixtures beside it. Needs `npm run build`.
 */
export function installPackedPackage(): Install {
  if (!existsSync(join(root, 'dist', 'index.js')) || !existsSync(join(root, 'dist', 'workerd.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-env-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const out = execFileSync(process.execPath, [npmCli(), 'pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
    });
    const [{ filename }] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string }>;
    const packageDir = join(dir, 'node_modules', 'wasm-attention');
    mkdirSync(packageDir, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, filename), '-C', packageDir, '--strip-components=1'], { timeout: 30_000 });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({
      name: 'wasm-attention-env-test', private: true, type: 'module', dependencies: { 'wasm-attention': '0.1.0' },
    }, null, 2));
    for (const name of readdirSync(fixtures)) copyFileSync(join(fixtures, name), join(dir, name));
    return { dir, packageDir, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** Output of a finished program. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with a time limit (killed after `timeout` ms); throws on failure. */
export function run(file: string, args: string[], options: { cwd: string; timeout?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, {
      cwd: options.cwd, timeout: options.timeout ?? 60_000, killSignal: 'SIGKILL', encoding: 'utf8',
      env: options.env ?? process.env, maxBuffer: 16 << 20,
    }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** The last line of stdout that parses as a JSON object. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (line.startsWith('{')) return JSON.parse(line) as T;
  }
  throw new Error(`no JSON line in the output:\n${stdout}`);
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Kills a child process and its group if still running; resolves once it has exited. */
export function kill(child: ChildProcess | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// ── the case of fixtures/case.mjs, rebuilt here independently ──

export const CASE_SHAPE = [1, 2, 7, 8];

/** q, k, v of the case: element i of tensor t is float32(sin(0.37·i + 1.3·t)). */
export function caseInputs(): { q: { data: Float32Array; shape: number[] }; k: { data: Float32Array; shape: number[] }; v: { data: Float32Array; shape: number[] } } {
  const size = CASE_SHAPE.reduce((a, b) => a * b, 1);
  const fill = (t: number) => ({ data: Float32Array.from({ length: size }, (_, i) => Math.sin(0.37 * i + 1.3 * t)), shape: CASE_SHAPE });
  return { q: fill(0), k: fill(1), v: fill(2) };
}

/** The case's causal attention in float64. */
export function expectedCase(): Float64Array {
  const { q, k, v } = caseInputs();
  return referenceAttention(q, k, v, { causal: true }).output;
}

/** Largest |got − want|; Infinity when the lengths differ. */
export function maxAbsError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return Number.isNaN(err) ? Infinity : err;
}

/** The fields every environment prints for the case. */
export interface CaseReport {
  env?: string;
  version?: string;
  resolved?: string;
  isa: string;
  threads: number;
  shape: number[];
  output: number[];
  /** fixtures/case.mjs runLowPrecision's report (the full entry's ESM fixture prints it) */
  lowPrecision?: LowPrecisionReport;
}

/** The low-precision outputs of fixtures/case.mjs, as base64 bits per path. */
export interface LowPrecisionReport {
  isa: string;
  outputs: Record<string, string>;
}

/**
 * The low-precision outputs this process (vitest: Node with relaxed SIMD) computes with the built
 * package for binary `isa`: another environment running the same binary must print the same bits.
 * Each output is also checked to be finite and not all zero, so an all-NaN path cannot agree.
 */
export async function expectedLowPrecision(isa: 'simd128' | 'relaxed'): Promise<LowPrecisionReport> {
  const { createRuntime } = await import(join(root, 'dist', 'index.js'));
  const { runLowPrecision } = await import(join(fixtures, 'case.mjs'));
  const report = (await runLowPrecision(createRuntime, { isa })) as LowPrecisionReport;
  for (const [name, b64] of Object.entries(report.outputs)) {
    const bytes = Buffer.from(b64, 'base64');
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (!values.length || !values.every(Number.isFinite) || values.every((x) => x === 0)) {
      throw new Error(`${name} (${isa}): ${values.length} values, not all finite and non-zero`);
    }
  }
  return report;
}

/** Outputs whose arithmetic is integer up to one f32 scaling per element: the same bits everywhere. */
const INTEGER_PATHS = /^(int8|q8_0|q4_0) matmul/;

/**
 * Differences between another environment's low-precision report and this process's for the same
 * binary, [] when they agree: the integer products bit for bit on both binaries (the relaxed dot's
 * result is engine-defined unless one operand keeps to 7 bits: a sign-extended operand would show
 * here); the f32 paths bit for bit in simd128, and in relaxed within 1e-6 (of the output range when
 * above 1; the inputs are unit-scale): f32x4.relaxed_madd may be fused or not (V8 fuses;
 * JavaScriptCore, measured here in Bun, does not).
 */
export function lowPrecisionDifferences(got: LowPrecisionReport | undefined, want: LowPrecisionReport): string[] {
  if (!got) return ['no lowPrecision report'];
  if (got.isa !== want.isa) return [`isa ${got.isa}, expected ${want.isa}`];
  const problems: string[] = [];
  const floats = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64');
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  };
  for (const [name, b64] of Object.entries(want.outputs)) {
    const theirs = got.outputs[name];
    if (theirs === b64) continue;
    if (theirs === undefined) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (INTEGER_PATHS.test(name) || want.isa === 'simd128') {
      problems.push(`${name}: bits differ`);
      continue;
    }
    const [a, b] = [floats(theirs), floats(b64)];
    let range = 0;
    for (const x of b) range = Math.max(range, Math.abs(x));
    const err = maxAbsError(a, b);
    if (!(err <= 1e-6 * Math.max(1, range))) problems.push(`${name}: max difference ${err} (output range ${range})`);
  }
  return problems;
}

/** What fixtures/proxy.mjs prints: the proxy runtime's case, a variant, progress and an abort. */
export interface ProxyReport {
  env: string;
  sharedAbort: boolean;
  shape: number[];
  output: number[];
  progress: [number, number][];
  sameAsInThread: boolean;
  windowSameAsInThread: boolean;
  aborted: { code: string; message?: string };
  againSameAsInThread: boolean;
}

/**
 * What is wrong with a proxy report (empty when nothing): the case computed in the worker matches
 * the float64 reference and, bit for bit, the in-thread runtime (a sliding-window attention too);
 * progress ends at done === total; the long attention aborted at its first progress event rejects
 * ABORTED between heads, before the last (through the shared flag), and the next call still matches.
 */
export function proxyProblems(r: ProxyReport): string[] {
  const problems: string[] = [];
  if (!r.sharedAbort) problems.push('no shared abort flag (SharedArrayBuffer)');
  if (JSON.stringify(r.shape) !== JSON.stringify(CASE_SHAPE)) problems.push(`shape ${JSON.stringify(r.shape)}`);
  if (!(maxAbsError(r.output, expectedCase()) < 1e-6)) problems.push(`case off the reference by ${maxAbsError(r.output, expectedCase())}`);
  if (!r.sameAsInThread) problems.push('attention: not the in-thread bits');
  if (!r.windowSameAsInThread) problems.push('slidingWindowAttention: not the in-thread bits');
  const last = r.progress[r.progress.length - 1];
  if (!last || last[0] !== last[1]) problems.push(`progress ${JSON.stringify(r.progress)} does not end at done === total`);
  const units = /after (\d+) of (\d+) units/.exec(r.aborted.message ?? '');
  if (r.aborted.code !== 'ABORTED') problems.push(`aborted call: code ${r.aborted.code}`);
  else if (!units || !(Number(units[1]) < Number(units[2]))) problems.push(`aborted call not stopped between heads: ${r.aborted.message}`);
  if (!r.againSameAsInThread) problems.push('the call after the abort: not the in-thread bits');
  return problems;
}
