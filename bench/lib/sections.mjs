// sections.mjs — the parts of bench/RESULTS.md that other commands write: each sits between a start
// and an end marker, before "## Results". `npm run bench` rewrites the rest of the file and carries
// these sections over as they are (their own run, date and commit); scripts/readme-bench.mjs reads
// the "### <id> — <title>" tables after "## Results", which no section may join.
//   browsers  npm run bench:browser (bench/browser/report.mjs)
//   llm       npm run bench:llm -- --write (bench/llm/main.ts): GGUF Llamas beside wllama

/** The marked sections, in the order they appear when first inserted. */
export const SECTIONS = {
  browsers: { start: '<!-- browsers:start -->', end: '<!-- browsers:end -->' },
  llm: { start: '<!-- llm:start -->', end: '<!-- llm:end -->' },
};

/** Section `name` of `text`, markers included, or undefined when it is not there whole. */
export function sectionOf(text, name) {
  const { start, end } = SECTIONS[name];
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  return a >= 0 && b > a ? text.slice(a, b + end.length) : undefined;
}

/**
 * `text` with `section` (markers included) in place of section `name`, or inserted before
 * "## Results" (appended if there is no such heading).
 */
export function withSection(text, name, section) {
  const old = sectionOf(text, name);
  if (old !== undefined) return text.replace(old, () => section);
  const results = text.search(/^## Results$/m);
  if (results >= 0) return `${text.slice(0, results)}${section}\n\n${text.slice(results)}`;
  return `${text.replace(/\n*$/, '\n\n')}${section}\n`;
}

/** `fresh` (a new RESULTS.md) with every section `previous` had carried over. */
export function carrySections(previous, fresh) {
  let text = fresh;
  for (const name of Object.keys(SECTIONS)) {
    const section = sectionOf(previous, name);
    if (section !== undefined) text = withSection(text, name, section);
  }
  return text;
}
