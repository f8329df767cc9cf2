/**
 * The `multiserve` command: `multiserve [flags] [module]`. Parses flags into `serve()`
 * options, serves the module's default export (or the built-in demo), and turns every
 * failure into one line and a distinct exit code.
 *
 * @module
 */
import { EXIT, messageOf, OptionError } from "./errors.ts";
import { cpuCount } from "./options.ts";
import { cwd, exitProcess, programArgs, siblingModule } from "./runtime.ts";
import { serve } from "./serve.ts";
import type { ServeOptions } from "./types.ts";
import { VERSION } from "./version.ts";

export const USAGE = `multiserve ${VERSION}: serve a fetch handler on every core (Deno, Bun, Node)

Usage: multiserve [flags] [module]

  module               file whose default export is the app ({ fetch } or a Hono app);
                       without one, a demo page shows which worker answered
Flags:
  -p, --port N         port to listen on; 0 picks a free one (default: $PORT or 8000)
      --host HOST      interface to bind, also --hostname (default: $HOST or 127.0.0.1)
  -t, --threads N|auto worker threads per process; auto = one per CPU (default: none)
  -w, --processes N|auto
                       worker processes (default: $WEB_CONCURRENCY or 1); --workers too
      --timeout S      kill and replace a worker whose event loop is blocked for S
                       seconds (a liveness check, not a per-request limit; one that
                       hangs while starting stops the server; 0 = off; default 30;
                       needs --threads or --processes)
      --max-requests N recycle a worker after N requests, its replacement listening
                       first (default 0 = never)
      --max-requests-jitter N
                       add a random 0..N to each worker's --max-requests (default 0)
      --graceful-timeout S
                       seconds stopping waits for in-flight requests (default 30)
Requests (per worker; the defaults are on):
      --max-body-size BYTES
                       larger bodies get 413, declared or chunked (default 10485760;
                       0 = no limit)
      --max-header-size BYTES
                       larger request heads get 431 (default 16384; 0 = the
                       runtime's own limit)
      --max-header-count N
                       more header fields get 431 (default 100; 0 = the runtime's)
      --max-url-length N
                       longer request targets get 414 (default 8192)
      --header-timeout S
                       disconnect a client that has not sent its headers within S
                       seconds (slowloris; default 10)
      --keep-alive-timeout S
                       close a kept-alive connection idle for S seconds (default 5);
                       behind a proxy, make it longer than the proxy's own
      --max-concurrency N
                       answer 503 at once beyond N requests in flight (default 1000;
                       0 = no limit)
      --forwarded-allow-ips LIST
                       peers whose X-Forwarded-For/-Proto are believed: IPs,
                       networks, or * (default: $FORWARDED_ALLOW_IPS or 127.0.0.1,::1)
      --debug          send the error and its stack to the client when the app throws
  -h, --help           show this help
  -V, --version        show the version

Signals to the primary (with --threads or --processes):
  TERM, INT            drain and exit 0; a second one stops at once
  HUP                  rolling reload: new workers load the app afresh; the old ones
                       drain once every new one listens (if one fails, the old keep on)
  TTIN, TTOU           one worker more, one fewer (never below 1; the oldest goes)
On Windows only INT exists (Ctrl-C); call server.reload() and server.scale(n) from code.

Run it as: deno run -A mod.ts …, bun mod.ts …, node mod.ts …, or npx multiserve ….
Exit codes: 2 bad flag, 3 a worker could not start (e.g. port in use), 4 app module failed to load.`;

/** What the command line asks for. */
export interface CliRequest {
  action: "serve" | "help" | "version";
  options: ServeOptions;
  module?: string;
}

/** Parse `args`; throws `OptionError` naming the flag at fault. */
export function parseArgs(args: string[]): CliRequest {
  const request: CliRequest = { action: "serve", options: {} };
  const rest = [...args];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg === "--") {
      rest.splice(0).forEach((a) => setModule(request, a));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      setModule(request, arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = () => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = rest.shift();
      if (next === undefined) throw new OptionError(`flag ${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "-h":
      case "--help":
        return { ...request, action: "help" };
      case "-V":
      case "--version":
        return { ...request, action: "version" };
      case "-p":
      case "--port": {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 65535) {
          throw new OptionError(`flag ${flag} must be a whole number from 0 to 65535, got "${v}"`);
        }
        request.options.port = Number(v);
        break;
      }
      case "--host":
      case "--hostname": {
        const host = value();
        if (host === "") throw new OptionError(`flag ${flag} needs a hostname`);
        request.options.hostname = host;
        break;
      }
      case "-t":
      case "--threads": {
        const v = value();
        request.options.threaded = v === "auto" ? true : countFlag(flag, v);
        break;
      }
      case "-w":
      case "--processes":
      case "--workers": {
        const v = value();
        request.options.processes = v === "auto" ? cpuCount() : countFlag(flag, v);
        break;
      }
      case "--timeout":
        request.options.timeout = secondsFlag(flag, value());
        break;
      case "--graceful-timeout":
        request.options.gracefulTimeout = secondsFlag(flag, value());
        break;
      case "--max-requests":
        request.options.maxRequests = wholeFlag(flag, value());
        break;
      case "--max-requests-jitter":
        request.options.maxRequestsJitter = wholeFlag(flag, value());
        break;
      case "--max-body-size":
        request.options.maxBodySize = wholeFlag(flag, value());
        break;
      case "--max-header-size":
        request.options.maxHeaderSize = wholeFlag(flag, value());
        break;
      case "--max-header-count":
        request.options.maxHeaderCount = wholeFlag(flag, value());
        break;
      case "--max-url-length":
        request.options.maxUrlLength = wholeFlag(flag, value());
        break;
      case "--header-timeout":
        request.options.headerTimeout = secondsFlag(flag, value());
        break;
      case "--keep-alive-timeout":
        request.options.keepAliveTimeout = secondsFlag(flag, value());
        break;
      case "--max-concurrency":
        request.options.maxConcurrency = wholeFlag(flag, value());
        break;
      case "--forwarded-allow-ips":
        request.options.forwardedAllowIps = value();
        break;
      case "--debug":
        if (eq !== -1) throw new OptionError(`flag --debug takes no value`);
        request.options.debug = true;
        break;
      default:
        throw new OptionError(`unknown flag ${flag}`);
    }
  }
  return request;
}

function setModule(request: CliRequest, path: string): void {
  if (request.module !== undefined) {
    throw new OptionError(`only one module can be served; got ${request.module} and ${path}`);
  }
  request.module = path;
}

/** A count of workers: a whole number ≥ 1 ("auto" is handled by the caller). */
function countFlag(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new OptionError(`flag ${flag} must be a whole number ≥ 1 or auto, got "${value}"`);
  }
  return Number(value);
}

/** A whole number ≥ 0. */
function wholeFlag(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new OptionError(`flag ${flag} must be a whole number ≥ 0, got "${value}"`);
  return Number(value);
}

/** Seconds ≥ 0, fractions allowed. */
function secondsFlag(flag: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new OptionError(`flag ${flag} must be a number of seconds ≥ 0, got "${value}"`);
  }
  return Number(value);
}

/** The URL of the module to serve: `path` from the working directory, or the demo. */
export function moduleUrl(path: string | undefined): URL {
  if (path === undefined) return siblingModule("demo", import.meta.url);
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path)) return new URL(path);
  const base = new URL(`file://${cwd().replaceAll("\\", "/").replace(/^(?!\/)/, "/")}/`);
  return new URL(path.replaceAll("\\", "/"), base);
}

/** Run the command with `args`; resolves when serving, exits the process on failure. */
export async function main(args: string[] = programArgs()): Promise<void> {
  let request: CliRequest;
  try {
    request = parseArgs(args);
  } catch (error) {
    console.error(`multiserve: ${messageOf(error)}\nRun "multiserve --help" for usage.`);
    return exitProcess(EXIT.usage);
  }
  if (request.action === "help") return void console.log(USAGE);
  if (request.action === "version") return void console.log(VERSION);
  try {
    await serve(moduleUrl(request.module), request.options).ready;
  } catch (error) {
    console.error(`multiserve: ${messageOf(error)}`);
    exitProcess((error as { exitCode?: number }).exitCode ?? 1);
  }
}
