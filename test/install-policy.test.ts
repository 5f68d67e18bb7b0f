// Installing the repository prints no warning and fetches nothing beyond the registry's packages.
// - package.json's `allowScripts` (npm's install-script policy) names every dependency that has an
//   install script, approved or denied, so `npm ci` neither skips one silently nor lists it as
//   unreviewed. onnxruntime-node is denied: its script would download CUDA libraries (its CPU binary
//   ships inside the package), and the CPU binary is all the benchmarks and the oracle use.
// - No project `.npmrc` carries keys npm does not know (each printed "Unknown project config" on
//   every npm command); `npm` run in the repository warns about no config at all.
// A failure names the package or the warning.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  allowScripts?: Record<string, boolean>;
  devEngines?: { packageManager?: { name: string; version?: string } };
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; name?: string }>;
};

/** Package names with an install script in the lock file (the tree `npm ci` installs). */
function packagesWithInstallScripts(): string[] {
  const names = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || !entry.hasInstallScript) continue;
    names.add(entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  }
  return [...names].sort();
}

describe('installing the repository', () => {
  it('every dependency with an install script is approved or denied in allowScripts', () => {
    const policy = pkg.allowScripts ?? {};
    const withScripts = packagesWithInstallScripts();
    expect(withScripts.length, 'the lock file lists packages with install scripts').toBeGreaterThan(0);
    const uncovered = withScripts.filter((name) => !Object.hasOwn(policy, name));
    expect(uncovered, `install scripts not covered by package.json allowScripts: ${uncovered.join(', ')}`).toEqual([]);
    const stale = Object.keys(policy).filter((name) => !withScripts.includes(name));
    expect(stale, `allowScripts entries with no install script in the lock file: ${stale.join(', ')}`).toEqual([]);
  });

  it("onnxruntime-node's download is denied, and the npm that reads the policy is required", () => {
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
    expect(pkg.devEngines?.packageManager?.name).toBe('npm');
    const [major, minor] = (pkg.devEngines?.packageManager?.version ?? '').replace(/^>=/, '').split('.').map(Number);
    expect(major! * 1000 + minor!, 'devEngines asks for an npm that knows allowScripts (11.19 or later)').toBeGreaterThanOrEqual(11019);
  });

  it('npm prints no config warning in the repository', () => {
    expect(existsSync(join(root, '.npmrc')) ? readFileSync(join(root, '.npmrc'), 'utf8') : '').not.toMatch(/onnxruntime/);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    // The npm on the machine, not node_modules/.bin/npm (an npm 6 that as-pect's glob-promise pulls in).
    const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.includes('node_modules')).join(delimiter);
    // Without the npm_config_* variables of the npm (or npm 6) that started this run: only the
    // repository's and the user's config are read, as when someone types a command.
    const env: NodeJS.ProcessEnv = { PATH: path, npm_config_loglevel: 'warn' };
    for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key) && key !== 'PATH') env[key] = value;
    const r = spawnSync(npm, ['pkg', 'get', 'name'], { cwd: root, encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Unknown (?:project|user|env) config|npm warn/i);
    expect(JSON.parse(r.stdout)).toBe('wasm-attention');
  });
});
