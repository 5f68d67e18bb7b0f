// Emits the declaration files: tsc writes dist/types/**/*.d.ts from src/, then this script
//  - gives every relative import an explicit `.js` (or `/index.js`) extension, as Node's ESM
//    resolution (TypeScript `moduleResolution: node16/nodenext`) requires, and
//  - writes a `.d.cts` twin of every file (imports ending `.cjs`) for the CommonJS entry, since
//    the package is `"type": "module"` and a `.d.ts` there describes an ES module.
// @arethetypeswrong/cli (npm run test:package) checks the result under every resolution mode.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'types');
rmSync(out, { recursive: true, force: true });
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.d.ts') ? [p] : [];
  });
}

/** `./x` → `./x.js` (a file) or `./x/index.js` (a folder), by what tsc emitted. */
function withExtension(file, spec) {
  if (!spec.startsWith('.') || /\.(c|m)?js$/.test(spec)) return spec;
  const base = resolve(dirname(file), spec);
  if (existsSync(`${base}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${spec}/index.js`;
  throw new Error(`${file}: cannot resolve the import '${spec}'`);
}

const specifier = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g;
let files = 0;
for (const file of walk(out)) {
  const esm = readFileSync(file, 'utf8').replace(specifier, (_m, lead, q, spec) => `${lead}${q}${withExtension(file, spec)}${q}`);
  writeFileSync(file, esm);
  const cjs = esm.replace(specifier, (m, lead, q, spec) => (spec.startsWith('.') ? `${lead}${q}${spec.replace(/\.js$/, '.cjs')}${q}` : m));
  writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), cjs);
  files++;
}
// Projects whose lib lacks what the declarations name — ES2022 without esnext.disposable
// (Symbol.dispose), or no DOM lib (the WebAssembly namespace; older @types/node has none) — get
// minimal global declarations that merge with the real ones where those exist (@types/node
// declares SymbolConstructor.dispose the same way). Both entries reference the file.
const globals = `// Global names the declarations use, for projects whose lib lacks them (merged with the real
// declarations where present).
interface SymbolConstructor {
  readonly dispose: unique symbol;
}
declare namespace WebAssembly {
  interface Module {}
  interface Memory {}
}
`;
writeFileSync(join(out, 'globals.d.ts'), globals);
writeFileSync(join(out, 'globals.d.cts'), globals);
for (const entry of ['index', 'core']) {
  for (const ext of ['d.ts', 'd.cts']) {
    const file = join(out, `${entry}.${ext}`);
    writeFileSync(file, `/// <reference path="./globals.${ext}" />\n${readFileSync(file, 'utf8')}`);
  }
}
console.log(`types: ${files} declaration files in dist/types (.d.ts and .d.cts), and globals.d.ts`);
