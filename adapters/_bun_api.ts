/**
 * The slice of Bun's API the Bun adapter uses, typed here so that tsc and Deno (which have
 * no Bun types) check it too.
 *
 * @module
 */

export interface BunServer {
  readonly port: number;
  requestIP(request: Request): { address: string; port: number } | null;
  timeout(request: Request, seconds: number): void;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

export interface BunApi {
  readonly version: string;
  readonly main: string;
  readonly isMainThread: boolean;
  serve(options: {
    hostname: string;
    port: number;
    reusePort: boolean;
    idleTimeout: number;
    maxRequestBodySize: number;
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    error: (error: Error) => Response;
  }): BunServer;
}

/** `Bun`, typed. Only the Bun adapter imports this module, so it runs only on Bun. */
export const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;
