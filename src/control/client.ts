/**
 * `multiserve ctl [--socket PATH] [--json] COMMAND`: one request to a running primary's
 * control socket, its answer as a table or line (or as JSON), and an exit code that says
 * what happened (`CTL_EXIT`). Without `--socket`, `$MULTISERVE_CONTROL_SOCKET`, else the one
 * live socket in the default directory.
 *
 * @module
 */
import type { Adapter, ControlConnection } from "../adapter.ts";
import { messageOf } from "../errors.ts";
import { readEnv } from "../host.ts";
import { loadAdapter } from "../runtime.ts";
import {
  type Command,
  type CommandArgs,
  COMMANDS,
  type ControlReply,
  CTL_EXIT,
  PROTOCOL_VERSION,
} from "./protocol.ts";

/** What the command line asks for. */
export interface CtlRequest {
  socket?: string;
  json: boolean;
  help: boolean;
  command?: Command;
  args: CommandArgs;
}

/** A failure with its exit code. */
class CtlError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Commands that change nothing, or at once: their answer is bounded. */
const QUICK: readonly Command[] = ["status", "workers", "stop", "log-level"];
const QUICK_MS = 10_000;

export function ctlUsage(): string {
  return [
    "Usage: multiserve ctl [--socket PATH] [--json] COMMAND",
    "",
    "Drive a running server through its control socket (docs/control.md).",
    "",
    "Commands:",
    "  status                         the server: pid, runtime, workers, requests, phase",
    "  workers                        each worker: id, kind, pid, state, age, requests, in flight,",
    "                                 memory, restarts",
    "  reload                         rolling reload, as SIGHUP (merged into one already queued)",
    "  scale N                        keep N workers",
    "  add [N]                        N workers more (default 1)",
    "  remove [N]                     N workers fewer (default 1; never below 1)",
    "  kill WORKER                    replace worker WORKER (its id): a replacement first, then",
    "                                 it drains",
    "  stop [--graceful-timeout S]    drain and exit 0; S: seconds instead of gracefulTimeout",
    "  log-level LEVEL                the primary's log level: debug, info, warning, error, quiet",
    "  upgrade                        start a new primary and hand over to it",
    "",
    "Flags:",
    "  --socket PATH   the control socket (default: $MULTISERVE_CONTROL_SOCKET, else the one",
    "                  server running in $XDG_RUNTIME_DIR/multiserve/, else /tmp/multiserve-UID/)",
    "  --json          print the answer as JSON",
    "",
    "Exit codes: 0 done; 1 refused or failed; 2 bad usage, or several servers to choose from;",
    "3 no server listens there; 4 permission denied.",
  ].join("\n");
}

/** Parse the arguments after `ctl`; throws a `CtlError` (exit 2) naming what is wrong. */
export function parseCtlArgs(args: string[]): CtlRequest {
  const request: CtlRequest = { json: false, help: false, args: {} };
  const positional: string[] = [];
  const rest = [...args];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq !== -1 ? arg.slice(0, eq) : arg;
    const value = () => {
      const text = eq !== -1 && arg.startsWith("--") ? arg.slice(eq + 1) : rest.shift();
      if (text === undefined || text === "") throw new CtlError(`flag ${flag} needs a value`, CTL_EXIT.usage);
      return text;
    };
    if (flag === "-h" || flag === "--help") request.help = true;
    else if (flag === "--json") request.json = true;
    else if (flag === "--socket" || flag === "-s") request.socket = value();
    else if (flag === "--graceful-timeout") {
      const text = value();
      if (!/^\d+(\.\d+)?$/.test(text)) {
        throw new CtlError(
          `flag --graceful-timeout needs a number of seconds ≥ 0, got ${text}`,
          CTL_EXIT.usage,
        );
      }
      request.args.gracefulTimeout = Number(text);
    } else if (arg.startsWith("-") && arg !== "-") throw new CtlError(`unknown flag ${flag}`, CTL_EXIT.usage);
    else positional.push(arg);
  }
  if (request.help) return request;
  const [command, ...operands] = positional;
  if (command === undefined) throw new CtlError("a command is needed", CTL_EXIT.usage);
  if (!COMMANDS.includes(command as Command)) {
    throw new CtlError(`unknown command ${command}; the commands: ${COMMANDS.join(", ")}`, CTL_EXIT.usage);
  }
  request.command = command as Command;
  const takes =
    { scale: "N", add: "[N]", remove: "[N]", kill: "WORKER", "log-level": "LEVEL" }[command as string];
  const optional = takes?.startsWith("[") ?? false;
  if (
    operands.length > (takes === undefined ? 0 : 1) ||
    (takes !== undefined && !optional && operands.length === 0)
  ) {
    throw new CtlError(
      `${command} takes ${takes === undefined ? "no argument" : takes}, got ${operands.join(" ") || "none"}`,
      CTL_EXIT.usage,
    );
  }
  if (request.args.gracefulTimeout !== undefined && command !== "stop") {
    throw new CtlError("--graceful-timeout goes with stop", CTL_EXIT.usage);
  }
  const [operand] = operands;
  if (command === "scale" || command === "add" || command === "remove") {
    if (operand !== undefined) {
      const min = command === "scale" ? 1 : 0;
      if (!/^\d+$/.test(operand) || Number(operand) < min) {
        throw new CtlError(`${command} needs a whole number ≥ ${min}, got ${operand}`, CTL_EXIT.usage);
      }
      request.args.count = Number(operand);
    }
  } else if (command === "kill") request.args.worker = operand;
  else if (command === "log-level") request.args.level = operand;
  return request;
}

/** Run `multiserve ctl ARGS`; resolves to the exit code. */
export async function ctlMain(args: string[]): Promise<number> {
  let request: CtlRequest;
  try {
    request = parseCtlArgs(args);
  } catch (error) {
    console.error(`multiserve ctl: ${messageOf(error)}\nRun "multiserve ctl --help" for usage.`);
    return (error as CtlError).exitCode ?? CTL_EXIT.usage;
  }
  if (request.help) {
    console.log(ctlUsage());
    return CTL_EXIT.ok;
  }
  try {
    const adapter = await loadAdapter();
    const { path, connection } = await connectTo(adapter, request.socket);
    const reply = await ask(connection, request.command!, request.args);
    if (!reply.ok) {
      if (request.json) console.log(JSON.stringify({ ok: false, error: reply.error, code: reply.code }));
      console.error(`multiserve ctl: ${path}: ${reply.error}`);
      return reply.code === "forbidden"
        ? CTL_EXIT.forbidden
        : reply.code === "bad-request" || reply.code === "unsupported-version"
        ? CTL_EXIT.usage
        : CTL_EXIT.refused;
    }
    console.log(request.json ? JSON.stringify(reply.result) : shown(request.command!, reply.result));
    return CTL_EXIT.ok;
  } catch (error) {
    console.error(`multiserve ctl: ${messageOf(error)}`);
    return (error as CtlError).exitCode ?? CTL_EXIT.refused;
  }
}

/** Connect to `socket`, or find the server to talk to. */
async function connectTo(
  adapter: Adapter,
  socket: string | undefined,
): Promise<{ path: string; connection: ControlConnection }> {
  const given = socket ?? readEnv("MULTISERVE_CONTROL_SOCKET");
  if (given !== undefined && given !== "" && given !== "off") {
    return { path: given, connection: await connect(adapter, given) };
  }
  let directory: { path: string; sockets: string[] };
  try {
    directory = adapter.controlDirectory(false);
  } catch (error) {
    throw new CtlError(messageOf(error), CTL_EXIT.forbidden);
  }
  const live: { path: string; connection: ControlConnection }[] = [];
  for (const name of directory.sockets.filter((name) => name.endsWith(".ctl")).sort()) {
    const path = `${directory.path}/${name}`;
    try {
      live.push({ path, connection: await connect(adapter, path) });
    } catch { /* a dead server's file */ }
  }
  if (live.length === 1) return live[0];
  for (const { connection } of live) connection.close();
  if (live.length === 0) {
    throw new CtlError(
      `no running server found: no live control socket in ${directory.path} (a server with workers makes one there; else give --socket PATH)`,
      CTL_EXIT.noServer,
    );
  }
  throw new CtlError(
    `${live.length} servers are running; choose one with --socket PATH: ${
      live.map((l) => l.path).join(", ")
    }`,
    CTL_EXIT.usage,
  );
}

async function connect(adapter: Adapter, path: string): Promise<ControlConnection> {
  try {
    return await adapter.connectControl(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "ECONNREFUSED" || code === "ENOTSOCK") {
      throw new CtlError(
        `no server listens at ${path} (${code === "ENOENT" ? "no such file" : code}); is it running?`,
        CTL_EXIT.noServer,
      );
    }
    if (code === "EACCES" || code === "EPERM") {
      throw new CtlError(
        `permission denied: ${path} (only the server's user may use its control socket)`,
        CTL_EXIT.forbidden,
      );
    }
    throw new CtlError(`cannot connect to ${path}: ${messageOf(error)}`, CTL_EXIT.refused);
  }
}

/** Send one request and wait for its answer. */
function ask(connection: ControlConnection, command: Command, args: CommandArgs): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const timer = QUICK.includes(command)
      ? setTimeout(() => {
        connection.close();
        reject(new CtlError(`no answer to ${command} within ${QUICK_MS / 1_000} s`, CTL_EXIT.refused));
      }, QUICK_MS)
      : undefined;
    connection.onLine((line) => {
      let reply: ControlReply;
      try {
        reply = JSON.parse(line);
      } catch {
        return;
      }
      if (reply.id !== 1) return;
      clearTimeout(timer);
      connection.close();
      resolve(reply);
    });
    connection.onClose(() => {
      clearTimeout(timer);
      reject(new CtlError(`the server closed the connection before answering ${command}`, CTL_EXIT.refused));
    });
    connection.send(JSON.stringify({ v: PROTOCOL_VERSION, id: 1, command, args }));
  });
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const duration = (seconds: number) =>
  seconds < 60
    ? `${seconds.toFixed(0)} s`
    : seconds < 3600
    ? `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`
    : `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;

/** A result as a person reads it. */
function shown(command: Command, result: unknown): string {
  const r = result as Record<string, unknown>;
  switch (command) {
    case "status": {
      const workers = r.workers as { configured: number; alive: number };
      const restarts = Object.entries(r.restarts as Record<string, number>).filter(([, n]) => n > 0);
      return [
        `pid ${r.pid}, ${r.runtime} ${r.version}, up ${duration(r.uptime as number)}`,
        `url: ${r.url ?? "-"}`,
        `phase: ${r.phase}; ${workers.alive} of ${workers.configured} workers listening`,
        `requests: ${r.requests} (${r.inFlight} in flight); reloads: ${r.reloads}; restarts: ${
          restarts.map(([reason, n]) => `${n} ${reason}`).join(", ") || "none"
        }`,
        `memory (primary): ${mib(r.memory as number)}; log level: ${r.logLevel}`,
        `control socket: ${r.controlSocket}`,
      ].join("\n");
    }
    case "workers": {
      const rows = (r.workers as Record<string, unknown>[]).map((w) => [
        String(w.id),
        String(w.kind),
        String(w.pid ?? "-"),
        String(w.state),
        duration(w.age as number),
        String(w.requests),
        String(w.inFlight),
        (w.memory as number) > 0 ? mib(w.memory as number) : "-",
        String(w.restarts),
      ]);
      return table(
        ["ID", "KIND", "PID", "STATE", "AGE", "REQUESTS", "IN FLIGHT", "MEMORY", "RESTARTS"],
        rows,
      );
    }
    case "reload":
      return `reloaded: ${r.workers} workers serve new code (reloads: ${r.reloads})`;
    case "scale":
    case "add":
    case "remove":
      return `workers: ${r.previous} → ${r.workers}`;
    case "kill":
      return `worker ${r.worker} replaced: its replacement listens, it drains`;
    case "stop":
      return `stopping${r.gracefulTimeout === undefined ? "" : ` (draining up to ${r.gracefulTimeout} s)`}`;
    case "log-level":
      return `log level: ${r.previous} → ${r.level}`;
    case "upgrade":
      return `upgrade: ${JSON.stringify(result)}`;
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}
