// ablation.mjs — kernel binaries with parts of the fused attention switched off, for the profile
// (bench/profile.mjs). Each variant copies assembly/ and asconfig.json into a cache directory,
// applies its edits (each must match the source exactly once, so a changed kernel fails loudly
// instead of profiling the wrong thing) and compiles the relaxed target with asc.
//
// The variants are cumulative, so differences between neighbours time one part of the kernel:
//   shipped     the kernel as released
//   no-exp      exp(s − m) replaced by s − m (the pass still loads, subtracts, stores and sums)
//   gemm-only   the whole per-row softmax step skipped: S = Q·Kᵀ and Acc += P·V only
//   qk-only     P·V skipped too
//   outside     Q·Kᵀ skipped too: what is left is packing K and V, scaling Q, the key-tile walk,
//               writing the output and the per-call overhead of the library
//   stream      the shipped kernel plus an export that only reads memory (the read ceiling)
// Outputs of the ablated variants are meaningless; only their times are used.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './util.mjs';

const CACHE = path.join(ROOT, 'node_modules', '.cache', 'wasm-attention-profile');

/**
 * One exact edit of a kernel file: `find` (string or RegExp) → `replace` in assembly/`file` (the
 * softmax and P·V steps are in attention-tile.ts, the Q·Kᵀ panel walk in attention.ts).
 */
const TILE = 'attention-tile.ts';
const NO_EXP = [
  { file: TILE, find: 'const e0 = exp_nonpos_f32x4(f32x4.sub(v128.load(p), mv));', replace: 'const e0 = f32x4.sub(v128.load(p), mv);' },
  { file: TILE, find: 'const e1 = exp_nonpos_f32x4(f32x4.sub(v128.load(p, 16), mv));', replace: 'const e1 = f32x4.sub(v128.load(p, 16), mv);' },
  { file: TILE, find: 'const e = exp_nonpos_f32x4(f32x4.sub(v128.load(p), mv));', replace: 'const e = f32x4.sub(v128.load(p), mv);' },
];
const NO_ROWS = [
  { file: TILE, find: /for \(let r = 0; r < 4; r\+\+\) \{(\s+const i = i0 \+ min\(r, rows - 1\);\s+const sRow = st)/, replace: 'for (let r = 0; r < 0; r++) {$1' },
];
const NO_PV = [
  { file: TILE, find: /for \(let x = 0; x < dvp; x \+= 8\) \{(\s+if \(vNonFinite\))/, replace: 'for (let x = 0; x < 0; x += 8) {$1' },
];
const NO_QK = [
  { file: 'attention.ts', find: /for \(let pn = 0; pn < panels; pn\+\+\) \{(\s+const panel = kp)/, replace: 'for (let pn = 0; pn < 0; pn++) {$1' },
];

// Sums `bytes` bytes from `p` with four independent f32x4 chains: a pure read, no stores.
const STREAM_EXPORT = `
export function profile_stream_read(p: usize, bytes: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  const end = p + <usize>bytes;
  for (; p < end; p += 64) {
    a0 = f32x4.add(a0, v128.load(p));
    a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p, 32));
    a3 = f32x4.add(a3, v128.load(p, 48));
  }
  return f32x4.extract_lane(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), 0);
}
/** Grows memory by enough pages for \`bytes\` and returns the new region's address. */
export function profile_alloc(bytes: i32): usize {
  const old = memory.grow((bytes + 0xffff) >>> 16);
  return <usize>old << 16;
}
`;

export const VARIANTS = {
  shipped: { attention: [] },
  'no-exp': { attention: NO_EXP },
  'gemm-only': { attention: [...NO_EXP, ...NO_ROWS] },
  'qk-only': { attention: [...NO_EXP, ...NO_ROWS, ...NO_PV] },
  outside: { attention: [...NO_EXP, ...NO_ROWS, ...NO_PV, ...NO_QK] },
  stream: { attention: [], index: STREAM_EXPORT },
};

function applyEdits(text, edits, file) {
  for (const { find, replace } of edits) {
    const hits = typeof find === 'string' ? text.split(find).length - 1 : (text.match(new RegExp(find.source, 'g')) ?? []).length;
    if (hits !== 1) throw new Error(`profile: edit ${String(find)} matches ${hits} times in ${file} (expected exactly once); update bench/lib/ablation.mjs to the kernel's source`);
    text = text.replace(find, replace);
  }
  return text;
}

/** Builds one variant's relaxed binary and returns its bytes. */
export function buildVariant(name) {
  const spec = VARIANTS[name];
  if (!spec) throw new Error(`profile: unknown variant ${name}`);
  const dir = path.join(CACHE, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(ROOT, 'assembly'), path.join(dir, 'assembly'), { recursive: true });
  cpSync(path.join(ROOT, 'asconfig.json'), path.join(dir, 'asconfig.json'));
  for (const file of new Set(spec.attention.map((edit) => edit.file))) {
    const at = path.join(dir, 'assembly', file);
    writeFileSync(at, applyEdits(readFileSync(at, 'utf8'), spec.attention.filter((edit) => edit.file === file), `assembly/${file}`));
  }
  if (spec.index) {
    const index = path.join(dir, 'assembly', 'index.ts');
    writeFileSync(index, readFileSync(index, 'utf8') + spec.index);
  }
  const asc = path.join(ROOT, 'node_modules', '.bin', 'asc');
  execFileSync(asc, ['assembly/index.ts', '--target', 'relaxed'], { cwd: dir, stdio: 'inherit' });
  return readFileSync(path.join(dir, 'build', 'relaxed.wasm'));
}
