/**
 * The contract every runtime adapter (`adapters/deno.ts`, `bun.ts`, `node.ts`) fulfils,
 * each listing these members in this order. The core in `src/` only ever talks to a
 * runtime through this shape. Types only.
 *
 * @module
 */
import type { BusMessage, CommandMessage, WorkerData, WorkerMessage } from "./protocol.ts";
import type { Trust } from "./http/ip.ts";
import type { FetchHandler } from "./types.ts";

/** The runtimes multiserve serves on. */
export type RuntimeName = "deno" | "bun" | "node";

/** The signals multiserve acts on. */
export type Signal = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGTTIN" | "SIGTTOU" | "SIGUSR2";

/** A socket that serves until closed. */
export interface Listener {
  /** The port bound. */
  readonly port: number;
  /** WebSockets open now. */
  readonly webSockets: number;
  /**
   * Why it no longer accepts connections although `close()` was not called (the runtime's
   * server ended, the app closed it); undefined while it accepts, or once `close()` began.
   * A getter the worker polls, off the request path.
   */
  readonly ended: string | undefined;
  /**
   * Stop accepting, close open WebSockets with `closeCode`, wait for in-flight requests and
   * the close handshakes up to `timeoutMs`, then cut the rest.
   */
  close(timeoutMs: number, closeCode: number): Promise<void>;
}

/** What the runtime's own server enforces per connection, as the options set it. */
export interface ConnectionLimits {
  /** Bytes of request line and header fields; 0 = the parser's own limit. */
  maxHeaderSize: number;
  /** Header fields; 0 = the parser's own limit. */
  maxHeaderCount: number;
  /** Seconds to finish a request head. */
  headerTimeout: number;
  /** Seconds an idle keep-alive connection stays open. */
  keepAliveTimeout: number;
  /**
   * WebSockets one worker keeps open; 0 = none: an Upgrade is served as plain HTTP, and the
   * adapter makes an attempt to upgrade throw `WebSocketsOffError`.
   */
  maxWebSockets: number;
  /** Bytes of the largest WebSocket message; a larger one closes its socket with 1009. */
  maxWebSocketMessage: number;
  /** Seconds a WebSocket may be silent (pings unanswered) before it is closed. */
  webSocketIdleTimeout: number;
}

/** Where a certificate and its key are, as the options name them. */
export interface TlsFiles {
  cert: string;
  key: string;
  passphrase?: string;
}

/** A certificate and its key, read and checked (PEM; the key unlocked). */
export interface TlsPem {
  cert: string;
  key: string;
}

/** How a worker listens. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** Other workers bind the same port (SO_REUSEPORT, or the cluster primary's socket). */
  shared: boolean;
  limits: ConnectionLimits;
  /** Serve HTTPS with this certificate; plain HTTP when absent. */
  tls?: TlsPem;
  /** Over TLS, offer HTTP/2 by ALPN beside HTTP/1.1 (the `http2` option); else HTTP/1.1 alone. */
  http2?: boolean;
  /**
   * Without TLS, serve cleartext HTTP/2 to a client opening with its preface (prior knowledge)
   * beside HTTP/1.1 on the same port (the `h2c` option).
   */
  h2c?: boolean;
  /**
   * Listen on this unix socket instead of `hostname:port` (made with `mode`, which the
   * adapter sets once it listens). Shared by workers only through node:cluster.
   */
  unix?: { path: string; mode: number };
  /**
   * Listen on the socket this process inherited on this file descriptor (`fd://N`, systemd's
   * socket activation, or the one an upgrade's old primary listened on at `hostname:port`)
   * instead of `hostname:port`: Node only.
   */
  fd?: number;
  /** Turns an error thrown by the app into the response sent. */
  onError: (error: unknown) => Response;
  /**
   * Told of each request the adapter (or the runtime's parser) refuses before the chain
   * sees it, for the access log and the statistics; absent when neither is on.
   */
  onRefused?: (refused: Refused) => void;
  /**
   * The app's own WebSocket handler, where its runtime wants one beside `fetch` (Bun's
   * `websocket` object, as `hono/bun` exports it); other runtimes ignore it.
   */
  websocket?: unknown;
  /**
   * Every connection begins with a PROXY protocol header (`proxyProtocol`), read before HTTP
   * or TLS: its client becomes the connection's peer. A runtime that cannot read one throws
   * an `OptionError` saying why.
   */
  proxyProtocol?: ProxyProtocolOptions;
}

/** How an adapter reads PROXY protocol headers (src/http/proxy_protocol.ts parses them). */
export interface ProxyProtocolOptions {
  /** The peers that may send one (`forwardedAllowIps`); any other is closed at once. */
  trust: Trust;
  /** A header not whole within this many milliseconds closes its connection. */
  timeoutMs: number;
  /** Told of each connection closed unanswered, and why. */
  onRefused: (reason: ProxyRefusal) => void;
}

/** Why a connection was closed before its PROXY header was read. */
export type ProxyRefusal = "untrusted" | "malformed" | "timeout";

/** A request refused before the chain saw it. */
export interface Refused {
  status: number;
  /** Empty when the request line could not be read. */
  method: string;
  target: string;
  remote: string;
}

/** What a runtime's own HTTP parser (with its adapter) already refuses, so the guard need not. */
export interface NativeChecks {
  /** `maxHeaderSize` and `maxHeaderCount` are enforced (Node: by llhttp and the adapter). */
  headerFields: boolean;
  /**
   * Bytes of request head beyond which the runtime's parser answers 431 itself (Bun: 16 KiB):
   * a `maxHeaderSize` at least this large needs no check of ours.
   */
  headerSizeLimit?: number;
  /**
   * The number of header fields, more cheaply than walking them (Bun: `headers.count`, which
   * counts a repeated name once; its parser refuses more than 200 lines itself).
   */
  headerCount?: (request: Request) => number;
  /** A missing or repeated Host and a malformed or repeated Content-Length are refused. */
  hostAndLength: boolean;
  /**
   * `request.url` is always an absolute http(s) URI, so the guard need not check its scheme
   * (Node: the adapter refuses any other target, and its bridge builds the URL from http(s),
   * Host and the path).
   */
  httpUrl?: boolean;
  /**
   * `request.url` never has userinfo, so the guard need not look for it (Bun builds the URL
   * from Host and the path: it drops an absolute target's userinfo, and makes a Host with
   * userinfo the URL "/", which the guard refuses as no http URI).
   */
  noUserinfo?: boolean;
  /**
   * The request came where a missing Host field is no fault: HTTP/2, which names the host in
   * `:authority` (the runtime puts it in the URL, not in a Host field). Asked only of a
   * request without Host, where the runtime does not check Host itself (Deno).
   */
  hostInUrl?: (info: unknown) => boolean;
  /**
   * The status of an error a request's body raised that is the client's doing although the
   * body guard did not raise it (Deno: a body cut short of its Content-Length is 400);
   * undefined for any other error. The adapter answers with it, and the access log says it.
   */
  clientErrorStatus?: (error: unknown) => number | undefined;
  /**
   * The request's header fields as the runtime received them (names in any case, a repeated
   * field once per line), more cheaply than iterating `request.headers` (Deno's sorts and
   * combines them first); undefined where the runtime offers no such list.
   */
  headerList?: (request: Request) => ReadonlyArray<readonly [string, string]> | undefined;
  /**
   * Why this runtime could not send a Response the app returned, where sending it would fail
   * outside the app's reach (`Response.error()`, a body read already: Deno rejects them
   * outside any handler, Node's bridge sends its own error's message); undefined when it can.
   */
  unsendable?: (response: Response) => string | undefined;
  /**
   * Have `onSent` told the body bytes the runtime sent for this request's response, once it
   * is sent or its connection closed first (undefined: not counted, as for an upgrade).
   * Absent where the server writes the body out of reach (Deno, Bun): bytes are then those a
   * Content-Length declared, and the sent-bytes metric is left out.
   */
  sentBytes?: (info: unknown, onSent: (bytes: number | undefined) => void) => void;
  /**
   * Reads one request header more cheaply than `request.headers`, which on Node builds a
   * whole `Headers` object. Lower-case `name`; null when absent.
   */
  header?: (request: Request, info: unknown, name: string) => string | null;
}

/** A worker thread or process, seen from its supervisor. */
export interface WorkerHandle {
  /** Process id of a child process; undefined for a thread. */
  readonly pid?: number;
  /** Ask the worker to stop gracefully; `restart`: it is being replaced (its WebSockets get 1012). */
  stop(restart: boolean): void;
  /** End the worker at once. */
  kill(): void;
  /**
   * Set when `kill()` cannot end this worker while its event loop is blocked, saying why
   * (Deno cannot end a busy Worker): a hung one then takes its whole process with it.
   */
  readonly unkillableWhenHung?: string;
  /** Send a thread host a command (processes; see `Adapter.hostsThreads`). */
  command?(message: CommandMessage): void;
  /** Pass the worker a publish/subscribe message (dropped once it is gone). */
  post?(message: BusMessage): void;
  /** Messages from the worker. */
  onMessage(listener: (message: WorkerMessage) => void): void;
  /** The worker is gone: its exit code (null when killed by a signal) and any uncaught error. */
  onExit(listener: (code: number | null, error?: string) => void): void;
}

/** Lines going to stdout or a file (the access log). */
export interface LogWriter {
  /** Write `text` whole; resolves once it is handed to the OS (a failed write is dropped). */
  write(text: string): Promise<void>;
  /** Close the file (stdout stays open). */
  close(): void;
}

/**
 * systemd's notification socket (`NOTIFY_SOCKET`, sd_notify), as this process sends to it.
 * systemd takes a message as the sending process's: a datagram from this process counts as
 * the main process's; one sent by a helper process needs `NotifyAccess=all` in the unit,
 * unless the helper may pass this process's credentials (root).
 */
export interface NotifySocket {
  /** How messages go, for the log. */
  readonly via: string;
  /** Send one message (`KEY=VALUE` lines); rejects, saying why, when it could not be sent. */
  send(message: string): Promise<void>;
  /** CLOCK_MONOTONIC now, in µs (for `MONOTONIC_USEC`); undefined where this runtime cannot read it. */
  monotonicMicros(): bigint | undefined;
  close(): void;
}

/**
 * One client of the control socket (`multiserve ctl`), or the client's own connection:
 * newline-delimited text both ways (src/control/protocol.ts says what the lines hold).
 */
export interface ControlConnection {
  /**
   * The peer's user id, read from the socket (SO_PEERCRED) where the runtime can (Deno with
   * --allow-ffi, Bun, on Linux); undefined where it cannot (Node): the file mode then decides.
   */
  readonly peerUid: number | undefined;
  /** Each whole line received, without its newline; a line past 64 KiB closes the connection. */
  onLine(listener: (line: string) => void): void;
  /** The connection ended (either side, or an error). */
  onClose(listener: () => void): void;
  /** Send one line (the newline is added). */
  send(line: string): void;
  /** Close once what was sent is written. */
  close(): void;
}

/** The control socket a primary listens on. */
export interface ControlListener {
  /** The user id this process runs as; undefined where the runtime has none (Windows). */
  readonly uid: number | undefined;
  /** Stop listening, and remove the path if it is still this listener's socket (same inode). */
  close(): void;
}

/**
 * A new primary started by an upgrade (SIGUSR2), seen from the primary it replaces: the
 * same command line, detached in a session of its own, with an IPC channel to this one.
 */
export interface PrimaryHandle {
  readonly pid: number;
  /** A message to the new primary (it is dropped once the channel is closed). */
  send(message: UpgradeMessage): void;
  /** Messages from the new primary. */
  onMessage(listener: (message: UpgradeMessage) => void): void;
  /** It exited: its code, or the signal that ended it. */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** Signal the new primary (SIGTERM: give up the upgrade; SIGKILL when that is not heard). */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
  /** Close the channel: the new primary lives on without it. */
  disconnect(): void;
}

/** A new primary's channel to the primary it replaces (from the upgrade's start until the handover). */
export interface UpgradeLink {
  send(message: UpgradeMessage): void;
  onMessage(listener: (message: UpgradeMessage) => void): void;
  /** The channel closed: the old primary is gone (or closed it). */
  onClose(listener: () => void): void;
  /** Close the channel, so that the old primary's exit is no concern of this process. */
  close(): void;
}

/**
 * What the two primaries of an upgrade say: the new one that its workers all listen
 * (`ready`), the old one that it has let go of the pid file and systemd's main pid and
 * drains now (`handover`).
 */
export interface UpgradeMessage {
  multiserveUpgrade: "ready" | "handover";
}

/** What a worker needs to reach its supervisor. */
export interface ParentLink {
  /** Resolves once the message is handed over (so that exiting after it cannot lose it). */
  send(message: WorkerMessage): Promise<void>;
  /** The supervisor asked us to stop (`restart`: to be replaced), or is gone. */
  onStop(listener: (restart: boolean) => void): void;
  /** Commands for a thread host (processes; see `Adapter.hostsThreads`). */
  onCommand?(listener: (message: CommandMessage) => void): void;
  /** Publish/subscribe messages from the supervisor. */
  onBus?(listener: (message: BusMessage) => void): void;
  /** End this worker (the thread, or the process). */
  exit(code: number): void;
}

/** A port chosen for the workers (`reservePort`), and the end of its hold. */
export interface PortReservation {
  port: number;
  /** Close what holds the port, once the workers listen on it (or will not). */
  release(): void;
}

/** One runtime, seen by the core. */
export interface Adapter {
  readonly runtime: RuntimeName;
  /** Runtime version, for the start-up line. */
  readonly version: string;
  /** What this runtime's HTTP parser (with the adapter's own checks) already refuses. */
  readonly nativeChecks: NativeChecks;
  /**
   * Threads without processes run in one worker process rather than in the primary, because
   * a hung thread can be ended here only by ending its process (Deno). The primary then
   * supervises that process, and forwards reloads and scaling to it.
   */
  readonly hostsThreads: boolean;
  /** The link to the supervisor of a worker of this kind. */
  parentLink(kind: "process" | "thread"): ParentLink;
  /** Serve `handler` on a socket. Rejects with a `BootError` that says why it could not. */
  listen(handler: FetchHandler, options: ListenOptions): Promise<Listener>;
  /**
   * Check, before workers start, that `hostname:port` is free (no other server, not even
   * one sharing it with SO_REUSEPORT) and return the port (a free one for port 0). Port 0,
   * where these workers share their port with SO_REUSEPORT: the port chosen stays held by a
   * listener sharing it too, until `release()`, so that no other server starting meanwhile
   * is handed the same free port and binds it beside ours.
   */
  reservePort(hostname: string, port: number, plan: { processes: number; threads: number }): Promise<
    PortReservation
  >;
  /**
   * Make way for a unix socket at `path`: remove one a dead server left, refuse (a
   * `BootError`) one a live server holds or a file that is no socket.
   */
  claimUnixSocket(path: string): Promise<void>;
  /** Remove the unix socket at `path` (on exit). */
  releaseUnixSocket(path: string): void;
  /**
   * Throw a `BootError` (or `OptionError`) when these workers could not all get connections
   * here, on the sockets the options bind (`unix`: a unix socket; `fd`: an inherited one).
   */
  checkSpread(plan: { processes: number; threads: number }, sockets: { unix: boolean; fd: boolean }): void;
  /**
   * Throw an `OptionError` when this runtime cannot read PROXY protocol headers here (`tls`:
   * with a certificate; `unix`: on a unix socket; `webSockets`: with WebSockets on). Asked
   * with `proxyProtocol` on, before any worker starts and by `--check`.
   */
  checkProxyProtocol(sockets: { tls: boolean; unix: boolean; webSockets: boolean }): void;
  /** Advice to log at start when closing a worker's socket could drop connections here. */
  closeHint(plan: { processes: number; threads: number }): string | undefined;
  /** Advice to log at start when this runtime cannot apply a connection limit as asked (`unix`: on a unix socket). */
  limitsHint(limits: ConnectionLimits, unix: boolean): string | undefined;
  /**
   * What the start-up line says of how this runtime serves with these limits by default (Deno
   * with WebSockets on: no header or keep-alive timeouts), and the option that changes it.
   */
  servingNote(limits: ConnectionLimits, unix: boolean): string | undefined;
  /** URL of the module that started this program, for threads that re-run it. */
  mainModule(): string;
  /** Start a worker thread running `url`. */
  spawnThread(url: string, data: WorkerData): WorkerHandle;
  /** Start a worker process that re-runs this program. */
  spawnProcess(data: WorkerData): WorkerHandle;
  /**
   * Call `listener` when this process receives `signal`; returns a function that removes
   * it. A signal the OS does not have (SIGHUP, SIGTTIN, SIGTTOU, SIGUSR2 on Windows) is not trapped.
   */
  onSignal(signal: Signal, listener: () => void): () => void;
  /**
   * Call `onChange(root, path relative to root)` whenever something changes under one of
   * `roots` (directories, recursively, or files); returns the way to stop watching.
   */
  watch(roots: string[], onChange: (root: string, relative: string) => void): () => void;
  /**
   * Read the certificate and key files and check them (PEM, the key unlocks with the
   * passphrase and matches the certificate): throws an `OptionError` naming the file at fault.
   */
  readTls(files: TlsFiles): TlsPem;
  /**
   * Write to stdout (`"-"`) or append to the file at `target`, opened now: throws an
   * `OptionError` naming the file when it cannot be.
   */
  openLog(target: string): LogWriter;
  /** Bytes of memory this worker uses: a process's resident set, a thread's JavaScript heap. */
  memoryUsage(kind: "process" | "thread"): number;
  /**
   * Write `pid` to the pid file at `path` (replacing it whole): throws a `BootError` when the
   * file names another process that is running (but `replacing`, the primary an upgrade takes
   * over from), an `OptionError` when it cannot be written.
   */
  writePidFile(path: string, pid: number, replacing?: number): void;
  /** Remove the pid file at `path` if it still names `pid` (a file another server wrote stays). */
  removePidFile(path: string, pid: number): void;
  /**
   * How this process sends systemd's notifications to `address` (`NOTIFY_SOCKET`: a path, or
   * `@name` for an abstract socket) for the main process `pid`: datagrams of its own where
   * the runtime can send one, else Debian's `systemd-notify`; a string says why neither can.
   */
  notifySocket(address: string, pid: number): Promise<NotifySocket | string>;
  /**
   * Listen for control connections at `path`, mode 0600: bound at a temporary path beside it
   * and renamed over it, so that a server already there (the old primary of an upgrade) is
   * taken over at once and no client ever sees a looser mode. Rejects with the system
   * error (its `code`: EACCES, ENOENT…).
   */
  listenControl(
    path: string,
    onConnection: (connection: ControlConnection) => void,
  ): Promise<ControlListener>;
  /** Connect to the control socket at `path`; rejects with the system error (ENOENT, ECONNREFUSED, EACCES…). */
  connectControl(path: string): Promise<ControlConnection>;
  /**
   * The directory of default control sockets: `$XDG_RUNTIME_DIR/multiserve`, else
   * `multiserve-UID` in the temporary directory; made (mode 0700) when `create`; and the
   * names of the sockets in it. Throws when it is not a directory of this user's that only
   * this user can enter.
   */
  controlDirectory(create: boolean): { path: string; sockets: string[] };
  /**
   * Resident memory of process `pid`, in bytes, read from outside it (Linux's /proc), so that
   * `multiserve ctl workers` shows a worker process's memory without the worker counting
   * anything; undefined where it cannot be read.
   */
  processMemory(pid: number): number | undefined;
  /**
   * The file descriptor of the listening socket this process shares among its worker
   * processes for `address` (a node:cluster primary's), from Linux's /proc; undefined where
   * workers bind their own (SO_REUSEPORT) or none is found.
   */
  sharedSocketFd(address: { hostname: string; port: number; unix?: { path: string } }): number | undefined;
  /**
   * Stop accepting on the shared listening socket at `fd`, handed over to an upgrade's new
   * primary: what this process accepted still reaches its workers, and no connection waits
   * here for a worker that is leaving. Nothing where workers bind their own.
   */
  stopAccepting(fd: number): void;
  /**
   * Start a new primary from this one's command line (the runtime binary at its path now,
   * its flags, the script and its arguments), in this working directory with this
   * environment plus `env`, detached (a session of its own), stdout and stderr shared, and
   * the listening sockets open on `fds` passed on at the same numbers; a string says why it
   * cannot be started here.
   */
  startPrimary(env: Record<string, string>, fds: number[]): PrimaryHandle | string;
  /** In a primary an upgrade started, its channel to the old primary; undefined elsewhere. */
  upgradeLink(): UpgradeLink | undefined;
  /** End the process. */
  exit(code: number): void;
}
