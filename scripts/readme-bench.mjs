// Copies the benchmark summary from bench/RESULTS.md (written by `npm run bench`) into the
// README, between <!-- bench:start --> and <!-- bench:end -->: one row per workload, one column
// per engine, the workload's headline metric (GFLOP/s, GB/s, ms or KB) in each cell.
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

/** [{ id, title, unit, values: Map(engine → cell) }] from the "### id — title" sections. */
const workloads = [];
const engines = [];
let current;
for (const line of results.split('\n')) {
  const heading = line.match(/^### (\S+) — (.*)$/);
  if (heading) {
    current = { id: heading[1], title: heading[2], unit: '', values: new Map() };
    workloads.push(current);
    continue;
  }
  if (!current || !line.startsWith('|')) continue;
  const row = cells(line);
  if (row[0] === 'engine') {
    current.unit = row[1];
    continue;
  }
  if (/^-+:?$/.test(row[0]) || current.values.has(row[0])) continue;
  let value = row[1];
  if (/^failed/.test(value)) value = 'failed';
  else if (/^skipped/.test(value)) value = 'skipped';
  current.values.set(row[0], value);
  if (!engines.includes(row[0])) engines.push(row[0]);
}
if (!workloads.length) throw new Error('bench/RESULTS.md has no "### id — title" sections');

const lines = [
  `Measured by \`npm run bench\` on ${field('Machine') ?? 'an unnamed machine'}, ${field('Runtime') ?? ''} ` +
    `(${(field('Date') ?? '').slice(0, 10)}); copied from [bench/RESULTS.md](bench/RESULTS.md), which has every ` +
    'ratio, error and memory figure. Higher is better except for ms and KB.',
  '',
  `| workload | unit | ${engines.join(' | ')} |`,
  `|---|---|${engines.map(() => '---:').join('|')}|`,
  ...workloads.map((w) => `| ${w.id} — ${w.title.replace(/\|/g, '\\|')} | ${w.unit} | ${engines.map((e) => w.values.get(e) ?? '—').join(' | ')} |`),
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
