/**
 * The request chain, put together here and nowhere else. A request passes, in order:
 *
 * 1. the adapter, which hands the handler its own info object (a `ForwardableInfo`) and
 *    answers an error thrown further in with `appErrorResponse`;
 * 2. drain: while the worker drains, responses ask the client to close the connection;
 * 3. count: the request that reaches `maxRequests` asks the supervisor to retire the worker;
 * 4. record (when `stats` or `accessLog` is on): counted, and logged once its response is ready;
 * 5. guard: header checks, size and concurrency limits, a chunked body counted as it is read;
 * 6. WebSocket gate: an upgrade beyond `maxWebSockets` gets 503;
 * 7. proxy: the client, scheme, host and prefix a trusted proxy forwarded;
 * 8. the boundary: whatever the app returns becomes a Response the runtime can send;
 * 9. the app.
 *
 * @module
 */
import type { Adapter, Listener, NativeChecks, TlsPem } from "../adapter.ts";
import type { Address } from "../addresses.ts";
import type { ServedApp } from "../app.ts";
import { settlesWithin } from "../deadline.ts";
import { BootError, messageOf } from "../errors.ts";
import { pid } from "../host.ts";
import { log } from "../log.ts";
import type { StatsReport } from "../observe/events.ts";
import { AccessLog } from "../observe/access_log.ts";
import { Tally } from "../observe/tally.ts";
import type { WorkerConfig } from "../settings.ts";
import type { FetchHandler } from "../types.ts";
import { CLOSE_CODES } from "../websocket/open_sockets.ts";
import { appErrorResponse } from "./app_error.ts";
import { bounded } from "./boundary.ts";
import { type Drainable, drainable } from "./drain.ts";
import { type AfterGuard, guard } from "./guard.ts";
import { trustOf } from "./ip.ts";
import { recorded, refusalRecorder } from "./record.ts";
import { forwarded } from "./proxy.ts";
import { refusal } from "./refusal.ts";
import { theBus } from "../pubsub/bus.ts";

/** What the chain asks of the worker around it. */
export interface ChainHooks {
  /** Called once, by the request that reaches the worker's quota (where `maxRequests` is set). */
  onQuota?: (requests: number) => void;
  /** WebSockets open in this worker now. */
  webSockets: () => number;
  /** Counts requests for the worker's statistics. */
  tally?: Tally;
  /** Writes the access log. */
  accessLog?: AccessLog;
}

/** `app` behind every stage after the adapter. */
export function requestChain(
  app: FetchHandler,
  config: WorkerConfig,
  native: NativeChecks,
  hooks: ChainHooks,
): Drainable {
  // The proxy headers to read: none while no peer is trusted.
  const proxyHeaders = config.forwardedAllowIps.length > 0 ? config.forwardedHeaders : [];
  const answering = bounded(app, native, config.debug);
  const proxy: AfterGuard = proxyHeaders.length > 0
    ? forwarded(
      answering,
      trustOf(config.forwardedAllowIps),
      config.cert !== undefined,
      native.header ?? ((request, _info, name) => request.headers.get(name)),
      proxyHeaders.includes("x-forwarded-prefix"),
    )
    : answering;
  // With WebSockets off, an Upgrade is ignored (RFC 9110 §7.8) and the request served as
  // plain HTTP; an app that tries to upgrade gets 503 from its adapter (WebSocketsOffError).
  let handler = guard(
    config.maxWebSockets > 0 ? webSocketGate(proxy, config.maxWebSockets, hooks.webSockets) : proxy,
    config,
    native,
    proxyHeaders,
  );
  if (hooks.tally || hooks.accessLog) handler = recorded(handler, hooks.tally, hooks.accessLog, native);
  if (hooks.onQuota !== undefined && config.maxRequests > 0) {
    const jitter = Math.floor(Math.random() * (config.maxRequestsJitter + 1));
    handler = counted(handler, config.maxRequests + jitter, hooks.onQuota);
  }
  return drainable(handler);
}

/** `handler`, calling `onQuota` once when the request that reaches `quota` arrives. */
function counted(handler: FetchHandler, quota: number, onQuota: (requests: number) => void): FetchHandler {
  let served = 0;
  return (request, info) => {
    if (++served === quota) onQuota(served);
    return handler(request, info);
  };
}

/** `next`, behind a limit on open WebSockets: an upgrade past `max` gets 503. */
function webSocketGate(next: AfterGuard, max: number, open: () => number): AfterGuard {
  return (request, info, fields) => {
    if (fields.upgrade === null || fields.upgrade.toLowerCase() !== "websocket" || open() < max) {
      return next(request, info, fields);
    }
    return refusal(503, `this worker has its limit of ${max} WebSockets open`, { "retry-after": "1" });
  };
}

/** How often a serving worker looks whether its sockets still accept (`Serving.whenEnded`). */
const ENDED_CHECK_MS = 1_000;

/** Seconds at most for a PROXY protocol header to arrive whole: a balancer sends it at once. */
const PROXY_HEADER_TIMEOUT = 3;

/** A chain serving on its sockets: the port bound at each address, and the graceful stop. */
export interface Serving {
  ports: number[];
  /** WebSockets open now. */
  readonly webSockets: number;
  /** Why it stopped accepting connections on its own (see `Listener.ended`); undefined while it serves. */
  readonly ended: string | undefined;
  /** What was counted since the last report (with `stats` on; else undefined). */
  report(memory: number): StatsReport | undefined;
  /**
   * Call `onEnded` once, should the sockets stop accepting connections on their own (the
   * runtime's server ended, the app closed it): looked at every second until `stop()`.
   */
  whenEnded(onEnded: (reason: string) => void): void;
  /**
   * Drain: notice, stop accepting, close WebSockets (1012 when `restart`: a replacement
   * takes over; else 1001), wait for in-flight requests, all within `gracefulTimeout`.
   */
  stop(restart: boolean): Promise<void>;
}

/** Where and how `serveChain` serves. */
export interface ChainPlace {
  /** Every address to listen at. */
  addresses: Address[];
  /** Other workers bind them too. */
  shared: boolean;
  config: WorkerConfig;
  /** The worker's id ("2", "2.1"); undefined when one isolate serves alone. */
  id: string | undefined;
  /** Told once when the worker has served its quota (`maxRequests`); absent serving alone. */
  onQuota?: (requests: number) => void;
}

/**
 * Serve `app` through the whole chain at each of the place's addresses, then run its
 * `onStart` hook. Rejects with a `BootError` if it cannot listen or `onStart` fails.
 */
export async function serveChain(
  adapter: Adapter,
  app: ServedApp,
  { addresses, shared, config, id, onQuota }: ChainPlace,
): Promise<Serving> {
  let webSockets = () => 0;
  const tally = config.stats ? new Tally() : undefined;
  const accessLog = config.accessLog === undefined ? undefined : new AccessLog(
    adapter.openLog(config.accessLog),
    config.accessLogFormat,
    config.accessLog === "-",
    { worker: id ?? "main", pid: pid() },
  );
  const chain = requestChain(app.fetch, config, adapter.nativeChecks, {
    onQuota,
    webSockets: () => webSockets(),
    tally,
    accessLog,
  });
  const { listener, ports } = await listenOnEach(addresses, (address) =>
    adapter.listen(chain.handler, {
      ...address,
      shared,
      onRefused: tally || accessLog ? refusalRecorder(tally, accessLog) : undefined,
      // Read as this worker starts: a reload serves renewed files.
      tls: tlsOf(adapter, config),
      http2: config.http2,
      h2c: config.h2c,
      limits: config,
      onError: appErrorResponse(config.debug),
      websocket: app.websocket,
      proxyProtocol: config.proxyProtocol
        ? {
          trust: trustOf(config.forwardedAllowIps),
          timeoutMs: Math.min(config.headerTimeout, PROXY_HEADER_TIMEOUT) * 1_000,
          onRefused: (reason) => tally?.proxyRefused(reason),
        }
        : undefined,
    }));
  webSockets = () => listener.webSockets;
  const draining = new AbortController();
  const worker = { id, signal: draining.signal };
  let watching: ReturnType<typeof setInterval> | undefined;
  const timeoutMs = config.gracefulTimeout * 1_000;
  try {
    await app.onStart?.(worker);
  } catch (error) {
    await chain.close(listener, 0, CLOSE_CODES.goingAway);
    await accessLog?.close();
    throw new BootError(`the app's onStart failed: ${messageOf(error)}`, { cause: error });
  }
  return {
    ports,
    get webSockets() {
      return listener.webSockets;
    },
    get ended() {
      return listener.ended;
    },
    report: (memory) => {
      const report = tally?.report(listener.webSockets, memory);
      if (report !== undefined) report.pubsub = theBus().topics.report();
      return report;
    },
    whenEnded(onEnded) {
      watching = setInterval(() => {
        const reason = listener.ended;
        if (reason === undefined) return;
        clearInterval(watching);
        onEnded(reason);
      }, ENDED_CHECK_MS);
    },
    async stop(restart) {
      clearInterval(watching);
      draining.abort();
      await chain.close(listener, timeoutMs, restart ? CLOSE_CODES.restart : CLOSE_CODES.goingAway);
      await accessLog?.close();
      if (app.onStop === undefined) return;
      // The app's teardown, once requests are done, bounded like the rest of the stop.
      const teardown = Promise.resolve().then(() => app.onStop!(worker));
      teardown.catch((error) => log(`the app's onStop failed: ${messageOf(error)}`));
      if (!(await settlesWithin(teardown, timeoutMs))) {
        log(`the app's onStop took longer than ${config.gracefulTimeout} s; stopping anyway`);
      }
    },
  };
}

/**
 * Listen on every address, as one listener (the WebSockets of all, one close for all), and
 * the port each bound. If one cannot listen, those already listening are closed.
 */
async function listenOnEach(
  addresses: Address[],
  listen: (address: Address) => Promise<Listener>,
): Promise<{ listener: Listener; ports: number[] }> {
  const listeners: Listener[] = [];
  try {
    for (const address of addresses) listeners.push(await listen(address));
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close(0, CLOSE_CODES.goingAway)));
    throw error;
  }
  const ports = listeners.map((listener) => listener.port);
  if (listeners.length === 1) return { listener: listeners[0], ports };
  const listener: Listener = {
    port: ports[0],
    get webSockets() {
      return listeners.reduce((sum, listener) => sum + listener.webSockets, 0);
    },
    get ended() {
      return listeners.find((listener) => listener.ended !== undefined)?.ended;
    },
    close: async (timeoutMs, closeCode) => {
      await Promise.all(listeners.map((listener) => listener.close(timeoutMs, closeCode)));
    },
  };
  return { listener, ports };
}

/** The certificate and key the options name, read now (a worker reads them as it starts). */
export function tlsOf(adapter: Adapter, config: WorkerConfig): TlsPem | undefined {
  if (config.cert === undefined || config.key === undefined) return undefined;
  return adapter.readTls({ cert: config.cert, key: config.key, passphrase: config.keyPassphrase });
}
