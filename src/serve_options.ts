// Written by `npm run docs` (scripts/docs.ts) from the options table in src/settings.ts:
// do not edit. A test fails when it is stale.
/**
 * Options of `serve()`. Every option is checked up front; a bad value throws an
 * `OptionError` naming it. Each member comes from the options table (`src/settings.ts`), as
 * `--help` and the tables of docs/options.md do.
 *
 * @module
 */
import type { ListenInfo } from "./types.ts";

/** Options of `serve()`: in code, as flags, or from the environment, in that order. */
export interface ServeOptions {
  /**
   * TCP port to listen on. `0` picks a free port, shared by every worker; the primary holds
   * it (SO_REUSEPORT, on Linux) until they listen, so that no server starting meanwhile is
   * handed the same one (not with Node's processes: node:cluster's primary binds it itself).
   * @default env `PORT`, else `8000`
   * @example 3000
   */
  port?: number;
  /**
   * Interface to bind. Safe by default: only this machine can connect unless you ask for
   * `"0.0.0.0"` (every IPv4 interface) or `"::"`.
   * @default env `HOST`, else `127.0.0.1`
   * @example "0.0.0.0"
   */
  hostname?: string;
  /**
   * Serve from worker threads, each with its own isolate and its own listening socket.
   * `true` starts one thread per CPU; a number starts that many; `false` serves from the
   * main thread of each process. On Deno, threads without `processes` run in one worker
   * process of their own, because Deno can end a hung thread only by ending its process.
   * @default `false`
   * @example true
   */
  threaded?: boolean | number;
  /**
   * Number of worker processes, supervised by this one. With `threaded`, every process
   * runs that many threads: processes × threads isolates in all (gunicorn's workers × threads).
   * On the command line, `auto` is one per CPU.
   * @default env `WEB_CONCURRENCY`, else `1`
   * @example 4
   */
  processes?: number;
  /**
   * Where to listen, in gunicorn's syntax, instead of `hostname` and `port`: `"HOST:PORT"`,
   * `"[::1]:PORT"`, `"unix:/run/app.sock"` or `"fd://3"`; a list listens on each, serving the
   * same app. A unix socket is made with `unixMode`; one left by a dead server is replaced,
   * one a live server holds is refused (exit 3), and it is removed on exit. Workers share it
   * only as Node processes (node:cluster): Linux does not spread a unix socket's connections
   * over SO_REUSEPORT sockets, so threads, and Deno or Bun processes, are refused with exit 2
   * rather than left idle. `fd://N` listens on a socket this process inherited, open on file
   * descriptor N; systemd's socket activation (`LISTEN_FDS`, `LISTEN_PID`) binds its sockets
   * so when `bind` is not given. Only Node can listen on an inherited socket (one isolate, or
   * processes through node:cluster); elsewhere it is refused with exit 2.
   * @default `--host`:`--port`
   * @example ["127.0.0.1:8000", "unix:/run/app.sock"]
   */
  bind?: string | string[];
  /**
   * Permissions of the unix socket `bind` makes (octal on the command line): by default its
   * owner and group (nginx's, with `chgrp`) may connect, no one else.
   * @default `0660`
   * @example 0o666
   */
  unixMode?: number;
  /**
   * Serve HTTPS with the certificate (PEM, the chain after it) in this file; needs `key`.
   * Every worker reads both files when it starts, so a rolling reload (SIGHUP) serves renewed
   * files with no failed request. Files that cannot be read, are not PEM or do not match stop
   * the start with exit 2, naming the file. HTTP/2 is offered beside HTTP/1.1 (see `http2`).
   * @default none (plain HTTP)
   * @example "/etc/ssl/example.com/fullchain.pem"
   */
  cert?: string;
  /**
   * The private key (PEM) of `cert`. An encrypted key takes `keyPassphrase`.
   * @default none
   * @example "/etc/ssl/example.com/privkey.pem"
   */
  key?: string;
  /**
   * The passphrase of an encrypted `key`. No flag, so that it never shows in a process list:
   * give it in code or in the environment.
   * @default env `MULTISERVE_KEY_PASSPHRASE`, else none
   * @example Deno.env.get("KEY_PASSPHRASE")
   */
  keyPassphrase?: string;
  /**
   * Over TLS, offer HTTP/2 by ALPN beside HTTP/1.1, on every runtime: a client that asks for
   * `h2` (browsers, `curl --http2`) gets HTTP/2, the rest HTTP/1.1 (WebSockets among them), on
   * the same port. `false` offers HTTP/1.1 alone: a client offering both gets HTTP/1.1, one
   * offering `h2` alone is refused (its handshake fails; on Bun, its first request). Without
   * `cert` it changes nothing.
   * @default `true`
   * @example false
   */
  http2?: boolean;
  /**
   * Without TLS, serve cleartext HTTP/2 to a client that opens with HTTP/2's preface (prior
   * knowledge: Envoy, Caddy's `h2c://`, gRPC gateways, `curl --http2-prior-knowledge`), and
   * HTTP/1.1 to the rest, on the same port, on every runtime. There is no upgrade from
   * HTTP/1.1 (`Upgrade: h2c`). With `cert` it is refused (exit 2): over TLS, HTTP/2 comes by
   * ALPN (see `http2`). Deno.serve answers the preface even without it (see docs/limits.md).
   * @default `false`
   * @example true
   */
  h2c?: boolean;
  /**
   * Called once in the primary when every worker listens. By default a line naming the
   * URL, the runtime and processes × threads goes to stdout; pass a function to replace
   * it, or `false` to print nothing.
   * @default a line on stdout
   * @example (info) => console.log(`up on ${info.url}`)
   */
  onListen?: ((info: ListenInfo) => void) | false;
  /**
   * Seconds that stopping (`close()`, SIGTERM, SIGINT, and a worker retired by reload,
   * scaling, `maxRequests` or `maxWorkerMemory`) waits for in-flight requests before cutting
   * them and killing the worker. Idle keep-alive connections are closed at once.
   * @default `30`
   * @example 5
   */
  gracefulTimeout?: number;
  /**
   * Liveness timeout in seconds: a worker whose event loop has sent no heartbeat for this
   * long (a busy loop, a deadlock) is killed and replaced, with a log line naming it.
   * This is **not** a per-request timeout: a request that waits on I/O for minutes keeps
   * its worker alive, since the worker's event loop stays free to send heartbeats. A
   * worker whose loop blocks while it starts is a boot failure (see `bootTimeout`), and one
   * that blocks while draining is killed. `0` turns it off. Needs supervised workers.
   * @default `30`
   * @example 10
   */
  timeout?: number;
  /**
   * Seconds a worker has, from its start, to listen. One that has not (an import that
   * blocks, or start-up code awaiting a database that never answers) is a boot failure:
   * it is named and stopped, every worker stops and the server exits 3, with no respawn
   * loop; during a reload or scaling the workers already serving keep on instead. With one
   * isolate serving alone it bounds loading the app module. `0` = no bound.
   * @default `30`
   * @example 120
   */
  bootTimeout?: number;
  /**
   * Recycle each worker after it has served this many requests (the usual cure for slow
   * leaks). Its replacement starts and listens first; then the old worker stops taking
   * connections and drains, so capacity never dips. `0` = never. Needs supervised workers.
   * @default `0`
   * @example 10000
   */
  maxRequests?: number;
  /**
   * Adds a random 0…`maxRequestsJitter` requests to each worker's `maxRequests`, so
   * workers started together do not all recycle at the same moment. Needs `maxRequests`.
   * @default `0`
   * @example 500
   */
  maxRequestsJitter?: number;
  /**
   * Recycle a worker once it uses more than this many MiB (2^20 bytes), as `maxRequests`
   * recycles one: its replacement starts and listens first, then the old worker drains.
   * Checked with each heartbeat (at most a second apart): a process by its resident set
   * (RSS), a thread by its own JavaScript heap (its isolate's `heapUsed`: buffers outside the
   * heap do not count). With processes × threads each thread is checked, not the process
   * holding them. `0` = no limit. Needs supervised workers.
   * @default `0`
   * @example 512
   */
  maxWorkerMemory?: number;
  /**
   * Write the primary's pid to this file as it starts (before any worker), and remove it when
   * the server exits (gunicorn's `--pid`), for scripts that signal the server (`kill -HUP
   * $(cat FILE)`). A file naming another process that is running stops the start (exit 3:
   * another server may be using it); one a dead process left is replaced. One that cannot be
   * written stops the start with exit 2.
   * @default none
   * @example "/run/app/app.pid"
   */
  pid?: string;
  /**
   * Where the primary listens for `multiserve ctl` (docs/control.md): a unix socket of mode 0600.
   * By default, when supervising (`threaded` or `processes`), `HOST:PORT.ctl` after the first
   * address (`unix-NAME-HASH.ctl` for a unix socket, `fd-N.ctl` for an inherited one) in
   * `$XDG_RUNTIME_DIR/multiserve/`, else in `/tmp/multiserve-UID/` (made mode 0700), where
   * `multiserve ctl` finds it without flags; a default that cannot be used is a warning. One
   * isolate serving alone has one only when given a path. `false` or `"off"`: none. A path that
   * a running server answers on stops the start (exit 3); a dead server's file is replaced.
   * @default env `MULTISERVE_CONTROL_SOCKET`, else `$XDG_RUNTIME_DIR/multiserve/HOST:PORT.ctl` (else `/tmp/multiserve-UID/…`) when supervising; off with one isolate
   * @example "/run/app/control.sock"
   */
  controlSocket?: string | false;
  /**
   * Largest request body in bytes. A larger `Content-Length` gets 413 before the body is
   * read; a chunked body is counted as the app reads it, and reading past the limit fails
   * with an error that becomes a 413 (a Hono app's `onError` sees it as an `HTTPException`-
   * like error with `getResponse()`). Nothing is buffered to count it. `0` = no limit.
   * @default `10485760` (10 MiB)
   * @example 1_000_000
   */
  maxBodySize?: number;
  /**
   * Largest request head (request line and header fields) in bytes; larger gets 431.
   * On Bun, Bun's own parser caps this at 16 KiB unless Bun runs with
   * `--max-http-header-size`. `0` leaves it to the runtime's parser (Deno: ~100 KB, answered
   * with 400), which spares Deno and Bun walking the header fields on every request.
   * @default `16384` (16 KiB)
   * @example 8192
   */
  maxHeaderSize?: number;
  /**
   * Most header fields a request may carry; more gets 431 (Deno's parser answers 400 past
   * about 120 by itself). `0` leaves it to the runtime's parser (Deno ~120, Bun ~200, Node
   * 2000, dropping the rest).
   * @default `100`
   * @example 50
   */
  maxHeaderCount?: number;
  /**
   * Longest request target (path and query) in characters; longer gets 414.
   * @default `8192`
   * @example 2048
   */
  maxUrlLength?: number;
  /**
   * Seconds a client has, once connected, to finish sending a request's headers. Slower
   * clients (slowloris) are disconnected while everyone else is served (Node answers 408
   * first). Bun cuts them after its own fixed 10 s, whatever this says.
   * @default `10`
   * @example 30
   */
  headerTimeout?: number;
  /**
   * Seconds an idle keep-alive connection stays open after a response. Behind a proxy or
   * load balancer that reuses connections, make it longer than the proxy's own idle timeout
   * (nginx `keepalive_timeout` in an `upstream` block: 60 s; AWS ALB: 60 s; Google Cloud
   * LB: 600 s), so the proxy never sends a request on a connection we are closing.
   * @default `5`
   * @example 65
   */
  keepAliveTimeout?: number;
  /**
   * Most requests one worker handles at once; beyond it, requests get 503 with
   * `Retry-After: 1` at once instead of queueing (uvicorn's `--limit-concurrency`). A request
   * counts until its handler's response is ready. `0` = no limit.
   * @default `1000`
   * @example 100
   */
  maxConcurrency?: number;
  /**
   * Most WebSockets one worker keeps open at once; beyond it, an upgrade request gets 503 with
   * `Retry-After: 1`. Open sockets are in-flight work: a graceful stop closes them with 1001, a
   * reload, recycling or scaling down with 1012, and `gracefulTimeout` bounds the close. With
   * `0`, an Upgrade is ignored (the request is served as plain HTTP), and an attempt to upgrade
   * gets 503 naming this option and is logged (once per worker). On Deno, WebSockets need
   * `Deno.serve`'s own connection handling, which has no header or keep-alive timeouts (raw
   * `Deno.serve` has neither), keeps a connection open after a refusal, and can reset a
   * connection accepted in the instant a worker stops (denoland/deno#31959): the start-up line
   * says so. There, `0` serves HTTP through multiserve's own accept loop, with all three covered.
   * @default `1000`
   * @example 10000
   */
  maxWebSockets?: number;
  /**
   * Largest WebSocket message in bytes, the counterpart of `maxBodySize`: a larger one closes
   * its socket with 1009 (message too big), as Bun and the `ws` package do by default.
   * @default `16777216` (16 MiB)
   * @example 1_048_576
   */
  maxWebSocketMessage?: number;
  /**
   * Bytes a WebSocket may have waiting to go out before a publish to one of its topics closes
   * it with 1013 (try again later): a client too slow for its topics is let go rather than
   * buffered without bound, and the other subscribers never wait for it.
   * @default `16777216` (16 MiB)
   * @example 1_048_576
   */
  maxWebSocketBuffer?: number;
  /**
   * Carry WebSocket topics across hosts: every server given the same Redis server
   * (`redis://HOST:PORT[/DB]`, `rediss://` for TLS) delivers each publish of any of them to
   * its own subscribers. The primary holds one connection pair; an unreachable Redis is
   * retried with backoff while topics stay on this host (a warning in the log,
   * `multiserve_pubsub_connected 0` in `/metrics`), and what is published meanwhile crosses
   * no host. A URL that is not a redis:// URL stops the start (exit 2).
   * @default env `MULTISERVE_PUBSUB`, else none
   * @example "redis://127.0.0.1:6379"
   */
  pubsub?: string;
  /**
   * Seconds a WebSocket may stay silent: the server pings it, and closes one whose client
   * has sent nothing, not even a pong, for this long (a vanished client). Deno's and Bun's own
   * default; on Node, multiserve pings every half of it.
   * @default `120`
   * @example 30
   */
  webSocketIdleTimeout?: number;
  /**
   * Peers whose proxy headers (`forwardedHeaders`) are believed: IP
   * addresses or networks (`10.0.0.0/8`, `fd00::/8`), as a list or a comma-separated string,
   * or `"*"` for every peer (only when nothing else can reach the port). From a trusted
   * peer, by default, the client address in `remoteAddr` is the nearest untrusted one in
   * `X-Forwarded-For`, and the scheme of `request.url` follows `X-Forwarded-Proto`; from
   * anyone else the headers change nothing. A unix socket's peer is trusted.
   * @default env `FORWARDED_ALLOW_IPS`, else `127.0.0.1,::1`
   * @example ["10.0.0.0/8", "192.168.1.5"]
   */
  forwardedAllowIps?: string | string[];
  /**
   * Every connection begins with a PROXY protocol header, version 1 (text) or 2 (binary),
   * told apart by its first bytes (HAProxy's `accept-proxy`): what an L4 balancer (HAProxy
   * `send-proxy-v2`, AWS NLB) writes to name the client. The client it names becomes the
   * connection's peer: `remoteAddr`, `peerAddr`, the access log, and the address
   * `X-Forwarded-For` is then judged by. A LOCAL header (a health check) keeps the real peer.
   * Over TLS the header comes before the handshake. A connection from a peer not in
   * `forwardedAllowIps`, or whose header is malformed or not whole within `headerTimeout`
   * (at most 3 s), is closed with nothing sent, and counted
   * (`multiserve_proxy_protocol_refused_total`). Every connection must then come through the
   * balancer. Node reads it everywhere (TCP, TLS, unix sockets); Deno on TCP with WebSockets
   * off (`maxWebSockets: 0`), not over TLS; Bun not at all. Where it cannot, the start fails
   * with exit 2 saying why (docs/limits.md).
   * @default `false`
   * @example true
   */
  proxyProtocol?: boolean;
  /**
   * The proxy headers believed from `forwardedAllowIps` peers, as a list or comma-separated:
   * `forwarded` (RFC 7239: `for`, `proto`, `host`), `x-forwarded-for` (the client),
   * `x-forwarded-proto` (the scheme), `x-forwarded-host` and `x-forwarded-port` (the URL's host
   * and port) and `x-forwarded-prefix` (`info.prefix`). List only those your proxy sets or
   * replaces: one it passes on from the client is the client's to forge. Where `forwarded`
   * and an `x-forwarded-*` header both say a thing, `forwarded` wins. Details in
   * docs/requests.md.
   * @default env `FORWARDED_HEADERS`, else `x-forwarded-for,x-forwarded-proto`
   * @example ["forwarded", "x-forwarded-prefix"]
   */
  forwardedHeaders?: string | string[];
  /**
   * Write a line per request, once its response is ready: `true` or `"-"` to stdout, a path to
   * append to that file. Every worker writes its own lines, a batch per turn of its event loop,
   * whole lines at a time, and flushes them before it exits. Our own refusals (413, 431, 503…)
   * are logged with their status; what the runtime's parser refuses before our code runs is not.
   * @default `false` (off)
   * @example "/var/log/app/access.log"
   */
  accessLog?: boolean | string;
  /**
   * The access log's format: `combined` (Apache's and nginx's, gunicorn's default), `common`
   * (without referer and user agent), or `json`: one object per line with `time`, `worker`,
   * `pid`, `remote`, `method`, `target`, `protocol`, `status`, `bytes`, `ms`, `referer`,
   * `userAgent` and `requestId` (the client's `X-Request-Id`).
   * @default `combined`
   * @example "json"
   */
  accessLogFormat?: "combined" | "common" | "json";
  /**
   * Which of multiserve's own lines (on stderr; the start-up line on stdout) are written:
   * `info` shows workers starting, ready and exiting; `warning` only what went wrong but was
   * handled (a crash, a timeout); `error` only failures; `quiet` only the reason a server stops
   * on its own. Access log lines are apart from this.
   * @default env `LOG_LEVEL`, else `info`
   * @example "warning"
   */
  logLevel?: "debug" | "info" | "warning" | "error" | "quiet";
  /**
   * `text`: lines prefixed `multiserve:`. `json`: one object per line with `time`, `level`,
   * `message`, and `worker` and `pid` where a line is about one worker, for a log shipper.
   * @default `text`
   * @example "json"
   */
  logFormat?: "text" | "json";
  /**
   * Open the admin endpoint on this port, served by the primary (never by a worker):
   * `/metrics` (Prometheus, summed over every worker ever run), `/` (a live status page),
   * `/status` (the same as JSON), `/healthz` and `/readyz` (503 from the moment a stop
   * begins). `0` picks a free port, named in the start-up line. Workers then count their
   * requests (see `stats`).
   * @default off
   * @example 9100
   */
  adminPort?: number;
  /**
   * Interface the admin endpoint binds. It has no authentication: keep it on loopback, or on
   * a network only your monitoring reaches.
   * @default `127.0.0.1`
   * @example "0.0.0.0"
   */
  adminHost?: string;
  /**
   * Count requests (by method, status class and duration), bytes and requests in flight in
   * every worker, and report them to the primary with the heartbeat, for `server.stats()`.
   * On whenever `adminPort` is set; off, requests pay nothing for it.
   * @default `false` (on with `adminPort`)
   * @example true
   */
  stats?: boolean;
  /**
   * Watch the app's directory (the module's, or the entry script's in function form) and do
   * the rolling reload SIGHUP does when a file changes, about 100 ms after the last change: the
   * socket stays open, in-flight requests finish on the old workers, and a change that breaks
   * the app leaves them serving (its error, with its place, goes to the log). `node_modules`,
   * `.git`, dotfiles and `dist` are not watched. With one isolate, it serves as one supervised
   * worker (`threaded: 1`), which a reload needs.
   * @default `false`
   * @example true
   */
  watch?: boolean;
  /**
   * What `watch` watches instead of the app's directory: directories (recursively) or files.
   * @default ``
   * @example ["src", "templates"]
   */
  watchPath?: string | string[];
  /**
   * Changes `watch` ignores, besides `node_modules`, `.git`, dotfiles and `dist`: globs matched
   * against the path relative to the watched directory (`*` within a name, `**` across
   * directories, `?` one character).
   * @default ``
   * @example ["*.log", "uploads/**"]
   */
  watchExclude?: string | string[];
  /**
   * Send the error and its stack to the client when the app throws. Off, clients get a
   * plain "Internal Server Error" and the details go only to the log. Never in production.
   * @default `false`
   * @example true
   */
  debug?: boolean;
}
