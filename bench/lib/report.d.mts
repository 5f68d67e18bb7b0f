// Types of bench/lib/report.mjs for the TypeScript tests (only what they use).
export interface TargetRow {
  workload: string;
  label: string;
  goal: string;
  status: 'met' | 'not met' | 'reported' | 'n/a';
  measured: string;
  value?: number;
  explanation?: string;
}
export declare function evaluateTargets(workloads: object[], results: object[]): TargetRow[];
export declare function targetsMarkdown(targets: TargetRow[]): string;
export declare function workloadMarkdown(w: object): string;
