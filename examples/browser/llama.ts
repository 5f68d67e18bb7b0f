// Browser page: a Llama-family model generating token ids greedily on wasm-attention
// (examples/llama/model.ts, the same model code as the Node example and the tests): llama2.c's
// stories260K checkpoint by default, or a file the user chooses (a GGUF `llama` / `qwen2` file or a
// llama2.c checkpoint, told apart by its first bytes), read from the file input in the page.
//
// Built by scripts/build-demo.mjs (esbuild; `import 'wasm-attention'` resolves to the package's
// browser entry) into dist/llama.js, which also copies the checkpoint and llama2.c's greedy ids
// into dist/; `npm run demo:web` serves the folder. URL parameters preset the form:
// ?prompt=1,461&steps=64&isa=simd128, and ?model=URL fetches a model file instead of the default.
// After every run the page sets body[data-state] to 'done' (or 'error') and window.llama to the
// result (the browser tests read it).

import { createRuntime, type Isa, type Runtime } from 'wasm-attention';
import { parseGguf } from '../llama/gguf';
import { LlamaModel } from '../llama/model';
import { type LlamaWeights, modelFileFormat, weightsFromCheckpoint, weightsFromGguf } from '../llama/weights';
import { parseLlama2cCheckpoint } from '../tiny-llama/loader';

const BOS = 1;

/** What the page reports after a run. */
interface LlamaReport {
  /** The model file's name. */
  model: string;
  /** 'gguf' or 'llama2c'. */
  format: string;
  isa: string;
  prompt: number[];
  tokens: number[];
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** ids equal to llama2.c's, from BOS on the default checkpoint (undefined otherwise) */
  matches?: number;
  /** Wasm memory after loading the model. */
  memoryBytes: number;
}

declare global {
  interface Window {
    llama?: LlamaReport;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const form = $<HTMLFormElement>('controls');

const DEFAULT_MODEL = 'stories260K.bin';
/** The model file: the default checkpoint until the user chooses one (or ?model= names one). */
let modelFile: { name: string; bytes: ArrayBuffer } | undefined;
let greedy: number[] = [];
const runtimes = new Map<string, Runtime>();

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (run \`npm run build:demo\`)`);
  return r.arrayBuffer();
}

async function runtimeFor(isa: string): Promise<Runtime> {
  let rt = runtimes.get(isa);
  if (!rt) {
    rt = await createRuntime(isa ? { isa: isa as Isa } : {});
    runtimes.set(isa, rt);
  }
  return rt;
}

function parsePrompt(text: string, vocabSize: number): number[] {
  const ids = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!ids.length || ids.some((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize)) {
    throw new Error(`prompt: token ids from 0 to ${vocabSize - 1}, comma- or space-separated (got "${text}")`);
  }
  return ids;
}

/** The model in a file's bytes, by its format (throws GgufError / CheckpointError with a code). */
function readWeights(name: string, bytes: ArrayBuffer): LlamaWeights {
  return modelFileFormat(new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength))) === 'gguf'
    ? weightsFromGguf(parseGguf(bytes, { name }), name)
    : weightsFromCheckpoint(parseLlama2cCheckpoint(bytes, { name }), name);
}

const perSecond = (n: number, ms: number) => (ms > 0 ? n / (ms / 1000) : 0);

async function run(): Promise<void> {
  document.body.dataset.state = 'running';
  status.textContent = 'Generating…';
  const idsBox = $<HTMLDivElement>('ids');
  try {
    modelFile ??= { name: DEFAULT_MODEL, bytes: await fetchBytes(`./dist/${DEFAULT_MODEL}`) };
    if (!greedy.length) greedy = new TextDecoder().decode(await fetchBytes('./dist/greedy-tokens.txt')).trim().split(/\s+/).map(Number);
    const weights = readWeights(modelFile.name, modelFile.bytes);
    const c = weights.config;
    const data = new FormData(form);
    const prompt = parsePrompt(String(data.get('prompt')), c.vocabSize);
    const steps = Number(data.get('steps'));
    if (!Number.isInteger(steps) || steps < 1 || prompt.length + steps - 1 > c.contextLength) {
      throw new Error(`new tokens: 1 to ${c.contextLength - prompt.length + 1} for a prompt of ${prompt.length}`);
    }
    const rt = await runtimeFor(String(data.get('isa') ?? ''));
    $('env').textContent = `Kernels: ${rt.isa}.`;
    status.textContent = `Loading ${modelFile.name}…`;
    const model = new LlamaModel(rt, weights, { maxLength: prompt.length + steps - 1 });
    try {
      // A warm-up sequence first (the JavaScript engine compiles the hot paths), then the timed one.
      model.generate(prompt, Math.min(steps, 32));
      model.reset();
      const r = model.generate(prompt, steps);
      const fromBos = prompt.length === 1 && prompt[0] === BOS && modelFile.name === DEFAULT_MODEL;
      const report: LlamaReport = {
        model: modelFile.name, format: modelFileFormat(new Uint8Array(modelFile.bytes, 0, 4)), memoryBytes: rt.memoryBytes,
        isa: rt.isa, prompt, tokens: r.tokens,
        prefillTokensPerSecond: perSecond(r.promptTokens, r.prefillMs),
        decodeTokensPerSecond: perSecond(r.decodeSteps, r.decodeMs),
        matches: fromBos ? r.tokens.filter((t, i) => t === greedy[i]).length : undefined,
      };
      idsBox.replaceChildren(
        ...r.tokens.flatMap((t, i) => {
          const span = document.createElement('span');
          span.textContent = String(t);
          if (fromBos && i < greedy.length && t !== greedy[i]) {
            span.className = 'wrong';
            span.title = `llama2.c: ${greedy[i]}`;
          }
          return [span, document.createTextNode(' ')];
        }),
      );
      $('stats').textContent =
        `${r.tokens.length} tokens: prefill ${r.promptTokens} token${r.promptTokens > 1 ? 's' : ''} in ${r.prefillMs.toFixed(2)} ms ` +
        `(${report.prefillTokensPerSecond.toFixed(0)} tokens/s), decode ${r.decodeSteps} steps in ${r.decodeMs.toFixed(1)} ms ` +
        `(${report.decodeTokensPerSecond.toFixed(0)} tokens/s); ${modelFile.name}: ${c.architecture}, dim ${c.dim}, ${c.nLayers} layers; ` +
        `Wasm memory ${(report.memoryBytes / 2 ** 20).toFixed(1)} MiB`;
      status.textContent = report.matches === undefined
        ? 'Done.'
        : `Done: ${report.matches} of ${Math.min(r.tokens.length, greedy.length)} ids equal llama2.c’s.`;
      window.llama = report;
      document.body.dataset.state = 'done';
    } finally {
      model.dispose();
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    status.textContent = error instanceof Error ? `${typeof code === 'string' ? `${code}: ` : ''}${error.message}` : String(error);
    document.body.dataset.state = 'error';
  }
}

// URL parameters preset the form.
const params = new URLSearchParams(location.search);
for (const name of ['prompt', 'steps', 'isa']) {
  const value = params.get(name);
  if (value !== null) ($(name) as HTMLInputElement | HTMLSelectElement).value = value;
}
form.addEventListener('submit', (event) => {
  event.preventDefault();
  void run();
});
// A file chosen by the user replaces the model, and runs it.
$<HTMLInputElement>('model').addEventListener('change', async (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  modelFile = { name: file.name, bytes: await file.arrayBuffer() };
  void run();
});
const modelUrl = params.get('model');
if (modelUrl !== null) {
  fetchBytes(modelUrl).then((bytes) => {
    modelFile = { name: modelUrl.split('/').pop() ?? modelUrl, bytes };
    void run();
  }, (error: Error) => {
    status.textContent = error.message;
    document.body.dataset.state = 'error';
  });
} else {
  void run();
}
