// registry.mjs — file-based registry. Every bench/workloads/*.mjs default-exports one workload
// (or an array of them); every bench/engines/*.mjs that exports `engines` (an array, or a function
// of { threads, quick } returning one) contributes engines. Helper modules without the export are
// ignored, so adding a workload or an engine is adding a file.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './util.mjs';

const BENCH = path.join(ROOT, 'bench');

async function importAll(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort();
  return Promise.all(files.map(async (f) => ({ file: f, mod: await import(pathToFileURL(path.join(dir, f)).href) })));
}

export async function loadWorkloads() {
  const list = [];
  for (const { file, mod } of await importAll(path.join(BENCH, 'workloads'))) {
    if (!mod.default) continue;
    for (const w of [mod.default].flat()) list.push({ order: 500, ...w, file });
  }
  const ids = new Set();
  for (const w of list) {
    if (ids.has(w.id)) throw new Error(`duplicate workload id ${w.id} (${w.file})`);
    ids.add(w.id);
  }
  return list.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}

// Engine families in display order (unknown families go last, alphabetically).
const FAMILY_ORDER = ['wasm-attention', 'onnxruntime-web', 'tfjs-wasm', 'onnxruntime-node', 'plain-js'];

export async function loadEngines(ctx) {
  const list = [];
  for (const { mod } of await importAll(path.join(BENCH, 'engines'))) {
    if (!mod.engines) continue;
    list.push(...(typeof mod.engines === 'function' ? mod.engines(ctx) : mod.engines));
  }
  const rank = (e) => {
    const i = FAMILY_ORDER.indexOf(e.family);
    return i < 0 ? FAMILY_ORDER.length : i;
  };
  return list.sort((a, b) => rank(a) - rank(b) || a.family.localeCompare(b.family) || (a.threads ?? 1) - (b.threads ?? 1) || a.id.localeCompare(b.id));
}

/**
 * Comma-separated filter: a token selects items whose id equals it (case-insensitive); if none
 * does, items whose id starts with it or whose family equals it, else whose id contains it.
 */
export function applyFilter(items, spec, what) {
  if (!spec) return items;
  const out = new Set();
  for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const t = raw.toLowerCase();
    const tiers = [
      (x) => x.id.toLowerCase() === t,
      (x) => x.id.toLowerCase().startsWith(t) || x.family?.toLowerCase() === t,
      (x) => x.id.toLowerCase().includes(t) || (x.short ?? '').toLowerCase() === t,
    ];
    const hit = tiers.map((f) => items.filter(f)).find((l) => l.length);
    if (!hit) throw new Error(`--${what}: "${raw}" matches nothing; known: ${items.map((x) => x.id).join(', ')}`);
    hit.forEach((x) => out.add(x));
  }
  return items.filter((x) => out.has(x));
}
