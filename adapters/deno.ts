/**
 * Deno adapter: `Deno.serve`; threads are Workers and processes are children of
 * `Deno.execPath()` with this process's permissions, every one binding the port with
 * `reusePort` (unstable in Deno 2.9: children get `--unstable-net`, and threads always run
 * in a child; the kernel spreads on Linux).
 *
 * @module
 */
import type { Adapter, Listener } from "../src/adapter.ts";
import { settlesWithin } from "../src/deadline.ts";
import { OptionError } from "../src/errors.ts";
import { refusal } from "../src/http/refusal.ts";
import { errorOrUsed } from "../src/http/boundary.ts";
import { forwardedUrlOf } from "../src/http/proxy.ts";
import { ForwardableInfo } from "../src/http/request_info.ts";
import { onHostSignal } from "../src/host.ts";
import { isWorkerMessage, type WorkerData } from "../src/protocol.ts";
import { encodeWorker, THREAD_NAME_PREFIX, WORKER_ENV } from "../src/role.ts";
import { closeReason, OpenSockets } from "../src/websocket/open_sockets.ts";
import { UPGRADE, type UpgradedWebSocket, type UpgradeWebSocketOptions } from "../src/websocket/upgrade.ts";
import { Deno, type DenoServeInfo, innerRequestOf, LIBC_SYMBOLS, serveOnListener } from "./_deno_api.ts";
import { serveConnections, serveOnConnection } from "./_deno_connections.ts";
import { peerBeforeUpgrade, trackUpgrades } from "./_deno_websockets.ts";
import {
  chmodUnixSocket,
  claimUnixSocket,
  MIGRATE_REQ,
  releaseUnixSocket,
  reservePort as holdPort,
  reusePortCloseHint,
} from "./_net.ts";
import { connectControl, controlDirectory, listenControl, peerUidReader, processMemory } from "./_control.ts";
import { datagramPlatform, datagramSocket, denoLibc, helperSocket } from "./_notify.ts";
import { removePidFile, writePidFile } from "./_pid_file.ts";
import { processParentLink, spawnWorkerProcess } from "./_process.ts";
import { listenError, spreadProblem, threadStop, webWorkerParentLink } from "./_shared.ts";
import { readTls } from "./_tls.ts";
import { binaryPath, procCommandLine, processUpgradeLink, startPrimaryProcess } from "./_upgrade.ts";

/** Serving one connection at a time, with timeouts; missing from a future Deno, perhaps. */
const serveOn = serveOnConnection(Deno);

/** Deno.serve's server on a listener of ours (HTTP/1.1 alone over TLS); missing from a future Deno, perhaps. */
const serveOnOwnListener = serveOnListener(Deno);

/** ALPN over TLS: HTTP/2 for a client that asks, or HTTP/1.1 alone (`http2: false`). */
const alpnProtocols = (http2: boolean) => http2 ? ["h2", "http/1.1"] : ["http/1.1"];

/**
 * What `Deno.serve(options, handler)` does over TLS, with HTTP/1.1 alone: Deno.serve offers
 * HTTP/2 and refuses an `alpnProtocols` option, so its server runs on a TLS listener of ours
 * whose ALPN offers HTTP/1.1 only (`serveHttpOnListener`, which the caller made sure exists).
 */
function serveHttp1OverTls(
  { hostname, port, reusePort, cert, key, onError, onListen }: Parameters<typeof Deno.serve>[0],
  handler: Parameters<typeof Deno.serve>[1],
): ReturnType<typeof Deno.serve> {
  const listener = Deno.listenTls({
    hostname: hostname!,
    port: port!,
    reusePort,
    cert: cert!,
    key: key!,
    alpnProtocols: alpnProtocols(false),
  });
  const server = serveOnOwnListener!(listener, undefined, handler, onError, () => {});
  onListen(listener.addr);
  return server;
}

/**
 * Why Deno cannot read PROXY headers with these options, or undefined when it can: only its
 * own accept loop (`serveHttpOnConnection`, WebSockets off) can read a connection before
 * Deno's HTTP server does, and only over plain TCP. Deno.serve accepts by itself, a unix
 * socket is served by Deno.serve, and Deno's TLS listener does the handshake as it accepts,
 * before the header (the connection it gives back has no way to do it later, and
 * `Deno.startTls` is for clients only).
 */
function proxyProtocolProblem(
  { tls, unix, webSockets }: { tls: boolean; unix: boolean; webSockets: boolean },
): string | undefined {
  const why = "Deno reads PROXY headers only in its own accept loop";
  if (serveOn === undefined) {
    return `this Deno ${Deno.version.deno} has no serveHttpOnConnection: ${why}; use Deno 2.9`;
  }
  if (tls) {
    return "--proxy-protocol with --cert: Deno's TLS listener does the handshake as it accepts, before a PROXY header could be read, and Deno has no server-side TLS over a connection already read (Deno.startTls is for clients). Terminate TLS in the balancer, or serve on Node";
  }
  if (unix) {
    return `--proxy-protocol on a unix socket: ${why}, which Deno has for TCP only; bind a TCP port`;
  }
  if (webSockets) {
    return `--proxy-protocol with WebSockets on: ${why}, and WebSockets need Deno.serve's, which accepts by itself; add --max-web-sockets 0`;
  }
  return undefined;
}

/** A worker thread's own end. */
const workerScope = globalThis as unknown as { postMessage(message: unknown): void; close(): void };

/** The second argument of the handler on Deno: `remoteAddr` and `completed`, as Deno's own. */
class DenoRequestInfo extends ForwardableInfo {
  /** `upgradeWebSocket()`: Deno's own, which is counted (adapters/_deno_websockets.ts). */
  [UPGRADE](request: Request, { protocol }: UpgradeWebSocketOptions): UpgradedWebSocket {
    // The wrapper gave the socket its topics (addSubscriptions).
    return Deno.upgradeWebSocket(request, protocol === undefined ? {} : { protocol }) as UpgradedWebSocket;
  }
  readonly #info: DenoServeInfo;
  readonly #request: Request;
  /** The connection speaks HTTP/2; undefined where Deno.serve does the TLS handshake and does not say. */
  readonly #http2: boolean | undefined;
  constructor(info: DenoServeInfo, request: Request, http2: boolean | undefined) {
    super();
    this.#info = info;
    this.#request = request;
    this.#http2 = http2;
  }
  /** HTTP/2, or perhaps HTTP/2 (Deno.serve over TLS): the host may be in the URL alone. */
  get hostInUrl(): boolean {
    return this.#http2 !== false;
  }
  override get protocol(): string {
    return this.#http2 === true ? "HTTP/2.0" : "HTTP/1.1";
  }
  override get peerAddr(): { hostname: string; port: number } {
    let addr: { hostname: string; port: number };
    try {
      addr = this.#info.remoteAddr;
    } catch (error) {
      // Deno forgets the address once the request is upgraded ("Request closed"): it was
      // kept as the request upgraded.
      addr = peerBeforeUpgrade(this.#request) ?? (() => {
        throw error;
      })();
    }
    // A unix socket's peer has no address: "", as on Bun and Node.
    return addr.hostname === undefined ? { hostname: "", port: 0 } : addr;
  }
  get completed(): Promise<void> {
    return this.#info.completed;
  }
}

/** What Deno throws when the app reads a request body the client cut short. */
function isBodyCutShort(error: unknown): boolean {
  return (error as Error | null)?.name === "BadResource" && /read body/i.test((error as Error).message);
}

/**
 * The header fields Deno received, from its inner request's `headerList` (internal, as
 * `serveHttpOnConnection` is): one op and a plain array, where iterating `request.headers`
 * sorts and combines the fields first, which took the guard half of Deno's time per request
 * with ten browser headers. Undefined (the guard then iterates) if this Deno has no such list.
 */
function headerListOf(request: Request): ReadonlyArray<readonly [string, string]> | undefined {
  const list = innerRequestOf(request)?.headerList;
  return Array.isArray(list) ? list : undefined;
}

/** Deno Workers have no exit event: a thread announces its end with this message. */
interface ThreadExit {
  multiserveExit: number;
}

/** `deno run` flags that give a child the permissions this process has. */
function permissionFlags(data: WorkerData): string[] {
  const granted = (name: string) => Deno.permissions.querySync({ name }).state === "granted";
  const all = ["read", "write", "net", "env", "run", "ffi", "sys", "import"];
  if (all.every((name) => granted(name))) return ["--allow-all"];
  const flags = all.filter((name) => granted(name)).map((name) => `--allow-${name}`);
  // Narrow grants cannot be listed back; give the child at least what serving needs.
  if (!granted("env")) flags.push(`--allow-env=${WORKER_ENV}`);
  if (!granted("net")) {
    const tcp = data.addresses.filter((address) => address.unix === undefined);
    flags.push(`--allow-net=${tcp.map(({ hostname, port }) => `${hostname}:${port}`).join(",")}`);
  }
  return flags;
}

export const adapter: Adapter = {
  runtime: "deno",
  version: Deno.version.deno,
  // Deno's parser refuses every control character, but lets a repeated Content-Length and a
  // missing Host through, and allows about 120 fields of any total size: the guard checks those.
  nativeChecks: {
    headerFields: false,
    hostAndLength: false,
    // A body that ends before its Content-Length is the client's doing: 400, not the app's 500.
    clientErrorStatus: (error) => isBodyCutShort(error) ? 400 : undefined,
    hostInUrl: (info) => (info as DenoRequestInfo).hostInUrl,
    // Deno checks these once a promise of the Response settles, outside any handler, where
    // the rejection would end the isolate.
    unsendable: errorOrUsed,
    headerList: headerListOf,
  },
  // terminate() cannot end a busy Worker (denoland/deno#35657), but ending its process can.
  hostsThreads: true,
  parentLink: (kind) =>
    kind === "thread"
      ? webWorkerParentLink((code) => {
        workerScope.postMessage({ multiserveExit: code } satisfies ThreadExit);
        workerScope.close();
      })
      : processParentLink(),

  listen(
    app,
    {
      hostname,
      port,
      shared,
      limits,
      tls,
      http2: offerHttp2 = false,
      h2c = false,
      unix,
      onError: appError,
      proxyProtocol,
    },
  ) {
    const noProxyProtocol = proxyProtocol === undefined ? undefined : proxyProtocolProblem({
      tls: tls !== undefined,
      unix: unix !== undefined,
      webSockets: limits.maxWebSockets > 0,
    });
    if (noProxyProtocol !== undefined) return Promise.reject(new OptionError(noProxyProtocol));
    // Deno.serve over TLS speaks HTTP/2 to those who ask, and does not say to whom: a
    // request without Host is let through there (Deno makes its URL from :authority, or
    // from its own address for an HTTP/1.1 request without Host). With HTTP/2 off, none asks.
    // So too on a plain port with h2c: Deno's server, its own or Deno.serve's, always answers
    // HTTP/2's preface there (without h2c, the guard then refuses those requests: no Host).
    const unknown = (tls !== undefined && offerHttp2) || (tls === undefined && h2c) ? undefined : false;
    const handler = unix === undefined
      ? (request: Request, info: DenoServeInfo, http2: boolean | undefined = unknown) =>
        app(request, new DenoRequestInfo(info, request, http2))
      : (request: Request, info: DenoServeInfo) => {
        // Deno names a unix socket's requests http+unix://; the app sees http://, as on Bun and
        // Node (or the scheme a proxy forwarded, which this own `url` must apply itself).
        const url = request.url.replace(/^http\+unix:/, "http:");
        Object.defineProperty(request, "url", {
          configurable: true,
          get: () => forwardedUrlOf(request, url),
        });
        return app(request, new DenoRequestInfo(info, request, false));
      };
    const onError = (error: unknown) =>
      isBodyCutShort(error)
        ? refusal(400, "the request body ended before its Content-Length")
        : appError(error);
    // Deno's per-connection server gives us timeouts and lossless drains but cannot carry an
    // upgrade (it ends the connection's context, and the socket with it, once the 101 is
    // out): with WebSockets on, Deno.serve's own connection handling serves.
    // Nor can it serve a unix socket's connections (it looks for a TCP address): Deno.serve does.
    // (With WebSockets off, Deno.upgradeWebSocket is made to say so: see trackUpgrades.)
    const sockets = new OpenSockets();
    trackUpgrades(Deno, sockets, limits);
    if (serveOn !== undefined && limits.maxWebSockets === 0 && unix === undefined) {
      try {
        // Over TLS, ALPN offers HTTP/2 too (unless off), which Deno's HTTP server then speaks.
        const listener = tls === undefined
          ? Deno.listen({ hostname, port, reusePort: shared })
          : Deno.listenTls({
            hostname,
            port,
            reusePort: shared,
            ...tls,
            alpnProtocols: alpnProtocols(offerHttp2),
          });
        // A plain connection's HTTP/2 is not told: with h2c, any request may have come by it.
        const serving = serveConnections(
          listener,
          serveOn,
          tls === undefined && h2c ? (request, info) => handler(request, info, unknown) : handler,
          onError,
          limits,
          proxyProtocol,
        );
        return Promise.resolve({
          port: listener.addr.port ?? 0,
          webSockets: 0,
          get ended() {
            return serving.ended;
          },
          close: serving.close,
        });
      } catch (error) {
        return Promise.reject(listenError(error, hostname, port));
      }
    }
    // HTTP/1.1 alone over TLS: Deno.serve's server on a listener of ours (serveHttp1OverTls).
    const http1Tls = tls !== undefined && !offerHttp2;
    if (http1Tls && serveOnOwnListener === undefined) {
      return Promise.reject(
        new OptionError(
          `this Deno ${Deno.version.deno} has no serveHttpOnListener, so HTTP/2 cannot be turned off with WebSockets on: use --max-web-sockets 0, or Deno 2.9`,
        ),
      );
    }
    const serve: typeof Deno.serve = http1Tls
      ? serveHttp1OverTls
      : (options, handler) => Deno.serve(options, handler);
    return new Promise<Listener>((resolve, reject) => {
      try {
        const server = serve(
          {
            ...(unix === undefined ? { hostname, port, reusePort: shared } : { path: unix.path }),
            ...tls,
            onError,
            onListen: (addr) => {
              if (unix !== undefined) chmodUnixSocket(unix.path, unix.mode);
              let closing = false;
              let finished = false;
              // Deno.serve's loop can end with the process alive (the app shut it down).
              queueMicrotask(() => server.finished.finally(() => (finished = true)).catch(() => {}));
              resolve({
                port: addr.port ?? 0,
                get webSockets() {
                  return sockets.count;
                },
                get ended() {
                  return finished && !closing ? "Deno.serve's server ended" : undefined;
                },
                // The sockets first: Deno's shutdown would close them with 1001 whatever the
                // reason. Past the deadline the isolate ends, which cuts what is left.
                close: async (timeoutMs, closeCode) => {
                  closing = true;
                  const began = Date.now();
                  await sockets.closeAll(closeCode, closeReason(closeCode), timeoutMs);
                  await settlesWithin(server.shutdown(), Math.max(0, timeoutMs - (Date.now() - began)));
                },
              });
            },
          },
          handler,
        );
      } catch (error) {
        reject(listenError(error, hostname, port, unix?.path));
      }
    });
  },

  reservePort(hostname, port) {
    // Port 0: held until the workers (every one binds with reusePort) listen. Deno.listen's
    // reusePort needs --unstable-net, which the primary may lack; node:net's does not.
    if (port === 0) return holdPort(hostname, port, true);
    try {
      const listener = Deno.listen({ hostname, port });
      listener.close();
      return Promise.resolve({ port, release: () => {} });
    } catch (error) {
      return Promise.reject(listenError(error, hostname, port));
    }
  },

  claimUnixSocket,

  releaseUnixSocket,

  checkSpread({ processes, threads }, sockets) {
    const problem = spreadProblem("deno", Deno.build.os, { processes, threads }, "", sockets);
    if (problem) throw problem;
  },

  checkProxyProtocol(sockets) {
    const problem = proxyProtocolProblem(sockets);
    if (problem !== undefined) throw new OptionError(problem);
  },

  // Read only when allowed already: asking would prompt the user for a mere hint.
  closeHint: () =>
    Deno.permissions.querySync({ name: "read", path: MIGRATE_REQ }).state === "granted"
      ? reusePortCloseHint(Deno.build.os)
      : undefined,

  limitsHint: (_limits, unix) =>
    serveOn === undefined
      ? `this Deno ${Deno.version.deno} has no serveHttpOnConnection, so headerTimeout and keepAliveTimeout are not enforced (Deno.serve has no timeouts); use Deno 2.9`
      : unix
      ? "Deno serves a unix socket through Deno.serve's own connection handling: headerTimeout and keepAliveTimeout are not enforced there (the proxy in front should time its clients)"
      : undefined,

  // The default, so not a warning: raw Deno.serve has no timeouts either.
  servingNote: (limits, unix) =>
    serveOn !== undefined && !unix && limits.maxWebSockets > 0
      ? "WebSockets on, served by Deno.serve: no header or keep-alive timeouts, and a reload can reset a connection it accepted last (--max-web-sockets 0 for both)"
      : undefined,

  mainModule: () => Deno.mainModule,

  spawnThread(url, data) {
    const worker = new Worker(url, {
      type: "module",
      name: THREAD_NAME_PREFIX + encodeWorker("thread", data),
    });
    const stopping = threadStop(worker);
    worker.addEventListener("message", stopping.heard);
    const exitListeners: ((code: number | null, error?: string) => void)[] = [];
    let exited = false;
    const exit = (code: number | null, error?: string) => {
      if (exited) return;
      exited = true;
      worker.terminate();
      for (const listener of exitListeners) listener(code, error);
    };
    worker.addEventListener("message", (event) => {
      const end = (event.data as Partial<ThreadExit> | null)?.multiserveExit;
      if (typeof end === "number") exit(end);
    });
    worker.addEventListener("error", (event) => {
      event.preventDefault(); // keep an uncaught error in the worker from ending this process
      exit(1, `uncaught error: ${event.message}`);
    });
    return {
      stop: stopping.stop,
      post: (message) => worker.postMessage(message),
      kill: () => exit(null),
      unkillableWhenHung:
        "Deno cannot end a Worker whose event loop is blocked (terminate() leaves it running with its socket: denoland/deno#35657)",
      onMessage: (listener) =>
        worker.addEventListener("message", (event) => {
          if (isWorkerMessage(event.data)) listener(event.data);
        }),
      onExit: (listener) => exitListeners.push(listener),
    };
  },

  spawnProcess(data) {
    const args = [
      "run",
      ...permissionFlags(data),
      "--no-prompt",
      "--unstable-net",
      Deno.mainModule,
      ...Deno.args,
    ];
    return spawnWorkerProcess(Deno.execPath(), args, data);
  },

  onSignal: onHostSignal,

  watch(roots, onChange) {
    const watcher = Deno.watchFs(roots, { recursive: true });
    void (async () => {
      for await (const event of watcher) {
        for (const path of event.paths) {
          const root = roots.find((r) => path === r || path.startsWith(r.endsWith("/") ? r : `${r}/`));
          if (root === undefined) continue;
          const isFile = path === root;
          onChange(
            isFile ? root.slice(0, root.lastIndexOf("/")) : root,
            isFile ? root.slice(root.lastIndexOf("/") + 1) : path.slice(root.length).replace(/^\//, ""),
          );
        }
      }
    })().catch(() => {});
    return () => watcher.close();
  },

  readTls,

  openLog(target) {
    let file: { write(p: Uint8Array): Promise<number>; close(): void };
    if (target === "-") {
      file = { write: (bytes) => Deno.stdout.write(bytes), close() {} };
    } else {
      try {
        file = Deno.openSync(target, { write: true, append: true, create: true });
      } catch (error) {
        throw new OptionError(`cannot open the access log ${target}: ${(error as Error).message}`);
      }
    }
    const encoder = new TextEncoder();
    return {
      async write(text) {
        let bytes = encoder.encode(text);
        try {
          while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
        } catch { /* a closed stdout or a full disk: the lines are dropped, serving goes on */ }
      },
      close: () => file.close(),
    };
  },

  memoryUsage(kind) {
    const usage = Deno.memoryUsage();
    return kind === "process" ? usage.rss : usage.heapUsed;
  },

  writePidFile,

  removePidFile,

  notifySocket(address, pid) {
    let why = "needs --allow-ffi (datagrams of its own) or --allow-run (Debian's systemd-notify)";
    if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
      const libc = datagramPlatform(Deno.build.os, Deno.build.arch)
        ? denoLibc(Deno, LIBC_SYMBOLS)
        : `no datagrams on ${Deno.build.os} ${Deno.build.arch}`;
      const socket = typeof libc === "string"
        ? libc
        : datagramSocket(address, libc, "datagrams (libc by Deno.dlopen)");
      if (typeof socket !== "string") return Promise.resolve(socket);
      why = socket;
    }
    if (Deno.permissions.querySync({ name: "run", command: "systemd-notify" }).state === "granted") {
      return Promise.resolve(helperSocket(address, pid));
    }
    return Promise.resolve(why);
  },

  listenControl: (path, onConnection) => listenControl(path, onConnection, denoPeerUid()),

  connectControl,

  controlDirectory,
  processMemory,

  // Workers (processes and threads) bind their own sockets with SO_REUSEPORT.
  sharedSocketFd: () => undefined,

  stopAccepting: () => {},

  startPrimary(env, fds) {
    // Deno.args lacks the runtime's own flags (permissions, --config, --unstable-*), which the
    // new primary needs as much as the script: Linux lists them all. Deno has workers only on
    // Linux (SO_REUSEPORT), so elsewhere there is nothing to upgrade.
    const args = procCommandLine();
    if (args === undefined) return "Deno's flags are read from /proc/self/cmdline, which this system lacks";
    return startPrimaryProcess(binaryPath(Deno.execPath()), args.slice(1), env, fds);
  },

  upgradeLink: processUpgradeLink,

  exit: (code) => Deno.exit(code),
};

let peerUid: ((fd: number) => number | undefined) | undefined | null = null;

/** A control client's uid through libc's getsockopt (Deno.dlopen): on Linux, with --allow-ffi. */
function denoPeerUid(): ((fd: number) => number | undefined) | undefined {
  if (peerUid !== null) return peerUid;
  peerUid = undefined;
  if (Deno.build.os !== "linux" || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return;
  try {
    const { symbols } = Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
    peerUid = peerUidReader((fd, level, name, value, length) =>
      symbols.getsockopt(fd, level, name, value, length)
    );
  } catch { /* no libc to open: the file mode alone decides */ }
  return peerUid;
}
