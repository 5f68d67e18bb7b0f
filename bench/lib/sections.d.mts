// Types of sections.mjs (plain JavaScript: the bench CLI runs it as is).

/** The marked sections of bench/RESULTS.md that other commands write. */
export const SECTIONS: Record<'browsers' | 'llm', { start: string; end: string }>;

/** Section `name` of `text`, markers included, or undefined when it is not there whole. */
export function sectionOf(text: string, name: keyof typeof SECTIONS): string | undefined;

/** `text` with `section` in place of section `name`, or inserted before "## Results". */
export function withSection(text: string, name: keyof typeof SECTIONS, section: string): string;

/** `fresh` with every section `previous` had carried over. */
export function carrySections(previous: string, fresh: string): string;
