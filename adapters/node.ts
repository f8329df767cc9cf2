/**
 * Node adapter: `node:http` (over TLS, `node:http2` with HTTP/1.1 beside it) with
 * @hono/node-server's Request/Response bridge; processes are `node:cluster` workers (its
 * primary round-robins connections on every OS); threads are `worker_threads`, each
 * listening with SO_REUSEPORT (Node ≥ 22.12, Linux).
 *
 * @module
 */
import { createAdaptorServer } from "@hono/node-server";
import cluster from "node:cluster";
import {
  createServer,
  IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2ServerResponse } from "node:http2";
import type { Socket } from "node:net";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import type {
  Adapter,
  ConnectionLimits,
  Listener,
  ParentLink,
  Refused,
  TlsPem,
  WorkerHandle,
} from "../src/adapter.ts";
import { BootError, messageOf } from "../src/errors.ts";
import { errorOrUsed } from "../src/http/boundary.ts";
import { refusal, REFUSAL_HEADERS, refusalText } from "../src/http/refusal.ts";
import { ForwardableInfo } from "../src/http/request_info.ts";
import { isStopMessage, isWorkerMessage, type StopMessage } from "../src/protocol.ts";
import { encodeWorker, WORKER_ENV } from "../src/role.ts";
import { closeReason, OpenSockets } from "../src/websocket/open_sockets.ts";
import {
  UPGRADE,
  type UpgradedWebSocket,
  type UpgradeWebSocketOptions,
  WebSocketsOffError,
} from "../src/websocket/upgrade.ts";
import {
  chmodUnixSocket,
  claimUnixSocket,
  releaseUnixSocket,
  reservePort,
  reusePortCloseHint,
} from "./_net.ts";
import {
  declined,
  envMember,
  sendDeclined,
  type UpgradeEnv,
  upgradeOnNode,
  webSocketServer,
} from "./_node_websockets.ts";
import { onSignal, processParentLink } from "./_process.ts";
import { memoryOf, openLogWriter } from "./_log_writer.ts";
import { Http1Response, Http2Response } from "./_node_hop_by_hop.ts";
import { readTls } from "./_tls.ts";
import { watchFiles } from "./_watch.ts";
import { listenError, spreadProblem } from "./_shared.ts";

/** The second argument of the handler on Node, as @hono/node-server's helpers expect it. */
class NodeRequestInfo extends ForwardableInfo {
  /**
   * `upgradeWebSocket()`: only for a request that came as an upgrade (see upgradeInfo()).
   * One that asked for a WebSocket but came here was served as plain HTTP: WebSockets are off.
   */
  [UPGRADE](_request: Request, _options: UpgradeWebSocketOptions): UpgradedWebSocket {
    if (this.incoming.headers.upgrade?.toLowerCase() === "websocket") throw new WebSocketsOffError();
    throw new TypeError(
      "upgradeWebSocket(): this request did not ask for a WebSocket (no Upgrade: websocket)",
    );
  }
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
  constructor(incoming: IncomingMessage, outgoing: ServerResponse) {
    super();
    this.incoming = incoming;
    this.outgoing = outgoing;
  }
  override get peerAddr(): { hostname: string; port: number } {
    const socket = this.incoming.socket;
    return { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
  }
}

/**
 * The info of an upgrade request: @hono/node-server's own `upgradeWebSocket` finds its
 * symbol-keyed members on it (forwarded to the env its upgrade handling made), and ours
 * upgrades through the same handling.
 */
function upgradeInfo(incoming: IncomingMessage, env: UpgradeEnv): NodeRequestInfo {
  const info = new NodeRequestInfo(incoming, undefined as unknown as ServerResponse);
  const upgrade = (request: Request, { protocol }: UpgradeWebSocketOptions) =>
    upgradeOnNode(env, request, protocol);
  return new Proxy(info, {
    get: (target, key) => {
      if (key === UPGRADE) return upgrade;
      if (typeof key === "symbol" && key in env) return envMember(env, key);
      // Read on the info itself: its private fields are not the proxy's.
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set: (target, key, value) =>
      typeof key === "symbol" ? Reflect.set(env, key, value) : Reflect.set(target, key, value),
  });
}

/** A worker thread's link to its supervisor. */
function threadParentLink(): ParentLink {
  const port = parentPort!;
  return {
    send: (message) => Promise.resolve(port.postMessage(message)),
    onStop: (listener) =>
      port.on("message", (message) => {
        if (isStopMessage(message)) listener(message.restart);
      }),
    exit: (code) => process.exit(code),
  };
}

export const adapter: Adapter = {
  runtime: "node",
  version: process.versions.node,
  // llhttp refuses control characters, bad Content-Length and enforces maxHeaderSize;
  // nodeRefusal() counts fields and checks Host. Headers are read from `incoming`.
  nativeChecks: {
    headerFields: true,
    hostAndLength: true,
    // The bridge would answer these with its own error's message. A light response of
    // @hono/node-server's (the global Response once it serves) that still holds its parts is
    // neither, and is not asked: asking would build the full Response it saves.
    unsendable: (response) => isLight(response) ? undefined : errorOrUsed(response),
    // Every request reaching the guard went through nodeRefusal(), which kept its fields.
    header(_request, info, name) {
      const { incoming } = info as NodeRequestInfo;
      if (GUARD_FIELDS.has(name)) return fieldsOf(incoming)[name] ?? null;
      const value = incoming.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  },
  // Node ends a busy worker thread: its threads can live in the primary.
  hostsThreads: false,
  parentLink: (kind) => kind === "thread" ? threadParentLink() : processParentLink(),

  listen(handler, { hostname, port, shared, limits, tls, unix, fd, onError, onRefused }) {
    const sockets = new OpenSockets();
    const { wss, stop: stopPinging } = webSocketServer(sockets, limits);
    // The chain answers what the app throws; a sync answer stays sync (no promise per request).
    const answer = (request: Request, info: NodeRequestInfo) => {
      try {
        const response = handler(request, info);
        return response instanceof Promise ? response.catch(onError) : response;
      } catch (error) {
        return onError(error);
      }
    };
    // An upgrade request: upgraded if its handler asks, else answered as any other request.
    const answerUpgrade = async (request: Request, incoming: IncomingMessage, env: UpgradeEnv) => {
      const refused = nodeRefusal(incoming, limits);
      const response = refused !== undefined
        ? refusal(...refused)
        : await answer(request, upgradeInfo(incoming, env));
      if (declined(incoming)) await sendDeclined(incoming, response);
      return response;
    };
    const server = createAdaptorServer({
      fetch: (request, env) => {
        const { incoming, outgoing } = env as { incoming: IncomingMessage; outgoing?: ServerResponse };
        if (outgoing !== undefined) return answer(request, new NodeRequestInfo(incoming, outgoing));
        // A WebSocket upgrade, which @hono/node-server's upgrade handling passes on.
        return answerUpgrade(request, incoming, env as unknown as UpgradeEnv);
      },
      websocket: { server: wss },
      serverOptions: {
        // 0: Node's own limit (16 KiB unless node runs with --max-http-header-size).
        ...(limits.maxHeaderSize > 0 ? { maxHeaderSize: limits.maxHeaderSize } : {}),
        headersTimeout: limits.headerTimeout * 1_000,
        // Long requests are the app's business: liveness is the supervisor's `timeout`.
        requestTimeout: 0,
        keepAliveTimeout: limits.keepAliveTimeout * 1_000,
        // How often Node looks for connections past headersTimeout (30 s by default).
        connectionsCheckingInterval: Math.min(1_000, limits.headerTimeout * 250),
        // Upgrades to anything but a WebSocket are served as plain requests, and WebSocket
        // upgrades too while WebSockets are off: by Node (≥ 22.21, 24.9), else by the request
        // class (upgradeDecidedBy()).
        ...(nodeDecidesUpgrades
          ? { shouldUpgradeCallback: (incoming: IncomingMessage) => upgrades(incoming, limits) }
          : { IncomingMessage: upgradeDecidedBy((incoming) => upgrades(incoming, limits)) }),
      } as ServerOptions,
      createServer:
        ((options: ServerOptions, bridge: (incoming: IncomingMessage, outgoing: ServerResponse) => void) =>
          serverOf(
            options,
            tls,
            limits,
            (incoming, outgoing) => {
              const refused = nodeRefusal(incoming, limits);
              if (refused === undefined) {
                // A GET or HEAD with a chunked body: the app never sees the body, but its framing
                // must be sound before anyone answers (Node answers a broken one with 400 itself).
                if (!hasBodyMethod(incoming) && fieldsOf(incoming)["transfer-encoding"] !== undefined) {
                  incoming.once("end", () => bridge(incoming, outgoing)).resume();
                  return;
                }
                return bridge(incoming, outgoing);
              }
              const [status, reason] = refused;
              outgoing.writeHead(status, REFUSAL_HEADERS);
              outgoing.end(refusalText(status, reason));
              onRefused?.({
                status,
                method: incoming.method ?? "",
                target: incoming.url ?? "",
                remote: incoming.socket.remoteAddress ?? "",
              });
            },
          )) as unknown as typeof createServer,
    }) as Server;
    if (onRefused) answerParseErrors(server, onRefused);
    // A cluster worker's main thread shares the primary's socket; every other shared
    // listener (threads) binds its own with SO_REUSEPORT.
    const clusterShared = shared && cluster.isWorker && isMainThread;
    return new Promise<Listener>((resolve, reject) => {
      server.once("error", (error) => reject(listenError(error, hostname, port, unix?.path, fd)));
      // An inherited socket in a cluster worker: the primary, which holds the descriptor, shares it.
      const where = unix !== undefined
        ? { path: unix.path }
        : fd !== undefined
        ? { fd }
        : { host: hostname, port, reusePort: shared && !clusterShared };
      server.listen(where, () => {
        if (unix !== undefined) chmodUnixSocket(unix.path, unix.mode);
        const address = server.address();
        let closing = false;
        resolve({
          port: typeof address === "object" && address !== null ? address.port : port,
          get webSockets() {
            return sockets.count;
          },
          get ended() {
            return closing || server.listening ? undefined : "its server stopped listening";
          },
          close: async (timeoutMs, closeCode) => {
            closing = true;
            stopPinging();
            // Stop accepting first, so that a client told to reconnect reaches another worker.
            await Promise.all([
              closeGracefully(server, timeoutMs),
              sockets.closeAll(closeCode, closeReason(closeCode), timeoutMs),
            ]);
            if (clusterShared) await clusterQuiet();
          },
        });
      });
    });
  },

  reservePort,

  claimUnixSocket,

  releaseUnixSocket,

  checkSpread(plan, sockets) {
    const problem = spreadProblem("node", process.platform, plan, process.versions.node, sockets);
    if (problem) throw problem;
  },

  // Processes share the cluster primary's one socket; only threads bind their own.
  closeHint: (plan) => plan.threads > 0 ? reusePortCloseHint(process.platform) : undefined,

  limitsHint: () => undefined,

  servingNote: () => undefined,

  mainModule() {
    const entry = process.argv[1];
    if (!entry) {
      throw new BootError(
        "threads re-run the entry module, and this program has none (eval or REPL): pass serve() the URL of a module instead",
      );
    }
    return pathToFileURL(entry).href;
  },

  spawnThread(url, data) {
    const worker = new Worker(new URL(url), {
      env: { ...process.env, [WORKER_ENV]: encodeWorker("thread", data) },
    });
    let uncaught: string | undefined;
    worker.on("error", (error) => (uncaught = `uncaught error: ${messageOf(error)}`));
    return {
      stop: (restart) => worker.postMessage({ multiserve: "stop", restart } satisfies StopMessage),
      kill: () => void worker.terminate(),
      onMessage: (listener) =>
        worker.on("message", (message) => {
          if (isWorkerMessage(message)) listener(message);
        }),
      onExit: (listener) => worker.on("exit", (code) => listener(code, uncaught)),
    };
  },

  spawnProcess(data): WorkerHandle {
    const worker = cluster.fork({ [WORKER_ENV]: encodeWorker("process", data) });
    // Answer clusterQuiet(): by now this primary has handled the worker's earlier close.
    worker.on("message", (message) => {
      if (isQuietProbe(message)) worker.send(message, undefined, () => {});
    });
    return {
      pid: worker.process.pid,
      stop: (restart) => {
        // A worker that is exiting may close the channel under us: its exit is what counts.
        if (worker.isConnected()) {
          worker.send({ multiserve: "stop", restart } satisfies StopMessage, undefined, () => {});
        }
      },
      kill: () => {
        if (!worker.isDead()) worker.process.kill("SIGKILL");
      },
      onMessage: (listener) =>
        worker.on("message", (message) => {
          if (isWorkerMessage(message)) listener(message);
        }),
      onExit: (listener) => worker.on("exit", (code, signal) => listener(signal ? null : code)),
    };
  },

  onSignal,

  watch: watchFiles,

  readTls,

  openLog: openLogWriter,

  memoryUsage: memoryOf,

  exit: (code) => process.exit(code),
};

/**
 * The server: node:http's, or over TLS node:http2's, which speaks HTTP/2 to a client that
 * asks for it by ALPN and HTTP/1.1 to the rest (`allowHTTP1`), as Deno does. Its HTTP/1.1
 * connections go through node:http's own connection handling, which reads the HTTP/1
 * options (timeouts, header size, upgrades) from the server object: they are set there.
 */
function serverOf(
  options: ServerOptions,
  tls: TlsPem | undefined,
  limits: ConnectionLimits,
  handler: (incoming: IncomingMessage, outgoing: ServerResponse) => void,
): Server | Http2SecureServer {
  if (tls === undefined) return createServer({ ...options, ServerResponse: Http1Response }, handler);
  const server = createSecureServer({
    ...tls,
    allowHTTP1: true,
    ...(options.IncomingMessage ? { Http1IncomingMessage: options.IncomingMessage } : {}),
    // Typed as the classes they extend: @types/node's generics cannot see the two are alike.
    Http1ServerResponse: Http1Response as typeof ServerResponse,
    Http2ServerResponse: Http2Response as unknown as typeof Http2ServerResponse,
    // HTTP/2's header limits, as HTTP/1's: pairs (with room for the four pseudo-headers) and bytes.
    ...(limits.maxHeaderCount > 0 ? { maxHeaderListPairs: limits.maxHeaderCount + PSEUDO_HEADERS } : {}),
    ...(limits.maxHeaderSize > 0 ? { settings: { maxHeaderListSize: limits.maxHeaderSize } } : {}),
  }, handler as unknown as Parameters<typeof createSecureServer>[1]);
  // It has no closeAllConnections(): what closeGracefully() must tell and cut, kept here.
  const open: OpenConnections = { sessions: new Set(), sockets: new Set(), draining: false };
  server.on("session", (session) => {
    open.sessions.add(session);
    session.once("close", () => open.sessions.delete(session));
    // A connection taken before the drain began can finish its TLS handshake after it: its
    // session is told GOAWAY as it opens, or its client would keep the worker to the deadline.
    if (open.draining) session.close();
  });
  server.on("secureConnection", (socket) => {
    open.sockets.add(socket);
    socket.once("close", () => open.sockets.delete(socket));
  });
  Object.assign(server, options, { [OPEN]: open });
  return server;
}

/** Does Node take `shouldUpgradeCallback` (22.21, 24.9)? Its servers then have one. */
const nodeDecidesUpgrades =
  typeof (createServer() as { shouldUpgradeCallback?: unknown }).shouldUpgradeCallback === "function";

/** Is this upgrade request one to upgrade: a WebSocket, while WebSockets are on? */
function upgrades(incoming: IncomingMessage, limits: ConnectionLimits): boolean {
  return limits.maxWebSockets > 0 && incoming.headers.upgrade?.toLowerCase() === "websocket";
}

/**
 * `shouldUpgradeCallback` for a Node without it, which hands every request with an Upgrade
 * header to the upgrade listeners: there @hono/node-server's would leave any but a WebSocket
 * unanswered (its connection, taken from the HTTP server, then holds a graceful stop for
 * ever), and accept WebSockets that are off. Node reads the request's `upgrade` after
 * setting its headers, and serves it as a plain request when false, as it does when no one
 * listens for upgrades: this class answers with `decide`. CONNECT stays an upgrade, as Node
 * keeps it with the callback (no one listens: its connection is closed).
 */
function upgradeDecidedBy(decide: (incoming: IncomingMessage) => boolean): typeof IncomingMessage {
  const asked = Symbol("multiserve.upgrade");
  type Asking = IncomingMessage & { [asked]?: boolean };
  return class extends IncomingMessage {
    // Kept under a symbol, not in a field: Node's constructor sets `upgrade` before this
    // class's fields would exist, and a field would hide the accessor.
    get upgrade(): boolean {
      const value = (this as Asking)[asked] === true;
      return value && (this.method === "CONNECT" || decide(this));
    }
    set upgrade(value: boolean) {
      (this as Asking)[asked] = value;
    }
  };
}

/** `:method`, `:scheme`, `:path` and `:authority`. */
const PSEUDO_HEADERS = 4;
/** The HTTP/2 sessions and TLS sockets a node:http2 server has open. */
interface OpenConnections {
  sessions: Set<import("node:http2").ServerHttp2Session>;
  sockets: Set<Socket>;
  /** closeGracefully() has begun: a session that opens now is told GOAWAY at once. */
  draining: boolean;
}
const OPEN = Symbol("multiserve.open");

/** The symbol under which @hono/node-server's light Response keeps its parts; null if none. */
let lightParts: symbol | null | undefined;

/** A light Response of @hono/node-server's that still holds its parts (no full Response made). */
function isLight(response: Response): boolean {
  if (lightParts === undefined) {
    lightParts = Object.getOwnPropertySymbols(new Response("")).find((s) => s.description === "cache") ??
      null;
  }
  return lightParts !== null && lightParts in response;
}

/** A connection as Node's http server keeps it: the response in progress, if any. */
type ParsingSocket = Socket & { _httpMessage?: { _headerSent?: boolean } | null };

/**
 * Answer what llhttp refuses as Node itself would (431 for a head too large, 408 for one
 * too slow, 400 otherwise, when nothing was written yet), and tell `onRefused`: Node answers
 * these only while no one listens for `clientError`.
 */
function answerParseErrors(server: Server, onRefused: (refused: Refused) => void): void {
  server.on("clientError", (error: Error & { code?: string }, socket: ParsingSocket) => {
    const status = error.code === "HPE_HEADER_OVERFLOW"
      ? 431
      : error.code === "HPE_CHUNK_EXTENSIONS_OVERFLOW"
      ? 413
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? 408
      : 400;
    // Node's own test: no response of this connection has begun.
    if (socket.writable && socket._httpMessage?._headerSent !== true) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
      onRefused({ status, method: "", target: "", remote: socket.remoteAddress ?? "" });
    }
    socket.destroy(error);
  });
}

/**
 * What llhttp lets through that other runtimes refuse: HTTP/0.9 and 2.0 request lines, a
 * chunked body over HTTP/1.0 (RFC 9112 §6.1: faulty framing), a missing or repeated Host,
 * and more header fields than allowed (Node would drop the extra ones silently).
 */
function nodeRefusal(incoming: IncomingMessage, limits: ConnectionLimits): [number, string] | undefined {
  const version = incoming.httpVersion;
  // HTTP/2.0 is served only as real HTTP/2 (node:http2's request has a stream), not as an
  // HTTP/1 request line that says "HTTP/2.0".
  const h2 = version === "2.0" && "stream" in incoming;
  if (version !== "1.1" && version !== "1.0" && !h2) return [400, `HTTP/${version} is not served`];
  // The bridge builds a URL from the target: what it cannot parse would throw (a 500).
  if (incoming.url?.charCodeAt(0) !== SLASH) {
    const problem = targetProblem(incoming);
    if (problem !== undefined) return [400, problem];
  }
  const raw = incoming.rawHeaders;
  if (limits.maxHeaderCount > 0 && raw.length > (limits.maxHeaderCount + (h2 ? PSEUDO_HEADERS : 0)) * 2) {
    return [431, `more than ${limits.maxHeaderCount} header fields`];
  }
  // One pass over the raw fields, keeping those the guard asks for: cheaper than
  // `incoming.headers`, which Node builds on first use. Node would also keep only the
  // first of several Host fields, so they are counted here.
  const fields: Record<string, string> = {};
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (!GUARD_FIELD_LENGTHS.has(name.length)) continue;
    const lower = name.toLowerCase();
    if (!GUARD_FIELDS.has(lower)) continue;
    if (lower === "host") hosts++;
    fields[lower] = fields[lower] === undefined ? raw[i + 1] : `${fields[lower]}, ${raw[i + 1]}`;
  }
  // HTTP/2 names the host in :authority (RFC 9113 §8.3.1), which Host may repeat.
  if (h2 && hosts === 0 && (incoming as unknown as { authority?: string }).authority) {
    fields.host = (incoming as unknown as { authority: string }).authority;
    hosts = 1;
  }
  if (hosts === 0 || fields.host === "") return [400, "the request has no Host header"];
  if (hosts > 1) return [400, "the request has more than one Host header"];
  if (version === "1.0" && fields["transfer-encoding"] !== undefined) {
    return [400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"];
  }
  (incoming as GuardedIncoming)[FIELDS] = fields;
  return undefined;
}

const SLASH = 47;

/** The fields nodeRefusal() kept for the guard. */
const fieldsOf = (incoming: IncomingMessage) => (incoming as GuardedIncoming)[FIELDS]!;

/** GET and HEAD requests have no content a Request could carry. */
const hasBodyMethod = (incoming: IncomingMessage) => incoming.method !== "GET" && incoming.method !== "HEAD";

/**
 * What is wrong with a request target other than a path (RFC 9112 §3.2): `*` is for
 * OPTIONS alone (the app sees it as the path `/*`, as on Deno), and an absolute URI must
 * parse; nothing else (authority-form is for CONNECT, which is not served) is served.
 */
function targetProblem(incoming: IncomingMessage): string | undefined {
  const target = incoming.url ?? "";
  if (target === "*") {
    if (incoming.method !== "OPTIONS") return "only OPTIONS may have * as its target";
    incoming.url = "/*";
    return undefined;
  }
  if (/^https?:\/\//i.test(target) && URL.canParse(target)) return undefined;
  return "the request target is not a path or an absolute http URI";
}

/** Every header field the guard reads (src/http/guard.ts): keep the two in step. */
const GUARD_FIELDS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "upgrade",
  "x-forwarded-for",
  "x-forwarded-proto",
]);
const GUARD_FIELD_LENGTHS = new Set([...GUARD_FIELDS].map((name) => name.length));
const FIELDS = Symbol("multiserve.fields");
type GuardedIncoming = IncomingMessage & { [FIELDS]?: Record<string, string> };

/** The round trip of clusterQuiet(). */
interface QuietProbe {
  multiserveQuiet: true;
}
function isQuietProbe(message: unknown): message is QuietProbe {
  return (message as Partial<QuietProbe> | null)?.multiserveQuiet === true;
}

/**
 * Wait until the cluster primary can hand this worker no more connections. Closing the
 * server tells the primary to stop, but connections it sent before it heard are still in
 * the IPC channel; Node bounces them back only if this process is alive to read them, and
 * one that exits first strands them, open and unanswered, in the primary. The channel is
 * ordered, so once the primary echoes a probe sent after the close, none is left in flight.
 */
function clusterQuiet(): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    const done = () => {
      clearTimeout(timer);
      process.off("message", onMessage);
      resolve();
    };
    const onMessage = (message: unknown) => isQuietProbe(message) && done();
    // A primary that is gone cannot answer; nothing can be in flight from it either.
    const timer = setTimeout(done, 2_000);
    process.on("message", onMessage);
    process.send({ multiserveQuiet: true } satisfies QuietProbe, undefined, {}, () => {});
  });
}

/**
 * Stop accepting, let in-flight requests end, cut what is left after `timeoutMs`. HTTP/2
 * sessions are told GOAWAY at once, and so is one that opens later on a connection taken
 * before (their clients open no new streams, and reconnect for the next request); they are
 * destroyed at the deadline with the HTTP/1.1 connections.
 */
function closeGracefully(server: ReturnType<typeof createServer>, timeoutMs: number): Promise<void> {
  const open = (server as { [OPEN]?: OpenConnections })[OPEN];
  return new Promise((resolve) => {
    server.close(() => {
      clearInterval(idle);
      clearTimeout(deadline);
      resolve();
    });
    if (open !== undefined) open.draining = true;
    for (const session of open?.sessions ?? []) session.close();
    // Keep-alive connections go idle after their response: close them as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      if (open === undefined) return server.closeAllConnections();
      for (const session of open.sessions) session.destroy();
      for (const socket of open.sockets) socket.destroy();
    }, timeoutMs);
  });
}
