// Types of bench/lib/report.mjs for the TypeScript tests (only what they use).
export interface TargetRow {
  workload: string;
  label: string;
  goal: string;
  status: 'met' | 'not met' | 'reported' | 'n/a';
  measured: string;
  value?: number;
}
export declare function evaluateTargets(workloads: object[], results: object[]): TargetRow[];
