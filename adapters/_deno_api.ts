/**
 * The slice of Deno's API the Deno adapter uses, typed here so that tsc (which has no Deno
 * types) and Deno itself both check it.
 *
 * @module
 */

/** What Deno hands a `Deno.serve` handler. */
export interface DenoServeInfo {
  readonly remoteAddr: { hostname: string; port: number };
  readonly completed: Promise<void>;
}

/** A Deno TCP listener. */
export interface DenoListener {
  readonly addr: { port: number };
  accept(): Promise<unknown>;
  close(): void;
}

export interface DenoHttpServer {
  shutdown(): Promise<void>;
  /** Settles once the server has stopped serving, whoever stopped it. */
  readonly finished: Promise<void>;
}

export interface DenoApi {
  readonly version: { deno: string };
  readonly build: { os: string };
  readonly mainModule: string;
  readonly args: string[];
  execPath(): string;
  exit(code: number): never;
  serve(
    options: {
      hostname?: string;
      port?: number;
      reusePort?: boolean;
      path?: string;
      cert?: string;
      key?: string;
      onListen: (addr: { port: number }) => void;
      onError: (error: unknown) => Response;
    },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoHttpServer;
  listen(options: { hostname: string; port: number; reusePort?: boolean }): DenoListener;
  listenTls(options: {
    hostname: string;
    port: number;
    reusePort?: boolean;
    cert: string;
    key: string;
    alpnProtocols: string[];
  }): DenoListener;
  permissions: {
    querySync(descriptor: { name: string; path?: string }): { state: string };
  };
  upgradeWebSocket(
    request: Request,
    options?: { protocol?: string; idleTimeout?: number },
  ): { socket: WebSocket; response: Response };
  watchFs(
    paths: string[],
    options: { recursive: boolean },
  ): AsyncIterable<{ paths: string[] }> & { close(): void };
  stdout: { write(bytes: Uint8Array): Promise<number> };
  openSync(
    path: string,
    options: { write: boolean; append: boolean; create: boolean },
  ): { write(bytes: Uint8Array): Promise<number>; close(): void };
  memoryUsage(): { rss: number; heapUsed: number };
  addSignalListener(signal: string, listener: () => void): void;
  removeSignalListener(signal: string, listener: () => void): void;
}

/** The symbol under which Deno's Request keeps its inner request; null once known absent. */
let innerSymbol: symbol | null | undefined;

/**
 * The request Deno's server keeps inside a Request (internal: its `headerList`, its
 * `remoteAddr` before an upgrade closes it), or undefined if this Deno keeps none.
 */
export function innerRequestOf(request: Request): Record<string, unknown> | undefined {
  if (innerSymbol === undefined) {
    innerSymbol = Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === "request") ??
      null;
  }
  if (innerSymbol === null) return undefined;
  return (request as unknown as Record<symbol, Record<string, unknown> | undefined>)[innerSymbol];
}

/** `Deno`, typed. Only the Deno adapter imports this module, so it runs only on Deno. */
export const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
