/**
 * The slice of Bun's API the Bun adapter uses, typed here so that tsc and Deno (which have
 * no Bun types) check it too. `tests/types/bun_api.ts` holds each member equal to Bun's own
 * types (`bun-types`), in a type-check of its own.
 *
 * @module
 */
import { createRequire } from "node:module";

export interface BunServer {
  /** Undefined when it listens on a unix socket. */
  readonly port: number | undefined;
  requestIP(request: Request): { address: string; port: number; family: "IPv4" | "IPv6" } | null;
  timeout(request: Request, seconds: number): void;
  upgrade(request: Request, options: { headers?: HeadersInit; data: unknown }): boolean;
  stop(closeActiveConnections?: boolean): Promise<void>;
  /** Closes the connections with no request in flight (an HTTP/2 session told GOAWAY); how many. */
  closeIdleConnections(): number;
  /** To every socket of this server subscribed to `topic`, framed once; bytes sent (0 for none, -1 on backpressure). */
  publish(topic: string, data: string | ArrayBuffer | Uint8Array | DataView, compress?: boolean): number;
}

/** A socket of Bun's WebSocket server. */
export interface BunSocket {
  readonly data: unknown;
  /**
   * Bytes sent; 0 when the socket is closed; -1 when the data waits (backpressure). Any
   * ArrayBufferView an app sends is a typed array or a DataView, which Bun takes.
   */
  send(data: string | ArrayBuffer | Uint8Array | DataView, compress?: boolean): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  getBufferedAmount(): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** To every subscriber of `topic` on its server but this socket. */
  publish(topic: string, data: string | ArrayBuffer | Uint8Array | DataView, compress?: boolean): number;
}

/** Bun's `websocket` option: the handlers, and settings such as `maxPayloadLength`. */
export interface BunWebSocketHandler {
  open?(ws: BunSocket): void;
  message?(ws: BunSocket, message: string | Uint8Array): void;
  close?(ws: BunSocket, code: number, reason: string): void;
  maxPayloadLength?: number;
  idleTimeout?: number;
  sendPings?: boolean;
  [setting: string]: unknown;
}

export interface BunApi {
  readonly version: string;
  readonly main: string;
  readonly isMainThread: boolean;
  serve(options: {
    hostname?: string;
    port?: number;
    reusePort?: boolean;
    unix?: string;
    tls?: { cert: string; key: string };
    /** With `tls`: HTTP/2 to a client that asks by ALPN, HTTP/1.1 to the rest. */
    http2?: boolean;
    idleTimeout: number;
    maxRequestBodySize: number;
    fetch: (request: Request, server: BunServer) => Response | undefined | Promise<Response | undefined>;
    error: (error: Error) => Response;
    websocket?: BunWebSocketHandler;
  }): BunServer;
}

/** The libc functions the Bun adapter calls through `bun:ffi`: datagrams to systemd, a control client's uid. */
export const LIBC_SYMBOLS = {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i64" },
  close: { args: ["i32"], returns: "i32" },
  clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
} as const;

/** `LIBC_SYMBOLS` as `bun:ffi` gives them. */
export interface BunLibc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(
    fd: number,
    message: Uint8Array,
    length: number,
    flags: number,
    address: Uint8Array,
    addressLength: number,
  ): bigint;
  close(fd: number): number;
  clock_gettime(clock: number, timespec: BigInt64Array): number;
  __errno_location(): number | bigint | null;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, length: Uint8Array): number;
}

/** The slice of `bun:ffi` the Bun adapter uses (experimental in Bun, hence kept to these calls). */
export interface BunFfi {
  dlopen(path: string, symbols: typeof LIBC_SYMBOLS): { symbols: BunLibc; close(): void };
  read: { i32(pointer: number | bigint, byteOffset?: number): number };
}

/**
 * `bun:ffi`, loaded when first needed. Through `require`, which Bun serves it by: a dynamic
 * `import()` of a name tsc and Deno need not resolve would be one `deno publish` cannot
 * analyze, and warns of.
 */
export function loadBunFfi(): Promise<BunFfi> {
  return Promise.resolve(createRequire(import.meta.url)("bun:ffi") as BunFfi);
}

/** `Bun`, typed. Only the Bun adapter imports this module, so it runs only on Bun. */
export const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;
