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
  upgrade(request: Request, options?: { data?: unknown; headers?: HeadersInit }): boolean;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** A socket of Bun's WebSocket server. */
export interface BunSocket {
  readonly data: unknown;
  send(data: string | ArrayBuffer | ArrayBufferView): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  getBufferedAmount(): number;
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
    idleTimeout: number;
    maxRequestBodySize: number;
    fetch: (request: Request, server: BunServer) => Response | undefined | Promise<Response | undefined>;
    error: (error: Error) => Response;
    websocket?: BunWebSocketHandler;
  }): BunServer;
}

/** `Bun`, typed. Only the Bun adapter imports this module, so it runs only on Bun. */
export const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;
