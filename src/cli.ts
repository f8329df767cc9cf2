/**
 * The `multiserve` command: `multiserve [flags] [module]`, or `multiserve ctl …` to drive a
 * running server (src/control/client.ts). Flags and `--help` come from the
 * options table (`src/settings.ts`); the module's default export is served (the built-in
 * demo without one); every failure becomes one line and a documented exit code.
 *
 * @module
 */
import { settlesWithin } from "./deadline.ts";
import { releaseEarlySignals } from "./early_signals.ts";
import { BootError, EXIT, messageOf, OptionError } from "./errors.ts";
import { cwd, exitProcess, programArgs, readEnv, siblingModule } from "./host.ts";
import { loadApp, type ServedApp } from "./app.ts";
import { addressesOf, urlOf } from "./addresses.ts";
import { checked, resolveOptions } from "./options.ts";
import { ctlMain } from "./control/client.ts";
import { assignedWorker } from "./role.ts";
import { detectRuntime, loadAdapter } from "./runtime.ts";
import { checkProxyProtocol } from "./primary.ts";
import { serve } from "./serve.ts";
import { type Config, type Section, type Setting, type SettingName, SETTINGS } from "./settings.ts";
import type { ServeOptions } from "./types.ts";
import { VERSION } from "./version.ts";

/** What the command line asks for. */
export interface CliRequest {
  action: "serve" | "help" | "version" | "check";
  options: ServeOptions;
  module?: string;
}

/** The CLI's own flags, beside the options' ones. */
const COMMAND_FLAGS: Record<string, CliRequest["action"]> = {
  "-h": "help",
  "--help": "help",
  "-V": "version",
  "--version": "version",
  "--check": "check",
};

type Entry = Setting<unknown, unknown>;
const entries = Object.entries(SETTINGS) as [SettingName, Entry][];
const BY_FLAG = new Map<string, [SettingName, Entry]>(
  entries.flatMap(([name, entry]) => (entry.flags ?? []).map((flag) => [flag, [name, entry]] as const)),
);

/** Parse `args`; throws an `OptionError` naming the flag at fault. */
export function parseArgs(args: string[]): CliRequest {
  const request: CliRequest = { action: "serve", options: {} };
  const options = request.options as Record<string, unknown>;
  const rest = [...args];
  /** An optional-value flag just before this argument; and the one before the module. */
  let optionalBefore: string | undefined;
  let beforeModule: string | undefined;
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg === "--") {
      for (const path of rest.splice(0)) setModule(request, path, beforeModule);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (request.module === undefined) beforeModule = optionalBefore;
      setModule(request, arg, beforeModule);
      optionalBefore = undefined;
      continue;
    }
    optionalBefore = undefined;
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const action = COMMAND_FLAGS[flag];
    if (action !== undefined) {
      request.action = action;
      continue;
    }
    const found = BY_FLAG.get(flag);
    if (found === undefined) throw new OptionError(`unknown flag ${flag}${didYouMean(flag)}`);
    const [name, entry] = found;
    if (entry.arg === undefined || (entry.optionalArg && eq === -1)) {
      if (eq !== -1) throw new OptionError(`flag ${flag} takes no value`);
      if (entry.optionalArg) optionalBefore = flag;
      options[name] = entry.switchValue ?? true;
      continue;
    }
    const text = eq !== -1 ? arg.slice(eq + 1) : rest.shift();
    if (text === undefined) throw new OptionError(`flag ${flag} needs a value (${entry.arg})`);
    const value = checked(entry.kind.fromText!(text), `flag ${flag}`, text, entry, true);
    checked(entry.kind.fromValue(value), `flag ${flag}`, text, entry, true);
    options[name] = entry.repeatable
      ? [...(options[name] as string[] | undefined ?? []), value as string]
      : value;
  }
  return request;
}

/** Every flag there is: the table's and the commands'. */
const ALL_FLAGS = [...BY_FLAG.keys(), ...Object.keys(COMMAND_FLAGS)];

/**
 * "; did you mean --x?" for the known flag nearest `flag` (fewest single-letter edits,
 * at most a third of its length: `--proccesses`, `--max-websockets`), else nothing.
 */
export function didYouMean(flag: string): string {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(flag.length / 3)) + 1;
  for (const known of ALL_FLAGS) {
    const distance = editDistance(flag, known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return best === undefined ? "" : `; did you mean ${best}?`;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** `flag`: the flag just before the first module, when it takes its value only as `--flag=VALUE`. */
function setModule(request: CliRequest, path: string, flag?: string): void {
  if (request.module !== undefined) {
    // `--access-log access.log app.ts`: the first "module" was meant as the flag's value.
    const hint = flag === undefined ? "" : ` (a value of ${flag} is written ${flag}=VALUE)`;
    throw new OptionError(`only one module can be served; got ${request.module} and ${path}${hint}`);
  }
  request.module = path;
}

/** The URL of the module to serve: `path` from the working directory, or the demo. */
export function moduleUrl(path: string | undefined): URL {
  if (path === undefined) return siblingModule("demo", import.meta.url);
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)) return new URL(path);
  const base = new URL(`file://${cwd().replaceAll("\\", "/").replace(/^(?!\/)/, "/")}/`);
  return new URL(path.replaceAll("\\", "/"), base);
}

const SECTIONS: Record<Section, string> = {
  serving: "Serving:",
  workers: "Workers (with --threads or --processes):",
  requests: "Requests (per worker; the defaults are on):",
  observability: "Logging and observability:",
  development: "Development:",
};

const WIDTH = 90;
const COLUMN = 25;

/** `--help`: the flags of the options table, section by section, and what the CLI adds. */
export function usage(): string {
  const lines = [
    `multiserve ${VERSION}: serve a fetch handler on every core (Deno, Bun, Node)`,
    "",
    "Usage: multiserve [flags] [module]",
    "       multiserve ctl [--socket PATH] [--json] COMMAND  (drive a running server)",
    "",
    ...item(
      "module",
      "file whose default export is the app ({ fetch } or a Hono app); without one, a demo page shows which worker answered",
    ),
  ];
  for (const [section, title] of Object.entries(SECTIONS)) {
    lines.push("", title);
    for (const [, entry] of entries) {
      if (entry.section !== section || entry.flags === undefined) continue;
      lines.push(...item(flagsText(entry), `${entry.help}${helpDefault(entry)}`));
    }
  }
  lines.push(
    "",
    "Other:",
    ...item("-h, --help", "show this help"),
    ...item("-V, --version", "show the version"),
    ...item(
      "--check",
      "load the app once and show what it exports and the plan the flags make, then exit (0, or the code a start would fail with)",
    ),
    "",
    "Signals to the primary (with --threads or --processes):",
    ...item("TERM, INT", "drain and exit 0; a second one stops at once (exit 130 or 143)"),
    ...item(
      "HUP",
      "rolling reload: new workers load the app afresh; the old ones drain once every new one listens (if one fails, the old keep on)",
    ),
    ...item("TTIN, TTOU", "one worker more, one fewer (never below 1; the oldest goes)"),
    ...item(
      "USR2",
      "upgrade: a new primary from the same command line (new code, a new runtime binary) takes over, pid file and systemd's MAINPID included, once its workers listen; this one then drains and exits (Linux; not on a unix socket; if it fails, this one serves on)",
    ),
    "On Windows only INT exists (Ctrl-C); call server.reload() and server.scale(n) from code.",
    "",
    "Exit codes:",
    ...item("0", "stopped by a signal or close(), also while workers were still starting"),
    ...item("2", "a bad flag, option or environment value: nothing started"),
    ...item("3", "a worker could not start serving (port in use, hung while starting)"),
    ...item("4", "the app module is missing, threw while loading, or exports no app"),
  );
  return lines.join("\n");
}

/** "-p, --port N": short flags first. */
function flagsText(entry: Entry): string {
  const flags = [...entry.flags!].sort((a, b) => Number(a.startsWith("--")) - Number(b.startsWith("--")));
  const arg = entry.arg === undefined ? "" : entry.optionalArg ? `[=${entry.arg}]` : ` ${entry.arg}`;
  return `${flags.join(", ")}${arg}`;
}

function helpDefault(entry: Entry): string {
  if (entry.arg === undefined) return "";
  const shown = (entry.defaultText ?? String(entry.default)).replaceAll("`", "");
  return ` (default: ${entry.env ? `$${entry.env} or ` : ""}${shown})`;
}

/** A term and its text, wrapped into the help's two columns. */
function item(term: string, text: string): string[] {
  const words = text.split(" ");
  const lines: string[] = [];
  let line = `  ${term}`.padEnd(COLUMN - 1);
  if (line.length >= COLUMN) {
    lines.push(line);
    line = "".padEnd(COLUMN - 1);
  }
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = "".padEnd(COLUMN - 1);
      empty = true;
    }
    line += ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/**
 * `--check` (gunicorn's `--check-config`): resolve the options, load the app in this
 * process, and print what it exports and what serving would run; the exit code a start
 * would fail with, else 0. Nothing listens.
 */
async function check(request: CliRequest): Promise<number> {
  const url = moduleUrl(request.module);
  let config: Config;
  let app: ServedApp;
  try {
    config = resolveOptions(request.options);
    // What this runtime cannot spread (threads on a Node without reusePort, a unix socket
    // shared by processes, …) fails a start before any worker: say so here too.
    const addresses = addressesOf(config);
    const adapter = await loadAdapter();
    const unix = addresses.some((address) => address.unix !== undefined);
    adapter.checkSpread({ processes: config.processes, threads: config.threaded }, {
      unix,
      fd: addresses.some((address) => address.fd !== undefined),
    });
    checkProxyProtocol(adapter, config, unix);
    const loading = loadApp(url.href);
    if (config.bootTimeout > 0 && !(await settlesWithin(loading, config.bootTimeout * 1_000))) {
      throw new BootError(`the app did not load within ${config.bootTimeout} s (bootTimeout)`);
    }
    app = await loading;
  } catch (error) {
    console.error(`multiserve: ${messageOf(error)}`);
    return (error as { exitCode?: number }).exitCode ?? 1;
  }
  const workers = config.processes * Math.max(config.threaded, 1);
  const exported = [
    "fetch",
    ...(["websocket", "onStart", "onStop"] as const).filter((name) => app[name] !== undefined),
  ];
  const lines = [
    `multiserve --check: ${decodeURIComponent(url.pathname)}: the app loads`,
    `  exports: ${exported.join(", ")}`,
    `  runtime: ${detectRuntime()} ${versionOf()}`,
    `  serving: ${
      addressesOf(config).map((address) => urlOf(address, config.cert !== undefined)).join(" and ")
    }, ${config.processes} process${config.processes === 1 ? "" : "es"} × ${config.threaded || "no"} thread${
      config.threaded === 1 ? "" : "s"
    }: ${workers} worker${workers === 1 ? "" : "s"}${config.watch ? ", watching for changes" : ""}`,
    `  supervision: timeout ${config.timeout} s, bootTimeout ${config.bootTimeout} s, gracefulTimeout ${config.gracefulTimeout} s, maxRequests ${
      config.maxRequests || "off"
    }, maxWorkerMemory ${config.maxWorkerMemory ? `${config.maxWorkerMemory} MiB` : "off"}`,
    `  requests: maxBodySize ${config.maxBodySize}, maxHeaderSize ${config.maxHeaderSize}, maxHeaderCount ${config.maxHeaderCount}, maxUrlLength ${config.maxUrlLength}, maxConcurrency ${config.maxConcurrency}, headerTimeout ${config.headerTimeout} s, keepAliveTimeout ${config.keepAliveTimeout} s`,
    `  WebSockets: ${
      config.maxWebSockets === 0 ? "off" : `up to ${config.maxWebSockets} per worker`
    }; trusted proxies: ${config.forwardedAllowIps.join(", ") || "none"}`,
  ];
  console.log(lines.join("\n"));
  return 0;
}

/** The runtime's version. */
function versionOf(): string {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
    process?: { version: string };
  };
  return g.Deno?.version.deno ?? g.Bun?.version ?? g.process?.version ?? "";
}

/** Run the command with `args`; resolves when serving, exits the process on failure. */
/**
 * Said when `bunx multiserve` runs this bin on Node, as its `#!/usr/bin/env node` line asks
 * (bunx honours it, and names itself in `npm_lifecycle_event`, the one variable it sets even
 * when npm set them first): `bunx --bun` is Bun.
 */
function bunxOnNode(): string | undefined {
  if (detectRuntime() !== "node" || readEnv("npm_lifecycle_event") !== "bunx") return undefined;
  return "bunx ran this bin on Node, as its #!/usr/bin/env node line asks: to serve on Bun, run bunx --bun multiserve …";
}

export async function main(args: string[] = programArgs()): Promise<void> {
  let request: CliRequest | undefined;
  try {
    // `multiserve ctl …`: a client of a running server's control socket, not a server.
    if (args[0] !== "ctl") request = parseArgs(args);
  } catch (error) {
    console.error(`multiserve: ${messageOf(error)}\nRun "multiserve --help" for usage.`);
    return exitProcess(EXIT.usage);
  } finally {
    // Only a server traps signals: what came while this loaded ends the others as usual.
    if (request?.action !== "serve") releaseEarlySignals();
  }
  if (request === undefined) return exitProcess(await ctlMain(args.slice(1)));
  if (request.action === "help") return void console.log(usage());
  if (request.action === "version") return void console.log(VERSION);
  if (request.action === "check") return exitProcess(await check(request));
  const hint = assignedWorker() === undefined ? bunxOnNode() : undefined;
  if (hint) console.error(`multiserve: ${hint}`);
  try {
    await serve(moduleUrl(request.module), request.options).ready;
  } catch (error) {
    console.error(`multiserve: ${messageOf(error)}`);
    exitProcess((error as { exitCode?: number }).exitCode ?? 1);
  }
}
