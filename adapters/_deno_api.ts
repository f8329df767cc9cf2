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
  readonly build: { os: string; arch: string };
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
    querySync(descriptor: { name: string; path?: string; command?: string }): { state: string };
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
  /** Needs --allow-ffi. */
  dlopen(path: string, symbols: typeof LIBC_SYMBOLS): { symbols: DenoLibc; close(): void };
  UnsafePointerView: new (pointer: NonNullable<unknown>) => { getInt32(offset?: number): number };
}

/** The libc functions the Deno adapter calls through `Deno.dlopen`: datagrams to systemd, a control client's uid. */
export const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const;

/** `LIBC_SYMBOLS` as `Deno.dlopen` gives them (a 64-bit result may come as a bigint). */
export interface DenoLibc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(
    fd: number,
    message: Uint8Array,
    length: number,
    flags: number,
    address: Uint8Array,
    addressLength: number,
  ): number | bigint;
  close(fd: number): number;
  clock_gettime(clock: number, timespec: BigInt64Array): number;
  __errno_location(): NonNullable<unknown> | null;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, length: Uint8Array): number;
}

/** Deno.serve's server on a listener made elsewhere: the handler and error answer as Deno.serve's. */
export type ServeOnListener = (
  listener: DenoListener,
  signal: AbortSignal | undefined,
  handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => DenoHttpServer;

/**
 * Deno's internal `serveHttpOnListener` (what `Deno.serve` runs on the listener it makes, and
 * Deno's `node:http` on its own), or undefined in a Deno without it. With it, Deno.serve's
 * server runs on a TLS listener whose ALPN is ours to choose: `Deno.serve` refuses an
 * `alpnProtocols` option ("'h2' and 'http/1.1' are automatically supported").
 */
export function serveOnListener(deno: object): ServeOnListener | undefined {
  const symbol = (deno as { internal?: symbol }).internal;
  const internals = symbol === undefined ? undefined : (deno as Record<symbol, unknown>)[symbol];
  const serve = (internals as { serveHttpOnListener?: unknown } | undefined)?.serveHttpOnListener;
  return typeof serve === "function" ? serve as ServeOnListener : undefined;
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
