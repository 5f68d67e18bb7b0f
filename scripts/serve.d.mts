// Types of scripts/serve.mjs for the TypeScript tests.
export declare const ISOLATION_HEADERS: Record<string, string>;
export declare function startServer(options: { root: string; port?: number; host?: string; isolated?: boolean }): Promise<{
  url: string;
  port: number;
  close(): Promise<void>;
}>;
