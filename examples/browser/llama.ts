// Browser page: llama2.c's stories260K checkpoint generating token ids greedily on wasm-attention
// (examples/tiny-llama/model.ts, the same model code as the Node example and the tests).
//
// Built by scripts/build-demo.mjs (esbuild; `import 'wasm-attention'` resolves to the package's
// browser entry) into dist/llama.js, which also copies the checkpoint and llama2.c's greedy ids
// into dist/; `npm run demo:web` serves the folder. URL parameters preset the form:
// ?prompt=1,461&steps=64&isa=simd128. After every run the page sets body[data-state] to 'done'
// (or 'error') and window.llama to the result (the Chromium test reads it).

import { createRuntime, type Isa, type Runtime } from 'wasm-attention';
import { parseLlama2cCheckpoint, type LlamaCheckpoint } from '../tiny-llama/loader';
import { TinyLlama } from '../tiny-llama/model';

const BOS = 1;

/** What the page reports after a run. */
interface LlamaReport {
  isa: string;
  prompt: number[];
  tokens: number[];
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** ids equal to llama2.c's, from BOS (undefined for other prompts) */
  matches?: number;
}

declare global {
  interface Window {
    llama?: LlamaReport;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const form = $<HTMLFormElement>('controls');

let checkpoint: LlamaCheckpoint | undefined;
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

function parsePrompt(text: string): number[] {
  const ids = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!ids.length || ids.some((t) => !Number.isInteger(t) || t < 0 || t >= 512)) {
    throw new Error(`prompt: token ids from 0 to 511, comma- or space-separated (got "${text}")`);
  }
  return ids;
}

const perSecond = (n: number, ms: number) => (ms > 0 ? n / (ms / 1000) : 0);

async function run(): Promise<void> {
  document.body.dataset.state = 'running';
  status.textContent = 'Generating…';
  const idsBox = $<HTMLDivElement>('ids');
  try {
    checkpoint ??= parseLlama2cCheckpoint(await fetchBytes('./dist/stories260K.bin'), { name: 'stories260K.bin' });
    if (!greedy.length) greedy = new TextDecoder().decode(await fetchBytes('./dist/greedy-tokens.txt')).trim().split(/\s+/).map(Number);
    const data = new FormData(form);
    const prompt = parsePrompt(String(data.get('prompt')));
    const steps = Number(data.get('steps'));
    const c = checkpoint.config;
    if (!Number.isInteger(steps) || steps < 1 || prompt.length + steps - 1 > c.seqLen) {
      throw new Error(`new tokens: 1 to ${c.seqLen - prompt.length + 1} for a prompt of ${prompt.length}`);
    }
    const rt = await runtimeFor(String(data.get('isa') ?? ''));
    $('env').textContent = `Kernels: ${rt.isa}.`;
    const model = new TinyLlama(rt, checkpoint);
    try {
      // A warm-up sequence first (the JavaScript engine compiles the hot paths), then the timed one.
      model.generate(prompt, Math.min(steps, 32));
      model.reset();
      const r = model.generate(prompt, steps);
      const fromBos = prompt.length === 1 && prompt[0] === BOS;
      const report: LlamaReport = {
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
        `(${report.decodeTokensPerSecond.toFixed(0)} tokens/s)`;
      status.textContent = report.matches === undefined
        ? 'Done.'
        : `Done: ${report.matches} of ${Math.min(r.tokens.length, greedy.length)} ids equal llama2.c’s.`;
      window.llama = report;
      document.body.dataset.state = 'done';
    } finally {
      model.dispose();
    }
  } catch (error) {
    status.textContent = error instanceof Error ? error.message : String(error);
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
void run();
