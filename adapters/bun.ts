/**
 * Bun adapter: `Bun.serve`; threads are Workers and processes are child processes, every
 * one binding the port with `reusePort` (the kernel spreads connections on Linux).
 *
 * @module
 */
import process from "node:process";
import { pathToFileURL } from "node:url";
import type { Adapter, Listener } from "../src/adapter.ts";
import { settlesWithin } from "../src/deadline.ts";
import { OptionError } from "../src/errors.ts";
import { errorOrUsed } from "../src/http/boundary.ts";
import { ForwardableInfo } from "../src/http/request_info.ts";
import { onHostSignal } from "../src/host.ts";
import { isWorkerMessage } from "../src/protocol.ts";
import { encodeWorker, WORKER_ENV } from "../src/role.ts";
import { closeReason, OpenSockets } from "../src/websocket/open_sockets.ts";
import {
  UPGRADE,
  type UpgradedWebSocket,
  type UpgradeWebSocketOptions,
  WebSocketsOffError,
} from "../src/websocket/upgrade.ts";
import { Bun, type BunServer, type BunWebSocketHandler, LIBC_SYMBOLS, loadBunFfi } from "./_bun_api.ts";
import {
  afterUpgrade,
  noticingUpgrades,
  peerBeforeUpgrade,
  upgradeOnBun,
  webSocketHandler,
} from "./_bun_websockets.ts";
import {
  chmodUnixSocket,
  claimUnixSocket,
  releaseUnixSocket,
  reservePort,
  reusePortCloseHint,
} from "./_net.ts";
import { processParentLink, spawnWorkerProcess } from "./_process.ts";
import { memoryOf, openLogWriter } from "./_log_writer.ts";
import { connectControl, controlDirectory, listenControl, peerUidReader, processMemory } from "./_control.ts";
import { bunLibc, datagramPlatform, datagramSocket, helperSocket } from "./_notify.ts";
import { removePidFile, writePidFile } from "./_pid_file.ts";
import { readTls } from "./_tls.ts";
import { watchFiles } from "./_watch.ts";
import { listenError, spreadProblem, threadStop, webWorkerParentLink } from "./_shared.ts";
import { processUpgradeLink, startPrimaryAgain } from "./_upgrade.ts";

/** Seconds after which Bun (uWebSockets) cuts a connection whose request head is unfinished. */
const BUN_HEADER_TIMEOUT = 10;

/** Bytes of request head beyond which Bun answers 431 itself (its default, `--max-http-header-size`). */
const BUN_MAX_HEADER_SIZE = 16 * 1024;

/** Bun's largest `idleTimeout`, in seconds. */
const MAX_IDLE_TIMEOUT = 255;

/** How often a stopping server closes the connections that have gone idle. */
const IDLE_CHECK_MS = 50;

/** How long a stopped server lets just-accepted connections show their request. */
const LINGER_MS = 100;

/** The second argument of the handler on Bun: `server`, as hono/bun expects it. */
class BunRequestInfo extends ForwardableInfo {
  /** `upgradeWebSocket()`: Bun's `server.upgrade()`, with a `ServerWebSocket` as the socket's data. */
  [UPGRADE](request: Request, { protocol }: UpgradeWebSocketOptions): UpgradedWebSocket {
    if ((this.server as { [WEBSOCKETS_OFF]?: boolean })[WEBSOCKETS_OFF]) throw new WebSocketsOffError();
    return upgradeOnBun(request, protocol);
  }
  readonly server: BunServer;
  readonly #request: Request;
  constructor(server: BunServer, request: Request) {
    super();
    this.server = server;
    this.#request = request;
  }
  override get peerAddr(): { hostname: string; port: number } {
    const ip = this.server.requestIP(this.#request) ?? peerBeforeUpgrade(this.#request);
    return { hostname: ip?.address ?? "", port: ip?.port ?? 0 };
  }
}

/** Asked of the server the app sees: true while WebSockets are off. */
const WEBSOCKETS_OFF = Symbol("multiserve.webSocketsOff");

/**
 * The server as the app sees it while WebSockets are off (`maxWebSockets` 0): `upgrade()`,
 * which hono/bun's helper, the app itself and `upgradeWebSocket()` call, throws
 * `WebSocketsOffError` (a 503 naming the option); `stop()` is `stop`; the rest is the server's own.
 */
function withoutWebSockets(server: BunServer, stop: BunServer["stop"]): BunServer {
  const refuse = () => {
    throw new WebSocketsOffError();
  };
  return new Proxy(server, {
    get(target, key) {
      if (key === "upgrade") return refuse;
      if (key === "stop") return stop;
      if (key === WEBSOCKETS_OFF) return true;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** `response`, once the connection's idle timer runs again (for the keep-alive wait). */
function idleAgain(
  server: BunServer,
  request: Request,
  response: Response | undefined,
  seconds: number,
): Response | undefined {
  try {
    server.timeout(request, seconds);
  } catch { /* upgraded to a WebSocket: its own idle timeout runs */ }
  return response;
}

/** Bun's ErrorEvent message is a source excerpt around an "error: …" line: keep that line. */
function errorLine(message: string): string {
  const lines = message.split("\n");
  return lines.find((line) => line.startsWith("error: "))?.slice("error: ".length) ?? lines[0];
}

/**
 * Why Bun does not read PROXY headers: Bun.serve accepts its connections itself and hands
 * their bytes to its HTTP parser (and TLS) in native code, with no hook before them and no
 * way to give it a connection read elsewhere. The one way left, a front socket (Bun.listen)
 * reading the header and relaying every byte to an internal Bun.serve, was measured (bench
 * (p)): 0.69× Bun.serve alone over keep-alive connections, where Node and Deno keep 0.95 and
 * more, and a second socket per connection.
 */
const NO_PROXY_PROTOCOL =
  "--proxy-protocol is not available on Bun: Bun.serve accepts connections itself and parses them in native code, with no hook to read a PROXY header first, and relaying each connection through a front socket of ours cost a third of its throughput (docs/limits.md). Serve on Node, or on Deno with --max-web-sockets 0";

export const adapter: Adapter = {
  runtime: "bun",
  version: Bun.version,
  // Bun's parser lets two Host fields and a repeated Content-Length through, and allows 200
  // fields: the guard checks those, counting with `headers.count` (it refuses a head over
  // 16 KiB itself). It lets a DEL through in header values too, which RFC 9110 §5.5 lets a
  // recipient keep: finding it means reading every value, which cost Bun a third of its
  // requests per second with ten browser headers, so it is left as Bun.serve leaves it.
  nativeChecks: {
    headerFields: false,
    hostAndLength: false,
    headerSizeLimit: BUN_MAX_HEADER_SIZE,
    headerCount: (request) => (request.headers as Headers & { count: number }).count,
    // Bun's URL is Host and the path: an absolute target's userinfo never reaches it.
    noUserinfo: true,
    // Bun would throw for these as it sends them: said here as what the app returned.
    unsendable: errorOrUsed,
  },
  // Bun ends a busy Worker: its threads can live in the primary.
  hostsThreads: false,
  // process.exit in a Bun Worker ends just that thread.
  parentLink: (kind) =>
    kind === "thread" ? webWorkerParentLink((code) => process.exit(code)) : processParentLink(),

  listen(
    handler,
    { hostname, port, shared, limits, tls, http2, h2c, unix, onError, websocket, proxyProtocol },
  ) {
    if (proxyProtocol !== undefined) return Promise.reject(new OptionError(NO_PROXY_PROTOCOL));
    const idleTimeout = Math.min(MAX_IDLE_TIMEOUT, Math.ceil(limits.keepAliveTimeout));
    const sockets = new OpenSockets();
    let server: BunServer;
    try {
      server = Bun.serve({
        ...(unix === undefined ? { hostname, port, reusePort: shared } : { unix: unix.path }),
        // Over TLS, HTTP/2 by ALPN beside HTTP/1.1 (WebSockets stay on HTTP/1.1). Without TLS,
        // with `http2` Bun speaks HTTP/2 to a connection opening with its preface (h2c) and
        // HTTP/1.1 to the rest: only when asked (`h2c`).
        ...(tls === undefined ? (h2c === true ? { http2: true } : {}) : { tls, http2: http2 === true }),
        // Bun's timer for idle connections, which also runs while the app works on a
        // request: paused for that below. (Bun cuts a slow request head after its own
        // fixed 10 s, whatever this is.)
        idleTimeout,
        // The guard answers 413 itself, the same on every runtime; Bun's own cap (128 MiB by
        // default, with a bare 413) must not come first. Bun streams bodies: nothing buffers.
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        fetch: (request, server) => {
          const response = handler(request, new BunRequestInfo(exposed, request));
          if (!(response instanceof Promise)) {
            return afterUpgrade(server, request, response);
          }
          // A request that takes the app longer than the idle timeout must not be cut:
          // liveness is the supervisor's business, not a per-request clock. (An answer
          // ready at once needs neither the pause nor the restart.)
          server.timeout(request, 0);
          return response.then((ready) =>
            idleAgain(server, request, afterUpgrade(server, request, ready), idleTimeout)
          );
        },
        error: onError,
        websocket: limits.maxWebSockets > 0
          ? webSocketHandler(websocket as BunWebSocketHandler | undefined, sockets, limits, () => server)
          : undefined,
      });
    } catch (error) {
      return Promise.reject(listenError(error, hostname, port, unix?.path));
    }
    // The server the app is handed (requests come only once Bun.serve() has returned). A
    // stop() through it is the app's: the worker no longer serves, and is replaced.
    let stoppedByApp = false;
    const stop = (closeActive?: boolean) => {
      stoppedByApp = true;
      return server.stop(closeActive);
    };
    const exposed = limits.maxWebSockets > 0
      ? noticingUpgrades(server, stop)
      : withoutWebSockets(server, stop);
    if (unix !== undefined) chmodUnixSocket(unix.path, unix.mode);
    let closing = false;
    const listener: Listener = {
      port: unix === undefined ? server.port ?? 0 : 0,
      get webSockets() {
        return sockets.count;
      },
      get ended() {
        if (closing) return undefined;
        if (stoppedByApp) return "the app stopped its server";
        // Bun's server says port 0 once stopped.
        return unix === undefined && server.port === 0 ? "its server stopped" : undefined;
      },
      close: async (timeoutMs, closeCode) => {
        closing = true;
        // Stop accepting first, so that a client told to reconnect reaches another worker.
        const stopping = settlesWithin(server.stop(false), timeoutMs);
        // Bun's stop() tells the HTTP/2 sessions open now GOAWAY, but not one on a connection
        // it had taken whose TLS handshake ends after: Bun serves that one on, to the deadline.
        // Closing idle connections tells it GOAWAY at its first moment without a stream in
        // flight (an HTTP/1.1 one Bun closes after its response anyway).
        const idle = setInterval(() => server.closeIdleConnections(), IDLE_CHECK_MS);
        await sockets.closeAll(closeCode, closeReason(closeCode), timeoutMs);
        const stopped = await stopping;
        clearInterval(idle);
        if (!stopped) return void await server.stop(true);
        // A connection accepted in the instant the socket closed may not have shown its
        // request yet; ending the isolate at once would reset it. Give it a moment.
        await new Promise((resolve) => setTimeout(resolve, Math.min(LINGER_MS, timeoutMs)));
      },
    };
    return Promise.resolve(listener);
  },

  // Every worker binds with reusePort: a port 0 chosen here is held until they listen.
  reservePort: (hostname, port) => reservePort(hostname, port, true),

  claimUnixSocket,

  releaseUnixSocket,

  checkSpread(plan, sockets) {
    const problem = spreadProblem("bun", process.platform, plan, "", sockets);
    if (problem) throw problem;
  },

  checkProxyProtocol() {
    throw new OptionError(NO_PROXY_PROTOCOL);
  },

  closeHint: () => reusePortCloseHint(process.platform),

  limitsHint: (limits) =>
    limits.headerTimeout === BUN_HEADER_TIMEOUT
      ? undefined
      : `Bun cuts a client that has not sent its request headers after its own fixed ${BUN_HEADER_TIMEOUT} s (it cannot be changed); headerTimeout ${limits.headerTimeout} s applies on Deno and Node only`,

  servingNote: () => undefined,

  mainModule: () => pathToFileURL(Bun.main).href,

  spawnThread(url, data) {
    const env = { ...process.env, [WORKER_ENV]: encodeWorker("thread", data) };
    const worker = new Worker(url, { env } as WorkerOptions);
    const stopping = threadStop(worker);
    worker.addEventListener("message", stopping.heard);
    let uncaught: string | undefined;
    worker.addEventListener("error", (event) => {
      event.preventDefault(); // the thread's crash is ours to handle, not this process's
      uncaught = `uncaught error: ${errorLine((event as ErrorEvent).message)}`;
    });
    return {
      stop: stopping.stop,
      post: (message) => worker.postMessage(message),
      kill: () => worker.terminate(),
      onMessage: (listener) =>
        worker.addEventListener("message", (event) => {
          if (isWorkerMessage(event.data)) listener(event.data);
        }),
      onExit: (listener) =>
        worker.addEventListener("close", (event) => listener((event as CloseEvent).code ?? 0, uncaught)),
    };
  },

  spawnProcess(data) {
    // argv[1] is the entry script; execArgv holds Bun's own flags.
    return spawnWorkerProcess(process.execPath, [...process.execArgv, ...process.argv.slice(1)], data);
  },

  onSignal: onHostSignal,

  watch: watchFiles,

  readTls,

  openLog: openLogWriter,

  memoryUsage: memoryOf,

  writePidFile,

  removePidFile,

  notifySocket: async (address, pid) => {
    // bun:ffi is experimental in Bun: it is loaded only here, for four libc calls.
    const libc = datagramPlatform(process.platform, process.arch)
      ? bunLibc(await loadBunFfi(), LIBC_SYMBOLS)
      : `no datagrams on ${process.platform} ${process.arch}`;
    const socket = typeof libc === "string"
      ? libc
      : datagramSocket(address, libc, "datagrams (libc by bun:ffi)");
    return typeof socket === "string" ? helperSocket(address, pid) : socket;
  },

  listenControl: async (path, onConnection) => listenControl(path, onConnection, await bunPeerUid()),

  connectControl,

  controlDirectory,
  processMemory,

  // Workers (processes and threads) bind their own sockets with SO_REUSEPORT.
  sharedSocketFd: () => undefined,

  stopAccepting: () => {},

  startPrimary: startPrimaryAgain,

  upgradeLink: processUpgradeLink,

  exit: (code) => process.exit(code),
};

let peerUid: ((fd: number) => number | undefined) | undefined | null = null;

/** A control client's uid through libc's getsockopt (bun:ffi), on Linux. */
async function bunPeerUid(): Promise<((fd: number) => number | undefined) | undefined> {
  if (peerUid !== null) return peerUid;
  peerUid = undefined;
  if (process.platform !== "linux") return;
  try {
    const { symbols } = (await loadBunFfi()).dlopen("libc.so.6", LIBC_SYMBOLS);
    peerUid = peerUidReader((fd, level, name, value, length) =>
      symbols.getsockopt(fd, level, name, value, length)
    );
  } catch { /* no libc to open: the file mode alone decides */ }
  return peerUid;
}
