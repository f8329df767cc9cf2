/**
 * Every option of `serve()` and of the CLI, in one table (gunicorn's `config.py`): each
 * entry holds the option's kind of value (its checks and messages), default, environment
 * variable, flags, its line in `--help`, and its documentation. `src/options.ts` resolves
 * options with it, `src/cli.ts` parses flags and writes `--help` with it, and
 * `scripts/docs.ts` writes `ServeOptions` (`src/serve_options.ts`) and the option tables
 * from it. Adding an option is adding an entry here (then `npm run docs`).
 *
 * @module
 */
import type { LogLevel } from "./log.ts";
import type { ListenInfo } from "./types.ts";
import * as kinds from "./value_kinds.ts";
import type { Kind } from "./value_kinds.ts";

/** Where an option appears in `--help` and docs/options.md. */
export type Section = "serving" | "workers" | "requests" | "observability" | "development";

/** One option. */
export interface Setting<In, Out> {
  /** Its kind of value: the checks and the words of their messages. */
  readonly kind: Kind<In, Out>;
  /** The value when neither code, flag nor environment gives one. */
  readonly default: Out;
  /** How the docs show the default (Markdown), when not as the value itself. */
  readonly defaultText?: string;
  /** The environment variable read when the option is not given. */
  readonly env?: string;
  /** Its command-line flags, the preferred one first; none: code only. */
  readonly flags?: readonly string[];
  /** What the flag's value is called in `--help` ("N", "S"); none: a switch. */
  readonly arg?: string;
  /** The value a switch sets, when not `true` (`--no-http2` sets `false`). */
  readonly switchValue?: false;
  /**
   * The flag may stand alone (its value is then `true`); a value is given as `--flag=VALUE`
   * only, so that the next argument (the module) is never taken for it (GNU's optional
   * arguments).
   */
  readonly optionalArg?: boolean;
  /** The flag may be given more than once, each value adding to a list. */
  readonly repeatable?: boolean;
  readonly section: Section;
  /** One line for `--help` and the tables of docs/options.md. */
  readonly help: string;
  /** Its TypeScript type in `ServeOptions`. */
  readonly type: string;
  /** Its documentation in `ServeOptions` (JSDoc), paragraphs apart. */
  readonly doc: string;
  readonly example: string;
  /** Acts through the supervisor: refused when set with one isolate serving alone. */
  readonly needsWorkers?: boolean;
}

const setting = <In, Out>(entry: Setting<In, Out>): Setting<In, Out> => entry;

/** The default as the docs state it (Markdown): "env `PORT`, else `8000`". */
export function defaultDoc(entry: Setting<unknown, unknown>): string {
  const shown = entry.defaultText ?? `\`${String(entry.default)}\``;
  return entry.env === undefined ? shown : `env \`${entry.env}\`, else ${shown}`;
}

/** The table, in the order of `--help` and the docs. */
export const SETTINGS = {
  port: setting({
    kind: kinds.port,
    default: 8000,
    env: "PORT",
    flags: ["--port", "-p"],
    arg: "N",
    section: "serving",
    help: "port to listen on; 0 picks a free one, shared by every worker",
    type: "number",
    doc: "TCP port to listen on. `0` picks a free port, shared by every worker; the primary holds\n" +
      "it (SO_REUSEPORT, on Linux) until they listen, so that no server starting meanwhile is\n" +
      "handed the same one (not with Node's processes: node:cluster's primary binds it itself).",
    example: "3000",
  }),
  hostname: setting({
    kind: kinds.host,
    default: "127.0.0.1",
    env: "HOST",
    flags: ["--host", "--hostname"],
    arg: "HOST",
    section: "serving",
    help: 'interface to bind; only this machine can connect unless you ask for "0.0.0.0" or "::"',
    type: "string",
    doc:
      'Interface to bind. Safe by default: only this machine can connect unless you ask for\n`"0.0.0.0"` (every IPv4 interface) or `"::"`.',
    example: '"0.0.0.0"',
  }),
  threaded: setting({
    kind: kinds.threads,
    default: 0,
    defaultText: "`false`",
    flags: ["--threads", "-t"],
    arg: "N|auto",
    section: "serving",
    help: "worker threads per process; auto (true in code) = one per CPU",
    type: "boolean | number",
    doc: "Serve from worker threads, each with its own isolate and its own listening socket.\n" +
      "`true` starts one thread per CPU; a number starts that many; `false` serves from the\n" +
      "main thread of each process. On Deno, threads without `processes` run in one worker\n" +
      "process of their own, because Deno can end a hung thread only by ending its process.",
    example: "true",
  }),
  processes: setting({
    kind: kinds.processes,
    default: 1,
    env: "WEB_CONCURRENCY",
    flags: ["--processes", "-w", "--workers"],
    arg: "N|auto",
    section: "serving",
    help: "worker processes, supervised by this one; with threads, processes × threads workers",
    type: "number",
    doc: "Number of worker processes, supervised by this one. With `threaded`, every process\n" +
      "runs that many threads: processes × threads isolates in all (gunicorn's workers × threads).\n" +
      "On the command line, `auto` is one per CPU.",
    example: "4",
  }),
  bind: setting({
    kind: kinds.bindAddresses,
    default: [],
    defaultText: "`--host`:`--port`",
    flags: ["--bind", "-b"],
    arg: "ADDR",
    repeatable: true,
    section: "serving",
    help: "where to listen instead of host and port: HOST:PORT, [::1]:PORT, unix:PATH or fd://N (repeatable)",
    type: "string | string[]",
    doc: 'Where to listen, in gunicorn\'s syntax, instead of `hostname` and `port`: `"HOST:PORT"`,\n' +
      '`"[::1]:PORT"`, `"unix:/run/app.sock"` or `"fd://3"`; a list listens on each, serving the\n' +
      "same app. A unix socket is made with `unixMode`; one left by a dead server is replaced,\n" +
      "one a live server holds is refused (exit 3), and it is removed on exit. Workers share it\n" +
      "only as Node processes (node:cluster): Linux does not spread a unix socket's connections\n" +
      "over SO_REUSEPORT sockets, so threads, and Deno or Bun processes, are refused with exit 2\n" +
      "rather than left idle. `fd://N` listens on a socket this process inherited, open on file\n" +
      "descriptor N; systemd's socket activation (`LISTEN_FDS`, `LISTEN_PID`) binds its sockets\n" +
      "so when `bind` is not given. Only Node can listen on an inherited socket (one isolate, or\n" +
      "processes through node:cluster); elsewhere it is refused with exit 2.",
    example: '["127.0.0.1:8000", "unix:/run/app.sock"]',
  }),
  unixMode: setting({
    kind: kinds.fileMode,
    default: 0o660,
    defaultText: "`0660`",
    flags: ["--unix-mode"],
    arg: "MODE",
    section: "serving",
    help: "permissions of a unix socket made by --bind unix:PATH (octal)",
    type: "number",
    doc: "Permissions of the unix socket `bind` makes (octal on the command line): by default its\n" +
      "owner and group (nginx's, with `chgrp`) may connect, no one else.",
    example: "0o666",
  }),
  cert: setting({
    kind: kinds.path,
    default: undefined,
    defaultText: "none (plain HTTP)",
    flags: ["--cert"],
    arg: "FILE",
    section: "serving",
    help: "serve HTTPS with this PEM certificate (chain) file; needs --key",
    type: "string",
    doc: "Serve HTTPS with the certificate (PEM, the chain after it) in this file; needs `key`.\n" +
      "Every worker reads both files when it starts, so a rolling reload (SIGHUP) serves renewed\n" +
      "files with no failed request. Files that cannot be read, are not PEM or do not match stop\n" +
      "the start with exit 2, naming the file. HTTP/2 is offered beside HTTP/1.1 (see `http2`).",
    example: '"/etc/ssl/example.com/fullchain.pem"',
  }),
  key: setting({
    kind: kinds.path,
    default: undefined,
    defaultText: "none",
    flags: ["--key"],
    arg: "FILE",
    section: "serving",
    help: "the PEM private key of --cert (its passphrase, if any, in $MULTISERVE_KEY_PASSPHRASE)",
    type: "string",
    doc: "The private key (PEM) of `cert`. An encrypted key takes `keyPassphrase`.",
    example: '"/etc/ssl/example.com/privkey.pem"',
  }),
  keyPassphrase: setting({
    kind: kinds.text,
    default: undefined,
    defaultText: "none",
    env: "MULTISERVE_KEY_PASSPHRASE",
    section: "serving",
    help: "the passphrase of an encrypted key (no flag: a flag would show in ps)",
    type: "string",
    doc: "The passphrase of an encrypted `key`. No flag, so that it never shows in a process list:\n" +
      "give it in code or in the environment.",
    example: 'Deno.env.get("KEY_PASSPHRASE")',
  }),
  http2: setting({
    kind: kinds.flag,
    default: true,
    flags: ["--no-http2"],
    switchValue: false,
    section: "serving",
    help: "over TLS, serve HTTP/1.1 only: a client asking for HTTP/2 (ALPN h2) gets HTTP/1.1",
    type: "boolean",
    doc: "Over TLS, offer HTTP/2 by ALPN beside HTTP/1.1, on every runtime: a client that asks for\n" +
      "`h2` (browsers, `curl --http2`) gets HTTP/2, the rest HTTP/1.1 (WebSockets among them), on\n" +
      "the same port. `false` offers HTTP/1.1 alone: a client offering both gets HTTP/1.1, one\n" +
      "offering `h2` alone is refused (its handshake fails; on Bun, its first request). Without\n" +
      "`cert` it changes nothing.",
    example: "false",
  }),
  h2c: setting({
    kind: kinds.flag,
    default: false,
    flags: ["--h2c"],
    section: "serving",
    help:
      "without TLS, serve cleartext HTTP/2 with prior knowledge (h2c) beside HTTP/1.1: for a proxy in front",
    type: "boolean",
    doc: "Without TLS, serve cleartext HTTP/2 to a client that opens with HTTP/2's preface (prior\n" +
      "knowledge: Envoy, Caddy's `h2c://`, gRPC gateways, `curl --http2-prior-knowledge`), and\n" +
      "HTTP/1.1 to the rest, on the same port, on every runtime. There is no upgrade from\n" +
      "HTTP/1.1 (`Upgrade: h2c`). With `cert` it is refused (exit 2): over TLS, HTTP/2 comes by\n" +
      "ALPN (see `http2`). Deno.serve answers the preface even without it (see docs/limits.md).",
    example: "true",
  }),
  onListen: setting({
    kind: kinds.callback<(info: ListenInfo) => void>(),
    default: undefined,
    defaultText: "a line on stdout",
    section: "serving",
    help: "called in the primary once every worker listens; false prints nothing",
    type: "((info: ListenInfo) => void) | false",
    doc: "Called once in the primary when every worker listens. By default a line naming the\n" +
      "URL, the runtime and processes × threads goes to stdout; pass a function to replace\n" +
      "it, or `false` to print nothing.",
    example: "(info) => console.log(`up on ${info.url}`)",
  }),
  gracefulTimeout: setting({
    kind: kinds.seconds(),
    default: 30,
    flags: ["--graceful-timeout"],
    arg: "S",
    section: "workers",
    help: "seconds stopping (a signal, close(), a reload, recycling, scaling down) waits for " +
      "in-flight requests before cutting them",
    type: "number",
    doc: "Seconds that stopping (`close()`, SIGTERM, SIGINT, and a worker retired by reload,\n" +
      "scaling, `maxRequests` or `maxWorkerMemory`) waits for in-flight requests before cutting\n" +
      "them and killing the worker. Idle keep-alive connections are closed at once.",
    example: "5",
  }),
  timeout: setting({
    kind: kinds.seconds(),
    default: 30,
    flags: ["--timeout"],
    arg: "S",
    section: "workers",
    help: "kill and replace a worker whose event loop is blocked for S seconds (a liveness check, " +
      "not a per-request limit); 0 = off",
    type: "number",
    doc: "Liveness timeout in seconds: a worker whose event loop has sent no heartbeat for this\n" +
      "long (a busy loop, a deadlock) is killed and replaced, with a log line naming it.\n" +
      "This is **not** a per-request timeout: a request that waits on I/O for minutes keeps\n" +
      "its worker alive, since the worker's event loop stays free to send heartbeats. A\n" +
      "worker whose loop blocks while it starts is a boot failure (see `bootTimeout`), and one\n" +
      "that blocks while draining is killed. `0` turns it off. Needs supervised workers.",
    example: "10",
    needsWorkers: true,
  }),
  bootTimeout: setting({
    kind: kinds.seconds(),
    default: 30,
    flags: ["--boot-timeout"],
    arg: "S",
    section: "workers",
    help: "a worker not listening S seconds after it started is a boot failure: exit 3 " +
      "(a reload keeps the old workers); 0 = no bound",
    type: "number",
    doc: "Seconds a worker has, from its start, to listen. One that has not (an import that\n" +
      "blocks, or start-up code awaiting a database that never answers) is a boot failure:\n" +
      "it is named and stopped, every worker stops and the server exits 3, with no respawn\n" +
      "loop; during a reload or scaling the workers already serving keep on instead. With one\n" +
      "isolate serving alone it bounds loading the app module. `0` = no bound.",
    example: "120",
  }),
  maxRequests: setting({
    kind: kinds.count({ zero: "never" }),
    default: 0,
    flags: ["--max-requests"],
    arg: "N",
    section: "workers",
    help: "recycle a worker after N requests, its replacement listening first; 0 = never",
    type: "number",
    doc: "Recycle each worker after it has served this many requests (the usual cure for slow\n" +
      "leaks). Its replacement starts and listens first; then the old worker stops taking\n" +
      "connections and drains, so capacity never dips. `0` = never. Needs supervised workers.",
    example: "10000",
    needsWorkers: true,
  }),
  maxRequestsJitter: setting({
    kind: kinds.count(),
    default: 0,
    flags: ["--max-requests-jitter"],
    arg: "N",
    section: "workers",
    help: "add a random 0..N to each worker's max requests, so they do not all recycle at once",
    type: "number",
    doc: "Adds a random 0…`maxRequestsJitter` requests to each worker's `maxRequests`, so\n" +
      "workers started together do not all recycle at the same moment. Needs `maxRequests`.",
    example: "500",
  }),
  maxWorkerMemory: setting({
    kind: kinds.count({ zero: "no limit" }),
    default: 0,
    flags: ["--max-worker-memory"],
    arg: "MiB",
    section: "workers",
    help: "recycle a worker over MiB of memory (a process's RSS, a thread's JavaScript heap), its " +
      "replacement listening first; 0 = no limit",
    type: "number",
    doc: "Recycle a worker once it uses more than this many MiB (2^20 bytes), as `maxRequests`\n" +
      "recycles one: its replacement starts and listens first, then the old worker drains.\n" +
      "Checked with each heartbeat (at most a second apart): a process by its resident set\n" +
      "(RSS), a thread by its own JavaScript heap (its isolate's `heapUsed`: buffers outside the\n" +
      "heap do not count). With processes × threads each thread is checked, not the process\n" +
      "holding them. `0` = no limit. Needs supervised workers.",
    example: "512",
    needsWorkers: true,
  }),
  pid: setting({
    kind: kinds.path,
    default: undefined,
    defaultText: "none",
    flags: ["--pid"],
    arg: "FILE",
    section: "workers",
    help:
      "write the primary's pid to FILE at start, remove it at exit (exit 3 if it names a running process)",
    type: "string",
    doc: "Write the primary's pid to this file as it starts (before any worker), and remove it when\n" +
      "the server exits (gunicorn's `--pid`), for scripts that signal the server (`kill -HUP\n" +
      "$(cat FILE)`). A file naming another process that is running stops the start (exit 3:\n" +
      "another server may be using it); one a dead process left is replaced. One that cannot be\n" +
      "written stops the start with exit 2.",
    example: '"/run/app/app.pid"',
  }),
  controlSocket: setting({
    kind: kinds.controlSocket,
    default: undefined,
    defaultText:
      "`$XDG_RUNTIME_DIR/multiserve/HOST:PORT.ctl` (else `/tmp/multiserve-UID/…`) when supervising; off with one isolate",
    env: "MULTISERVE_CONTROL_SOCKET",
    flags: ["--control-socket"],
    arg: "PATH",
    section: "workers",
    help: "the control socket multiserve ctl talks to (mode 0600), or off; by default " +
      "$XDG_RUNTIME_DIR/multiserve/HOST:PORT.ctl (else in /tmp/multiserve-UID/) when supervising",
    type: "string | false",
    doc: "Where the primary listens for `multiserve ctl` (docs/control.md): a unix socket of mode 0600.\n" +
      "By default, when supervising (`threaded` or `processes`), `HOST:PORT.ctl` after the first\n" +
      "address (`unix-NAME-HASH.ctl` for a unix socket, `fd-N.ctl` for an inherited one) in\n" +
      "`$XDG_RUNTIME_DIR/multiserve/`, else in `/tmp/multiserve-UID/` (made mode 0700), where\n" +
      "`multiserve ctl` finds it without flags; a default that cannot be used is a warning. One\n" +
      'isolate serving alone has one only when given a path. `false` or `"off"`: none. A path that\n' +
      "a running server answers on stops the start (exit 3); a dead server's file is replaced.",
    example: '"/run/app/control.sock"',
  }),
  maxBodySize: setting({
    kind: kinds.count({ zero: "no limit" }),
    default: 10 * 1024 * 1024,
    defaultText: "`10485760` (10 MiB)",
    flags: ["--max-body-size"],
    arg: "BYTES",
    section: "requests",
    help: "larger request bodies get 413, declared or chunked; 0 = no limit",
    type: "number",
    doc: "Largest request body in bytes. A larger `Content-Length` gets 413 before the body is\n" +
      "read; a chunked body is counted as the app reads it, and reading past the limit fails\n" +
      "with an error that becomes a 413 (a Hono app's `onError` sees it as an `HTTPException`-\n" +
      "like error with `getResponse()`). Nothing is buffered to count it. `0` = no limit.",
    example: "1_000_000",
  }),
  maxHeaderSize: setting({
    kind: kinds.count({ zero: "the runtime's own limit" }),
    default: 16 * 1024,
    defaultText: "`16384` (16 KiB)",
    flags: ["--max-header-size"],
    arg: "BYTES",
    section: "requests",
    help: "larger request heads get 431; 0 = the runtime parser's own limit",
    type: "number",
    doc: "Largest request head (request line and header fields) in bytes; larger gets 431.\n" +
      "On Bun, Bun's own parser caps this at 16 KiB unless Bun runs with\n" +
      "`--max-http-header-size`. `0` leaves it to the runtime's parser (Deno: ~100 KB, answered\n" +
      "with 400), which spares Deno and Bun walking the header fields on every request.",
    example: "8192",
  }),
  maxHeaderCount: setting({
    kind: kinds.count({ zero: "the runtime's own limit" }),
    default: 100,
    flags: ["--max-header-count"],
    arg: "N",
    section: "requests",
    help: "more header fields get 431; 0 = the runtime parser's own limit",
    type: "number",
    doc: "Most header fields a request may carry; more gets 431 (Deno's parser answers 400 past\n" +
      "about 120 by itself). `0` leaves it to the runtime's parser (Deno ~120, Bun ~200, Node\n" +
      "2000, dropping the rest).",
    example: "50",
  }),
  maxUrlLength: setting({
    kind: kinds.count({ min: 1 }),
    default: 8192,
    flags: ["--max-url-length"],
    arg: "N",
    section: "requests",
    help: "longer request targets (path and query) get 414",
    type: "number",
    doc: "Longest request target (path and query) in characters; longer gets 414.",
    example: "2048",
  }),
  headerTimeout: setting({
    kind: kinds.seconds({ positive: true }),
    default: 10,
    flags: ["--header-timeout"],
    arg: "S",
    section: "requests",
    help: "disconnect a client that has not sent its request head within S seconds (slowloris); " +
      "fixed at 10 on Bun",
    type: "number",
    doc: "Seconds a client has, once connected, to finish sending a request's headers. Slower\n" +
      "clients (slowloris) are disconnected while everyone else is served (Node answers 408\n" +
      "first). Bun cuts them after its own fixed 10 s, whatever this says.",
    example: "30",
  }),
  keepAliveTimeout: setting({
    kind: kinds.seconds({ positive: true }),
    default: 5,
    flags: ["--keep-alive-timeout"],
    arg: "S",
    section: "requests",
    help: "close a kept-alive connection idle for S seconds; behind a proxy, longer than the proxy's own",
    type: "number",
    doc: "Seconds an idle keep-alive connection stays open after a response. Behind a proxy or\n" +
      "load balancer that reuses connections, make it longer than the proxy's own idle timeout\n" +
      "(nginx `keepalive_timeout` in an `upstream` block: 60 s; AWS ALB: 60 s; Google Cloud\n" +
      "LB: 600 s), so the proxy never sends a request on a connection we are closing.",
    example: "65",
  }),
  maxConcurrency: setting({
    kind: kinds.count({ zero: "no limit" }),
    default: 1000,
    flags: ["--max-concurrency"],
    arg: "N",
    section: "requests",
    help: "requests one worker handles at once; beyond, 503 at once; 0 = no limit",
    type: "number",
    doc: "Most requests one worker handles at once; beyond it, requests get 503 with\n" +
      "`Retry-After: 1` at once instead of queueing (uvicorn's `--limit-concurrency`). A request\n" +
      "counts until its handler's response is ready. `0` = no limit.",
    example: "100",
  }),
  maxWebSockets: setting({
    kind: kinds.count({ zero: "WebSockets off" }),
    default: 1000,
    flags: ["--max-web-sockets"],
    arg: "N",
    section: "requests",
    help:
      "WebSockets one worker keeps open at once; beyond, an upgrade gets 503; 0 = off (Upgrade ignored; " +
      "on Deno this gives back the header and keep-alive timeouts, see docs/websockets.md)",
    type: "number",
    doc: "Most WebSockets one worker keeps open at once; beyond it, an upgrade request gets 503 with\n" +
      "`Retry-After: 1`. Open sockets are in-flight work: a graceful stop closes them with 1001, a\n" +
      "reload, recycling or scaling down with 1012, and `gracefulTimeout` bounds the close. With\n" +
      "`0`, an Upgrade is ignored (the request is served as plain HTTP), and an attempt to upgrade\n" +
      "gets 503 naming this option and is logged (once per worker). On Deno, WebSockets need\n" +
      "`Deno.serve`'s own connection handling, which has no header or keep-alive timeouts (raw\n" +
      "`Deno.serve` has neither), keeps a connection open after a refusal, and can reset a\n" +
      "connection accepted in the instant a worker stops (denoland/deno#31959): the start-up line\n" +
      "says so. There, `0` serves HTTP through multiserve's own accept loop, with all three covered.",
    example: "10000",
  }),
  maxWebSocketMessage: setting({
    kind: kinds.count({ min: 1 }),
    default: 16 * 1024 * 1024,
    defaultText: "`16777216` (16 MiB)",
    flags: ["--max-web-socket-message"],
    arg: "BYTES",
    section: "requests",
    help: "a larger WebSocket message closes its socket with 1009 (message too big)",
    type: "number",
    doc: "Largest WebSocket message in bytes, the counterpart of `maxBodySize`: a larger one closes\n" +
      "its socket with 1009 (message too big), as Bun and the `ws` package do by default.",
    example: "1_048_576",
  }),
  maxWebSocketBuffer: setting({
    kind: kinds.count({ min: 1 }),
    default: 16 * 1024 * 1024,
    defaultText: "`16777216` (16 MiB)",
    flags: ["--max-web-socket-buffer"],
    arg: "BYTES",
    section: "requests",
    help: "a subscriber with more bytes than this waiting to go out is closed with 1013",
    type: "number",
    doc: "Bytes a WebSocket may have waiting to go out before a publish to one of its topics closes\n" +
      "it with 1013 (try again later): a client too slow for its topics is let go rather than\n" +
      "buffered without bound, and the other subscribers never wait for it.",
    example: "1_048_576",
  }),
  pubsub: setting({
    kind: kinds.redisUrl,
    default: undefined,
    defaultText: "none",
    env: "MULTISERVE_PUBSUB",
    flags: ["--pubsub"],
    arg: "URL",
    section: "requests",
    help: "carry WebSocket topics across hosts through the Redis server at URL (redis://HOST:PORT[/DB])",
    type: "string",
    doc: "Carry WebSocket topics across hosts: every server given the same Redis server\n" +
      "(`redis://HOST:PORT[/DB]`, `rediss://` for TLS) delivers each publish of any of them to\n" +
      "its own subscribers. The primary holds one connection pair; an unreachable Redis is\n" +
      "retried with backoff while topics stay on this host (a warning in the log,\n" +
      "`multiserve_pubsub_connected 0` in `/metrics`), and what is published meanwhile crosses\n" +
      "no host. A URL that is not a redis:// URL stops the start (exit 2).",
    example: '"redis://127.0.0.1:6379"',
  }),
  webSocketIdleTimeout: setting({
    kind: kinds.seconds({ positive: true }),
    default: 120,
    flags: ["--web-socket-idle-timeout"],
    arg: "S",
    section: "requests",
    help: "ping WebSocket clients; close one that has answered nothing for S seconds",
    type: "number",
    doc: "Seconds a WebSocket may stay silent: the server pings it, and closes one whose client\n" +
      "has sent nothing, not even a pong, for this long (a vanished client). Deno's and Bun's own\n" +
      "default; on Node, multiserve pings every half of it.",
    example: "30",
  }),
  forwardedAllowIps: setting({
    kind: kinds.addresses,
    default: ["127.0.0.1", "::1"],
    defaultText: "`127.0.0.1,::1`",
    env: "FORWARDED_ALLOW_IPS",
    flags: ["--forwarded-allow-ips"],
    arg: "LIST",
    section: "requests",
    help:
      "peers whose proxy headers (--forwarded-headers) are believed: IPs, networks (10.0.0.0/8, fd00::/8), or *",
    type: "string | string[]",
    doc: "Peers whose proxy headers (`forwardedHeaders`) are believed: IP\n" +
      "addresses or networks (`10.0.0.0/8`, `fd00::/8`), as a list or a comma-separated string,\n" +
      'or `"*"` for every peer (only when nothing else can reach the port). From a trusted\n' +
      "peer, by default, the client address in `remoteAddr` is the nearest untrusted one in\n" +
      "`X-Forwarded-For`, and the scheme of `request.url` follows `X-Forwarded-Proto`; from\n" +
      "anyone else the headers change nothing. A unix socket's peer is trusted.",
    example: '["10.0.0.0/8", "192.168.1.5"]',
  }),
  proxyProtocol: setting({
    kind: kinds.flag,
    default: false,
    flags: ["--proxy-protocol"],
    section: "requests",
    help: "every connection begins with a PROXY protocol header (v1 or v2) from a forwardedAllowIps peer",
    type: "boolean",
    doc: "Every connection begins with a PROXY protocol header, version 1 (text) or 2 (binary),\n" +
      "told apart by its first bytes (HAProxy's `accept-proxy`): what an L4 balancer (HAProxy\n" +
      "`send-proxy-v2`, AWS NLB) writes to name the client. The client it names becomes the\n" +
      "connection's peer: `remoteAddr`, `peerAddr`, the access log, and the address\n" +
      "`X-Forwarded-For` is then judged by. A LOCAL header (a health check) keeps the real peer.\n" +
      "Over TLS the header comes before the handshake. A connection from a peer not in\n" +
      "`forwardedAllowIps`, or whose header is malformed or not whole within `headerTimeout`\n" +
      "(at most 3 s), is closed with nothing sent, and counted\n" +
      "(`multiserve_proxy_protocol_refused_total`). Every connection must then come through the\n" +
      "balancer. Node reads it everywhere (TCP, TLS, unix sockets); Deno on TCP with WebSockets\n" +
      "off (`maxWebSockets: 0`), not over TLS; Bun not at all. Where it cannot, the start fails\n" +
      "with exit 2 saying why (docs/limits.md).",
    example: "true",
  }),
  forwardedHeaders: setting({
    kind: kinds.forwardedHeaders,
    default: ["x-forwarded-for", "x-forwarded-proto"],
    defaultText: "`x-forwarded-for,x-forwarded-proto`",
    env: "FORWARDED_HEADERS",
    flags: ["--forwarded-headers"],
    arg: "LIST",
    section: "requests",
    help:
      "proxy headers believed from --forwarded-allow-ips peers: forwarded, x-forwarded-for, -proto, -host, -port, -prefix",
    type: "string | string[]",
    doc: "The proxy headers believed from `forwardedAllowIps` peers, as a list or comma-separated:\n" +
      "`forwarded` (RFC 7239: `for`, `proto`, `host`), `x-forwarded-for` (the client),\n" +
      "`x-forwarded-proto` (the scheme), `x-forwarded-host` and `x-forwarded-port` (the URL's host\n" +
      "and port) and `x-forwarded-prefix` (`info.prefix`). List only those your proxy sets or\n" +
      "replaces: one it passes on from the client is the client's to forge. Where `forwarded`\n" +
      "and an `x-forwarded-*` header both say a thing, `forwarded` wins. Details in\n" +
      "docs/requests.md.",
    example: '["forwarded", "x-forwarded-prefix"]',
  }),
  accessLog: setting({
    kind: kinds.logTarget,
    default: undefined,
    defaultText: "`false` (off)",
    flags: ["--access-log"],
    arg: "FILE",
    optionalArg: true,
    section: "observability",
    help: "a line per request: alone to stdout, --access-log=FILE appends to FILE",
    type: "boolean | string",
    doc: 'Write a line per request, once its response is ready: `true` or `"-"` to stdout, a path to\n' +
      "append to that file. Every worker writes its own lines, a batch per turn of its event loop,\n" +
      "whole lines at a time, and flushes them before it exits. Our own refusals (413, 431, 503…)\n" +
      "are logged with their status; what the runtime's parser refuses before our code runs is not.",
    example: '"/var/log/app/access.log"',
  }),
  accessLogFormat: setting({
    kind: kinds.choice<"combined" | "common" | "json">(["combined", "common", "json"]),
    default: "combined" as const,
    flags: ["--access-log-format"],
    arg: "F",
    section: "observability",
    help: "combined (Apache/nginx, with referer and user agent), common, or json (an object per line)",
    type: '"combined" | "common" | "json"',
    doc: "The access log's format: `combined` (Apache's and nginx's, gunicorn's default), `common`\n" +
      "(without referer and user agent), or `json`: one object per line with `time`, `worker`,\n" +
      "`pid`, `remote`, `method`, `target`, `protocol`, `status`, `bytes`, `ms`, `referer`,\n" +
      "`userAgent` and `requestId` (the client's `X-Request-Id`).",
    example: '"json"',
  }),
  logLevel: setting({
    kind: kinds.choice<LogLevel>(["debug", "info", "warning", "error", "quiet"]),
    default: "info" as const,
    env: "LOG_LEVEL",
    flags: ["--log-level"],
    arg: "L",
    section: "observability",
    help: "lifecycle lines shown: debug, info, warning, error, or quiet (only why the server stops)",
    type: '"debug" | "info" | "warning" | "error" | "quiet"',
    doc: "Which of multiserve's own lines (on stderr; the start-up line on stdout) are written:\n" +
      "`info` shows workers starting, ready and exiting; `warning` only what went wrong but was\n" +
      "handled (a crash, a timeout); `error` only failures; `quiet` only the reason a server stops\n" +
      "on its own. Access log lines are apart from this.",
    example: '"warning"',
  }),
  logFormat: setting({
    kind: kinds.choice<"text" | "json">(["text", "json"]),
    default: "text" as const,
    flags: ["--log-format"],
    arg: "F",
    section: "observability",
    help: "text, or json: one object per line (time, level, message, worker, pid) for a log shipper",
    type: '"text" | "json"',
    doc: "`text`: lines prefixed `multiserve:`. `json`: one object per line with `time`, `level`,\n" +
      "`message`, and `worker` and `pid` where a line is about one worker, for a log shipper.",
    example: '"json"',
  }),
  adminPort: setting({
    kind: kinds.optionalPort,
    default: undefined,
    defaultText: "off",
    flags: ["--admin-port"],
    arg: "N",
    section: "observability",
    help: "serve /metrics, a live status page, /status, /healthz and /readyz from the primary on this port",
    type: "number",
    doc: "Open the admin endpoint on this port, served by the primary (never by a worker):\n" +
      "`/metrics` (Prometheus, summed over every worker ever run), `/` (a live status page),\n" +
      "`/status` (the same as JSON), `/healthz` and `/readyz` (503 from the moment a stop\n" +
      "begins). `0` picks a free port, named in the start-up line. Workers then count their\n" +
      "requests (see `stats`).",
    example: "9100",
  }),
  adminHost: setting({
    kind: kinds.host,
    default: "127.0.0.1",
    flags: ["--admin-host"],
    arg: "HOST",
    section: "observability",
    help: "interface of the admin endpoint; loopback unless you ask (it has no authentication)",
    type: "string",
    doc: "Interface the admin endpoint binds. It has no authentication: keep it on loopback, or on\n" +
      "a network only your monitoring reaches.",
    example: '"0.0.0.0"',
  }),
  stats: setting({
    kind: kinds.flag,
    default: false,
    defaultText: "`false` (on with `adminPort`)",
    section: "observability",
    help: "count requests in every worker for server.stats(); on whenever adminPort is set",
    type: "boolean",
    doc: "Count requests (by method, status class and duration), bytes and requests in flight in\n" +
      "every worker, and report them to the primary with the heartbeat, for `server.stats()`.\n" +
      "On whenever `adminPort` is set; off, requests pay nothing for it.",
    example: "true",
  }),
  watch: setting({
    kind: kinds.flag,
    default: false,
    flags: ["--watch", "--reload"],
    section: "development",
    help:
      "reload the workers when a file under the app's directory changes (a rolling reload: no request fails)",
    type: "boolean",
    doc: "Watch the app's directory (the module's, or the entry script's in function form) and do\n" +
      "the rolling reload SIGHUP does when a file changes, about 100 ms after the last change: the\n" +
      "socket stays open, in-flight requests finish on the old workers, and a change that breaks\n" +
      "the app leaves them serving (its error, with its place, goes to the log). `node_modules`,\n" +
      "`.git`, dotfiles and `dist` are not watched. With one isolate, it serves as one supervised\n" +
      "worker (`threaded: 1`), which a reload needs.",
    example: "true",
  }),
  watchPath: setting({
    kind: kinds.strings,
    default: [],
    flags: ["--watch-path"],
    arg: "DIR",
    repeatable: true,
    section: "development",
    help: "watch this directory or file instead of the app's directory (repeatable)",
    type: "string | string[]",
    doc: "What `watch` watches instead of the app's directory: directories (recursively) or files.",
    example: '["src", "templates"]',
  }),
  watchExclude: setting({
    kind: kinds.strings,
    default: [],
    flags: ["--watch-exclude"],
    arg: "GLOB",
    repeatable: true,
    section: "development",
    help: "ignore changes to paths matching GLOB (* within a name, ** across directories; repeatable)",
    type: "string | string[]",
    doc: "Changes `watch` ignores, besides `node_modules`, `.git`, dotfiles and `dist`: globs matched\n" +
      "against the path relative to the watched directory (`*` within a name, `**` across\n" +
      "directories, `?` one character).",
    example: '["*.log", "uploads/**"]',
  }),
  debug: setting({
    kind: kinds.flag,
    default: false,
    flags: ["--debug"],
    section: "requests",
    help: "send the error and its stack to the client when the app throws (never in production)",
    type: "boolean",
    doc: "Send the error and its stack to the client when the app throws. Off, clients get a\n" +
      'plain "Internal Server Error" and the details go only to the log. Never in production.',
    example: "true",
  }),
};

/** The name of an option. */
export type SettingName = keyof typeof SETTINGS;

/** Every option resolved: what the server runs with. */
export type Config = {
  -readonly [K in SettingName]: (typeof SETTINGS)[K] extends Setting<infer _In, infer Out> ? Out : never;
};

/** What a worker is sent of its primary's configuration: every value but callbacks. */
export type WorkerConfig = Omit<Config, "onListen">;
