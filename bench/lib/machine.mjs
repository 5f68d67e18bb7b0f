// machine.mjs — what the results were measured on.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { ROOT } from './util.mjs';

const VECTOR = /^(sse\d|sse4_[12]|ssse3|avx|fma|f16c|amx|neon|asimd|sve)/;

function cpuinfo() {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name) => text.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
    // x86 'flags', Arm 'Features'. The vector extensions are what native engines (onnxruntime-node)
    // can use and 128-bit Wasm SIMD cannot: AVX2, AVX-512 (avx512f, avx512bw, avx512_vnni, …), VNNI.
    const flags = [...new Set((field('flags') ?? field('Features') ?? '').split(/\s+/).filter(Boolean))];
    return { model: field('model name'), simdFlags: flags.filter((f) => VECTOR.test(f)) };
  } catch {
    return {};
  }
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function machineInfo() {
  const info = cpuinfo();
  const cpus = os.cpus();
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'src', 'assembly', 'scripts']);
  return {
    cpu: info.model ?? cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    simdFlags: info.simdFlags ?? [],
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
    commit: commit ? `${commit}${dirty ? ' + uncommitted changes in src/, assembly/ or scripts/' : ''}` : undefined,
  };
}
