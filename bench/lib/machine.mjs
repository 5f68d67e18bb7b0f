// machine.mjs — what the results were measured on.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { ROOT } from './util.mjs';

function cpuinfo() {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name) => text.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
    const flags = new Set((field('flags') ?? '').split(/\s+/));
    return {
      model: field('model name'),
      simdFlags: ['sse4_1', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'neon', 'asimd'].filter((f) => flags.has(f)),
    };
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
