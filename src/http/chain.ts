/**
 * The request chain, put together here and nowhere else. A request passes, in order:
 *
 * 1. the adapter, which hands the handler its own info object (a `ForwardableInfo`) and
 *    answers an error thrown further in with `appErrorResponse`;
 * 2. drain: while the worker drains, responses ask the client to close the connection;
 * 3. count: the request that reaches `maxRequests` asks the supervisor to retire the worker;
 * 4. guard: header checks, size and concurrency limits, a chunked body counted as it is read;
 * 5. proxy: the client and scheme a trusted proxy forwarded;
 * 6. the app.
 *
 * @module
 */
import type { Adapter, NativeChecks } from "../adapter.ts";
import type { WorkerConfig } from "../settings.ts";
import type { FetchHandler } from "../types.ts";
import { appErrorResponse } from "./app_error.ts";
import { type Drainable, drainable } from "./drain.ts";
import { type AfterGuard, guard } from "./guard.ts";
import { trustOf } from "./ip.ts";
import { forwarded } from "./proxy.ts";

/** Called once, by the request that reaches the worker's quota. */
export type OnQuota = (requests: number) => void;

/** `app` behind every stage after the adapter; `onQuota` only where `maxRequests` is set. */
export function requestChain(
  app: FetchHandler,
  config: WorkerConfig,
  native: NativeChecks,
  onQuota?: OnQuota,
): Drainable {
  const trusted = config.forwardedAllowIps;
  const proxy: AfterGuard = trusted.length > 0 ? forwarded(app, trustOf(trusted)) : app;
  let handler = guard(proxy, config, native, trusted.length > 0);
  if (onQuota !== undefined && config.maxRequests > 0) {
    const jitter = Math.floor(Math.random() * (config.maxRequestsJitter + 1));
    handler = counted(handler, config.maxRequests + jitter, onQuota);
  }
  return drainable(handler);
}

/** `handler`, calling `onQuota` once when the request that reaches `quota` arrives. */
function counted(handler: FetchHandler, quota: number, onQuota: OnQuota): FetchHandler {
  let served = 0;
  return (request, info) => {
    if (++served === quota) onQuota(served);
    return handler(request, info);
  };
}

/** Where a chain listens. */
export interface Address {
  hostname: string;
  port: number;
  /** Other workers bind the same port. */
  shared: boolean;
}

/** A chain serving on a socket: the port bound, and the graceful stop. */
export interface Serving {
  port: number;
  /** Drain: notice, stop accepting, wait for in-flight requests up to `gracefulTimeout`. */
  stop(): Promise<void>;
}

/** Serve `app` through the whole chain at `address`. Rejects with a `BootError` if it cannot listen. */
export async function serveChain(
  adapter: Adapter,
  app: FetchHandler,
  address: Address,
  config: WorkerConfig,
  onQuota?: OnQuota,
): Promise<Serving> {
  const chain = requestChain(app, config, adapter.nativeChecks, onQuota);
  const listener = await adapter.listen(chain.handler, {
    ...address,
    limits: config,
    onError: appErrorResponse(config.debug),
  });
  return { port: listener.port, stop: () => chain.close(listener, config.gracefulTimeout * 1_000) };
}

/** The URL a server at `hostname:port` answers on. */
export function urlOf(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`;
}
