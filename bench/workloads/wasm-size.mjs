// wasm-size — size of the binary each engine ships (1 KB = 1024 bytes). For this library each
// dist/wasm/*.wasm; for the others the binary they load here (informational).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, Skip } from '../lib/util.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));

function sizeOf(file, what) {
  return (engine) => {
    if (engine.threads !== 1) throw new Skip('thread count does not apply');
    const f = typeof file === 'function' ? file(engine) : file;
    return {
      measure() {
        const bytes = readFileSync(f);
        const gz = what === 'native' ? '' : `, ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KB gzipped`;
        return { value: bytes.length / 1024, note: `${path.relative(ROOT, f)} (${bytes.length} bytes${gz})${what === 'native' ? '; native shared library, not Wasm' : ''}` };
      },
      dispose() {},
    };
  };
}

export default {
  id: 'size',
  order: 910,
  singleThread: true,
  inProcess: false,
  title: 'binary size',
  unit: 'KB',
  workText: 'file size, 1 KB = 1024 bytes',
  setup: {
    'wasm-attention': sizeOf((e) => path.join(ROOT, 'dist', 'wasm', `${e.isa}.wasm`)),
    'onnxruntime-web': sizeOf(path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.wasm')),
    'tfjs-wasm': sizeOf(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')), 'tfjs-backend-wasm-simd.wasm')),
    'onnxruntime-node': sizeOf(() => {
      const dir = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
      const lib = readdirSync(dir).find((f) => f.startsWith('libonnxruntime') || f === 'onnxruntime.dll');
      if (!lib) throw new Error(`no onnxruntime shared library in ${dir}`);
      return path.join(dir, lib);
    }, 'native'),
  },
  targets: [
    { label: 'dist/wasm/relaxed.wasm ≤ 100 KB', engine: 'wasm-attention/relaxed/1t', atMost: 100 },
    { label: 'dist/wasm/simd128.wasm ≤ 100 KB', engine: 'wasm-attention/simd128/1t', atMost: 100 },
  ],
};
