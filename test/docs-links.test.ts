// The documentation's links lead somewhere: in README.md, ARCHITECTURE.md, docs/*.md and the bench
// READMEs, every relative link names a file or folder of the repository, and every #anchor a
// heading of its target page (GitHub's slugs: lower case, punctuation dropped, spaces to hyphens).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pages = [
  'README.md', 'ARCHITECTURE.md', 'bench/README.md',
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[`*_]/g, '').replace(/[^\p{L}\p{N}\- ]/gu, '').replace(/ /g, '-');
}

/** The anchors of a Markdown file: one per heading (outside code blocks). */
function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.*)$/gm)].map((m) => slug(m[1])));
}

/** [link target, line] of every Markdown link outside code blocks and inline code. */
function links(text: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) return;
    for (const m of line.replace(/`[^`]*`/g, '``').matchAll(/\]\(([^)\s]+)\)/g)) out.push([m[1], i + 1]);
  });
  return out;
}

describe('documentation links', () => {
  it.each(pages)('%s: relative links and anchors resolve', (page) => {
    const file = join(root, page);
    const broken: string[] = [];
    for (const [target, line] of links(readFileSync(file, 'utf8'))) {
      if (/^(https?:|mailto:)/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const to = path ? join(dirname(file), path) : file;
      if (!existsSync(to)) {
        broken.push(`line ${line}: ${target} (no ${relative(root, to)})`);
        continue;
      }
      if (anchor !== undefined && statSync(to).isFile() && to.endsWith('.md') && !anchors(to).has(anchor)) {
        broken.push(`line ${line}: ${target} (no heading #${anchor} in ${relative(root, to)})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
