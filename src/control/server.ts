/**
 * The primary's control socket (gunicorn 25.1's control socket, for `multiserve ctl`): it
 * answers status and worker questions from the registry, and sends reloads and scaling
 * through the primary's `PoolControl`, where they queue and merge as signals do. Only the
 * server's own user (or root) may act: the socket is mode 0600 in a directory only that
 * user enters, and where the runtime can read the client's uid (Deno with --allow-ffi, Bun,
 * on Linux) a client of another uid is refused as well.
 *
 * At start, a live server answering at the path refuses this one (exit 3), unless this is an
 * upgrade taking the path over; a dead server's file is replaced.
 *
 * @module
 */
import type { Adapter, ControlConnection, ControlListener } from "../adapter.ts";
import { BootError, messageOf, StoppedError } from "../errors.ts";
import type { Logger, LogLevel } from "../log.ts";
import type { PoolControl } from "../pool/control.ts";
import type { ServerStats } from "../types.ts";
import {
  type CommandArgs,
  COMMANDS,
  type ControlReply,
  type ControlRequest,
  type ErrorCode,
  PROTOCOL_VERSION,
} from "./protocol.ts";

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warning", "error", "quiet"];

/** How long a server found at the path has to say who it is. */
const PROBE_MS = 2_000;

/** What the control socket acts on: the primary's. */
export interface ControlServerOptions {
  /** Where to listen. */
  path: string;
  /**
   * The path was given (`controlSocket`): failing to listen there stops the start (exit 3).
   * The default path only warns: the server serves on without a control socket.
   */
  explicit: boolean;
  /** This start is an upgrade: a live server at the path is the old primary, taken over. */
  takeOver: boolean;
  /** The registry's view: status and workers. */
  stats: () => ServerStats;
  /** The pool's driver; undefined for one isolate serving alone (no reload, no scaling). */
  pool: PoolControl | undefined;
  /** Stop gracefully, draining up to `gracefulTimeout` seconds when given. */
  stop: (gracefulTimeout?: number) => void;
  /** The log level now, and setting it. */
  logLevel: () => LogLevel;
  setLogLevel: (level: LogLevel) => void;
  /** Upgrade the primary (issue 25, part 3); absent: `upgrade` is refused. */
  upgrade?: () => Promise<unknown>;
  log: Logger;
}

/** A command refused or failed, with its code. */
class CommandError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Listen on the control socket. Resolves to undefined when the default path cannot be
 * used (logged as a warning); rejects with a `BootError` when a live server holds the path
 * (and this is no upgrade), or when a path that was given cannot be listened on.
 */
export async function serveControl(
  adapter: Adapter,
  options: ControlServerOptions,
): Promise<ControlListener | undefined> {
  const { path, log } = options;
  if (!options.takeOver) {
    const holder = await liveServerAt(adapter, path);
    if (holder !== undefined) {
      throw new BootError(
        `control socket ${path} is in use by a running server (pid ${holder}); stop it, or choose another path with --control-socket`,
      );
    }
  }
  let listener!: ControlListener;
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => listening = resolve);
  try {
    listener = await adapter.listenControl(path, (connection) => {
      ready.then(() => serveConnection(connection, listener, options));
    });
  } catch (error) {
    const why = `cannot listen on the control socket ${path}: ${messageOf(error)}`;
    if (options.explicit) throw new BootError(why);
    log("warning", `${why}; serving without one (set --control-socket PATH, or off)`);
    return undefined;
  }
  listening();
  log(
    "debug",
    `control socket on ${path}${
      options.takeOver ? " (taken over)" : ""
    }: multiserve ctl --socket ${path} status`,
  );
  return listener;
}

/** The pid of a server answering at `path`: "unknown" if it answers but says nothing; undefined if none does. */
async function liveServerAt(adapter: Adapter, path: string): Promise<number | string | undefined> {
  let connection: ControlConnection;
  try {
    connection = await adapter.connectControl(path);
  } catch {
    // Nothing there, a dead server's file (ECONNREFUSED), or no access: binding will tell.
    return undefined;
  }
  return await new Promise((resolve) => {
    const timer = setTimeout(() => {
      connection.close();
      resolve("unknown: it did not answer");
    }, PROBE_MS);
    connection.onLine((line) => {
      clearTimeout(timer);
      connection.close();
      try {
        const reply = JSON.parse(line) as ControlReply;
        const pid = reply.ok ? (reply.result as { pid?: number }).pid : undefined;
        resolve(typeof pid === "number" ? pid : "unknown");
      } catch {
        resolve("unknown");
      }
    });
    connection.onClose(() => {
      clearTimeout(timer);
      resolve("unknown");
    });
    connection.send(JSON.stringify({ v: PROTOCOL_VERSION, id: 0, command: "status" }));
  });
}

/** Answer each line of one client, in the order they finish. */
function serveConnection(
  connection: ControlConnection,
  listener: ControlListener,
  options: ControlServerOptions,
): void {
  const peer = connection.peerUid;
  const forbidden = peer !== undefined && listener.uid !== undefined && peer !== listener.uid && peer !== 0;
  connection.onLine((line) => {
    if (line.trim() === "") return;
    let id: number | string | null = null;
    const reply = (answer: { ok: true; result: unknown } | { ok: false; error: string; code: ErrorCode }) =>
      connection.send(JSON.stringify({ v: PROTOCOL_VERSION, id, ...answer } as ControlReply));
    let request: ControlRequest;
    try {
      request = parseRequest(line);
      id = request.id;
    } catch (error) {
      const code = error instanceof CommandError ? error.code : "bad-request";
      return reply({ ok: false, error: messageOf(error), code });
    }
    if (forbidden) {
      options.log(
        "warning",
        `control socket: refused ${request.command} from uid ${peer}, not this server's user`,
      );
      return reply({
        ok: false,
        error: `refused: uid ${peer} is not this server's user (uid ${listener.uid})`,
        code: "forbidden",
      });
    }
    run(request, options).then(
      (result) => reply({ ok: true, result }),
      (error) =>
        reply({
          ok: false,
          error: messageOf(error),
          code: error instanceof CommandError
            ? error.code
            : error instanceof StoppedError
            ? "refused"
            : "failed",
        }),
    );
  });
}

/** A request from its line; throws a `CommandError` saying what is wrong with it. */
function parseRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new CommandError("bad-request", "a request is one JSON object per line");
  }
  const request = value as Partial<ControlRequest> | null;
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    throw new CommandError("bad-request", "a request is one JSON object per line");
  }
  if (request.v !== PROTOCOL_VERSION) {
    throw new CommandError(
      "unsupported-version",
      `protocol version ${
        JSON.stringify(request.v)
      } is not spoken here: this server speaks ${PROTOCOL_VERSION}`,
    );
  }
  if (typeof request.id !== "number" && typeof request.id !== "string") {
    throw new CommandError("bad-request", '"id" must be a number or a string');
  }
  if (!COMMANDS.includes(request.command as never)) {
    throw new CommandError(
      "bad-request",
      `unknown command ${JSON.stringify(request.command)}; the commands: ${COMMANDS.join(", ")}`,
    );
  }
  if (request.args !== undefined && (typeof request.args !== "object" || request.args === null)) {
    throw new CommandError("bad-request", '"args" must be an object');
  }
  return request as ControlRequest;
}

/** Carry out one command; resolves to its result. */
async function run(request: ControlRequest, options: ControlServerOptions): Promise<unknown> {
  const { command } = request;
  const args: CommandArgs = request.args ?? {};
  const { log } = options;
  const readOnly = command === "status" || command === "workers";
  log(readOnly ? "debug" : "info", `control socket: ${command}${describeArgs(args)}`);
  switch (command) {
    case "status":
      return statusOf(options);
    case "workers":
      return {
        workers: options.stats().rows.map((row) => ({
          id: row.worker,
          kind: row.kind,
          pid: row.pid ?? null,
          state: row.state,
          age: row.age,
          requests: row.requests,
          inFlight: row.inFlight,
          memory: row.memory,
          restarts: row.restarts,
        })),
      };
    case "reload": {
      const pool = supervised(options, "reload");
      await pool.reload("multiserve ctl reload", true);
      return { workers: pool.count, reloads: options.stats().totals.reloads };
    }
    case "scale":
    case "add":
    case "remove": {
      const pool = supervised(options, command);
      const count = args.count ?? (command === "scale" ? undefined : 1);
      if (!Number.isInteger(count) || count! < (command === "scale" ? 1 : 0)) {
        throw new CommandError(
          "bad-request",
          `${command} needs a whole number${command === "scale" ? " of workers ≥ 1" : " ≥ 0"}, got ${
            JSON.stringify(args.count)
          }`,
        );
      }
      const previous = pool.count;
      const n = count!;
      const target = command === "scale"
        ? n
        : command === "add"
        ? (current: number) => current + n
        : (current: number) => Math.max(1, current - n);
      await pool.scale(target, `multiserve ctl ${command}`);
      return { previous, workers: pool.count };
    }
    case "kill": {
      const pool = supervised(options, "kill");
      if (typeof args.worker !== "string" || args.worker === "") {
        throw new CommandError("bad-request", 'kill needs a worker id ("worker": "2")');
      }
      await pool.replaceWorker(args.worker).catch((error) => {
        throw error instanceof StoppedError ? error : new CommandError("refused", messageOf(error));
      });
      return { worker: args.worker, replaced: true };
    }
    case "stop": {
      const timeout = args.gracefulTimeout;
      if (
        timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout >= 0)
      ) {
        throw new CommandError(
          "bad-request",
          `stop's graceful timeout must be a number of seconds ≥ 0, got ${timeout}`,
        );
      }
      // The reply goes out first: the stop may end this process before another turn.
      setTimeout(() => options.stop(timeout), 0);
      return { stopping: true, ...(timeout === undefined ? {} : { gracefulTimeout: timeout }) };
    }
    case "log-level": {
      const level = args.level as LogLevel;
      if (!LOG_LEVELS.includes(level)) {
        throw new CommandError(
          "bad-request",
          `log-level needs one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(args.level)}`,
        );
      }
      const previous = options.logLevel();
      options.setLogLevel(level);
      return { previous, level };
    }
    case "upgrade":
      if (options.upgrade === undefined) {
        throw new CommandError("refused", "upgrade is not available: this server cannot upgrade its primary");
      }
      return (await options.upgrade()) ?? { upgrading: true };
  }
}

function describeArgs(args: CommandArgs): string {
  const shown = Object.entries(args).map(([name, value]) => `${name} ${value}`);
  return shown.length === 0 ? "" : ` (${shown.join(", ")})`;
}

/** The pool, or a refusal for one isolate serving alone. */
function supervised(options: ControlServerOptions, command: string): PoolControl {
  if (options.pool === undefined) {
    throw new CommandError(
      "refused",
      `${command} needs workers: one isolate serves alone; start with --processes or --threads`,
    );
  }
  return options.pool;
}

function statusOf(options: ControlServerOptions): unknown {
  const stats = options.stats();
  return {
    pid: stats.pid,
    runtime: stats.runtime,
    version: stats.version,
    uptime: stats.uptime,
    url: stats.url ?? null,
    phase: options.pool?.phase ?? (stats.ready ? "serving" : "stopping"),
    ready: stats.ready,
    workers: stats.workers,
    requests: stats.totals.requests,
    inFlight: stats.totals.inFlight,
    restarts: stats.totals.restarts,
    reloads: stats.totals.reloads,
    memory: stats.totals.memory,
    logLevel: options.logLevel(),
    controlSocket: options.path,
  };
}
