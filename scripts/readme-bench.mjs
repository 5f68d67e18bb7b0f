// Copies a benchmark summary from bench/RESULTS.md (written by `npm run bench`) into the README,
// between <!-- bench:start --> and <!-- bench:end -->: the workloads of SUMMARY, the engines of
// COLUMNS, the workload's headline metric (GFLOP/s, GB/s, ms or KB) in each cell. Workloads with a
// row per engine and format (the quantized ones: "wasm-attention/relaxed/1t int8") show one format
// of ours beside the peers' matching op.
//
//   npm run readme:bench            rewrite the README's table
//   npm run readme:bench -- --check exit 1 if the README's table differs from RESULTS.md
import { readFileSync, writeFileSync } from 'node:fs';

const results = readFileSync('bench/RESULTS.md', 'utf8');
const readme = readFileSync('README.md', 'utf8');
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

const field = (name) => results.match(new RegExp(`^- \\*\\*${name}:\\*\\* (.*)$`, 'm'))?.[1]?.trim();
const cells = (line) => line.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim());

/** [{ id, title, unit, values: Map(engine → cell), variants: Map(format → Map(engine → cell)) }] from the "### id — title" sections. */
const workloads = [];
const engines = [];
let current;
for (const line of results.split('\n')) {
  const heading = line.match(/^### (\S+) — (.*)$/);
  if (heading) {
    current = { id: heading[1], title: heading[2], unit: '', values: new Map(), variants: new Map() };
    workloads.push(current);
    continue;
  }
  if (!current || !line.startsWith('|')) continue;
  const row = cells(line);
  if (row[0] === 'engine') {
    current.unit = row[1];
    continue;
  }
  if (/^-+:?$/.test(row[0])) continue;
  const [engine, ...format] = row[0].split(' ');
  if (format.length && !current.variants.has(format.join(' '))) current.variants.set(format.join(' '), new Map());
  const values = format.length ? current.variants.get(format.join(' ')) : current.values;
  if (values.has(engine)) continue;
  let value = row[1];
  if (/^failed/.test(value)) value = 'failed';
  else if (/^skipped/.test(value)) value = 'skipped';
  values.set(engine, value);
  if (!engines.includes(engine)) engines.push(engine);
}
if (!workloads.length) throw new Error('bench/RESULTS.md has no "### id — title" sections');

// The README's summary: these workloads (one format's row, with the peer's matching op beside it,
// for the quantized ones) and these engines; bench/RESULTS.md has every row and column.
const SUMMARY = [
  { id: 'G3' }, { id: 'A1' }, { id: 'A2' }, { id: 'A3' }, { id: 'A4' }, { id: 'A5' },
  { id: 'Q-G3', format: 'int8', peer: 'DynamicQuantizeMatMul' },
  { id: 'Q-MV-4k', format: 'q4_0', peer: 'MatMulNBits' },
  { id: 'Q-A3', format: 'int8', peer: 'q8 graph' },
  { id: 'LM-decode', format: 'tiny' },
  { id: 'L-SW-64k' }, { id: 'L-LSH-vs-full-16k' }, { id: 'cold' }, { id: 'size' },
];
const COLUMNS = ['wasm-attention/relaxed/1t', 'wasm-attention/relaxed/2t', 'onnxruntime-web/1t', 'tfjs-wasm/1t', 'onnxruntime-node/1t'];

const lines = [
  `Measured by \`npm run bench\` on ${field('Machine') ?? 'an unnamed machine'}, ${field('Runtime') ?? ''} ` +
    `(${(field('Date') ?? '').slice(0, 10)}); a summary of [bench/RESULTS.md](bench/RESULTS.md), which has every ` +
    'workload, engine, ratio, error and memory figure. Higher is better except for ms and KB; onnxruntime-node is native code (a reference).',
  '',
  `| workload | unit | ${COLUMNS.join(' | ')} |`,
  `|---|---|${COLUMNS.map(() => '---:').join('|')}|`,
  ...SUMMARY.flatMap(({ id, format, peer }) => {
    const w = workloads.find((x) => x.id === id);
    if (!w) return [];
    const mine = format ? new Map([...w.values, ...(w.variants.get(format) ?? [])]) : w.values;
    const theirs = peer ? new Map([...w.values, ...(w.variants.get(peer) ?? [])]) : w.values;
    const cell = (engine) => (engine.startsWith('wasm-attention/') ? mine : theirs).get(engine) ?? '—';
    const label = `${id}${format ? ` ${format}` : ''}${peer ? ` (peers: ${peer})` : ''}`;
    return [`| ${label} — ${w.title.replace(/\|/g, '\\|')} | ${w.unit} | ${COLUMNS.map(cell).join(' | ')} |`];
  }),
];
const table = `${START}\n${lines.join('\n')}\n${END}`;

const at = readme.indexOf(START);
const end = readme.indexOf(END);
if (at < 0 || end < at) throw new Error(`README.md lacks the ${START} … ${END} markers`);
const updated = readme.slice(0, at) + table + readme.slice(end + END.length);
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    console.error('README.md benchmark table is out of date: run `npm run readme:bench`');
    process.exit(1);
  }
  console.log('README.md benchmark table matches bench/RESULTS.md');
} else {
  writeFileSync('README.md', updated);
  console.log(`README.md: ${SUMMARY.length} of ${workloads.length} workloads × ${COLUMNS.length} of ${engines.length} engines from bench/RESULTS.md`);
}
