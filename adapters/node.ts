/**
 * Node adapter: `node:http` (over TLS, `node:http2` with HTTP/1.1 beside it, or `node:https`) with
 * @hono/node-server's Request/Response bridge; processes are `node:cluster` workers (its
 * primary round-robins connections on every OS); threads are `worker_threads`, each
 * listening with SO_REUSEPORT (Node ≥ 22.12, Linux). Split by concern, as the Deno adapter:
 * the servers and their close in `_node_servers.ts`, the checks llhttp leaves to us in
 * `_node_requests.ts`, the response classes in `_node_responses.ts`, WebSockets in
 * `_node_websockets.ts`, the cluster worker's last probe in `_node_cluster.ts`.
 *
 * @module
 */
import { createAdaptorServer } from "@hono/node-server";
import cluster from "node:cluster";
import { createRequire } from "node:module";
import type { createServer, IncomingMessage, Server, ServerOptions, ServerResponse } from "node:http";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import type { Adapter, Listener, ParentLink, WorkerHandle } from "../src/adapter.ts";
import { compileCacheEnv } from "../src/compile_cache.ts";
import { BootError, messageOf } from "../src/errors.ts";
import { errorOrUsed } from "../src/http/boundary.ts";
import { refusal, REFUSAL_HEADERS, refusalText } from "../src/http/refusal.ts";
import { ForwardableInfo } from "../src/http/request_info.ts";
import { onHostSignal } from "../src/host.ts";
import { isBusMessage, isStopMessage, isWorkerMessage, type StopMessage } from "../src/protocol.ts";
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
import { provideBuiltins } from "./_builtins.ts";
import { processParentLink } from "./_process.ts";
import { memoryOf, openLogWriter } from "./_log_writer.ts";
import { helperSocket } from "./_notify.ts";
import { connectControl, controlDirectory, listenControl, processMemory } from "./_control.ts";
import { removePidFile, writePidFile } from "./_pid_file.ts";
import { clusterQuiet, isQuietProbe, stopAccepting, watchClusterHandles } from "./_node_cluster.ts";
import {
  answerParseErrors,
  fieldsOf,
  GUARD_FIELD_NAMES,
  hasBodyMethod,
  nodeRefusal,
} from "./_node_requests.ts";
import { isLight, whenSent } from "./_node_responses.ts";
import {
  closeGracefully,
  nodeDecidesUpgrades,
  serverOf,
  upgradeDecidedBy,
  upgrades,
} from "./_node_servers.ts";
import { readProxyHeaders } from "./_node_proxy_protocol.ts";
import { readTls } from "./_tls.ts";
import { watchFiles } from "./_watch.ts";
import { listenError, spreadProblem } from "./_shared.ts";
import { listeningFd, processUpgradeLink, startPrimaryAgain } from "./_upgrade.ts";

// The shared helpers load node: modules at first use (_builtins.ts); Node before 20.16 has no
// process.getBuiltinModule for that, and Node loads them at no cost anyway.
provideBuiltins(createRequire(import.meta.url));

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
  override get protocol(): string {
    return `HTTP/${this.incoming.httpVersion}`;
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
    onBus: (listener) =>
      port.on("message", (message) => {
        if (isBusMessage(message)) listener(message);
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
    // nodeRefusal() refuses a target neither a path nor an absolute http URI.
    httpUrl: true,
    // The bridge would answer these with its own error's message. A light response of
    // @hono/node-server's (the global Response once it serves) that still holds its parts is
    // neither, and is not asked: asking would build the full Response it saves.
    unsendable: (response) => isLight(response) ? undefined : errorOrUsed(response),
    // Counted by the response classes (_node_responses.ts) once asked.
    sentBytes: (info, onSent) => whenSent((info as NodeRequestInfo).outgoing, onSent),
    // Every request reaching the guard went through nodeRefusal(), which kept its fields.
    header(_request, info, name) {
      const { incoming } = info as NodeRequestInfo;
      if (GUARD_FIELD_NAMES.has(name)) return fieldsOf(incoming)[name] ?? null;
      const value = incoming.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  },
  // Node ends a busy worker thread: its threads can live in the primary.
  hostsThreads: false,
  parentLink: (kind) => kind === "thread" ? threadParentLink() : processParentLink(),

  listen(
    handler,
    {
      hostname,
      port,
      shared,
      limits,
      tls,
      http2 = false,
      h2c = false,
      unix,
      fd,
      onError,
      onRefused,
      proxyProtocol,
    },
  ) {
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
            http2,
            h2c,
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
    answerParseErrors(server, onRefused);
    if (proxyProtocol !== undefined) readProxyHeaders(server, proxyProtocol);
    // A cluster worker's main thread shares the primary's socket; every other shared
    // listener (threads) binds its own with SO_REUSEPORT.
    const clusterShared = shared && cluster.isWorker && isMainThread;
    return new Promise<Listener>((resolve, reject) => {
      server.once("error", (error) => reject(listenError(error, hostname, port, unix?.path, fd)));
      // An inherited socket in a cluster worker: the primary, which holds the descriptor, shares it.
      // An fd beside a port is the socket an upgrade's old primary passed on.
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

  // Processes are node:cluster workers, whose primary binds the port alone (no SO_REUSEPORT):
  // only threads in this process (reusePort) can share a held port.
  reservePort: (hostname, port, { processes }) => reservePort(hostname, port, processes === 1),

  claimUnixSocket,

  releaseUnixSocket,

  checkSpread(plan, sockets) {
    const problem = spreadProblem("node", process.platform, plan, process.versions.node, sockets);
    if (problem) throw problem;
  },

  checkProxyProtocol() {
    // node:net hands every connection to JavaScript first: the header is read on any socket.
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
      env: { ...process.env, ...compileCacheEnv(), [WORKER_ENV]: encodeWorker("thread", data) },
    });
    let uncaught: string | undefined;
    worker.on("error", (error) => (uncaught = `uncaught error: ${messageOf(error)}`));
    return {
      stop: (restart) => worker.postMessage({ multiserve: "stop", restart } satisfies StopMessage),
      post: (message) => worker.postMessage(message),
      kill: () => void worker.terminate(),
      onMessage: (listener) =>
        worker.on("message", (message) => {
          if (isWorkerMessage(message)) listener(message);
        }),
      onExit: (listener) => worker.on("exit", (code) => listener(code, uncaught)),
    };
  },

  spawnProcess(data): WorkerHandle {
    // Before the first worker listens: its round-robin socket's handle is noted (for upgrades).
    watchClusterHandles();
    // Workers load our sources (and the app) from Node's compile cache, stripped once.
    const worker = cluster.fork({ ...compileCacheEnv(), [WORKER_ENV]: encodeWorker("process", data) });
    // node:cluster's own writes to a worker can fail once it is dying (EPIPE: its answer to
    // the worker's listen() when a failed reload kills it as it starts), and are emitted as
    // "error" on the Worker, which with nobody listening ends this primary. Its exit is what
    // counts, and is reported.
    worker.on("error", () => {});
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
      post: (message) => {
        if (worker.isConnected()) worker.send(message, undefined, () => {});
      },
      onMessage: (listener) =>
        worker.on("message", (message) => {
          if (isWorkerMessage(message)) listener(message);
        }),
      onExit: (listener) => worker.on("exit", (code, signal) => listener(signal ? null : code)),
    };
  },

  onSignal: onHostSignal,

  watch: watchFiles,

  readTls,

  openLog: openLogWriter,

  memoryUsage: memoryOf,

  writePidFile,

  removePidFile,

  // Node has no unix datagram socket (node:dgram is UDP only) and no FFI: systemd-notify sends.
  // process.hrtime is CLOCK_MONOTONIC on Linux (libuv's uv_hrtime).
  notifySocket: (address, pid) =>
    Promise.resolve(helperSocket(address, pid, () => process.hrtime.bigint() / 1_000n)),

  // Node has no FFI to read a peer's credentials: the socket's mode 0600 (and its directory's) decides.
  listenControl: (path, onConnection) => listenControl(path, onConnection),

  connectControl,

  controlDirectory,
  processMemory,

  // A node:cluster primary holds the one socket its worker processes share; threads, in
  // this process too, bind their own (SO_REUSEPORT), and no cluster worker runs then.
  sharedSocketFd: (address) =>
    cluster.isPrimary && Object.keys(cluster.workers ?? {}).length > 0 ? listeningFd(address) : undefined,

  stopAccepting: (fd) => void stopAccepting(fd),

  startPrimary: startPrimaryAgain,

  upgradeLink: processUpgradeLink,

  exit: (code) => process.exit(code),
};
