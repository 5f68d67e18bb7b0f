// Types of report.mjs for the TypeScript tests.
export declare const BROWSERS_START: string;
export declare const BROWSERS_END: string;
export declare function browserWorkloadMarkdown(w: { id: string; title: string; unit: string; workText?: string; rows: object[] }, environments: Array<{ id: string; label: string; detail: string }>): string;
export declare function browsersMarkdown(run: object): string;
export declare function withBrowsersSection(text: string, section: string): string;
