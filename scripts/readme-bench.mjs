// Copies the benchmark summary from bench/RESULTS.md (written by `npm run bench`) into the
// README, between <!-- bench:start --> and <!-- bench:end -->: one row per workload, one column
// per engine, the workload's headline metric (GFLOP/s, GB/s, ms or KB) in each cell. Workloads with
// a row per engine and format (the quantized ones: "wasm-attention/relaxed/1t int8") get one row
// per format, so the columns stay the engines.
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

const lines = [
  `Measured by \`npm run bench\` on ${field('Machine') ?? 'an unnamed machine'}, ${field('Runtime') ?? ''} ` +
    `(${(field('Date') ?? '').slice(0, 10)}); copied from [bench/RESULTS.md](bench/RESULTS.md), which has every ` +
    'ratio, error and memory figure. Higher is better except for ms and KB.',
  '',
  `| workload | unit | ${engines.join(' | ')} |`,
  `|---|---|${engines.map(() => '---:').join('|')}|`,
  ...workloads.flatMap((w) => {
    const line = (label, values) => `| ${label} — ${w.title.replace(/\|/g, '\\|')} | ${w.unit} | ${engines.map((e) => values.get(e) ?? '—').join(' | ')} |`;
    // A format's row; an engine whose preparation failed or was skipped has a plain row, shown in every format's.
    if (w.variants.size) return [...w.variants].map(([format, values]) => line(`${w.id} ${format}`, new Map([...w.values, ...values])));
    return [line(w.id, w.values)];
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
  console.log(`README.md: ${workloads.length} workloads × ${engines.length} engines from bench/RESULTS.md`);
}
