/**
 * Turns `ServeOptions` (and the environment) into the numbers the server runs with.
 * Every value is checked here, before anything starts, and a bad one names itself.
 *
 * @module
 */
import { OptionError } from "./errors.ts";
import { trustEntryProblem } from "./proxy.ts";
import { readEnv } from "./runtime.ts";
import type { ListenInfo, ServeOptions } from "./types.ts";

/** Options with every default applied and every value checked. */
export interface ResolvedOptions {
  port: number;
  hostname: string;
  /** Worker threads per process; 0 = the process's main thread serves. */
  threads: number;
  /** Worker processes; 1 = this process, with no children. */
  processes: number;
  /** Seconds. */
  gracefulTimeout: number;
  /** Seconds of heartbeat silence before a worker is killed; 0 = off. */
  timeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  onListen: ((info: ListenInfo) => void) | false | undefined;
  /** Limits and policies each worker applies to requests. */
  edge: EdgeOptions;
}

/** What each worker applies to the requests it serves (sent to workers as is). */
export interface EdgeOptions {
  /** Bytes; 0 = no limit. */
  maxBodySize: number;
  /** Bytes of request line and header fields; 0 = the runtime parser's own limit. */
  maxHeaderSize: number;
  /** 0 = the runtime parser's own limit. */
  maxHeaderCount: number;
  /** Characters of the request target. */
  maxUrlLength: number;
  /** Seconds. */
  headerTimeout: number;
  /** Seconds. */
  keepAliveTimeout: number;
  /** Requests at once per worker; 0 = no limit. */
  maxConcurrency: number;
  debug: boolean;
  /** Checked entries: IP addresses, networks (IPv4 or IPv6), or `*`. */
  forwardedAllowIps: string[];
}

/** The defaults, stated in the README. */
export const EDGE_DEFAULTS: Readonly<EdgeOptions> = {
  maxBodySize: 10 * 1024 * 1024,
  maxHeaderSize: 16 * 1024,
  maxHeaderCount: 100,
  maxUrlLength: 8 * 1024,
  headerTimeout: 10,
  keepAliveTimeout: 5,
  maxConcurrency: 1000,
  debug: false,
  forwardedAllowIps: ["127.0.0.1", "::1"],
};

const KNOWN = new Set([
  "port",
  "hostname",
  "threaded",
  "processes",
  "gracefulTimeout",
  "timeout",
  "maxRequests",
  "maxRequestsJitter",
  "onListen",
  "maxBodySize",
  "maxHeaderSize",
  "maxHeaderCount",
  "maxUrlLength",
  "headerTimeout",
  "keepAliveTimeout",
  "maxConcurrency",
  "debug",
  "forwardedAllowIps",
]);

/** The number of CPUs this isolate may use (at least 1). */
export function cpuCount(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return typeof n === "number" && n >= 1 ? n : 1;
}

/** Apply defaults (env `PORT`, `HOST`, `WEB_CONCURRENCY`) and check every value. */
export function resolveOptions(options: ServeOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    throw new OptionError(`serve() options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new OptionError(
        `unknown option "${key}"; known options: ${[...KNOWN].join(", ")}`,
      );
    }
  }
  const resolved: ResolvedOptions = {
    port: resolvePort(options.port),
    hostname: resolveHostname(options.hostname),
    threads: resolveThreaded(options.threaded),
    processes: resolveProcesses(options.processes),
    gracefulTimeout: resolveSeconds("gracefulTimeout", options.gracefulTimeout, 30),
    timeout: resolveSeconds("timeout", options.timeout, 30),
    maxRequests: resolveCount("maxRequests", options.maxRequests),
    maxRequestsJitter: resolveCount("maxRequestsJitter", options.maxRequestsJitter),
    onListen: resolveOnListen(options.onListen),
    edge: resolveEdge(options),
  };
  // These act through the supervisor; one isolate serving alone has none, and quietly
  // ignoring an explicit request would be worse than saying so.
  if (resolved.processes === 1 && resolved.threads === 0) {
    for (const name of ["maxRequests", "timeout"] as const) {
      if (options[name] !== undefined && options[name] !== 0) {
        throw new OptionError(
          `option "${name}" needs supervised workers: set "threaded" (even 1) or "processes" ≥ 2`,
        );
      }
    }
  }
  if (resolved.maxRequestsJitter > 0 && resolved.maxRequests === 0) {
    throw new OptionError(`option "maxRequestsJitter" needs "maxRequests" > 0`);
  }
  return resolved;
}

function resolvePort(port: unknown): number {
  if (port === undefined) {
    const env = readEnv("PORT");
    if (env === undefined || env === "") return 8000;
    const n = Number(env);
    if (!isPort(n)) {
      throw new OptionError(`env PORT must be a port number from 0 to 65535, got "${env}"`);
    }
    return n;
  }
  if (!isPort(port)) {
    throw new OptionError(`option "port" must be an integer from 0 to 65535, got ${describe(port)}`);
  }
  return port;
}

function resolveHostname(hostname: unknown): string {
  if (hostname === undefined) {
    const env = readEnv("HOST");
    return env === undefined || env === "" ? "127.0.0.1" : env;
  }
  if (typeof hostname !== "string" || hostname === "") {
    throw new OptionError(`option "hostname" must be a non-empty string, got ${describe(hostname)}`);
  }
  return hostname;
}

function resolveThreaded(threaded: unknown): number {
  if (threaded === undefined || threaded === false) return 0;
  if (threaded === true) return cpuCount();
  if (!isPositiveInteger(threaded)) {
    throw new OptionError(
      `option "threaded" must be true, false or a whole number of threads ≥ 1, got ${describe(threaded)}`,
    );
  }
  return threaded;
}

function resolveProcesses(processes: unknown): number {
  if (processes === undefined) {
    const env = readEnv("WEB_CONCURRENCY");
    if (env === undefined || env === "") return 1;
    const n = Number(env);
    if (!isPositiveInteger(n)) {
      throw new OptionError(
        `env WEB_CONCURRENCY must be a whole number of processes ≥ 1, got "${env}"`,
      );
    }
    return n;
  }
  if (!isPositiveInteger(processes)) {
    throw new OptionError(
      `option "processes" must be a whole number of processes ≥ 1, got ${describe(processes)}`,
    );
  }
  return processes;
}

/** A duration in seconds (fractions allowed): ≥ 0, or > 0 when `positive`. */
function resolveSeconds(name: string, seconds: unknown, fallback: number, positive = false): number {
  if (seconds === undefined) return fallback;
  if (
    typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0 || (positive && seconds === 0)
  ) {
    throw new OptionError(
      `option "${name}" must be a number of seconds ${positive ? ">" : "≥"} 0, got ${describe(seconds)}`,
    );
  }
  return seconds;
}

/** A whole number ≥ `min`; `zero` says what 0 means where it is allowed. */
function resolveCount(
  name: string,
  count: unknown,
  { fallback = 0, min = 0, zero = "off" }: { fallback?: number; min?: number; zero?: string } = {},
): number {
  if (count === undefined) return fallback;
  if (typeof count !== "number" || !Number.isInteger(count) || count < min) {
    const meaning = min === 0 ? ` (0 = ${zero})` : "";
    throw new OptionError(
      `option "${name}" must be a whole number ≥ ${min}${meaning}, got ${describe(count)}`,
    );
  }
  return count;
}

function resolveEdge(options: ServeOptions): EdgeOptions {
  const d = EDGE_DEFAULTS;
  if (options.debug !== undefined && typeof options.debug !== "boolean") {
    throw new OptionError(`option "debug" must be true or false, got ${describe(options.debug)}`);
  }
  return {
    maxBodySize: resolveCount("maxBodySize", options.maxBodySize, {
      fallback: d.maxBodySize,
      zero: "no limit",
    }),
    maxHeaderSize: resolveCount("maxHeaderSize", options.maxHeaderSize, {
      fallback: d.maxHeaderSize,
      zero: "the runtime's own limit",
    }),
    maxHeaderCount: resolveCount("maxHeaderCount", options.maxHeaderCount, {
      fallback: d.maxHeaderCount,
      zero: "the runtime's own limit",
    }),
    maxUrlLength: resolveCount("maxUrlLength", options.maxUrlLength, { fallback: d.maxUrlLength, min: 1 }),
    headerTimeout: resolveSeconds("headerTimeout", options.headerTimeout, d.headerTimeout, true),
    keepAliveTimeout: resolveSeconds("keepAliveTimeout", options.keepAliveTimeout, d.keepAliveTimeout, true),
    maxConcurrency: resolveCount("maxConcurrency", options.maxConcurrency, {
      fallback: d.maxConcurrency,
      zero: "no limit",
    }),
    debug: options.debug ?? d.debug,
    forwardedAllowIps: resolveTrust(options.forwardedAllowIps),
  };
}

function resolveTrust(value: unknown): string[] {
  let source = `option "forwardedAllowIps"`;
  if (value === undefined) {
    const env = readEnv("FORWARDED_ALLOW_IPS");
    if (env === undefined) return [...EDGE_DEFAULTS.forwardedAllowIps];
    [value, source] = [env, "env FORWARDED_ALLOW_IPS"];
  }
  const list = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== "string")) {
    throw new OptionError(`${source} must be a string or a list of strings, got ${describe(value)}`);
  }
  const entries = list.map((entry: string) => entry.trim()).filter((entry) => entry !== "");
  for (const entry of entries) {
    const problem = trustEntryProblem(entry);
    if (problem) throw new OptionError(`${source}: ${problem}`);
  }
  return entries;
}

function resolveOnListen(onListen: unknown): ResolvedOptions["onListen"] {
  if (onListen === undefined || onListen === false || typeof onListen === "function") {
    return onListen as ResolvedOptions["onListen"];
  }
  throw new OptionError(`option "onListen" must be a function or false, got ${describe(onListen)}`);
}

function isPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 65535;
}

function isPositiveInteger(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  return String(value);
}
