/**
 * The public contract of multiserve: what `serve()` accepts and returns, and what the
 * handler receives on each runtime. Types only.
 *
 * @module
 */

/** The peer address of a connection. */
export interface RemoteAddr {
  /** IP address of the client, e.g. `"127.0.0.1"` or `"::1"`. */
  hostname: string;
  /** Source port of the client. */
  port: number;
}

/**
 * The second argument of every request handler.
 *
 * It carries what each runtime's own server hands its handler, so Hono's runtime helpers
 * (`getConnInfo`, `upgradeWebSocket` from `hono/deno`, `hono/bun` and `@hono/node-server`)
 * work unchanged:
 * - Deno: `remoteAddr` and `completed`, as in `Deno.ServeHandlerInfo`.
 * - Bun: `server`, the `Bun.Server` that received the request.
 * - Node: `incoming` and `outgoing`, the `node:http` request and response.
 *
 * On every runtime `remoteAddr` holds the client's address, and `peerAddr` the other end
 * of the connection (the same, unless a trusted proxy forwarded the request).
 */
export interface RequestInfo {
  /**
   * Address of the client that sent the request: from a trusted proxy (`forwardedAllowIps`),
   * whom its `X-Forwarded-For` (or `Forwarded`, when `forwardedHeaders` lists it) names, else
   * the peer's. `port` is 0 unless `Forwarded` names it.
   */
  readonly remoteAddr: RemoteAddr;
  /** Address of the other end of the connection: the client, or the proxy in front of it. */
  readonly peerAddr: RemoteAddr;
  /**
   * The path prefix a trusted proxy serves the app under, from `X-Forwarded-Prefix` when
   * `forwardedHeaders` lists it: `"/app"` (no trailing slash), else `""`. The request's URL
   * keeps the path the proxy sent (usually without the prefix): build links as
   * `info.prefix + path`. Read only when asked. (Werkzeug's `SCRIPT_NAME`.)
   */
  readonly prefix: string;
  /** Runtime-specific members (`server` on Bun, `incoming`/`outgoing` on Node). */
  readonly [runtimeSpecific: string]: unknown;
}

/** A Web-standard request handler. */
// deno-lint-ignore no-explicit-any
export type FetchHandler = (request: Request, info: any) => Response | Promise<Response>;

/** What a worker's hooks are told. */
export interface WorkerContext {
  /** The worker's id, as `workerId()` gives it (`undefined` for one isolate serving alone). */
  readonly id: string | undefined;
  /** Aborted when the worker starts to drain: stop taking new work (queues, timers). */
  readonly signal: AbortSignal;
}

/**
 * Code an app runs in each worker (gunicorn's `post_worker_init` and `worker_exit`): set
 * up what the worker needs once it serves, and tear it down when it stops.
 */
export interface WorkerHooks {
  /**
   * Called in each worker once it listens, before it counts as ready; a rejection is a
   * boot failure. `signal` aborts when the worker starts to drain.
   */
  onStart?(worker: WorkerContext): void | Promise<void>;
  /**
   * Called in each worker that stops (a signal, `close()`, a reload, recycling, scaling
   * down), once its in-flight requests have finished: close a database pool, flush a queue.
   * Awaited for at most `gracefulTimeout`.
   */
  onStop?(worker: WorkerContext): void | Promise<void>;
}

/**
 * What `serve()` serves: a fetch function, or an object with a `fetch` method (a Hono app,
 * or `export default { fetch }`), and optionally the worker hooks `onStart` and `onStop`.
 * On Bun, the object's `websocket` handler (what `hono/bun` exports) goes to `Bun.serve`.
 * In module form, the module may also export `websocket`, `onStart` and `onStop` by name.
 */
export type App = FetchHandler | ({ fetch: FetchHandler; websocket?: unknown } & WorkerHooks);

/** What `onListen` receives once every worker listens. */
export interface ListenInfo {
  /**
   * The URL the server answers on, e.g. `"http://127.0.0.1:8000/"`: of the first address
   * when `bind` names several; `"unix:PATH"` for a unix socket, `"fd://N"` for an inherited one.
   */
  url: string;
  /** The URL of every address, in `bind`'s order. */
  urls: string[];
  /** The port actually bound at the first address (useful with `port: 0`); 0 for a socket. */
  port: number;
  /** The hostname bound. */
  hostname: string;
  /** The runtime serving: `"deno"`, `"bun"` or `"node"`. */
  runtime: string;
  /** Number of worker processes (1 when `processes` is not set). */
  processes: number;
  /** Worker threads per process (0 when not threaded: the process's main thread serves). */
  threads: number;
  /** The admin endpoint's URL, when `adminPort` is set. */
  admin?: string;
}

export type { ServeOptions } from "./serve_options.ts";

/** The handle `serve()` returns. */
export interface Server {
  /**
   * The URL the server answers on. Known at once for a fixed port; with `port: 0`,
   * reading it before `ready` resolves throws.
   */
  readonly url: string;
  /**
   * Resolves (to this handle) when every worker listens; rejects if one fails to start (a
   * `BootError` or `AppLoadError`), or with a `StoppedError` when `close()` or a signal came
   * first. Read it to handle a failed start yourself; left unread, a failed start is
   * reported as the CLI reports it (one line on stderr, exit 3 or 4).
   */
  readonly ready: Promise<Server>;
  /** Resolves when the server has stopped, whether by `close()` or a signal. */
  readonly finished: Promise<void>;
  /**
   * Stop gracefully: stop accepting, let in-flight requests finish (up to
   * `gracefulTimeout`), stop every worker, then resolve.
   */
  close(): Promise<void>;
  /**
   * Rolling reload, what SIGHUP does: start a new generation of workers (which import the
   * app afresh, picking up code changes), wait until every one listens, then drain the old
   * ones. Rejects, leaving the old generation serving, if a new worker cannot start.
   * Only in the primary of a server with workers (`threaded` or `processes`).
   */
  reload(): Promise<void>;
  /**
   * Run `count` workers (processes, or threads when not using processes), what SIGTTIN
   * (+1) and SIGTTOU (−1) do: new ones start, or the oldest stop gracefully. Never below 1.
   * Resolves when the new workers listen or the removed ones have stopped.
   */
  scale(count: number): Promise<void>;
  /**
   * Upgrade the primary with no downtime, what SIGUSR2 does: a new primary from the same
   * command line (new code, a new runtime binary) starts its workers beside these and, once
   * they all listen, takes over (pid file, systemd's main pid) while this one drains and
   * exits. Resolves once the new primary has taken over (this process then exits 0 when
   * drained); rejects saying why not, this one serving on: refused (one isolate, a unix
   * socket, not Linux) or the new primary failed. `by` names the asker in the log.
   * Only in the primary of a server with workers.
   */
  upgrade(by?: string): Promise<void>;
  /** How many workers the primary keeps running now (processes, or threads without processes). */
  readonly workers: number;
  /**
   * What the admin endpoint's `/status` shows: every worker alive, the requests counted
   * over every worker ever run (with `stats` or `adminPort` on; zero otherwise), restarts
   * by reason, and the recent lifecycle lines. Only in the primary.
   */
  stats(): ServerStats;
}

/** One worker, as `server.stats()` and the status page show it. */
export interface WorkerStats {
  /** Its id: "2", or "2.1" for thread 1 of process 2 ("main" for one isolate serving alone). */
  worker: string;
  kind: "process" | "thread";
  /** Its process id (a thread's is its process's). */
  pid: number | undefined;
  state: "starting" | "listening" | "stopping";
  /** Seconds since it started. */
  age: number;
  /** Requests it has answered. */
  requests: number;
  /** Requests per second over the last 5 seconds. */
  rate: number;
  /** Requests per second, one entry per second, the newest last (up to a minute). */
  history: number[];
  inFlight: number;
  webSockets: number;
  /** Bytes: a process's resident set, a thread's JavaScript heap; 0 until it reports. */
  memory: number;
  /** Subscriptions its WebSockets hold to topics (a socket on a topic), as it last reported. */
  subscriptions: number;
  /** Times its place has been started again (crash, timeout, recycling, reload). */
  restarts: number;
  /** Seconds since it last reported (its heartbeat), or since it started. */
  heartbeatAge: number;
}

/** The state of a server and its workers: `server.stats()`, and `/status` as JSON. */
export interface ServerStats {
  runtime: string;
  version: string;
  /** The primary's process id. */
  pid: number;
  /** Seconds since the primary started. */
  uptime: number;
  url: string | undefined;
  /** Every worker listens, and no stop has begun (`/readyz`). */
  ready: boolean;
  /** Serving isolates asked for (processes × threads) and listening now. */
  workers: { configured: number; alive: number };
  totals: {
    /** Requests answered by every worker ever run. */
    requests: number;
    /** Requests per second over the last 5 seconds. */
    rate: number;
    inFlight: number;
    webSockets: number;
    /** Request body bytes, as their Content-Length declared them. */
    bytesIn: number;
    /** Response body bytes: sent (Node), or as their Content-Length declared them (Deno, Bun). */
    bytesOut: number;
    /**
     * Workers replaced (or, for `scale`, ended) by reason; `recycle` after `maxRequests`,
     * `memory` over `maxWorkerMemory`.
     */
    restarts: Record<
      "crash" | "timeout" | "unserving" | "recycle" | "memory" | "kill" | "reload" | "scale",
      number
    >;
    bootFailures: number;
    reloads: number;
    /**
     * Connections closed unanswered before their PROXY protocol header was read
     * (`proxyProtocol`), by reason: a peer not trusted, a malformed header, one not whole in time.
     */
    proxyProtocolRefused: Record<"untrusted" | "malformed" | "timeout", number>;
    /**
     * Topics: messages published and delivered, subscribers closed for falling behind
     * (`dropped`), by every worker ever run; subscriptions held now.
     */
    pubsub: {
      published: number;
      delivered: number;
      dropped: number;
      subscriptions: number;
      /** With `pubsub` set: whether the link to Redis (topics across hosts) is up. */
      connected?: boolean;
    };
    /** The primary's resident set in bytes. */
    memory: number;
  };
  /** Every worker alive, processes and their threads. */
  rows: WorkerStats[];
  /** The latest lifecycle lines, the newest last. */
  events: { time: number; level: string; message: string; worker?: string; pid?: number }[];
}
