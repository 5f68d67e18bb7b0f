// bench/lib/sections.mjs: the parts of bench/RESULTS.md other commands write (bench:browser's and
// bench:llm's sections) survive `npm run bench` rewriting the file, each in one piece before
// "## Results", and writing one section leaves the other as it was.
import { describe, expect, it } from 'vitest';
import { carrySections, SECTIONS, sectionOf, withSection } from '../bench/lib/sections.mjs';

const fresh = '# Benchmark results\n\n## Targets\n\nnew\n\n## Results\n\n### A1 — SDPA\n\n| engine | GFLOP/s |\n';
const browsers = `${SECTIONS.browsers.start}\n## Browsers\n\nold browsers run\n${SECTIONS.browsers.end}`;
// A replacement pattern in the text must stay literal ($& would insert the matched text).
const llm = `${SECTIONS.llm.start}\n## LLMs\n\n| model | $& |\n${SECTIONS.llm.end}`;

describe('bench RESULTS.md sections', () => {
  it('npm run bench carries both sections over, unchanged, before "## Results"', () => {
    const previous = withSection(withSection('# old\n\n## Results\n\nold rows\n', 'browsers', browsers), 'llm', llm);
    const text = carrySections(previous, fresh);
    expect(sectionOf(text, 'browsers')).toBe(browsers);
    expect(sectionOf(text, 'llm')).toBe(llm);
    expect(text.indexOf(SECTIONS.llm.end)).toBeLessThan(text.indexOf('## Results'));
    expect(text).not.toContain('old rows');
    expect(text.replace(`${browsers}\n\n`, '').replace(`${llm}\n\n`, '')).toBe(fresh);
  });

  it('writing one section replaces it alone', () => {
    const both = withSection(withSection(fresh, 'browsers', browsers), 'llm', llm);
    const llm2 = `${SECTIONS.llm.start}\nsecond run, $& kept\n${SECTIONS.llm.end}`;
    const again = withSection(both, 'llm', llm2);
    expect(sectionOf(again, 'llm')).toBe(llm2);
    expect(again.split(SECTIONS.llm.start).length).toBe(2);
    expect(sectionOf(again, 'browsers')).toBe(browsers);
  });

  it('a file without sections is written as it is; a broken section is not carried', () => {
    expect(carrySections('# old\n', fresh)).toBe(fresh);
    expect(carrySections(`${SECTIONS.llm.start}\nno end marker`, fresh)).toBe(fresh);
  });
});
